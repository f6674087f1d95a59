/**
 * Maintained rank and quintile values (rank.ts compiles the conditions): one index per
 * measure and population, shared by every live node reading it, kept in an order
 * statistic tree so that a cut is found, and the contacts between an old and a new cut
 * listed, in logarithmic time as single contacts' values change.
 */
import { quintileScore, rankRoom } from "../rules/rank.ts";
import type { ContactTable } from "./contacts.ts";
import { OrderStat } from "./order-stat.ts";
import { GrowthAhead, nearlyFull, Prefaulted, stepsLeft } from "./prefault.ts";

/** One cut: members are above it (`gt`) or below it. ±∞ for everyone or no one. */
interface Cut {
  gt: boolean;
  at: number;
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
  /** `values` for twice as many contacts, touched ahead of need (prefault.ts). */
  private ahead: Prefaulted<Float64Array<ArrayBuffer>> | null = null;
  /** The highest contact index the index has seen. */
  private highest = -1;

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
    this.highest = Math.max(this.highest, contacts.size - 1);
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
    const cap = this.values.length;
    if (c >= cap) {
      this.highest = c;
      const length = Math.max(c + 1, cap * 2, 1024);
      const ahead = this.ahead;
      this.ahead = null;
      if (ahead !== null && ahead.length === length) this.values = ahead.take(this.values);
      else {
        const grown = new Float64Array(length).fill(Number.NaN);
        grown.set(this.values);
        this.values = grown;
      }
    } else if (c > this.highest) {
      // A contact new to the index: the doubling comes nearer (known ones do not).
      this.highest = c;
      if (cap >= GrowthAhead.from && nearlyFull(c, cap)) {
        this.ahead ??= new Prefaulted(new Float64Array(cap * 2), Number.NaN);
        this.ahead.stepOver(stepsLeft(cap - c));
      }
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
