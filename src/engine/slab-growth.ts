/**
 * An event table's slab grown a step at a time, ahead of need.
 *
 * The slab is one set of typed arrays (times, and each property column's numbers and
 * strings) read by every hot loop, so it cannot be split into pages without slowing
 * every query, nor put on a resizable ArrayBuffer (on Node 20 such arrays read about half
 * as fast). Grown all at once when full, it stalled the event that filled it: 100 ms for
 * 2.9M slots and 270 ms for 5.9M in the HTTP load test, mostly the first touch of the
 * new memory, and every request and webhook waited behind it (docs/performance.md).
 * So once the slab is seven eighths full the larger arrays are allocated (untouched memory
 * costs nothing yet) and filled a little at every append and relocation, while every
 * read and write still goes to the current arrays. A write to a slot already copied is
 * copied again at once, so the swap has nothing to redo. When the copy has caught up
 * with the slots in use, the table swaps the arrays in, as a rule long before the slab
 * is full (the rates are EventTable's); should it fill first, the rest is copied then.
 */
import type { PropColumn } from "./events.ts";

/** The slab a growth copies from: the table's arrays as they are at each step. */
export interface Slab {
  times: Float64Array;
  columns: readonly PropColumn[];
  /** Slots in use: [0, used) holds every block; what lies beyond is never read. */
  used: number;
}

export class SlabGrowth {
  readonly times: Float64Array;
  /** The larger arrays of the columns that had them when the growth began. */
  private readonly num = new Map<PropColumn, Float64Array>();
  private readonly str = new Map<PropColumn, Int32Array>();
  /** Slots [0, copied) are copied. */
  private copied = 0;

  constructor(
    readonly cap: number,
    slab: Slab,
  ) {
    // Zeroed, not filled: the pages are touched as they are copied, and a slot past
    // `used` is cleared by the append that takes it (EventTable.append).
    this.times = new Float64Array(cap);
    for (const col of slab.columns) {
      if (col.num) this.num.set(col, new Float64Array(cap));
      if (col.str) this.str.set(col, new Int32Array(cap));
    }
  }

  /** Slots [from, to) of the current arrays were written: copied again if copied already. */
  wrote(slab: Slab, from: number, to: number): void {
    if (from < this.copied) this.copy(slab, from, Math.min(to, this.copied));
  }

  /** Copies up to `count` more slots in use; true once every slot in use is copied. */
  step(slab: Slab, count: number): boolean {
    const from = this.copied;
    const to = Math.min(slab.used, from + count);
    if (to > from) {
      this.copy(slab, from, to);
      this.copied = to;
    }
    return this.copied >= slab.used;
  }

  /** Copies what is left, then puts the larger arrays into the columns; the caller takes `times`. */
  finish(slab: Slab): void {
    this.step(slab, slab.used);
    for (const col of slab.columns) {
      const num = this.num.get(col);
      const str = this.str.get(col);
      // A column created, or given numbers or strings, while the growth ran: grown whole (rare).
      if (num) col.num = num;
      if (str) col.str = str;
      col.grow(this.cap);
    }
  }

  private copy(slab: Slab, from: number, to: number): void {
    if (to - from < 16) {
      // An append's few slots: a loop beats a subarray and a builtin call per array.
      const times = this.times;
      const src = slab.times;
      for (let k = from; k < to; k++) times[k] = src[k];
      for (const [col, num] of this.num) {
        const old = col.num!;
        for (let k = from; k < to; k++) num[k] = old[k];
      }
      for (const [col, str] of this.str) {
        const old = col.str!;
        for (let k = from; k < to; k++) str[k] = old[k];
      }
      return;
    }
    this.times.set(slab.times.subarray(from, to), from);
    for (const [col, num] of this.num) num.set(col.num!.subarray(from, to), from);
    for (const [col, str] of this.str) str.set(col.str!.subarray(from, to), from);
  }
}
