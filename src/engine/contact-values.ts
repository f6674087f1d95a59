/**
 * Contact values on their way into columns: checked and converted one at a time
 * (`convertValue`), or a page's column at a time (`codesWriter`, `numbersWriter`), each
 * distinct value once. A bad value throws FieldValueError before anything is written.
 */
import type { FieldType } from "../rules/fields.ts";
import { toInstant } from "../rules/time.ts";
import type { Column, ConvertedValue } from "./columns.ts";
import { normalize } from "./dictionary.ts";
import type { FieldValue } from "./types.ts";

export class FieldValueError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "FieldValueError";
  }
}

/**
 * Strings become their normalised text (interned later), numbers stay, dates become
 * epoch ms, booleans 0/1, lists normalised strings; null is "not set".
 */
export function convertValue(type: FieldType, v: FieldValue, path: string, tz: string): ConvertedValue {
  if (v === undefined || v === null) return null;
  switch (type) {
    case "string": {
      if (typeof v !== "string") throw new FieldValueError(path, "expected a string");
      const s = normalize(v);
      return s === "" ? null : s;
    }
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw new FieldValueError(path, "expected a number");
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw new FieldValueError(path, "expected true or false");
      return v ? 1 : 0;
    case "date":
      if (typeof v !== "string" && typeof v !== "number") {
        throw new FieldValueError(path, "expected an ISO 8601 date or instant");
      }
      try {
        return toInstant(v, tz);
      } catch (e) {
        throw new FieldValueError(path, (e as Error).message);
      }
    case "string_list": {
      if (!Array.isArray(v)) throw new FieldValueError(path, "expected an array of strings");
      const out: string[] = [];
      v.forEach((x, k) => {
        if (typeof x !== "string") throw new FieldValueError(`${path}[${k}]`, "expected a string");
        const s = normalize(x);
        if (s !== "") out.push(s);
      });
      return out;
    }
  }
}

/**
 * Per distinct value of a dictionary column, the value as written (null where its
 * converted form is null): its converted string itself where the two are alike, so as
 * not to hold the same text twice.
 */
export function asWritten(values: unknown[], converted: ConvertedValue[]): (string | null)[] {
  return values.map((v, j) => {
    const c = converted[j];
    if (typeof c !== "string") return null;
    return typeof v === "string" && v !== c ? v : c;
  });
}

/** The distinct values of a dictionary column, once every row's code is checked to point at one. */
export function checkedCodes(
  lc: { values: readonly unknown[]; codes: Int32Array },
  n: number,
  path: string,
): unknown[] {
  const m = lc.values.length;
  const codes = lc.codes;
  let bad = codes.length !== n;
  for (let k = 0; k < n && !bad; k++) bad = !(codes[k] >= 0 && codes[k] < m);
  if (bad) throw new Error(`${path}: a column's codes do not match its rows`);
  return [...lc.values];
}

export function clearAll(col: Column): (idx: Int32Array) => void {
  return (idx) => {
    for (let k = 0; k < idx.length; k++) col.clear(idx[k]);
  };
}

/**
 * Writes converted values by row code, each value made once: a string interned, a list
 * interned and sorted. A list's codes are shared by the rows that have it: lists are
 * replaced whole (`writeValue`), never changed in place.
 */
export function codesWriter(
  col: Column,
  converted: ConvertedValue[],
  codes: Int32Array,
): (idx: Int32Array) => void {
  switch (col.kind) {
    case "string": {
      const lut = Int32Array.from(converted, (v) => (v === null ? -1 : col.dict.intern(v as string)));
      return (idx) => {
        for (let k = 0; k < idx.length; k++) col.set(idx[k], lut[codes[k]]);
      };
    }
    case "number":
    case "date":
    case "boolean": {
      const missing = col.kind === "boolean" ? -1 : Number.NaN;
      const lut = converted.map((v) => (v === null ? missing : (v as number)));
      return (idx) => {
        const out = col.values;
        for (let k = 0; k < idx.length; k++) out[idx[k]] = lut[codes[k]];
        if (col.kind !== "boolean") col.forgetDays();
      };
    }
    case "string_list": {
      const lut = converted.map((v) => {
        if (v === null) return null;
        const list = [...new Set((v as string[]).map((x) => col.dict.intern(x)))].sort((a, b) => a - b);
        return list.length === 0 ? null : Int32Array.from(list);
      });
      return (idx) => {
        for (let k = 0; k < idx.length; k++) col.lists[idx[k]] = lut[codes[k]];
      };
    }
  }
}

/** Writes a column given as numbers (NaN: not set), checked as `convertValue` checks them. */
export function numbersWriter(
  col: Column,
  type: FieldType,
  numbers: Float64Array,
  n: number,
  path: string,
  tz: string,
): (idx: Int32Array) => void {
  if (numbers.length !== n) throw new Error(`${path}: a column's numbers do not match its rows`);
  if (col.kind !== "number" && col.kind !== "date") {
    // Numbers are wrong for any other type; NaN is "not set".
    for (let k = 0; k < n; k++) if (!Number.isNaN(numbers[k])) convertValue(type, numbers[k], path, tz);
    return clearAll(col);
  }
  for (let k = 0; k < n; k++) {
    const v = numbers[k];
    if (!Number.isNaN(v) && !Number.isFinite(v)) convertValue(type, v, path, tz);
  }
  return (idx) => {
    const out = col.values;
    for (let k = 0; k < idx.length; k++) out[idx[k]] = numbers[k];
    col.forgetDays();
  };
}
