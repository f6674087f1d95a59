/**
 * A binary min-heap of (time, contact) pairs in typed arrays: the queue of instants at
 * which some contact's membership can change with no new data. Entries are never
 * removed early; a popped entry that no longer matches the contact's scheduled time is
 * stale and skipped by the caller, which keeps rescheduling O(log n).
 */
export class TimerHeap {
  private times = new Float64Array(1024);
  private ids = new Int32Array(1024);
  size = 0;

  push(t: number, c: number): void {
    if (this.size === this.times.length) {
      const times = new Float64Array(this.size * 2);
      times.set(this.times);
      this.times = times;
      const ids = new Int32Array(this.size * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    let i = this.size++;
    const times = this.times;
    const ids = this.ids;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (times[p] <= t) break;
      times[i] = times[p];
      ids[i] = ids[p];
      i = p;
    }
    times[i] = t;
    ids[i] = c;
  }

  peekTime(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : this.times[0];
  }

  peekId(): number {
    return this.ids[0];
  }

  pop(): void {
    const times = this.times;
    const ids = this.ids;
    const n = --this.size;
    if (n === 0) return;
    const t = times[n];
    const c = ids[n];
    let i = 0;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      if (m + 1 < n && times[m + 1] < times[m]) m++;
      if (times[m] >= t) break;
      times[i] = times[m];
      ids[i] = ids[m];
      i = m;
    }
    times[i] = t;
    ids[i] = c;
  }

  clear(): void {
    this.size = 0;
  }
}
