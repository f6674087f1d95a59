/**
 * Rank and quintile conditions (docs/rules.md, "Rank conditions", "Quintile scores"):
 * an event measure compared with the rest of the workspace instead of a constant.
 *
 * Every test reduces to one or more cuts of the population's sorted values: a member
 * of the top p % has a value above the cut, of the bottom p % below it, and a quintile
 * score is above j when the value is above the ⌈j·N/5⌉-th smallest (src/rules/rank.ts).
 *
 * Evaluated from scratch (a query at an instant), a node computes every alive
 * contact's value once and finds its cut by selection. Maintained (the live
 * environment, registered in `maintainedRanks`), the values live in a `RankIndex`
 * (rank-index.ts) shared by every node reading the same measure; the engine tells the index when a
 * contact's value may have changed (its events, its timers, its creation or erasure)
 * and re-evaluates the contacts between each old and new cut (`RankIndex.update`).
 */
import { basisPoints, quintileScore } from "../rules/rank.ts";
import type { EventNode } from "../rules/schema.ts";
import { Bitset } from "./bitset.ts";
import type { CompiledNode, CompileEnv } from "./compile.ts";
import { type EventTable, lowerBound as slotLowerBound, upperBound } from "./events.ts";
import { numberPredicate, splitNegation } from "./predicates.ts";
import { lowerBound, maintainedRanks, RankIndex, rankCut, relativeKey, selectKth } from "./rank-index.ts";
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

/** The population at one instant, computed once per instant a node is asked at. */
interface Snapshot {
  values: Float64Array;
  n: number;
  /** The population's values ascending, for scores and for `one` (built on demand). */
  sorted: Float64Array | null;
}

function snapshot(env: CompileEnv, input: RelativeInput, fast: FastFill | null): Snapshot {
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
      const v = input.value(c);
      values[c] = v;
      if (!Number.isNaN(v)) n++;
    }
  }
  return { values, n, sorted: null };
}

/** Writes every member of `alive`'s value into `values`; returns how many have one. */
type FastFill = (alive: Bitset, values: Float64Array) => number;

/**
 * The whole population's values in one loop over the event table, for the common rank
 * of a count or aggregate with no filter (Q6): the same values as the measure's, a
 * contact at a time, without a call and two array allocations per contact.
 */
function fastFill(rule: EventNode, parts: RelativeParts): FastFill | null {
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

function populationOf(s: Snapshot): Float64Array {
  const pop = new Float64Array(s.n);
  let k = 0;
  for (let c = 0; c < s.values.length; c++) if (!Number.isNaN(s.values[c])) pop[k++] = s.values[c];
  return pop;
}

function sortedOf(s: Snapshot): Float64Array {
  s.sorted ??= populationOf(s).sort();
  return s.sorted;
}

/** A rank or quintile node, from scratch or over the environment's maintained index. */
export function compileRelative(rule: EventNode, env: CompileEnv, parts: RelativeParts): CompiledNode {
  const input = inputOf(rule, parts);
  const fast = fastFill(rule, parts);
  const registry = maintainedRanks.get(env);
  const index = registry?.index(relativeKey(rule), () => {
    const ix = new RankIndex(relativeKey(rule), rule.event, (c) => input.value(c));
    ix.build(env.contacts);
    return ix;
  });
  let snapAt = Number.NaN;
  let snap: Snapshot | null = null;
  /** Counts snapshots, so that what is derived from one is recomputed with the next. */
  let generation = 0;
  const current = (): Snapshot => {
    if (snap === null || snapAt !== env.now) {
      snap = snapshot(env, input, fast);
      snapAt = env.now;
      generation++;
    }
    return snap;
  };
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
    const cut = (): number => {
      if (index) return index.rankCut(top, basis);
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
  const scoreOf = (c: number): number => {
    const v = valueAt(c);
    if (index) return index.score(v);
    if (Number.isNaN(v)) return Number.NaN;
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
