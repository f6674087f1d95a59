/**
 * Whole-population loops for the commonest event conditions. They do what the
 * per-contact closures do, but with the table's arrays hoisted out of the loop and
 * no call per contact, which is what a million-contact evaluation spends its time on.
 * Every loop here has a per-contact twin in compile.ts that the property tests hold
 * it to.
 */
import { Bitset } from "./bitset.ts";
import type { EventTable } from "./events.ts";
import { lowerBound, upperBound } from "./events.ts";

/**
 * Which of the `top` contacts from `base` have an event at or after `from`, as bits,
 * found without a branch per contact: most have none, in no predictable order, and a
 * mispredicted branch each costs more than the loads.
 */
export function recentBits(latest: Float64Array, base: number, top: number, from: number): number {
  let bits = 0;
  for (let b = 0; b < top; b++) bits |= (latest[base | b] >= from ? 1 : 0) << b;
  return bits;
}

/**
 * The bits of `m`, word `wi` of a mask, whose contacts have an event of `table` at or
 * after `lo`. The others have none in a window from `lo`, which the table's dense
 * `latest` tells without reading their blocks in the slab.
 */
function recentIn(table: EventTable, wi: number, m: number, lo: number): number {
  const base = wi << 5;
  const nc = table.len.length;
  // A window open to the past still leaves out contacts with no event (latest -∞).
  const from = Math.max(lo, -Number.MAX_VALUE);
  if (base >= nc || !(table.latestByWord[wi] >= from)) return 0;
  return recentBits(table.latest, base, Math.min(32, nc - base), from) & m;
}

/** Members of `mask` with between kmin and kmax events in [lo, hi] (kmin ≥ 0, kmax ≥ kmin). */
export function selectCount(
  mask: Bitset,
  table: EventTable,
  lo: number,
  hi: number,
  kmin: number,
  kmax: number,
): Bitset {
  const out = new Bitset(mask.size);
  const mw = mask.words;
  const ow = out.words;
  const len = table.len;
  const start = table.start;
  const times = table.times;
  const nc = len.length;
  const emptyOk = kmin === 0;
  const bounded = kmax !== Number.POSITIVE_INFINITY;
  // Fewer than `need` events of the type in all: no block need be read.
  const need = Math.max(1, kmin);
  for (let wi = 0; wi < mw.length; wi++) {
    const m = mw[wi] | 0;
    if (m === 0) continue;
    const base = wi << 5;
    // The contacts with at least `need` events, from the dense counts, by arithmetic (the
    // sign of need - 1 - len): which contacts have how many events follows no pattern a
    // branch predictor learns. (Reading the dense `latest` too, as selectAggregate does,
    // made Q2 slower: 6.5 -> 9.8 ms over 500,000 contacts.)
    let bits = 0;
    const top = Math.min(32, nc - base);
    for (let b = 0; b < top; b++) bits |= ((need - 1 - len[base | b]) >>> 31) << b;
    bits &= m;
    let res = emptyOk ? m & ~bits : 0;
    while (bits !== 0) {
      const t = bits & -bits;
      const c = base | (31 - Math.clz32(t));
      bits ^= t;
      const l = len[c];
      const s = start[c];
      let end = s + l;
      if (times[end - 1] > hi) end = upperBound(times, s, end, hi);
      if (kmin > 0) {
        const i = end - kmin;
        if (i < s || times[i] < lo) continue;
      }
      if (bounded) {
        const j = end - kmax - 1;
        if (j >= s && times[j] >= lo) continue;
      }
      res |= t;
    }
    ow[wi] = res;
  }
  return out;
}

export type AggregateFn = "sum" | "avg" | "min" | "max";

/**
 * Members of `mask` whose aggregate of a numeric property over events in [lo, hi]
 * passes `p` (NaN stands for a missing aggregate).
 */
export function selectAggregate(
  mask: Bitset,
  table: EventTable,
  num: Float64Array | undefined,
  lo: number,
  hi: number,
  fn: AggregateFn,
  p: (x: number) => boolean,
): Bitset {
  const out = new Bitset(mask.size);
  const mw = mask.words;
  const ow = out.words;
  const len = table.len;
  const start = table.start;
  const times = table.times;
  const emptyOk = p(fn === "sum" ? 0 : Number.NaN);
  // No event has the property: every contact has the empty aggregate.
  if (num === undefined) return emptyOk ? mask.clone() : out;
  for (let wi = 0; wi < mw.length; wi++) {
    const m = mw[wi] | 0;
    if (m === 0) continue;
    const base = wi << 5;
    // Contacts with no event since the window's start have the empty aggregate: their
    // blocks, each a cache miss, are not read (on Q4's 180 days, half of those with an order).
    let bits = recentIn(table, wi, m, lo);
    let res = emptyOk ? m & ~bits : 0;
    while (bits !== 0) {
      const t = bits & -bits;
      const c = base | (31 - Math.clz32(t));
      bits ^= t;
      const l = len[c];
      const s = start[c];
      const a = times[s] >= lo ? s : lowerBound(times, s, s + l, lo);
      const b = times[s + l - 1] <= hi ? s + l : upperBound(times, a, s + l, hi);
      let n = 0;
      let sum = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = a; k < b; k++) {
        const x = num[k];
        if (Number.isNaN(x)) continue; // the property is not a number on this event
        n++;
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      const v = fn === "sum" ? sum : n === 0 ? Number.NaN : fn === "avg" ? sum / n : fn === "min" ? min : max;
      if (p(v)) res |= t;
    }
    ow[wi] = res;
  }
  return out;
}
