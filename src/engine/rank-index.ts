/**
 * The maintained side of rank and quintile conditions (rank.ts): the values of one
 * measure over the population, kept in an order-statistic tree, and the cuts of the
 * tests reading them. `RankIndex.update` re-reads one contact and returns the others
 * whose answer may have changed with it: those between a cut's old and new place.
 */
import { quintileScore, rankRoom } from "../rules/rank.ts";
import type { EventNode, RuleNode } from "../rules/schema.ts";
import type { CompileEnv } from "./compile.ts";
import type { ContactTable } from "./contacts.ts";
import { OrderStat } from "./order-stat.ts";

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
export function rankCut(top: boolean, basis: number, n: number, kth: (k: number) => number): number {
  const m = rankRoom(n, basis);
  if (m === 0) return top ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  if (m >= n) return top ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return top ? kth(n - 1 - m) : kth(m);
}

/** The four cuts of quintile scores: a score is above j + 1 when the value is above the j-th. */
export function scoreCuts(n: number, kth: (k: number) => number): number[] {
  const out: number[] = [];
  for (let j = 1; j <= 4; j++) {
    const r = Math.ceil((j * n) / 5);
    out.push(n === 0 ? Number.POSITIVE_INFINITY : r === 0 ? Number.NEGATIVE_INFINITY : kth(r - 1));
  }
  return out;
}

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
