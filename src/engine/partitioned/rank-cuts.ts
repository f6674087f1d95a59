/**
 * The cuts of a rule's rank and quintile conditions over every worker's values, chosen
 * by the coordinator while moving few of them. Each worker first tells how many values
 * it holds per population (`rank-values`). A top or bottom p % cut is among the m + 1
 * highest (lowest) values of the whole population, m = rankRoom(N, p), and those are
 * among the m + 1 highest (lowest) of the worker holding them, so each worker sends
 * only its own m + 1 (`rank-candidates`) and the cut is selected over their union. A
 * quintile score's four cuts spread over the whole population: its values come whole.
 * The coordinator plans and selects (`rankWants`, `cutsFrom`); a worker answers a want
 * (`candidatesOf`).
 */
import { basisPoints, rankRoom } from "../../rules/rank.ts";
import type { EventNode } from "../../rules/schema.ts";
import { rankCutKey, relativeKey, scoreCutKey } from "../rank.ts";
import { rankCut, scoreCuts } from "../rank-index.ts";
import { selectKth } from "../rank-scratch.ts";
import type { RankWant } from "./protocol.ts";

/** Population sizes over every worker, by `relativeKey`. */
export type RankTotals = ReadonlyMap<string, number>;

/** What each worker sends for `nodes` (the rank and quintile conditions of one rule). */
export function rankWants(nodes: readonly EventNode[], totals: RankTotals): RankWant[] {
  const byKey = new Map<string, { top: number; bottom: number; all: boolean }>();
  for (const n of nodes) {
    const key = relativeKey(n);
    const total = totals.get(key) ?? 0;
    let w = byKey.get(key);
    if (!w) {
      w = { top: 0, bottom: 0, all: false };
      byKey.set(key, w);
    }
    if (n.rank === undefined) w.all = true;
    else {
      const room = Math.min(rankRoom(total, basisPoints(n.rank.percent)) + 1, total);
      if (n.rank.direction === "top") w.top = Math.max(w.top, room);
      else w.bottom = Math.max(w.bottom, room);
    }
  }
  const out: RankWant[] = [];
  for (const [key, w] of byKey) {
    const total = totals.get(key) ?? 0;
    if (w.all || w.top + w.bottom >= total) out.push({ key, side: "all", count: total });
    else {
      if (w.top > 0) out.push({ key, side: "top", count: w.top });
      if (w.bottom > 0) out.push({ key, side: "bottom", count: w.bottom });
    }
  }
  return out;
}

/**
 * What a want asks of a population: after `selectKth`, the values on each side of the
 * k-th are no greater (before) or no smaller (after) than it, so the `count` highest or
 * lowest are one copied range. The population is reordered, which the query allows.
 */
export function candidatesOf(pop: Float64Array, w: RankWant): Float64Array {
  const count = Math.min(w.count, pop.length);
  if (w.side === "all" || count === pop.length) return pop.slice();
  if (count === 0) return new Float64Array(0);
  if (w.side === "top") {
    selectKth(pop, pop.length - count);
    return pop.slice(pop.length - count);
  }
  selectKth(pop, count - 1);
  return pop.slice(0, count);
}

/**
 * Each condition's cuts, by `rankCutKey` (rank) or `scoreCutKey` (quintile), from the
 * workers' `candidates` (one array per want, in the order of `wants`, per worker).
 */
export function cutsFrom(
  nodes: readonly EventNode[],
  totals: RankTotals,
  wants: readonly RankWant[],
  candidates: readonly (readonly Float64Array[])[],
): [string, number][] {
  const unions = wants.map((_, i) => {
    const parts = candidates.map((c) => c[i] ?? new Float64Array(0));
    const u = new Float64Array(parts.reduce((k, a) => k + a.length, 0));
    let k = 0;
    for (const a of parts) {
      u.set(a, k);
      k += a.length;
    }
    return u;
  });
  const unionOf = (key: string, side: RankWant["side"]): Float64Array => {
    const i = wants.findIndex((w) => w.key === key && (w.side === "all" || w.side === side));
    if (i < 0) throw new Error(`no values were asked for ${key} (${side})`);
    return unions[i];
  };
  const out: [string, number][] = [];
  for (const n of nodes) {
    const key = relativeKey(n);
    const total = totals.get(key) ?? 0;
    if (n.rank !== undefined) {
      const top = n.rank.direction === "top";
      const u = unionOf(key, top ? "top" : "bottom");
      // The union holds the population's highest (top) or lowest values: the k-th
      // smallest of all is the (k - offset)-th of the union.
      const offset = top ? total - u.length : 0;
      out.push([
        rankCutKey(n),
        rankCut(top, basisPoints(n.rank.percent), total, (k) => selectKth(u, k - offset)),
      ]);
    } else {
      const u = unionOf(key, "all");
      for (const [j, at] of scoreCuts(total, (k) => selectKth(u, k)).entries())
        out.push([scoreCutKey(n, j + 1), at]);
    }
  }
  return out;
}
