/**
 * Rank and quintile conditions (docs/rules.md, "Rank conditions", "Quintile scores"):
 * an event measure compared with the rest of the workspace instead of a constant.
 *
 * Every test reduces to one or more cuts of the population's sorted values: a member
 * of the top p % has a value above the cut, of the bottom p % below it, and a quintile
 * score is above j when the value is above the ⌈j·N/5⌉-th smallest (src/rules/rank.ts).
 *
 * Evaluated from scratch (a query at an instant), a node computes every alive
 * contact's value once and finds its cut by selection (rank-scratch.ts). Maintained
 * (an environment whose `ranks` registry is set: the engine's live one), the values
 * live in a `RankIndex` (rank-index.ts) shared by every node reading the same measure;
 * the engine tells the index when a contact's value may have changed (its events, its
 * timers, its creation or erasure) and re-evaluates the contacts between each old and
 * new cut (`RankIndex.update`).
 */
import { basisPoints, quintileScore } from "../rules/rank.ts";
import type { EventNode, RuleNode } from "../rules/schema.ts";
import { Bitset } from "./bitset.ts";
import type { CompiledNode, CompileEnv } from "./compile.ts";
import { type EventTable, lowerBound as slotLowerBound, upperBound } from "./events.ts";
import { numberPredicate, splitNegation } from "./predicates.ts";
import { RankIndex, rankCut } from "./rank-index.ts";
import {
  fastFill,
  lowerBound,
  populationOf,
  type Snapshot,
  selectKth,
  snapshot,
  sortedOf,
} from "./rank-scratch.ts";
import type { ExplainNode } from "./types.ts";

/** What compile.ts hands over: the node's event table, window, filter and measure. */
export interface RelativeParts {
  table: EventTable;
  /** The window at the environment's instant, as [lo, hi]. */
  win: () => [number, number];
  where: ((slot: number) => boolean) | null;
  /** The measure at the environment's instant (0 or NaN without events, per measure). */
  measure: (c: number) => number;
  /** When the contact's own value can next change with time alone. */
  next(c: number): number;
}

/** The contact's value at `env.now`, NaN when outside the population, and how to show it. */
interface RelativeInput {
  value(c: number): number;
  next(c: number): number;
  isDate: boolean;
}

/** Whether the contact has an event of the table in the window that passes the filter. */
function hasMatching(parts: RelativeParts, c: number): boolean {
  const { table, where } = parts;
  if (c >= table.len.length || table.len[c] === 0) return false;
  const s = table.start[c];
  const [lo, hi] = parts.win();
  const a = slotLowerBound(table.times, s, s + table.len[c], lo);
  const b = upperBound(table.times, a, s + table.len[c], hi);
  if (where === null) return a < b;
  for (let k = a; k < b; k++) if (where(k)) return true;
  return false;
}

/**
 * The population: for a rank, every contact with a value (count, distinct and sum are
 * 0 without events); for a score, the contacts with at least one matching event.
 */
function inputOf(rule: EventNode, parts: RelativeParts): RelativeInput {
  const fn = rule.measure?.fn ?? "count";
  const value =
    rule.score === undefined
      ? parts.measure
      : (c: number) => (hasMatching(parts, c) ? parts.measure(c) : Number.NaN);
  return { value, next: parts.next, isDate: fn === "first_at" || fn === "last_at" };
}

/** The measure and population a node reads, the same for every node that can share an index. */
export function relativeKey(rule: EventNode): string {
  return JSON.stringify([
    rule.event,
    rule.where ?? null,
    rule.window ?? null,
    rule.measure?.fn ?? "count",
    rule.measure?.property ?? null,
    rule.score !== undefined,
  ]);
}

/** What identifies one rank condition's cut: its values' key, its direction and its share. */
export function rankCutKey(rule: EventNode): string {
  return `${relativeKey(rule)}|${rule.rank?.direction}|${basisPoints(rule.rank?.percent ?? 0)}`;
}

/** What identifies the `j`-th (1–4) cut of a quintile score's values: above it, the score is above j. */
export function scoreCutKey(rule: EventNode, j: number): string {
  return `${relativeKey(rule)}|score|${j}`;
}

/** The rank and quintile conditions of a rule (not through segment references). */
export function relativeNodes(rule: RuleNode, out: EventNode[] = []): EventNode[] {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) relativeNodes(c, out);
      break;
    case "not":
      relativeNodes(rule.condition, out);
      break;
    case "event":
      if (rule.rank !== undefined || rule.score !== undefined) out.push(rule);
      break;
  }
  return out;
}

/** The indexes a rule's rank and quintile conditions read (not through segment references). */
export function relativeKeys(rule: RuleNode): Set<string> {
  return new Set(relativeNodes(rule).map(relativeKey));
}

/**
 * The rule as the event timer plan (timers.ts) should read it: a rank or quintile
 * condition's own value changes with time exactly when its events cross the window,
 * as a count's does, so it is planned as one.
 */
export function plainForTimers(rule: RuleNode): RuleNode {
  switch (rule.type) {
    case "and":
    case "or":
      return { type: rule.type, conditions: rule.conditions.map(plainForTimers) };
    case "not":
      return { type: "not", condition: plainForTimers(rule.condition) };
    case "event": {
      if (rule.rank === undefined && rule.score === undefined) return rule;
      const { event, where, window } = rule;
      return {
        type: "event",
        event,
        ...(where !== undefined ? { where } : {}),
        ...(window !== undefined ? { window } : {}),
      };
    }
    default:
      return rule;
  }
}

/** A rank or quintile node, from scratch or over the environment's maintained index. */
export function compileRelative(rule: EventNode, env: CompileEnv, parts: RelativeParts): CompiledNode {
  const input = inputOf(rule, parts);
  const fast = fastFill(rule, parts);
  const key = relativeKey(rule);
  const index = env.ranks?.index(key, () => {
    const ix = new RankIndex(key, rule.event, (c) => input.value(c));
    ix.build(env.contacts);
    return ix;
  });
  let snapAt = Number.NaN;
  let snap: Snapshot | null = null;
  /** Counts snapshots, so that what is derived from one is recomputed with the next. */
  let generation = 0;
  const current = (): Snapshot => {
    if (snap === null || snapAt !== env.now) {
      const shared = env.rankSnapshots;
      snap = shared?.get(key) ?? snapshot(env, input.value, fast);
      shared?.set(key, snap);
      snapAt = env.now;
      generation++;
    }
    return snap;
  };
  // Compiled while the environment gathers populations for cuts chosen elsewhere (over
  // these values and other engines'): the node adds its own, once, and is asked nothing.
  const gathered = env.rankPopulations;
  if (gathered && !index && !gathered.has(key)) gathered.set(key, populationOf(current()));
  const valueAt = (c: number): number => {
    if (index) return c < index.values.length ? index.values[c] : Number.NaN;
    return current().values[c] ?? Number.NaN;
  };
  const shown = (v: number): number | string | null =>
    Number.isNaN(v) ? null : input.isDate ? new Date(v).toISOString() : v;
  const base = {
    type: "event" as const,
    event: rule.event,
    ...(rule.where ? { where: rule.where } : {}),
    ...(rule.window ? { window: rule.window } : {}),
    measure: rule.measure ?? { fn: "count" as const },
  };

  if (rule.rank !== undefined) {
    const top = rule.rank.direction === "top";
    const basis = basisPoints(rule.rank.percent);
    index?.addRank(top, basis);
    let cutOf = -1;
    let cutValue = 0;
    const cutKey = rankCutKey(rule);
    const cut = (): number => {
      if (index) return index.rankCut(top, basis);
      const given = env.rankCuts?.get(cutKey);
      if (given !== undefined) return given;
      const s = current();
      if (cutOf !== generation) {
        // Selection instead of a sort: the one order statistic the cut needs.
        const pop = populationOf(s);
        cutValue = rankCut(top, basis, s.n, (k) => selectKth(pop, k));
        cutOf = generation;
      }
      return cutValue;
    };
    const inside = (v: number, at: number) => (top ? v > at : v < at);
    return {
      rule,
      cost: 30,
      one: (c) => inside(valueAt(c), cut()),
      next: (c) => input.next(c),
      all: (mask) => {
        const at = cut();
        const values = index ? index.values : current().values;
        const out = new Bitset(mask.size);
        const mw = mask.words;
        const ow = out.words;
        const nv = values.length;
        for (let wi = 0; wi < mw.length; wi++) {
          let bits = mw[wi] | 0;
          const base = wi << 5;
          let res = 0;
          while (bits !== 0) {
            const t = bits & -bits;
            const c = base | (31 - Math.clz32(t));
            bits ^= t;
            if (c < nv && (top ? values[c] > at : values[c] < at)) res |= t;
          }
          ow[wi] = res;
        }
        return out;
      },
      explain: (c): ExplainNode => {
        const v = valueAt(c);
        const at = cut();
        const result = inside(v, at);
        return {
          ...base,
          result,
          measured: shown(v),
          needed: Number.isFinite(at)
            ? { op: top ? "gt" : "lt", value: shown(at) }
            : at === (top ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY)
              ? { op: "is_set" }
              : { op: top ? "gt" : "lt", value: null },
        };
      },
    };
  }

  index?.addScore();
  const op = rule.op ?? "gte";
  const { pos, negate } = splitNegation(op);
  const p = numberPredicate(pos, rule.value);
  const cutKeys = [1, 2, 3, 4].map((j) => scoreCutKey(rule, j));
  let givenCuts: number[] | null = null;
  const scoreOf = (c: number): number => {
    const v = valueAt(c);
    if (index) return index.score(v);
    if (Number.isNaN(v)) return Number.NaN;
    const given = env.rankCuts;
    if (givenCuts === null && given?.has(cutKeys[0]))
      givenCuts = cutKeys.map((k) => given.get(k) ?? Number.NaN);
    if (givenCuts !== null) {
      // Chosen over a larger population: the score is one more than the cuts below the value.
      let score = 1;
      for (const at of givenCuts) if (v > at) score++;
      return score;
    }
    const s = current();
    return quintileScore(lowerBound(sortedOf(s), v), s.n);
  };
  const one = (c: number): boolean => p(scoreOf(c)) !== negate;
  return {
    rule,
    cost: 30,
    one,
    next: (c) => input.next(c),
    all: (mask) => Bitset.select(mask, one),
    explain: (c): ExplainNode => {
      const s = scoreOf(c);
      return {
        ...base,
        result: one(c),
        measured: Number.isNaN(s) ? null : s,
        needed: { op, ...(rule.value !== undefined ? { value: rule.value } : {}) },
      };
    },
  };
}
