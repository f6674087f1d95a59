/**
 * Rank and quintile conditions evaluated from scratch, at one instant: the whole
 * population's values once per instant (in one loop over the event table when the
 * measure allows), the cut found by selection, scores by binary search in the sorted
 * values.
 */
import type { EventNode } from "../rules/schema.ts";
import type { Bitset } from "./bitset.ts";
import type { CompileEnv } from "./compile.ts";
import { lowerBound as slotLowerBound, upperBound } from "./events.ts";
import type { RelativeParts } from "./rank.ts";

/** Index of the first value ≥ v in a sorted array. */
export function lowerBound(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The k-th smallest of `a` (0-based), reordering `a` (Hoare's selection). */
export function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** The population at one instant, computed once per instant a node is asked at. */
export interface Snapshot {
  values: Float64Array;
  n: number;
  /** The population's values ascending, for scores and for `one` (built on demand). */
  sorted: Float64Array | null;
}

export function snapshot(env: CompileEnv, value: (c: number) => number, fast: FastFill | null): Snapshot {
  const alive = env.contacts.alive;
  const values = new Float64Array(alive.size).fill(Number.NaN);
  if (fast !== null) return { values, n: fast(alive, values), sorted: null };
  let n = 0;
  const words = alive.words;
  for (let wi = 0; wi < words.length; wi++) {
    let bits = words[wi] | 0;
    const base = wi << 5;
    while (bits !== 0) {
      const t = bits & -bits;
      const c = base | (31 - Math.clz32(t));
      bits ^= t;
      const v = value(c);
      values[c] = v;
      if (!Number.isNaN(v)) n++;
    }
  }
  return { values, n, sorted: null };
}

/** Writes every member of `alive`'s value into `values`; returns how many have one. */
export type FastFill = (alive: Bitset, values: Float64Array) => number;

/**
 * The whole population's values in one loop over the event table, for the common rank
 * of a count or aggregate with no filter (Q6): the same values as the measure's, a
 * contact at a time, without a call and two array allocations per contact.
 */
export function fastFill(rule: EventNode, parts: RelativeParts): FastFill | null {
  const fn = rule.measure?.fn ?? "count";
  if (parts.where !== null || rule.score !== undefined) return null;
  if (fn !== "count" && fn !== "sum" && fn !== "avg" && fn !== "min" && fn !== "max") return null;
  const { table } = parts;
  const property = rule.measure?.property;
  return (alive, values) => {
    const [lo, hi] = parts.win();
    const len = table.len;
    const start = table.start;
    const times = table.times;
    const num = property === undefined ? undefined : (table.props.get(property)?.num ?? undefined);
    const empty = fn === "count" || fn === "sum" ? 0 : Number.NaN;
    const words = alive.words;
    let n = 0;
    for (let wi = 0; wi < words.length; wi++) {
      let bits = words[wi] | 0;
      const base = wi << 5;
      while (bits !== 0) {
        const t = bits & -bits;
        const c = base | (31 - Math.clz32(t));
        bits ^= t;
        const l = c < len.length ? len[c] : 0;
        let v = empty;
        if (l > 0) {
          const s = start[c];
          const a = times[s] >= lo ? s : slotLowerBound(times, s, s + l, lo);
          const b = times[s + l - 1] <= hi ? s + l : upperBound(times, a, s + l, hi);
          if (fn === "count") v = b - a;
          else if (num !== undefined) {
            let k = 0;
            let sum = 0;
            let min = Number.POSITIVE_INFINITY;
            let max = Number.NEGATIVE_INFINITY;
            for (let i = a; i < b; i++) {
              const x = num[i];
              if (Number.isNaN(x)) continue;
              k++;
              sum += x;
              if (x < min) min = x;
              if (x > max) max = x;
            }
            v = fn === "sum" ? sum : k === 0 ? Number.NaN : fn === "avg" ? sum / k : fn === "min" ? min : max;
          }
        }
        values[c] = v;
        if (!Number.isNaN(v)) n++;
      }
    }
    return n;
  };
}

export function populationOf(s: Snapshot): Float64Array {
  const pop = new Float64Array(s.n);
  let k = 0;
  for (let c = 0; c < s.values.length; c++) if (!Number.isNaN(s.values[c])) pop[k++] = s.values[c];
  return pop;
}

export function sortedOf(s: Snapshot): Float64Array {
  s.sorted ??= populationOf(s).sort();
  return s.sorted;
}
