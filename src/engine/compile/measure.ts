/**
 * Measures of event conditions over one contact's events in the window (count,
 * distinct, aggregates, first/last instant, most frequent value), and the count tests
 * that never need the measure itself.
 */
import type { Op } from "../../rules/operators.ts";
import type { EventNode } from "../../rules/schema.ts";
import type { Dictionary } from "../dictionary.ts";
import { type EventTable, lowerBound, type PropColumn, upperBound } from "../events.ts";
import { PropRef } from "./where.ts";

/**
 * The measured value of an event condition for one contact; NaN when missing. A
 * `most_frequent` measure is the dictionary code of the value.
 */
type Measure = (c: number) => number;

export function compileMeasure(
  rule: EventNode,
  table: EventTable,
  win: () => [number, number],
  where: ((slot: number) => boolean) | null,
  unbounded: boolean,
  dict: Dictionary,
): Measure {
  const fn = rule.measure?.fn ?? "count";
  /** The contact's slots inside the window, as [a, b). */
  const bounds = (c: number): [number, number] => {
    if (c >= table.len.length) return [0, 0];
    const l = table.len[c];
    const s = table.start[c];
    if (l === 0 || unbounded) return [s, s + l];
    const [lo, hi] = win();
    const a = lowerBound(table.times, s, s + l, lo);
    return [a, upperBound(table.times, a, s + l, hi)];
  };
  if (fn === "count" && where === null) {
    if (unbounded) return (c) => (c < table.len.length ? table.len[c] : 0);
    // The hot path of most rules: two binary searches, no allocation.
    return (c) => {
      if (c >= table.len.length) return 0;
      const l = table.len[c];
      if (l === 0) return 0;
      const s = table.start[c];
      const times = table.times;
      const [lo, hi] = win();
      const a = lowerBound(times, s, s + l, lo);
      return upperBound(times, a, s + l, hi) - a;
    };
  }
  const prop = rule.measure?.property;
  const ref = prop !== undefined ? new PropRef(table, prop) : null;
  switch (fn) {
    case "count":
      return (c) => {
        const [a, b] = bounds(c);
        let n = 0;
        for (let s = a; s < b; s++) if (where!(s)) n++;
        return n;
      };
    case "first_at":
      return (c) => {
        const [a, b] = bounds(c);
        for (let s = a; s < b; s++) if (where === null || where(s)) return table.times[s];
        return Number.NaN;
      };
    case "last_at":
      return (c) => {
        const [a, b] = bounds(c);
        for (let s = b - 1; s >= a; s--) if (where === null || where(s)) return table.times[s];
        return Number.NaN;
      };
    case "most_frequent":
      return (c) => mostFrequent(table, ref!.get(), bounds(c), where, dict);
    case "distinct":
      return (c) => {
        const [a, b] = bounds(c);
        const col = ref!.get();
        if (col === undefined || a === b) return 0;
        const seen = new Set<string | number>();
        for (let s = a; s < b; s++) {
          if (where !== null && !where(s)) continue;
          if (!Number.isNaN(col.numAt(s))) seen.add(col.numAt(s));
          else if (col.strAt(s) >= 0) seen.add(`s${col.strAt(s)}`);
          else {
            const o = col.other?.[s];
            if (o !== undefined && o !== null) seen.add(`o${JSON.stringify(o)}`);
          }
        }
        return seen.size;
      };
    default: {
      // sum, avg, min, max over number values only
      return (c) => {
        const [a, b] = bounds(c);
        const col = ref!.get();
        let n = 0;
        let sum = 0;
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        if (col?.num) {
          const num = col.num;
          for (let s = a; s < b; s++) {
            const x = num[s];
            if (Number.isNaN(x) || (where !== null && !where(s))) continue;
            n++;
            sum += x;
            if (x < min) min = x;
            if (x > max) max = x;
          }
        }
        if (fn === "sum") return sum;
        if (n === 0) return Number.NaN;
        return fn === "avg" ? sum / n : fn === "min" ? min : max;
      };
    }
  }
}

/**
 * The code of the non-blank string value held by the most counted events in slots
 * [a, b); ties go to the value whose latest event is latest, then to the smallest
 * value (docs/rules.md, most_frequent). NaN when no counted event has one.
 */
function mostFrequent(
  table: EventTable,
  col: PropColumn | undefined,
  [a, b]: [number, number],
  where: ((slot: number) => boolean) | null,
  dict: Dictionary,
): number {
  const str = col?.str;
  if (!str || a === b) return Number.NaN;
  const counts = new Map<number, number>();
  const latest = new Map<number, number>();
  for (let s = a; s < b; s++) {
    const code = str[s];
    if (code < 0 || dict.values[code] === "" || (where !== null && !where(s))) continue;
    counts.set(code, (counts.get(code) ?? 0) + 1);
    const t = table.times[s];
    const l = latest.get(code);
    if (l === undefined || t > l) latest.set(code, t);
  }
  let best = Number.NaN;
  let bestN = 0;
  let bestT = Number.NEGATIVE_INFINITY;
  for (const [code, n] of counts) {
    const t = latest.get(code)!;
    if (n > bestN || (n === bestN && (t > bestT || (t === bestT && dict.values[code] < dict.values[best])))) {
      best = code;
      bestN = n;
      bestT = t;
    }
  }
  return best;
}

/** The counts [kmin, kmax] a numeric operator accepts, counts being whole numbers. */
export function countRange(op: Op, value: number | number[]): [number, number] {
  const v = value as number;
  switch (op) {
    case "eq":
      return [Math.ceil(v), Math.floor(v)];
    case "gt":
      return [Math.floor(v) + 1, Number.POSITIVE_INFINITY];
    case "gte":
      return [Math.ceil(v), Number.POSITIVE_INFINITY];
    case "lt":
      return [0, Math.ceil(v) - 1];
    case "lte":
      return [0, Math.floor(v)];
    case "between": {
      const [a, b] = value as number[];
      return [Math.ceil(a), Math.floor(b)];
    }
    default:
      return [0, Number.POSITIVE_INFINITY];
  }
}

/**
 * "Did X between lo and hi, at least kmin and at most kmax times", without counting:
 * in a block sorted by time whose slots up to `end` are all ≤ hi, the count reaches k
 * exactly when the k-th latest of them is ≥ lo. With the usual `in_last` window, `end`
 * is the block's end and the test is one or two array reads.
 */
export function countTest(
  table: EventTable,
  win: () => [number, number],
  [kmin, kmax]: [number, number],
): (c: number) => boolean {
  const min = Math.max(0, kmin);
  if (kmax < min) return () => false;
  const emptyOk = min === 0;
  return (c) => {
    if (c >= table.len.length) return emptyOk;
    const l = table.len[c];
    if (l < min) return false;
    if (l === 0) return emptyOk;
    const [lo, hi] = win();
    const s = table.start[c];
    const times = table.times;
    let end = s + l;
    if (times[end - 1] > hi) end = upperBound(times, s, end, hi);
    if (min > 0) {
      const i = end - min;
      if (i < s || times[i] < lo) return false;
    }
    if (kmax !== Number.POSITIVE_INFINITY) {
      const j = end - kmax - 1;
      if (j >= s && times[j] >= lo) return false;
    }
    return true;
  };
}
