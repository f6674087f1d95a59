/**
 * Sequences with negative steps ("cart_added, then no order_placed within 1 h"): a
 * run holds from its deadline on, so the answer changes with time alone.
 */
import type { SequenceNode } from "../../rules/schema.ts";
import { type Duration, fixedLength, shift } from "../../rules/time.ts";
import type { CompiledNode, CompileEnv } from "../compile.ts";
import { type EventTable, lowerBound, upperBound } from "../events.ts";
import type { MovingRange } from "../moving.ts";
import { selectUnfollowed, selectWithEventIn } from "../sequence-scan.ts";
import { leaf } from "./leaf.ts";
import { moversNext, windowNext } from "./moves.ts";
import type { Mover } from "./where.ts";

interface SequenceStepPlan {
  table: EventTable;
  where: ((slot: number) => boolean) | null;
}

/** The first slot of `table` for contact `c` in (after, until] passing `where`, or -1. */
function firstBetween(st: SequenceStepPlan, c: number, after: number, until: number): number {
  const { table, where } = st;
  // The latest event first: most contacts have none after `after`, and it is one load.
  if (c >= table.len.length || !(table.latest[c] > after)) return -1;
  const s = table.start[c];
  const e = s + table.len[c];
  for (let j = upperBound(table.times, s, e, after); j < e && table.times[j] <= until; j++) {
    if (where === null || where(j)) return j;
  }
  return -1;
}

/**
 * A sequence whose last steps are negative ("cart_added then not order_placed within
 * 1h"). A run is a start event of the first step, the later steps done (strictly
 * increasing instants, the last one done no later than the deadline = start + within,
 * every one inside the window) and no event of a negative step in (last done, deadline].
 * It holds at `now` when some run's deadline is ≤ now: the contact enters at the
 * deadline itself, and an event after the deadline changes nothing.
 *
 * For one start the middle steps are taken as early as possible and the last done step
 * as late as possible: that leaves the most room for the last one and the shortest
 * span in which a negative event cancels the run.
 */
export function compileNegativeSequence(
  rule: SequenceNode,
  env: CompileEnv,
  plans: SequenceStepPlan[],
  movers: Mover[][],
  range: MovingRange,
  win: () => [number, number],
  within: Duration,
): CompiledNode {
  const done = plans.filter((_, k) => rule.steps[k].not !== true);
  const absent = plans.filter((_, k) => rule.steps[k].not === true);
  const doneTables = [...new Set(done.map((p) => p.table))];
  const first = done[0];
  const lastDone = done[done.length - 1];
  // "A, then not B within a fixed length", unfiltered, has a whole-population loop of its own.
  const fixedWithin = fixedLength(within, env.tz);
  const unfollowed =
    done.length === 1 &&
    absent.length === 1 &&
    first.where === null &&
    absent[0].where === null &&
    fixedWithin > 0
      ? absent[0].table
      : null;

  /** The deadline of the first run that holds at `now` with the window [lo, hi], or NaN. */
  const run = (c: number, now: number, lo: number, hi: number): number => {
    const t0 = first.table;
    if (c >= t0.len.length || t0.len[c] === 0) return Number.NaN;
    const s0 = t0.start[c];
    const e0 = s0 + t0.len[c];
    for (let i = lowerBound(t0.times, s0, e0, lo); i < e0; i++) {
      const tStart = t0.times[i];
      if (tStart > hi) break;
      if (first.where !== null && !first.where(i)) continue;
      const deadline = shift(tStart, within, 1, env.tz);
      // Deadlines only grow with the start: no later start is due either.
      if (deadline > now) return Number.NaN;
      const limit = Math.min(deadline, hi);
      let prev = tStart;
      let ok = true;
      for (let k = 1; k < done.length - 1; k++) {
        const j = firstBetween(done[k], c, prev, hi);
        // No match at all after an earlier start: none after a later one either.
        if (j < 0) return Number.NaN;
        prev = done[k].table.times[j];
        if (prev > limit) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      let tLast = tStart;
      if (done.length > 1) {
        const { table, where } = lastDone;
        if (c >= table.len.length) return Number.NaN;
        const s = table.start[c];
        let j = upperBound(table.times, s, s + table.len[c], limit) - 1;
        while (j >= s && table.times[j] > prev && where !== null && !where(j)) j--;
        if (j < s || table.times[j] <= prev) continue;
        tLast = table.times[j];
      }
      let cancelled = false;
      for (let k = 0; k < absent.length && !cancelled; k++)
        cancelled = firstBetween(absent[k], c, tLast, deadline) >= 0;
      if (!cancelled) return deadline;
    }
    return Number.NaN;
  };

  const holdsAt = (c: number): number => {
    const [lo, hi] = win();
    return run(c, env.now, lo, hi);
  };

  /** The start events' deadlines after `now`, earliest first (where filters applied). */
  const deadlinesAfter = (c: number, now: number): number[] => {
    const t0 = first.table;
    if (c >= t0.len.length) return [];
    const s0 = t0.start[c];
    const out: number[] = [];
    for (let i = s0 + t0.len[c] - 1; i >= s0; i--) {
      const d = shift(t0.times[i], within, 1, env.tz);
      if (d <= now) break;
      if (first.where === null || first.where(i)) out.push(d);
    }
    return out.reverse();
  };

  /** The earliest deadline after now at which the sequence holds with the events known now. */
  const pendingUntil = (c: number): number => {
    for (const d of deadlinesAfter(c, env.now)) {
      const [lo, hi] = range.at(d);
      if (!Number.isNaN(run(c, d, lo, hi))) return d;
    }
    return Number.NaN;
  };

  const next = (c: number): number => {
    let m = Number.POSITIVE_INFINITY;
    // Events of the negative steps count wherever they fall: the window moves only the others.
    for (const table of doneTables) m = Math.min(m, windowNext(table, c, range, win, env.now));
    plans.forEach((st, k) => {
      m = Math.min(m, moversNext(st.table, c, movers[k]));
    });
    // The earliest deadline still ahead: scanned from the latest start back.
    const t0 = first.table;
    if (c < t0.len.length) {
      const s0 = t0.start[c];
      for (let i = s0 + t0.len[c] - 1; i >= s0; i--) {
        const d = shift(t0.times[i], within, 1, env.tz);
        if (d <= env.now) break;
        if (d < m && (first.where === null || first.where(i))) m = d;
      }
    }
    return m;
  };

  return leaf(
    rule,
    30,
    (c) => !Number.isNaN(holdsAt(c)),
    false,
    (c, result) => {
      const t = holdsAt(c);
      const pending = result ? Number.NaN : pendingUntil(c);
      return {
        type: "sequence",
        steps: rule.steps,
        within: rule.within,
        ...(rule.window ? { window: rule.window } : {}),
        result,
        completed_at: Number.isNaN(t) ? null : new Date(t).toISOString(),
        pending_until: Number.isNaN(pending) ? null : new Date(pending).toISOString(),
      };
    },
    (mask) => {
      const [lo, hi] = win();
      const now = env.now;
      if (unfollowed !== null)
        return selectUnfollowed(mask, first.table, unfollowed, lo, hi, now, fixedWithin);
      return selectWithEventIn(mask, first.table, lo, hi, (c) => !Number.isNaN(run(c, now, lo, hi)));
    },
    next,
  );
}
