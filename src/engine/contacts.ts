/**
 * Contacts as columns: each contact has a dense index, each field a typed column
 * (columns.ts) written through the checks of contact-values.ts. Rules read columns,
 * never objects. The column classes and FieldValueError are re-exported from here.
 */
import { BUILTIN_KEYS } from "../contract/fields.ts";
import type { FieldDef, FieldRegistry, FieldType } from "../rules/fields.ts";
import { Bitset } from "./bitset.ts";
import { ColumnGrowth } from "./column-growth.ts";
import {
  type Column,
  type ColumnState,
  type ConvertedValue,
  type ListColumn,
  makeColumn,
  restoreColumn,
  restoreColumnDict,
  type StringColumn,
  saveColumn,
  writeValue,
} from "./columns.ts";
import {
  asWritten,
  checkedCodes,
  clearAll,
  codesWriter,
  convertValue,
  FieldValueError,
  numbersWriter,
} from "./contact-values.ts";
import { normalize } from "./dictionary.ts";
import { nearlyFull, stepsLeft } from "./prefault.ts";
import {
  type PackedStrings,
  packStrings,
  type SnapshotReader,
  SnapshotUnusable,
  type SnapshotWriter,
  unpackStrings,
} from "./snapshot-io.ts";
import { StringIndex } from "./string-index.ts";
import type { ContactInput, FieldValue } from "./types.ts";

export { BooleanColumn, type Column, ListColumn, NumberColumn, StringColumn } from "./columns.ts";
export { FieldValueError } from "./contact-values.ts";

/**
 * One field of a page of contacts as columns (`ContactTable.loadColumns`): the page's
 * distinct values, as a contact would give them, and each row's index into them; or
 * numbers, NaN where not set.
 */
export type LoadColumn = { values: readonly unknown[]; codes: Int32Array } | { numbers: Float64Array };

export type BuiltinInputKey = (typeof BUILTIN_INPUT_KEYS)[number];

/**
 * A page of contacts as columns (start-up): row `k` is the contact `ids[k]`, its value of
 * a built-in key in `columns[key]`, its custom fields (an object, or null) in
 * `columns.fields`. A key left out is not set on any row.
 */
/** A contact table in a snapshot: its JSON part, with references to its arrays. */
export interface ContactTableState {
  ids: PackedStrings;
  cap: number;
  alive: { size: number; words: number };
  liveCount: number;
  /** External ids as written, where any (index, text). */
  externals: [number, string][];
  undeclared: string[];
  columns: ({ key: string } & ColumnState)[];
}

export interface ContactColumns {
  ids: readonly string[];
  columns: Partial<Record<BuiltinInputKey | "fields", LoadColumn>>;
}

/** The keys of a contact's built-in fields, as `ContactInput` names them (src/contract/fields.ts). */
export const BUILTIN_INPUT_KEYS = BUILTIN_KEYS satisfies readonly (keyof ContactInput)[];

export class ContactTable {
  /**
   * Keys of contacts' `fields` that were skipped because no field declares them (kept by
   * the store, docs/ingest.md): declaring one of them must look for its stored values.
   */
  readonly undeclared = new Set<string>();
  /** Contact id of each index; deleted contacts keep their slot with `alive` cleared. */
  readonly ids: string[] = [];
  private readonly indexById = new StringIndex();
  readonly columns = new Map<string, Column>();
  alive: Bitset = new Bitset(0);
  private cap = 0;
  /** The columns' larger arrays being filled ahead of need (column-growth.ts), if any. */
  private growth: ColumnGrowth | null = null;
  /**
   * The capacity from which the columns grow ahead of need; smaller tables grow at
   * once (a few milliseconds at most). Tests lower it.
   */
  static growAheadFrom = 1 << 16;
  private liveCount = 0;
  /**
   * Each contact's external id as written (null: none), beside the column's normalised
   * value: rules ignore case, but the store, and so a contact reference, compares
   * external ids exactly. The column's own string where the two are alike.
   */
  private readonly externals: (string | null)[] = [];
  /**
   * Which live contact has each email (normalised, as the store keeps it) and each
   * external id (exactly): built by `indexKeys` (a slice at a time, or whole on the first
   * lookup), kept by every write below from the moment it exists. A lookup checks its
   * answer against the columns, so an entry left behind answers nothing rather than a
   * wrong contact; while it is being built, a contact not reached yet is not found.
   */
  private identity: { email: StringIndex; external: StringIndex } | null = null;
  /** Contacts below this index have been indexed by `indexKeys`. */
  private indexedTo = 0;

  constructor(
    private fields: FieldRegistry,
    private readonly timeZone: string,
  ) {
    for (const f of fields.all()) this.addColumn(f);
    this.ensureCapacity(1024);
  }

  setFields(fields: FieldRegistry): void {
    this.fields = fields;
    for (const f of fields.all()) if (!this.columns.has(f.key)) this.addColumn(f);
  }

  private addColumn(f: FieldDef): void {
    const col = makeColumn(f.type, this.cap);
    this.columns.set(f.key, col);
  }

  get size(): number {
    return this.ids.length;
  }

  get count(): number {
    return this.liveCount;
  }

  index(id: string): number | undefined {
    return this.indexById.get(id);
  }

  /** The rows the columns have room for (tests). */
  get capacity(): number {
    return this.cap;
  }

  /**
   * Room for `n` contacts. Once seven eighths of the columns' rows are taken, each new
   * contact fills a few rows of the larger arrays (ROWS_PER_STEP: the copy is done long
   * before the last eighth is), so no one contact waits for all of them.
   */
  private ensureCapacity(n: number): void {
    if (n <= this.cap) {
      if (this.growth === null && this.cap >= ContactTable.growAheadFrom && nearlyFull(n, this.cap)) {
        this.growth = new ColumnGrowth(this.columns.values(), this.cap, this.cap * 2);
      }
      if (this.growth?.step(Math.max(ROWS_PER_STEP, Math.ceil((2 * this.cap) / stepsLeft(this.cap - n)))))
        this.finishGrowth();
      return;
    }
    if (this.growth !== null) this.finishGrowth();
    if (n <= this.cap) return;
    let cap = Math.max(1024, this.cap);
    while (cap < n) cap *= 2;
    for (const col of this.columns.values()) col.grow(cap);
    this.cap = cap;
  }

  private finishGrowth(): void {
    const growth = this.growth!;
    this.growth = null;
    growth.finish(this.columns.values());
    this.cap = growth.next;
  }

  /** After a write to row `i` of the columns: a growth copies it again. */
  private wrote(i: number): void {
    this.growth?.wrote(i);
  }

  /** Index of `id`, creating an empty live contact when unknown. */
  ensure(id: string): number {
    let i = this.indexById.get(id);
    if (i !== undefined) {
      if (!this.alive.has(i)) this.revive(i);
      return i;
    }
    i = this.ids.length;
    this.ensureCapacity(i + 1);
    this.ids.push(id);
    this.externals.push(null);
    this.indexById.set(id, i);
    this.growAlive(i + 1);
    this.alive.set(i);
    this.liveCount++;
    return i;
  }

  private revive(i: number): void {
    this.unindex(i);
    this.externals[i] = null;
    for (const col of this.columns.values()) col.clear(i);
    this.wrote(i);
    this.alive.set(i);
    this.liveCount++;
  }

  private growAlive(n: number): void {
    if (n <= this.alive.size) return;
    const size = Math.max(n, this.alive.size * 2, 1024);
    const next = new Bitset(size);
    next.words.set(this.alive.words);
    this.alive = next;
  }

  /**
   * Replaces the whole profile of a contact (or, with `patch`, only the keys given);
   * throws FieldValueError before changing anything. Returns the contact's index and
   * the keys whose value changed.
   */
  upsert(c: ContactInput, patch = false): { index: number; changed: string[] } {
    checkId(c.id);
    const values = this.convert(c, patch);
    const existed = this.indexById.has(c.id) && this.alive.has(this.indexById.get(c.id)!);
    const i = this.ensure(c.id);
    const keys = !patch || values.has("email") || values.has("external_id");
    if (keys) this.unindex(i);
    const changed: string[] = [];
    for (const [key, col] of this.columns) {
      if (patch && !values.has(key)) continue;
      if (writeValue(col, i, values.get(key)) || !existed) changed.push(key);
    }
    this.wrote(i);
    if (!patch || values.has("external_id")) this.setExternal(i, c.external_id, values.get("external_id"));
    if (keys) this.reindex(i);
    return { index: i, changed };
  }

  /**
   * Bulk load (start-up): the same as `upsert(c)` (a full replace; throws FieldValueError
   * before changing anything) without listing what changed, and without a map per
   * contact: the built-in keys' columns and types are looked up once per call of a
   * loop, not per contact. Returns the contact's index.
   */
  load(c: ContactInput): number {
    checkId(c.id);
    const plan = this.loadPlan();
    const values = plan.values;
    const given = c as unknown as Record<string, FieldValue>;
    for (let k = 0; k < plan.keys.length; k++) {
      const key = plan.keys[k];
      values[k] = convertValue(plan.types[k], given[key], `contact.${key}`, this.timeZone);
    }
    const custom = this.convertCustom(c.fields);
    const i = this.ensure(c.id);
    this.unindex(i);
    for (let k = 0; k < plan.builtin.length; k++) writeValue(plan.builtin[k], i, values[k]);
    for (const [key, col] of plan.custom) writeValue(col, i, custom?.get(key));
    this.wrote(i);
    this.setExternal(i, c.external_id, values[plan.externalId]);
    this.reindex(i);
    return i;
  }

  /**
   * Bulk load of a page of contacts as columns: the same as `load` of each row, in
   * order, but each distinct value of a column is checked, converted and interned once,
   * not once per contact (a start-up's main thread did that a million times per field).
   * Throws FieldValueError before changing anything. Returns the contacts' indices.
   */
  loadColumns(b: ContactColumns): Int32Array {
    const n = b.ids.length;
    for (let k = 0; k < n; k++) {
      checkId(b.ids[k]);
    }
    const plan = this.loadPlan();
    const writes: ((idx: Int32Array) => void)[] = [];
    let externals: (string | null)[] | null = null;
    const given = b.columns as Partial<Record<string, LoadColumn>>;
    for (let k = 0; k < plan.keys.length; k++) {
      const key = plan.keys[k];
      const path = `contact.${key}`;
      const lc = given[key];
      const col = plan.builtin[k];
      if (lc === undefined) writes.push(clearAll(col));
      else if ("numbers" in lc)
        writes.push(numbersWriter(col, plan.types[k], lc.numbers, n, path, this.timeZone));
      else {
        const values = checkedCodes(lc, n, path);
        const converted = values.map((v) =>
          convertValue(plan.types[k], v as FieldValue, path, this.timeZone),
        );
        writes.push(codesWriter(col, converted, lc.codes));
        if (key === "external_id") externals = asWritten(values, converted);
      }
    }
    const custom = b.columns.fields;
    if (custom === undefined || ("numbers" in custom && custom.numbers.every(Number.isNaN))) {
      for (const [, col] of plan.custom) writes.push(clearAll(col));
    } else if ("numbers" in custom) {
      throw new FieldValueError("contact.fields", "expected an object");
    } else {
      const objects = checkedCodes(custom, n, "contact.fields").map((v) => this.convertCustom(v));
      for (const [key, col] of plan.custom) {
        writes.push(
          codesWriter(
            col,
            objects.map((o) => o?.get(key) ?? null),
            custom.codes,
          ),
        );
      }
    }
    const idx = new Int32Array(n);
    for (let k = 0; k < n; k++) idx[k] = this.ensure(b.ids[k]);
    if (this.identity !== null) for (let k = 0; k < n; k++) this.unindex(idx[k]);
    for (const write of writes) write(idx);
    if (this.growth !== null) for (let k = 0; k < n; k++) this.wrote(idx[k]);
    const codes = externals === null ? null : (b.columns.external_id as { codes: Int32Array }).codes;
    for (let k = 0; k < n; k++) this.externals[idx[k]] = externals === null ? null : externals[codes![k]];
    if (this.identity !== null) for (let k = 0; k < n; k++) this.reindex(idx[k]);
    return idx;
  }

  /**
   * A contact's `fields`, checked and converted; null when not set or when none of its
   * keys is declared. Undeclared keys are kept by the store (traits sent by Segment SDKs,
   * docs/ingest.md) but are no field of the engine's until declared; the service refuses
   * them on writes.
   */
  private convertCustom(v: unknown): Map<string, ConvertedValue> | null {
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v))
      throw new FieldValueError("contact.fields", "expected an object");
    const fields = v as Record<string, FieldValue>;
    let out: Map<string, ConvertedValue> | null = null;
    for (const key in fields) {
      if (!Object.hasOwn(fields, key)) continue;
      const def = this.fields.get(key);
      if (!def) {
        this.undeclared.add(key);
        continue;
      }
      if (def.builtin) throw new FieldValueError(`contact.fields.${key}`, "unknown custom field");
      out ??= new Map();
      out.set(key, convertValue(def.type, fields[key], `contact.fields.${key}`, this.timeZone));
    }
    return out;
  }

  private plan: {
    columns: number;
    /** The built-in keys, in wire order, and the position of `external_id` among them. */
    keys: readonly string[];
    externalId: number;
    types: FieldType[];
    builtin: Column[];
    custom: [string, Column][];
    values: ConvertedValue[];
  } | null = null;

  private loadPlan() {
    if (this.plan === null || this.plan.columns !== this.columns.size) {
      const keys = this.fields.builtin().map((f) => f.key);
      const builtin = new Set<string>(keys);
      this.plan = {
        columns: this.columns.size,
        keys,
        externalId: keys.indexOf("external_id"),
        types: keys.map((key) => this.fields.get(key)!.type),
        builtin: keys.map((key) => this.columns.get(key)!),
        custom: [...this.columns].filter(([key]) => !builtin.has(key)),
        values: new Array(keys.length).fill(null),
      };
    }
    return this.plan;
  }

  /** Sets one field from an already converted value (profile effects of events); true if it changed. */
  setString(i: number, key: string, v: string | null): boolean {
    const indexed = key === "email" || key === "external_id";
    if (indexed) this.unindex(i);
    const changed = writeValue(this.columns.get(key)!, i, v);
    this.wrote(i);
    if (key === "external_id") this.externals[i] = v;
    if (indexed) this.reindex(i);
    return changed;
  }

  /** Adds and removes tags; returns true if the list changed. */
  changeTags(i: number, add: string[], remove: string[]): boolean {
    const col = this.columns.get("tags") as ListColumn;
    const current = new Set((col.lists[i] ? [...col.lists[i]!] : []).map((code) => col.dict.values[code]));
    for (const t of add) {
      if (typeof t !== "string") throw new FieldValueError("tags", "expected strings");
      const n = normalize(t);
      if (n !== "") current.add(n);
    }
    for (const t of remove) current.delete(normalize(t));
    const changed = writeValue(col, i, [...current]);
    this.wrote(i);
    return changed;
  }

  remove(id: string): number | undefined {
    const i = this.indexById.get(id);
    if (i === undefined || !this.alive.has(i)) return undefined;
    this.unindex(i);
    this.externals[i] = null;
    for (const col of this.columns.values()) col.clear(i);
    this.wrote(i);
    this.alive.clear(i);
    this.liveCount--;
    return i;
  }

  /**
   * The live contact whose email is this one, compared trimmed and lower-cased as the
   * store compares them (SPEC §1); undefined when none.
   */
  byEmail(email: string): number | undefined {
    const key = normalize(email);
    if (this.identity === null) this.indexKeys();
    const i = this.identity!.email.get(key);
    return i !== undefined && this.emailOf(i) === key ? i : undefined;
  }

  /** The live contact whose external id is exactly this one; undefined when none. */
  byExternalId(externalId: string): number | undefined {
    if (this.identity === null) this.indexKeys();
    const i = this.identity!.external.get(externalId);
    return i !== undefined && this.externalIdOf(i) === externalId ? i : undefined;
  }

  /** A live contact's email as stored (trimmed, lower-cased); null when none or not live. */
  emailOf(i: number): string | null {
    if (!this.alive.has(i)) return null;
    const col = this.columns.get("email") as StringColumn;
    const code = col.codes[i];
    return code < 0 ? null : col.dict.values[code];
  }

  /** A live contact's external id as written; null when none or not live. */
  externalIdOf(i: number): string | null {
    return this.alive.has(i) ? (this.externals[i] ?? null) : null;
  }

  /**
   * The live contacts (indexes, ascending) whose email, first name, last name or
   * external id contains `text`, ignoring case and surrounding spaces; a text with a
   * space also matches "first last". The test runs once per distinct value of each
   * column, then once per contact over its codes. An empty text matches nothing.
   */
  search(text: string): number[] {
    const needle = normalize(text);
    if (needle === "") return [];
    const hits = (key: string): { codes: Int32Array; hit: Uint8Array } | null => {
      const col = this.columns.get(key);
      if (col?.kind !== "string") return null;
      const vals = col.dict.values;
      const hit = new Uint8Array(vals.length);
      for (let c = 0; c < vals.length; c++) if (vals[c].includes(needle)) hit[c] = 1;
      return { codes: col.codes, hit };
    };
    const cols = ["email", "first_name", "last_name", "external_id"]
      .map(hits)
      .filter((h): h is { codes: Int32Array; hit: Uint8Array } => h !== null);
    const first = this.columns.get("first_name");
    const last = this.columns.get("last_name");
    const names =
      needle.includes(" ") && first?.kind === "string" && last?.kind === "string" ? { first, last } : null;
    const out: number[] = [];
    const n = this.ids.length;
    scan: for (let i = 0; i < n; i++) {
      if (!this.alive.has(i)) continue;
      for (const { codes, hit } of cols) {
        const code = codes[i];
        if (code >= 0 && hit[code] === 1) {
          out.push(i);
          continue scan;
        }
      }
      if (names) {
        const f = names.first.codes[i];
        const l = names.last.codes[i];
        if (f >= 0 && l >= 0 && `${names.first.dict.values[f]} ${names.last.dict.values[l]}`.includes(needle))
          out.push(i);
      }
    }
    return out;
  }

  /**
   * Builds the index of emails and external ids over at most `budget` more contacts
   * (a million take seconds: a caller with an event loop goes a slice at a time); true
   * once every contact is indexed. Writes keep it from its first call on.
   */
  indexKeys(budget = Number.POSITIVE_INFINITY): boolean {
    this.identity ??= { email: new StringIndex(), external: new StringIndex() };
    const end = Math.min(this.ids.length, this.indexedTo + budget);
    for (let i = this.indexedTo; i < end; i++) if (this.alive.has(i)) this.reindex(i);
    this.indexedTo = end;
    return end >= this.ids.length;
  }

  /** Before a write that may change contact `i`'s email or external id. */
  private unindex(i: number): void {
    const id = this.identity;
    if (id === null) return;
    const email = this.emailOf(i);
    if (email !== null && id.email.get(email) === i) id.email.delete(email);
    const ext = this.externalIdOf(i);
    if (ext !== null && id.external.get(ext) === i) id.external.delete(ext);
  }

  /** After it. */
  private reindex(i: number): void {
    const id = this.identity;
    if (id === null) return;
    const email = this.emailOf(i);
    if (email !== null) id.email.set(email, i);
    const ext = this.externalIdOf(i);
    if (ext !== null) id.external.set(ext, i);
  }

  /** Keeps contact `i`'s external id as written, given the column's value for it (`converted`). */
  private setExternal(i: number, raw: unknown, converted: ConvertedValue | undefined): void {
    if (typeof converted !== "string") this.externals[i] = null;
    else this.externals[i] = typeof raw === "string" && raw !== converted ? raw : converted;
  }

  /** Checks and converts every value first, so a bad field leaves the stored profile untouched. */
  private convert(c: ContactInput, onlyGiven: boolean): Map<string, ConvertedValue> {
    const out = new Map<string, ConvertedValue>();
    const given = c as unknown as Record<string, FieldValue>;
    for (const def of this.fields.builtin()) {
      const key = def.key;
      if (onlyGiven && given[key] === undefined) continue;
      out.set(key, convertValue(def.type, given[key], `contact.${key}`, this.timeZone));
    }
    const custom = this.convertCustom(c.fields);
    if (custom !== null) for (const [key, v] of custom) out.set(key, v);
    return out;
  }

  /**
   * The table as an engine snapshot holds it (engine-snapshot.ts). The index of emails
   * and external ids is left out: it is built again, a slice at a time, as after a load.
   */
  saveState(w: SnapshotWriter): ContactTableState {
    const n = this.ids.length;
    const externals: [number, string][] = [];
    for (let i = 0; i < n; i++) {
      const e = this.externals[i];
      if (e !== null && e !== undefined) externals.push([i, e]);
    }
    return {
      ids: packStrings(this.ids),
      cap: this.cap,
      alive: { size: this.alive.size, words: w.add(this.alive.words) },
      liveCount: this.liveCount,
      externals,
      undeclared: [...this.undeclared],
      columns: [...this.columns].map(([key, col]) => ({ key, ...saveColumn(col, w, n, this.cap) })),
    };
  }

  /**
   * Fills this table, new and empty, with a snapshot's ids, external ids and dictionaries,
   * which need none of its arrays (a restore does this while they are read); throws
   * SnapshotUnusable when its columns differ.
   */
  restoreIndex(s: ContactTableState): void {
    if (this.ids.length !== 0) throw new Error("contact table: restoring into a table that holds contacts");
    const keys = [...this.columns.keys()];
    if (keys.length !== s.columns.length || s.columns.some((c, k) => c.key !== keys[k])) {
      throw new SnapshotUnusable("the workspace's fields changed since it was written");
    }
    for (const c of s.columns) restoreColumnDict(this.columns.get(c.key)!, c);
    const ids = unpackStrings(s.ids);
    const n = ids.length;
    this.indexById.reserve(n);
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      this.ids.push(id);
      this.indexById.set(id, i);
      this.externals.push(null);
    }
    for (const [i, e] of s.externals) this.externals[i] = e;
    for (const k of s.undeclared) this.undeclared.add(k);
  }

  /** Then its arrays. */
  restoreArrays(r: SnapshotReader, s: ContactTableState): void {
    // The columns adopt the snapshot's arrays, which have the capacity it was written with.
    this.growth = null;
    this.cap = s.cap;
    for (const c of s.columns) restoreColumn(this.columns.get(c.key)!, r, c, this.ids.length);
    this.alive = new Bitset(s.alive.size, r.array(s.alive.words, Uint32Array));
    this.liveCount = s.liveCount;
    this.plan = null;
  }

  /** A contact's value of a field as rules see it (normalised strings, ISO dates), for explain. */
  valueOf(i: number, key: string): unknown {
    const col = this.columns.get(key);
    if (!col) return null;
    switch (col.kind) {
      case "string": {
        const code = col.codes[i];
        return code < 0 ? null : col.dict.values[code];
      }
      case "number":
        return Number.isNaN(col.values[i]) ? null : col.values[i];
      case "date":
        return Number.isNaN(col.values[i]) ? null : new Date(col.values[i]).toISOString();
      case "boolean":
        return col.values[i] < 0 ? null : col.values[i] === 1;
      case "string_list": {
        const l = col.lists[i];
        return l ? [...l].map((code) => col.dict.values[code]) : [];
      }
    }
  }
}

/**
 * Rows of each larger array filled per new contact while the columns grow ahead, at
 * least: twice what fills them (all 2·cap rows) within the cap/8 contacts left, so the
 * swap comes at about the last sixteenth. More where a bulk load left less room.
 */
const ROWS_PER_STEP = 32;

export function checkId(id: unknown): void {
  if (typeof id !== "string" || id === "")
    throw new FieldValueError("contact.id", "expected a non-empty string");
}
