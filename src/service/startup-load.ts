/**
 * Start-up: loading a workspace's contacts and events from its store into a fresh engine.
 *
 * Where the store reads in bulk off this thread (`Store.startupRead`: a SQLite file,
 * read by worker threads), this thread only applies what arrives: contacts pages as
 * columns through `Engine.loadContactColumns` (each distinct value of a column checked
 * and interned once per page, no object per contact), event pages as columns through
 * `Engine.loadEvents` (no event object, no JSON parse), and it keeps the change log's
 * membership that the readers compute last, for `reconcile`. Elsewhere (PostgreSQL, `:memory:`, or a worker that cannot start)
 * `LiveWorkspace.open` streams pages of records instead.
 */

import { BUILTIN_INPUT_KEYS, type BuiltinInputKey } from "../engine/contacts.ts";
import { normalize } from "../engine/dictionary.ts";
import type { Engine } from "../engine/engine.ts";
import { EventColumns, type PropBatch } from "../engine/events.ts";
import { type ContactColumns, FieldValueError } from "../engine/index.ts";
import { CONTACT_ROW_COLUMNS, clampedInstant, repairedInstant } from "../store/contact-row.ts";
import { BulkReadError } from "../store/sqlite-bulk-read.ts";
import {
  type ContactColumnMessage,
  type ContactsMessage,
  type EventsMessage,
  type LoggedMessage,
  type StartupMessage,
  type StartupRead,
  StartupReadUnavailable,
} from "../store/startup-read.ts";
import type { Store } from "../store/types.ts";
import type { LoggedMembership } from "./reconcile.ts";

export type Progress = (phase: "contacts" | "events" | "members", rows: number) => void;

/**
 * Loads contacts and events through the store's bulk read, ending with `finishLoad`, or
 * does nothing and answers null when the store has none (or its readers cannot start).
 * Otherwise answers, once contacts and events are loaded, the change log's membership,
 * which the readers go on computing meanwhile (awaiting it waits for them).
 */
export async function loadInBulk(
  store: Store,
  ws: string,
  engine: Engine,
  onProgress?: Progress,
): Promise<{ logged: Promise<LoggedMembership> } | null> {
  const read = store.startupRead?.(ws) ?? null;
  if (!read) return null;
  const it = read[Symbol.asyncIterator]();
  let first: IteratorResult<StartupMessage>;
  try {
    first = await it.next();
  } catch (e) {
    await read.close();
    if (e instanceof StartupReadUnavailable) return null;
    throw rowError(e);
  }
  try {
    return await applied(read, it, first, engine, onProgress);
  } catch (e) {
    await read.close();
    throw rowError(e);
  }
}

/** A check that failed in a reader, as `Engine.loadEvents` would have thrown it. */
function rowError(e: unknown): unknown {
  return e instanceof BulkReadError && e.path ? new FieldValueError(e.path, e.message) : e;
}

const BUILTIN_KEYS: ReadonlySet<string> = new Set(BUILTIN_INPUT_KEYS);

/**
 * A contacts page as the engine loads it: the stored columns by their keys, the JSON
 * text of `tags` and `custom` (`fields`) parsed once per distinct text, the write times
 * of `status` and `email_status` as numbers.
 */
export function contactColumns(m: ContactsMessage): {
  columns: ContactColumns;
  written: { status?: Float64Array; email_status?: Float64Array };
} {
  const columns: ContactColumns["columns"] = {};
  const written: { status?: Float64Array; email_status?: Float64Array } = {};
  CONTACT_ROW_COLUMNS.forEach((name, k) => {
    if (k === 0) return; // the ids
    const col = m.columns[k - 1];
    if (col === undefined) throw new Error(`start-up read: a contacts page lacks its ${name} column`);
    if (name === "tags" || name === "custom") {
      if ("numbers" in col) {
        if (!col.numbers.every(Number.isNaN)) throw new Error(`start-up read: ${name} is not JSON text`);
      } else {
        const values = col.values.map((v) => (typeof v === "string" ? (JSON.parse(v) as unknown) : v));
        columns[name === "tags" ? "tags" : "fields"] = { values, codes: col.codes };
      }
    } else if (name === "status_written_at" || name === "email_status_written_at") {
      const times = numbersOf(col, m.count, name);
      for (let k = 0; k < times.length; k++) {
        if (!Number.isNaN(times[k]!)) times[k] = repairedInstant(times[k]!) ?? Number.NaN;
      }
      written[name === "status_written_at" ? "status" : "email_status"] = times;
    } else if (name === "created_at" || name === "subscribed_at") {
      columns[name] = repairedInstants(col, name === "created_at");
    } else if (BUILTIN_KEYS.has(name)) {
      columns[name as BuiltinInputKey] = col;
    }
  });
  return { columns: { ids: m.ids, columns }, written };
}

/**
 * An instants column with values outside the range writes take (stored before they
 * were checked) repaired as `contactFromRow` repairs them on every other read: the
 * engine would otherwise hold an instant no answer can print.
 */
function repairedInstants(col: ContactColumnMessage, clamp: boolean): ContactColumnMessage {
  const fix = (v: number) => (clamp ? clampedInstant(v) : repairedInstant(v));
  if ("numbers" in col) {
    for (let k = 0; k < col.numbers.length; k++) {
      const v = col.numbers[k]!;
      if (!Number.isNaN(v)) col.numbers[k] = fix(v) ?? Number.NaN;
    }
    return col;
  }
  // Each distinct value once; the codes stay as they are.
  return { values: col.values.map((v) => (typeof v === "number" ? fix(v) : v)), codes: col.codes };
}

/** A column of numbers (NaN: null), from either form a page gives it in. */
function numbersOf(col: ContactColumnMessage, n: number, name: string): Float64Array {
  if ("numbers" in col) return col.numbers;
  if (col.codes.length !== n) throw new Error(`start-up read: ${name}'s codes do not match its rows`);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = col.values[col.codes[k]];
    if (v === undefined || (v !== null && typeof v !== "number")) {
      throw new Error(`start-up read: ${name} is not a number`);
    }
    out[k] = v ?? Number.NaN;
  }
  return out;
}

/** Per reader, what its codes stand for in this engine. */
class Source {
  /** Contact codes below this are engine indices already (see `startup-read.ts`); -1 until checked. */
  known = -1;
  /** Contact code - `known` → engine index (-1: no contact of that id). */
  contacts: Int32Array = new Int32Array(1024);
  contactCount = 0;
  /** Ids of the contact codes (- `known`) without an engine index (logged changes of erased contacts). */
  readonly unknown = new Map<number, string>();

  /**
   * Takes a message's `known` once its contacts are loaded: the reader's positions are
   * engine indices only if it saw the contacts this thread loaded, in the same order.
   */
  checkKnown(m: { known: number; lastKnown: string | null }, engine: Engine, loaded: number): void {
    if (this.known === m.known) return;
    const same =
      this.known < 0 &&
      m.known === loaded &&
      (m.known === 0 || engine.contacts.ids[m.known - 1] === m.lastKnown);
    if (!same) {
      throw new Error(
        `start-up read: a reader saw ${m.known} contacts where ${loaded} were loaded ` +
          "(was the file written by another process meanwhile?)",
      );
    }
    this.known = m.known;
  }
  readonly types: string[] = [];
  /** String code → code in the engine's event dictionary. */
  strings: Int32Array = new Int32Array(1024);
  stringCount = 0;
  readonly props: { type: number; path: string }[] = [];

  addContacts(ids: string[], index: (id: string) => number): void {
    const need = this.contactCount + ids.length;
    if (need > this.contacts.length) this.contacts = grown(this.contacts, need);
    for (const id of ids) {
      const i = index(id);
      if (i < 0) this.unknown.set(this.contactCount, id);
      this.contacts[this.contactCount++] = i;
    }
  }

  addStrings(values: string[], engine: Engine): void {
    const need = this.stringCount + values.length;
    if (need > this.strings.length) this.strings = grown(this.strings, need);
    // In order of first appearance, as `append` interns them.
    for (const v of values) this.strings[this.stringCount++] = engine.events.dict.intern(normalize(v));
  }
}

function grown(a: Int32Array, need: number): Int32Array {
  let cap = a.length;
  while (cap < need) cap *= 2;
  const next = new Int32Array(cap);
  next.set(a);
  return next;
}

function source(sources: Source[], k: number): Source {
  while (sources.length <= k) sources.push(new Source());
  return sources[k];
}

async function applied(
  read: StartupRead,
  it: AsyncIterator<StartupMessage>,
  first: IteratorResult<StartupMessage>,
  engine: Engine,
  onProgress?: Progress,
): Promise<{ logged: Promise<LoggedMembership> }> {
  const sources: Source[] = [];
  let contacts = 0;
  let events = 0;
  // Contacts are loaded into an empty engine, so the k-th loaded has index k.
  if (engine.contacts.size !== 0) throw new Error("start-up read: the engine already holds contacts");
  let r = first;
  for (; !r.done; r = await it.next()) {
    const m = r.value;
    if (m.kind === "contacts") {
      const { columns, written } = contactColumns(m);
      engine.loadContactColumns(columns, written);
      contacts += m.count;
      onProgress?.("contacts", contacts);
    } else if (m.kind === "events") {
      applyEvents(engine, source(sources, m.source), m, contacts);
      events += m.count;
      onProgress?.("events", events);
    } else if (m.kind === "events-done") break;
    else throw new Error(`start-up read: unexpected ${m.kind}`);
  }
  engine.finishLoad();
  // The readers go on with the change log while this thread evaluates the segments.
  const logged = (async () => {
    const out = new Map<string, LoggedMessage>();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const m = r.value;
      if (m.kind !== "logged") throw new Error(`start-up read: unexpected ${m.kind}`);
      out.set(m.segment, m);
    }
    return loggedMembership(engine, [...out.values()], contacts);
  })();
  // Failures surface where the caller awaits it; if it never does (it failed first), the
  // readers are stopped and this must not be an unhandled rejection.
  logged.catch(() => read.close());
  return { logged };
}

function applyEvents(engine: Engine, src: Source, m: EventsMessage, loaded: number): void {
  src.checkKnown(m, engine, loaded);
  src.types.push(...m.newTypes);
  // An event for an unknown contact creates it with no fields (SPEC §2), in order of first appearance.
  src.addContacts(m.newContacts, (id) => engine.contacts.ensure(id));
  src.addStrings(m.newStrings, engine);
  src.props.push(...m.newProps);
  const n = m.count;
  const contact = m.contact;
  const lut = src.contacts;
  const known = src.known;
  for (let i = 0; i < n; i++) {
    const c = contact[i];
    if (c >= known) contact[i] = lut[c - known];
  }
  const props: PropBatch[] = [];
  for (const p of m.props) {
    const { type, path } = src.props[p.prop];
    const str = p.str;
    if (str) {
      const codes = src.strings;
      for (let i = 0; i < n; i++) if (str[i] >= 0) str[i] = codes[str[i]];
    }
    const other = p.otherRows && p.otherValues ? { rows: p.otherRows, values: p.otherValues } : null;
    props.push({ type, path, num: p.num, str, other });
  }
  engine.loadEvents(new EventColumns(n, src.types.slice(), m.type, contact, m.time, props), {
    finish: false,
  });
}

/** The logged members of each segment as engine indices, after every event is loaded. */
function loggedMembership(engine: Engine, pages: LoggedMessage[], loaded: number): LoggedMembership {
  const out: LoggedMembership = new Map();
  // The change log's other contact codes are a list of their own per source.
  const sources: Source[] = [];
  for (const m of pages) {
    const src = source(sources, m.source);
    src.checkKnown(m, engine, loaded);
    src.addContacts(m.newContacts, (id) => engine.contacts.index(id) ?? -1);
    const known = src.known;
    const indices = new Int32Array(m.members.length);
    const unknown: string[] = [];
    let k = 0;
    for (const code of m.members) {
      const i = code < known ? code : src.contacts[code - known];
      if (i >= 0) indices[k++] = i;
      else unknown.push(src.unknown.get(code - known)!);
    }
    out.set(m.segment, { indices: indices.subarray(0, k), unknown });
  }
  return out;
}
