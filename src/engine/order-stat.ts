/**
 * An order-statistics multiset of (value, contact) pairs: the values of a population,
 * kept sorted as single values change, so that "the k-th smallest value", "how many
 * values are below v" and "the contacts whose value lies between a and b" cost a
 * binary search over blocks, a Fenwick tree over the blocks' sizes and a search in one
 * block, instead of a sort of the whole population per change.
 *
 * Pairs are ordered by value, then by contact, so that every pair has one place (a
 * contact is found and removed without scanning values equal to its own, which may
 * be most of the population: every contact without an order has the sum 0). Blocks
 * hold at most `2 · BLOCK` pairs: a change moves at most that many array entries.
 */

const BLOCK = 512;

interface Block {
  v: number[];
  id: number[];
}

export class OrderStat {
  private blocks: Block[] = [];
  /** Fenwick tree over block sizes (1-based), rebuilt when blocks split or go. */
  private tree = new Float64Array(1);
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Replaces the contents with pairs already sorted by (value, contact). */
  load(values: ArrayLike<number>, ids: ArrayLike<number>): void {
    this.blocks = [];
    for (let i = 0; i < values.length; i += BLOCK) {
      const end = Math.min(values.length, i + BLOCK);
      const b: Block = { v: new Array(end - i), id: new Array(end - i) };
      for (let k = i; k < end; k++) {
        b.v[k - i] = values[k];
        b.id[k - i] = ids[k];
      }
      this.blocks.push(b);
    }
    this.n = values.length;
    this.reindex();
  }

  /** Builds from one value per contact (NaN: left out), sorting once. */
  loadColumn(values: Float64Array, contacts: Iterable<number>): void {
    const ids: number[] = [];
    for (const c of contacts) if (!Number.isNaN(values[c])) ids.push(c);
    const order = Int32Array.from(ids);
    order.sort((a, b) => values[a] - values[b] || a - b);
    this.load(
      Array.from(order, (c) => values[c]),
      order,
    );
  }

  private reindex(): void {
    const m = this.blocks.length;
    const t = new Float64Array(m + 1);
    for (let i = 0; i < m; i++) {
      t[i + 1] += this.blocks[i].v.length;
      const j = i + 1 + ((i + 1) & -(i + 1));
      if (j <= m) t[j] += t[i + 1];
    }
    this.tree = t;
  }

  private bump(block: number, d: number): void {
    const t = this.tree;
    for (let i = block + 1; i < t.length; i += i & -i) t[i] += d;
  }

  /** Pairs in blocks before `block`. */
  private before(block: number): number {
    let s = 0;
    for (let i = block; i > 0; i -= i & -i) s += this.tree[i];
    return s;
  }

  /** The block holding position `k` (0-based) and the offset in it. */
  private locate(k: number): [number, number] {
    const t = this.tree;
    let pos = 0;
    let rest = k;
    let step = 1;
    while (step * 2 < t.length) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = pos + step;
      if (next < t.length && t[next] <= rest) {
        pos = next;
        rest -= t[next];
      }
    }
    return [pos, rest];
  }

  /** The first block whose last pair is not before (v, id); the last block when none is. */
  private blockFor(v: number, id: number): number {
    const bs = this.blocks;
    let lo = 0;
    let hi = bs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const b = bs[mid];
      const lv = b.v[b.v.length - 1];
      const before = lv < v || (lv === v && b.id[b.id.length - 1] < id);
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(v: number, id: number): void {
    if (this.blocks.length === 0) {
      this.blocks.push({ v: [v], id: [id] });
      this.n = 1;
      this.reindex();
      return;
    }
    const bi = this.blockFor(v, id);
    const b = this.blocks[bi];
    let lo = 0;
    let hi = b.v.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b.v[mid] < v || (b.v[mid] === v && b.id[mid] < id)) lo = mid + 1;
      else hi = mid;
    }
    b.v.splice(lo, 0, v);
    b.id.splice(lo, 0, id);
    this.n++;
    if (b.v.length > 2 * BLOCK) {
      const rest: Block = { v: b.v.splice(BLOCK), id: b.id.splice(BLOCK) };
      this.blocks.splice(bi + 1, 0, rest);
      this.reindex();
    } else this.bump(bi, 1);
  }

  /** Removes the pair; false when it is not held. */
  remove(v: number, id: number): boolean {
    if (this.blocks.length === 0) return false;
    const bi = this.blockFor(v, id);
    const b = this.blocks[bi];
    let lo = 0;
    let hi = b.v.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b.v[mid] < v || (b.v[mid] === v && b.id[mid] < id)) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= b.v.length || b.v[lo] !== v || b.id[lo] !== id) return false;
    b.v.splice(lo, 1);
    b.id.splice(lo, 1);
    this.n--;
    if (b.v.length === 0) {
      this.blocks.splice(bi, 1);
      this.reindex();
    } else this.bump(bi, -1);
    return true;
  }

  /** The value at position k (0-based) in ascending order. */
  kth(k: number): number {
    const [bi, off] = this.locate(k);
    return this.blocks[bi].v[off];
  }

  /** How many values are < v (`strict`) or ≤ v. */
  private countTo(v: number, strict: boolean): number {
    const bs = this.blocks;
    const past = (x: number) => (strict ? x >= v : x > v);
    let lo = 0;
    let hi = bs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const b = bs[mid];
      if (past(b.v[b.v.length - 1])) hi = mid;
      else lo = mid + 1;
    }
    if (lo === bs.length) return this.n;
    const b = bs[lo];
    let a = 0;
    let z = b.v.length;
    while (a < z) {
      const mid = (a + z) >> 1;
      if (past(b.v[mid])) z = mid;
      else a = mid + 1;
    }
    return this.before(lo) + a;
  }

  /** How many values are strictly below v. */
  countBelow(v: number): number {
    return this.countTo(v, true);
  }

  /** How many values are at most v. */
  countAtMost(v: number): number {
    return this.countTo(v, false);
  }

  /** Calls `f` with the contact of every pair whose value lies between lo and hi, each end open or closed. */
  forEachBetween(lo: number, loOpen: boolean, hi: number, hiOpen: boolean, f: (id: number) => void): void {
    const from = loOpen ? this.countAtMost(lo) : this.countBelow(lo);
    const to = hiOpen ? this.countBelow(hi) : this.countAtMost(hi);
    if (from >= to) return;
    let [bi, off] = this.locate(from);
    for (let k = from; k < to; k++) {
      const b = this.blocks[bi];
      f(b.id[off]);
      if (++off === b.id.length) {
        bi++;
        off = 0;
      }
    }
  }
}
