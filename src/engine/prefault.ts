/**
 * The larger array of a per-contact structure (a segment's bits, the timers' due
 * times, the membership rows), made and touched a slice at a time before it is needed.
 *
 * Growing such an array costs almost nothing but the first touch of its new memory: on
 * the bench machine a fresh 16 MB array took 53 ms to fill and copy into, and copying
 * 8 MB into memory already touched 0.6–1 ms. The engine's arrays double together when
 * the contact count crosses a power of two, which stopped that one write for 150–220 ms
 * at 2^20 (docs/performance.md). So, from seven eighths of the way, each new contact
 * touches a little of every successor; at the crossing the current contents are copied
 * into memory already touched. Nothing writes to a successor before then, so unlike an
 * event slab's growth (slab-growth.ts) there are no writes to mirror.
 */
export type PlainArray = Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;

export class Prefaulted<T extends PlainArray> {
  private done = 0;

  constructor(
    readonly array: T,
    /** What every element holds before the copy (what the structure means by "none"). */
    private readonly value: number,
  ) {}

  get length(): number {
    return this.array.length;
  }

  /** Touches what is left over `steps` calls (at least a page's worth each); true once all is. */
  stepOver(steps: number): boolean {
    return this.step(Math.max(1024, Math.ceil((this.array.length - this.done) / Math.max(1, steps))));
  }

  /** Touches up to `n` more elements; true once all are. */
  step(n: number): boolean {
    const to = Math.min(this.array.length, this.done + n);
    if (to > this.done) this.array.fill(this.value, this.done, to);
    this.done = to;
    return to === this.array.length;
  }

  /** The array, with `from` copied at its start and `value` after it. */
  take(from: ArrayLike<number>): T {
    this.step(this.array.length);
    this.array.set(from);
    return this.array;
  }
}

/**
 * Whether `used` of `cap` slots are past seven eighths: where every structure that
 * grows ahead of need (event slabs, contact columns, the engine's per-contact arrays)
 * starts its larger arrays, leaving an eighth of the slots to spread the work over.
 */
export function nearlyFull(used: number, cap: number): boolean {
  return used * 8 > cap * 7;
}

/**
 * Over how many more contacts the successors are touched when `room` contacts are left
 * before the crossing: half of them, so the touching is done well before it, also when
 * a bulk load left the table nearly full.
 */
export function stepsLeft(room: number): number {
  return Math.max(1, room >>> 1);
}

/** What the successors are made for: the membership rows, and each segment (by key) for its bits. */
export interface PerContactArrays<K> {
  rows: MembershipRowsLike;
  segments: Iterable<K>;
}

export interface MembershipRowsLike {
  /** The successor of the rows' words for `contacts` contacts, or null when there are none. */
  successor(contacts: number): Prefaulted<Int32Array<ArrayBuffer>> | null;
}

export interface Successors<K> {
  size: number;
  due: Prefaulted<Float64Array<ArrayBuffer>> | null;
  rows: Prefaulted<Int32Array<ArrayBuffer>> | null;
  bits: Map<K, Prefaulted<Uint32Array<ArrayBuffer>>>;
}

/**
 * An engine's per-contact arrays, grown ahead: `step` at every new contact while they hold
 * `size` contacts; `take(size)` at the growth gives the successors made for that size.
 * The contact table doubles its size when full (contacts.ts), so the next size is twice
 * the current one; a bulk load that jumps further finds none and grows as before.
 */
export class GrowthAhead<K> {
  /** The size from which arrays grow ahead; smaller ones grow at once (tests lower it). */
  static from = 1 << 16;
  private next: (Successors<K> & { rowsAsked: boolean; done: boolean }) | null = null;

  /**
   * One step: the successors made so far touch a little more, and at most one more is
   * made. Allocating is itself a stall when it is many arrays at once: the allocator
   * zeroes memory it reuses, and V8 collects garbage after a large jump in memory held
   * outside its heap.
   */
  step(size: number, used: number, arrays: () => PerContactArrays<K>): void {
    if (size < GrowthAhead.from || !nearlyFull(used, size)) return;
    const target = size * 2;
    let next = this.next;
    if (next !== null && next.size === target && next.done) return;
    const now = arrays();
    if (next === null || next.size !== target) {
      next = this.next = {
        size: target,
        due: null,
        rows: null,
        rowsAsked: false,
        bits: new Map(),
        done: false,
      };
    }
    // At most one array is made per step: the due times, then the rows, then each segment's bits.
    let made = false;
    if (next.due === null) {
      next.due = new Prefaulted(new Float64Array(target), Number.POSITIVE_INFINITY);
      made = true;
    } else if (!next.rowsAsked) {
      next.rowsAsked = made = true;
      next.rows = now.rows.successor(target);
    }
    const steps = stepsLeft(size - used);
    let done = next.due.stepOver(steps);
    if (next.rows !== null) done = next.rows.stepOver(steps) && done;
    const words = (target + 31) >>> 5;
    for (const key of now.segments) {
      let p = next.bits.get(key);
      if (p === undefined) {
        if (made) {
          done = false;
          continue;
        }
        made = true;
        p = new Prefaulted(new Uint32Array(words), 0);
        next.bits.set(key, p);
      }
      done = p.stepOver(steps) && done;
    }
    next.done = done && made === false;
  }

  /** The successors made for `size`, if any; forgotten either way. */
  take(size: number): Successors<K> | null {
    const next = this.next;
    this.next = null;
    return next !== null && next.size === size ? next : null;
  }
}
