/**
 * A contact table's typed columns, one per field: numbers and dates as Float64 with NaN
 * for "missing", booleans as Int8 with -1, strings as dictionary codes with -1, lists as
 * sorted code arrays. Rules read these, never objects.
 */
import type { FieldType } from "../rules/fields.ts";
import { DAY_NOT_SET, dayCodeOf, dayCodesOf } from "./day-scan.ts";
import { Dictionary } from "./dictionary.ts";
import { Postings } from "./postings.ts";
import {
  type PackedStrings,
  packStrings,
  type SnapshotReader,
  SnapshotUnusable,
  type SnapshotWriter,
  unpackStrings,
} from "./snapshot-io.ts";

/** One of a column's typed arrays, one slot per contact (column-growth.ts). */
export type GrowableArray = Float64Array | Int32Array | Int8Array;

export class StringColumn {
  readonly kind = "string";
  /** Written only through `set` and `replaceCodes`, which keep `postings` in step. */
  codes: Int32Array;
  /** Per column, so a predicate's lookup table is as small as the column's distinct values. */
  readonly dict = new Dictionary();
  readonly postings = new Postings();
  constructor(cap: number) {
    this.codes = new Int32Array(cap).fill(-1);
  }
  grow(cap: number): void {
    const next = new Int32Array(cap).fill(-1);
    next.set(this.codes);
    this.codes = next;
    this.postings.grown(cap);
  }
  /** The arrays a growth copies (column-growth.ts), the value each holds where missing, and the swap. */
  arrays(): GrowableArray[] {
    return [this.codes];
  }
  missing(): number[] {
    return [-1];
  }
  adopt(arrays: GrowableArray[]): void {
    this.codes = arrays[0] as Int32Array;
    this.postings.grown(this.codes.length);
  }
  set(i: number, code: number): void {
    const was = this.codes[i];
    if (was === code) return;
    this.codes[i] = code;
    this.postings.moved(i, was, code);
  }
  clear(i: number): void {
    this.set(i, -1);
  }
  /** New codes for every row (a snapshot's): the bitmaps are made again when next asked. */
  replaceCodes(codes: Int32Array): void {
    this.codes = codes;
    this.postings.forget();
  }
}

export class NumberColumn {
  values: Float64Array;
  /**
   * Each value's local day as a day-table code (day-scan.ts), made when a calendar scan
   * ("birthday this month") first asks and then kept in step with every write.
   */
  private days: { tz: string; codes: Int32Array } | null = null;
  constructor(
    cap: number,
    readonly kind: "number" | "date",
  ) {
    this.values = new Float64Array(cap).fill(Number.NaN);
  }
  grow(cap: number): void {
    const next = new Float64Array(cap).fill(Number.NaN);
    next.set(this.values);
    this.values = next;
    if (this.days !== null) {
      const codes = new Int32Array(cap).fill(DAY_NOT_SET);
      codes.set(this.days.codes);
      this.days.codes = codes;
    }
  }
  arrays(): GrowableArray[] {
    return this.days === null ? [this.values] : [this.values, this.days.codes];
  }
  missing(): number[] {
    return [Number.NaN, DAY_NOT_SET];
  }
  adopt(arrays: GrowableArray[]): void {
    this.values = arrays[0] as Float64Array;
    if (this.days !== null) this.days.codes = arrays[1] as Int32Array;
  }
  set(i: number, v: number): void {
    this.values[i] = v;
    if (this.days !== null) this.days.codes[i] = dayCodeOf(v, this.days.tz);
  }
  clear(i: number): void {
    this.set(i, Number.NaN);
  }
  /** The day codes of the values in `tz`. */
  dayCodes(tz: string): Int32Array {
    if (this.days === null || this.days.tz !== tz) this.days = { tz, codes: dayCodesOf(this.values, tz) };
    return this.days.codes;
  }
  /** After writes straight into `values` (bulk loads): the codes are made again when next asked. */
  forgetDays(): void {
    this.days = null;
  }
}

export class BooleanColumn {
  readonly kind = "boolean";
  values: Int8Array;
  constructor(cap: number) {
    this.values = new Int8Array(cap).fill(-1);
  }
  grow(cap: number): void {
    const next = new Int8Array(cap).fill(-1);
    next.set(this.values);
    this.values = next;
  }
  arrays(): GrowableArray[] {
    return [this.values];
  }
  missing(): number[] {
    return [-1];
  }
  adopt(arrays: GrowableArray[]): void {
    this.values = arrays[0] as Int8Array;
  }
  clear(i: number): void {
    this.values[i] = -1;
  }
}

/** Sorted, de-duplicated dictionary codes per contact; null when empty. */
export class ListColumn {
  readonly kind = "string_list";
  lists: (Int32Array | null)[] = [];
  readonly dict = new Dictionary();
  grow(_cap: number): void {}
  /** A plain array, which grows by itself. */
  arrays(): GrowableArray[] {
    return [];
  }
  missing(): number[] {
    return [];
  }
  adopt(_arrays: GrowableArray[]): void {}
  clear(i: number): void {
    this.lists[i] = null;
  }
}

export type Column = StringColumn | NumberColumn | BooleanColumn | ListColumn;

/** A field value checked and converted for its column (contact-values.ts); null is "not set". */
export type ConvertedValue = number | string | string[] | null;

export function makeColumn(type: FieldType, cap: number): Column {
  switch (type) {
    case "string":
      return new StringColumn(cap);
    case "number":
      return new NumberColumn(cap, "number");
    case "date":
      return new NumberColumn(cap, "date");
    case "boolean":
      return new BooleanColumn(cap);
    case "string_list":
      return new ListColumn();
  }
}

/** Writes a converted value; true when the stored value changed. */
export function writeValue(col: Column, i: number, v: ConvertedValue | undefined): boolean {
  if (v === undefined || v === null) {
    let was: boolean;
    switch (col.kind) {
      case "string":
        was = col.codes[i] >= 0;
        break;
      case "string_list":
        was = col.lists[i] !== null && col.lists[i] !== undefined;
        break;
      case "boolean":
        was = col.values[i] >= 0;
        break;
      default:
        was = !Number.isNaN(col.values[i]);
    }
    col.clear(i);
    return was;
  }
  switch (col.kind) {
    case "string": {
      const code = col.dict.intern(v as string);
      if (col.codes[i] === code) return false;
      col.set(i, code);
      return true;
    }
    case "number":
    case "date":
      if (col.values[i] === (v as number)) return false;
      col.set(i, v as number);
      return true;
    case "boolean":
      if (col.values[i] === (v as number)) return false;
      col.values[i] = v as number;
      return true;
    case "string_list": {
      const codes = [...new Set((v as string[]).map((s) => col.dict.intern(s)))].sort((a, b) => a - b);
      const next = codes.length === 0 ? null : Int32Array.from(codes);
      const prev = col.lists[i] ?? null;
      const same =
        (prev === null && next === null) ||
        (prev !== null &&
          next !== null &&
          prev.length === next.length &&
          prev.every((x, k) => x === next[k]));
      col.lists[i] = next;
      return !same;
    }
  }
}

/** A column as an engine snapshot holds it (snapshot-io.ts): its kind, array references and dictionary. */
export type ColumnState =
  | { kind: "string"; codes: number; dict: PackedStrings }
  | { kind: "number" | "date"; values: number }
  | { kind: "boolean"; values: number }
  | { kind: "string_list"; offsets: number; codes: number; dict: PackedStrings };

/** Saves the first `n` rows of `col` (arrays keep capacity `cap`). */
export function saveColumn(col: Column, w: SnapshotWriter, n: number, cap: number): ColumnState {
  switch (col.kind) {
    case "string":
      return { kind: "string", codes: w.add(col.codes, n, cap), dict: packStrings(col.dict.values) };
    case "number":
    case "date":
      return { kind: col.kind, values: w.add(col.values, n, cap) };
    case "boolean":
      return { kind: "boolean", values: w.add(col.values, n, cap) };
    case "string_list": {
      const offsets = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + (col.lists[i]?.length ?? 0);
      const codes = new Int32Array(offsets[n]);
      for (let i = 0; i < n; i++) {
        const l = col.lists[i];
        if (l) codes.set(l, offsets[i]);
      }
      return {
        kind: "string_list",
        offsets: w.add(offsets),
        codes: w.add(codes),
        dict: packStrings(col.dict.values),
      };
    }
  }
}

/** The dictionary part of a column's snapshot, which needs no array (a restore does it while they are read). */
export function restoreColumnDict(col: Column, s: ColumnState): void {
  if (col.kind !== s.kind) throw new SnapshotUnusable(`a column was ${s.kind}, is ${col.kind}`);
  if ((col.kind === "string" || col.kind === "string_list") && "dict" in s) {
    col.dict.internAll(unpackStrings(s.dict));
  }
}

/**
 * Fills `col`, new, of the same kind and with its dictionary restored, with `n` rows of a
 * snapshot. Arrays past row `n` hold the defaults a grown column holds (missing values).
 */
export function restoreColumn(col: Column, r: SnapshotReader, s: ColumnState, n: number): void {
  if (col.kind !== s.kind) throw new SnapshotUnusable(`a column was ${s.kind}, is ${col.kind}`);
  switch (col.kind) {
    case "string": {
      const st = s as Extract<ColumnState, { kind: "string" }>;
      const codes = r.array(st.codes, Int32Array);
      codes.fill(-1, n);
      col.replaceCodes(codes);
      return;
    }
    case "number":
    case "date": {
      const values = r.array((s as { values: number }).values, Float64Array);
      values.fill(Number.NaN, n);
      col.values = values;
      col.forgetDays();
      return;
    }
    case "boolean": {
      const values = r.array((s as { values: number }).values, Int8Array);
      values.fill(-1, n);
      col.values = values;
      return;
    }
    case "string_list": {
      const st = s as Extract<ColumnState, { kind: "string_list" }>;
      const offsets = r.array(st.offsets, Int32Array);
      const codes = r.array(st.codes, Int32Array);
      const lists: (Int32Array | null)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        lists[i] = offsets[i + 1] === offsets[i] ? null : codes.subarray(offsets[i], offsets[i + 1]);
      }
      col.lists = lists;
      return;
    }
  }
}
