/**
 * A contact table's columns grown a step at a time, ahead of need.
 *
 * Grown all at once, every column's arrays were copied into new ones twice as long at
 * the contact that filled them: 500 ms at 2^20 contacts on the bench machine, most of
 * it the first touch of the new memory, with every request waiting
 * (docs/performance.md). So, as an event table's slab does (slab-growth.ts), once the
 * table is seven eighths full the larger arrays are allocated (untouched memory costs
 * nothing yet) and filled a few rows at each new contact: the rows in use copied, the
 * rest set to "missing". Reads and writes still go to the current arrays; a write to a
 * row already copied is copied again at once (`wrote`), so the swap has nothing to redo.
 *
 * A column whose arrays were replaced while the growth ran (a calendar scan made its
 * day codes, a field was declared) is grown whole at the swap; that is one column, not
 * all of them.
 */
import type { Column, GrowableArray } from "./columns.ts";

interface Pending {
  col: Column;
  /** The column's arrays when the growth began, and the larger ones being filled (null: not made yet). */
  from: readonly GrowableArray[];
  to: GrowableArray[] | null;
  missing: readonly number[];
  /** Rows [0, done) of the larger arrays are filled. */
  done: number;
}

export class ColumnGrowth {
  private readonly pending: Pending[] = [];

  constructor(
    columns: Iterable<Column>,
    /** The current capacity, and the one being grown to. */
    private readonly cap: number,
    readonly next: number,
  ) {
    for (const col of columns) {
      const from = col.arrays();
      if (from.length === 0) continue;
      this.pending.push({ col, from, to: null, missing: col.missing(), done: 0 });
    }
  }

  /**
   * Fills up to `rows` more rows of each larger array, and makes at most one more
   * column's: allocating them all at once is itself a stall (the allocator zeroes
   * memory it reuses). True once every array is made and filled.
   */
  step(rows: number): boolean {
    let made = false;
    let all = true;
    for (const p of this.pending) {
      if (p.to === null) {
        if (made) {
          all = false;
          continue;
        }
        p.to = p.from.map((a) => makeLike(a, this.next));
        made = true;
      }
      const from = p.done;
      const to = Math.min(this.next, from + rows);
      for (let k = 0; k < p.from.length; k++) {
        const src = p.from[k];
        const dst = p.to[k];
        const copyTo = Math.min(to, this.cap);
        if (from < copyTo) dst.set(src.subarray(from, copyTo), from);
        if (to > this.cap) dst.fill(p.missing[k], Math.max(from, this.cap), to);
      }
      p.done = to;
      if (to < this.next) all = false;
    }
    return all;
  }

  /** Row `i` of the current arrays was written. */
  wrote(i: number): void {
    for (const p of this.pending) {
      if (p.to === null || i >= p.done) continue;
      for (let k = 0; k < p.from.length; k++) p.to[k][i] = p.from[k][i];
    }
  }

  /** Fills what is left and gives every column its larger arrays. */
  finish(columns: Iterable<Column>): void {
    while (!this.step(this.next)) {}
    const ready = new Map<Column, GrowableArray[]>();
    for (const p of this.pending) {
      const now = p.col.arrays();
      if (p.to !== null && now.length === p.from.length && now.every((a, k) => a === p.from[k]))
        ready.set(p.col, p.to);
    }
    for (const col of columns) {
      const to = ready.get(col);
      if (to !== undefined) col.adopt(to);
      else col.grow(this.next);
    }
  }
}

function makeLike(a: GrowableArray, length: number): GrowableArray {
  if (a instanceof Float64Array) return new Float64Array(length);
  if (a instanceof Int32Array) return new Int32Array(length);
  return new Int8Array(length);
}
