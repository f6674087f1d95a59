/**
 * Sequence conditions ("A, then B within 1 h"): the earliest completion of the steps
 * in order, inside the window. Sequences with a negative step are compiled by
 * negative-sequence.ts.
 */
import type { SequenceNode } from "../../rules/schema.ts";
import { parseDuration, shift } from "../../rules/time.ts";
import type { CompiledNode, CompileEnv } from "../compile.ts";
import { lowerBound, upperBound } from "../events.ts";
import { perInstant, windowRange } from "../moving.ts";
import { selectWithEventIn } from "../sequence-scan.ts";
import { leaf } from "./leaf.ts";
import { moversNext, windowNext } from "./moves.ts";
import { compileNegativeSequence } from "./negative-sequence.ts";
import { compileWhere, type Mover } from "./where.ts";

export function compileSequence(rule: SequenceNode, env: CompileEnv): CompiledNode {
  const movers: Mover[][] = [];
  const steps = rule.steps.map((s) => {
    const table = env.events.table(s.event);
    const m: Mover[] = [];
    movers.push(m);
    return { table, where: compileWhere(s.where, table, env, m) };
  });
  const range = windowRange(rule.window, env.tz);
  const win = perInstant(
    () => env.now,
    (n) => range.at(n),
  );
  const within = parseDuration(rule.within);
  if (rule.steps.some((s) => s.not === true)) {
    return compileNegativeSequence(rule, env, steps, movers, range, win, within);
  }
  /** Time the first run of the steps completes inside `within`, or NaN. */
  const completion = (c: number): number => {
    const first = steps[0];
    const t0 = first.table;
    if (c >= t0.len.length || t0.len[c] === 0) return Number.NaN;
    const [lo, hi] = win();
    const s0 = t0.start[c];
    const e0 = s0 + t0.len[c];
    for (let i = lowerBound(t0.times, s0, e0, lo); i < e0; i++) {
      const tStart = t0.times[i];
      if (tStart > hi) break;
      if (first.where !== null && !first.where(i)) continue;
      // Greedy: the earliest later match of each step gives the earliest completion from this start.
      let prev = tStart;
      let ok = true;
      for (let k = 1; k < steps.length; k++) {
        const { table, where } = steps[k];
        if (c >= table.len.length) return Number.NaN;
        const s = table.start[c];
        const e = s + table.len[c];
        let j = upperBound(table.times, s, e, prev);
        while (j < e && table.times[j] <= hi && where !== null && !where(j)) j++;
        if (j >= e || table.times[j] > hi) {
          ok = false;
          break;
        }
        prev = table.times[j];
      }
      // No later start can do better once a step has no match after an earlier start.
      if (!ok) return Number.NaN;
      if (prev <= shift(tStart, within, 1, env.tz)) return prev;
    }
    return Number.NaN;
  };
  const next = (c: number): number => {
    let m = Number.POSITIVE_INFINITY;
    steps.forEach((st, k) => {
      m = Math.min(m, windowNext(st.table, c, range, win, env.now), moversNext(st.table, c, movers[k]));
    });
    return m;
  };
  const test = (c: number): boolean => !Number.isNaN(completion(c));
  return leaf(
    rule,
    30,
    test,
    false,
    (c, result) => {
      const t = completion(c);
      return {
        type: "sequence",
        steps: rule.steps,
        within: rule.within,
        ...(rule.window ? { window: rule.window } : {}),
        result,
        completed_at: Number.isNaN(t) ? null : new Date(t).toISOString(),
      };
    },
    (mask) => {
      const [lo, hi] = win();
      return selectWithEventIn(mask, steps[0].table, lo, hi, test);
    },
    next,
  );
}
