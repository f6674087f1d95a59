/**
 * The whole-population loop of sequences. A sequence can only hold for a contact with
 * an event of its first step inside the window, and in a typical population few have
 * one (a cart in the last 30 days): the loop reads the first step's table with its
 * arrays hoisted, skips in a few loads every contact whose block has no event in the
 * window, and runs the sequence's own per-contact test on the rest only. The answer is
 * that test's by construction; the loop only decides whom to ask.
 */
import { Bitset } from "./bitset.ts";
import type { EventTable } from "./events.ts";
import { lowerBound, upperBound } from "./events.ts";
import { recentBits } from "./scan.ts";

/**
 * Members of `mask` with at least one event of `table` in [lo, hi] for which `test`
 * holds. `test` must be false for every contact without such an event.
 */
export function selectWithEventIn(
  mask: Bitset,
  table: EventTable,
  lo: number,
  hi: number,
  test: (c: number) => boolean,
): Bitset {
  const out = new Bitset(mask.size);
  if (lo > hi) return out;
  const mw = mask.words;
  const ow = out.words;
  const len = table.len;
  const start = table.start;
  const latest = table.latest;
  const byWord = table.latestByWord;
  const times = table.times;
  // A window open to the past still leaves out contacts with no event (latest -∞).
  const from = Math.max(lo, -Number.MAX_VALUE);
  // Contacts past the table's arrays have no event of it.
  const nc = Math.min(len.length, mask.size);
  const words = Math.min(mw.length, (nc + 31) >>> 5);
  for (let wi = 0; wi < words; wi++) {
    const m = mw[wi] | 0;
    if (m === 0 || byWord[wi] < from) continue;
    const base = wi << 5;
    let bits = recentBits(latest, base, Math.min(32, nc - base), from) & m;
    let res = 0;
    while (bits !== 0) {
      const t = bits & -bits;
      const c = base | (31 - Math.clz32(t));
      bits ^= t;
      const s = start[c];
      const e = s + len[c];
      if (times[s] > hi) continue;
      const a = times[s] >= lo ? s : lowerBound(times, s, e, lo);
      if (times[a] > hi) continue;
      if (test(c)) res |= t;
    }
    ow[wi] = res;
  }
  return out;
}

/**
 * Members of `mask` for whom "an event of `first` in [lo, hi], then no event of `absent`
 * within `within` ms" holds at `now`: the shape of cart and browse abandonment, with
 * no filters and a duration of fixed length. Some start in the window has its deadline
 * (start + within) at or before `now` and no event of `absent` in (start, deadline].
 * The answers are those of the general per-contact test (compile.ts) for this shape;
 * this loop exists because that test, called through closures shared by every
 * sequence, costs several times more per contact than the few loads the shape needs.
 */
export function selectUnfollowed(
  mask: Bitset,
  first: EventTable,
  absent: EventTable,
  lo: number,
  hi: number,
  now: number,
  within: number,
): Bitset {
  const out = new Bitset(mask.size);
  if (lo > hi) return out;
  const mw = mask.words;
  const ow = out.words;
  const len = first.len;
  const start = first.start;
  const latest = first.latest;
  const byWord = first.latestByWord;
  const times = first.times;
  const bLen = absent.len;
  const bStart = absent.start;
  const bLatest = absent.latest;
  const bTimes = absent.times;
  const bn = bLen.length;
  const from = Math.max(lo, -Number.MAX_VALUE);
  const nc = Math.min(len.length, mask.size);
  const words = Math.min(mw.length, (nc + 31) >>> 5);
  for (let wi = 0; wi < words; wi++) {
    const m = mw[wi] | 0;
    if (m === 0 || byWord[wi] < from) continue;
    const base = wi << 5;
    let bits = recentBits(latest, base, Math.min(32, nc - base), from) & m;
    let res = 0;
    while (bits !== 0) {
      const bit = bits & -bits;
      const c = base | (31 - Math.clz32(bit));
      bits ^= bit;
      const s = start[c];
      const e = s + len[c];
      for (let i = times[s] >= lo ? s : lowerBound(times, s, e, lo); i < e; i++) {
        const t = times[i];
        if (t > hi) break;
        const deadline = t + within;
        // Deadlines grow with the start: no later start is due either.
        if (deadline > now) break;
        // The latest event of `absent` first: most contacts have none after the start.
        if (c >= bn || !(bLatest[c] > t)) {
          res |= bit;
          break;
        }
        const bs = bStart[c];
        const be = bs + bLen[c];
        const j = upperBound(bTimes, bs, be, t);
        if (j >= be || bTimes[j] > deadline) {
          res |= bit;
          break;
        }
      }
    }
    ow[wi] = res;
  }
  return out;
}
