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
 * shared by every node reading the same measure; the engine tells the index when a
 * contact's value may have changed (its events, its timers, its creation or erasure)
 * and re-evaluates the contacts between each old and new cut (`RankIndex.update`).
 */
import { basisPoints, quintileScore, rankRoom } from "../rules/rank.ts";
import type { EventNode, RuleNode } from "../rules/schema.ts";
import { Bitset } from "./bitset.ts";
import type { CompiledNode, CompileEnv } from "./compile.ts";
import type { ContactTable } from "./contacts.ts";
import { type EventTable, lowerBound as slotLowerBound, upperBound } from "./events.ts";
import { OrderStat } from "./order-stat.ts";
import { numberPredicate, splitNegation } from "./predicates.ts";
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

/** One cut: members are above it (`gt`) or below it. ±∞ for everyone or no one. */
interface Cut {
  gt: boolean;
  at: number;
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

/** The indexes a rule's rank and quintile conditions read (not through segment references). */
export function relativeKeys(rule: RuleNode, out = new Set<string>()): Set<string> {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) relativeKeys(c, out);
      break;
    case "not":
      relativeKeys(rule.condition, out);
      break;
    case "event":
      if (rule.rank !== undefined || rule.score !== undefined) out.add(relativeKey(rule));
      break;
  }
  return out;
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

/** The cut of a top or bottom p % in a population of n sorted values, `kth` the k-th smallest (0-based). */
function rankCut(top: boolean, basis: number, n: number, kth: (k: number) => number): number {
  const m = rankRoom(n, basis);
  if (m === 0) return top ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  if (m >= n) return top ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return top ? kth(n - 1 - m) : kth(m);
}

/** The four cuts of quintile scores: a score is above j + 1 when the value is above the j-th. */
function scoreCuts(n: number, kth: (k: number) => number): number[] {
  const out: number[] = [];
  for (let j = 1; j <= 4; j++) {
    const r = Math.ceil((j * n) / 5);
    out.push(n === 0 ? Number.POSITIVE_INFINITY : r === 0 ? Number.NEGATIVE_INFINITY : kth(r - 1));
  }
  return out;
}

/** Index of the first value ≥ v in a sorted array. */
function lowerBound(a: Float64Array, v: number): number {
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

/**
 * The maintained values of one measure over the population, shared by every live node
 * reading it. `update(c)` re-reads one contact; the cuts of every test registered on
 * the index are compared before and after, and the contacts whose value lies between
 * an old and a new cut are the ones whose answer may have changed.
 */
export class RankIndex {
  values = new Float64Array(0);
  readonly stat = new OrderStat();
  /** Bumped on every change: cuts are cached per version. */
  private version = 0;
  /** The tests reading the index: rank cuts by `top:basis`, and whether a score reads it. */
  private readonly ranks = new Map<string, { top: boolean; basis: number }>();
  private scored = false;
  private cache = new Map<string, { version: number; at: number }>();

  constructor(
    readonly key: string,
    readonly event: string,
    private readonly read: (c: number) => number,
  ) {}

  /** Every alive contact's value at the environment's instant. */
  build(contacts: ContactTable): void {
    this.values = new Float64Array(contacts.alive.size).fill(Number.NaN);
    const alive = contacts.alive.toArray();
    for (const c of alive) this.values[c] = this.read(c);
    this.stat.loadColumn(this.values, alive);
    this.version++;
  }

  addRank(top: boolean, basis: number): void {
    this.ranks.set(`${top}:${basis}`, { top, basis });
  }

  addScore(): void {
    this.scored = true;
  }

  get size(): number {
    return this.stat.size;
  }

  private kth = (k: number): number => this.stat.kth(k);

  rankCut(top: boolean, basis: number): number {
    const key = `${top}:${basis}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.version === this.version) return hit.at;
    const at = rankCut(top, basis, this.stat.size, this.kth);
    this.cache.set(key, { version: this.version, at });
    return at;
  }

  score(v: number): number {
    if (Number.isNaN(v) || this.stat.size === 0) return Number.NaN;
    return quintileScore(this.stat.countBelow(v), this.stat.size);
  }

  private cuts(): Cut[] {
    const out: Cut[] = [];
    for (const r of this.ranks.values()) out.push({ gt: r.top, at: this.rankCut(r.top, r.basis) });
    if (this.scored) for (const at of scoreCuts(this.stat.size, this.kth)) out.push({ gt: true, at });
    return out;
  }

  /**
   * Re-reads contact `c` (NaN when it is not alive). Returns the other contacts whose
   * answer may have changed with it, or null when its value did not change.
   */
  update(c: number, alive: boolean): number[] | null {
    if (c >= this.values.length) {
      const grown = new Float64Array(Math.max(c + 1, this.values.length * 2, 1024)).fill(Number.NaN);
      grown.set(this.values);
      this.values = grown;
    }
    const before = this.values[c];
    const after = alive ? this.read(c) : Number.NaN;
    if (Object.is(before, after) || (Number.isNaN(before) && Number.isNaN(after))) return null;
    const old = this.cuts();
    if (!Number.isNaN(before)) this.stat.remove(before, c);
    if (!Number.isNaN(after)) this.stat.insert(after, c);
    this.values[c] = after;
    this.version++;
    const now = this.cuts();
    const moved = new Set<number>();
    for (let k = 0; k < old.length; k++) {
      const a = old[k].at;
      const b = now[k].at;
      if (a === b) continue;
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      // Above a cut: the values in (lo, hi] change sides; below one: those in [lo, hi).
      if (old[k].gt) this.stat.forEachBetween(lo, true, hi, false, (id) => moved.add(id));
      else this.stat.forEachBetween(lo, false, hi, true, (id) => moved.add(id));
    }
    moved.delete(c);
    return [...moved];
  }
}

/** The indexes of one maintained environment, by `relativeKey`. */
export class RankRegistry {
  private readonly indexes = new Map<string, RankIndex>();

  index(key: string, make: () => RankIndex): RankIndex {
    let ix = this.indexes.get(key);
    if (!ix) {
      ix = make();
      this.indexes.set(key, ix);
    }
    return ix;
  }

  get size(): number {
    return this.indexes.size;
  }

  all(): IterableIterator<RankIndex> {
    return this.indexes.values();
  }

  /** Forgets the indexes no rule reads any more. */
  retain(keys: ReadonlySet<string>): void {
    for (const k of [...this.indexes.keys()]) if (!keys.has(k)) this.indexes.delete(k);
  }

  /** Forgets every index: they are rebuilt, at the environment's instant, by the next compile. */
  clear(): void {
    this.indexes.clear();
  }
}

/** Environments whose relative nodes read maintained indexes (the engine's live one). */
export const maintainedRanks = new WeakMap<CompileEnv, RankRegistry>();

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
