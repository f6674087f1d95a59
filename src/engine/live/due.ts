/**
 * Each contact's scheduled instant: the earliest at which any timed segment's answer
 * for it can change with no new data, kept in a heap (heap.ts) with the contact's
 * current instant beside it, so a rescheduled contact leaves a stale entry that
 * `popDue` skips instead of a removal.
 */
import type { Bitset } from "../bitset.ts";
import type { CompiledNode } from "../compile.ts";
import type { EventTable } from "../events.ts";
import { TimerHeap } from "../heap.ts";
import { plainForTimers } from "../rank-index.ts";
import type { SegmentEnv, SegmentState } from "../segments.ts";
import { timerPlan } from "../timers.ts";
import type { SegmentGraph } from "./dependencies.ts";
import type { EventReaders } from "./membership.ts";

export class DueTimes {
  private readonly heap = new TimerHeap();
  private nextDue = new Float64Array(1024).fill(Number.POSITIVE_INFINITY);
  /** The instant the contact `popDue` last returned was due at. */
  poppedAt = Number.NaN;

  constructor(
    private readonly live: SegmentEnv,
    private readonly graph: SegmentGraph,
  ) {}

  /** Pending time-driven re-evaluations, stale entries included. */
  get size(): number {
    return this.heap.size;
  }

  /** Room for `size` contacts. */
  ensure(size: number): void {
    if (this.nextDue.length < size) {
      const n = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
      n.set(this.nextDue);
      this.nextDue = n;
    }
  }

  /** Unschedules a contact (erased). */
  drop(c: number): void {
    this.nextDue[c] = Number.POSITIVE_INFINITY;
  }

  /** The next contact due by `t`, unscheduled, or -1 when none; its instant is left in `poppedAt`. */
  popDue(t: number): number {
    const heap = this.heap;
    while (heap.size > 0 && heap.peekTime() <= t) {
      const due = heap.peekTime();
      const c = heap.peekId();
      heap.pop();
      if (this.nextDue[c] !== due) continue; // stale: rescheduled since
      this.nextDue[c] = Number.POSITIVE_INFINITY;
      this.poppedAt = due;
      return c;
    }
    return -1;
  }

  /**
   * Sets the contact's next instant from `segments`. With `partial`, only those
   * segments' answers may have changed, so the earlier of the old instant and theirs
   * stays correct (at worst early, which only costs a re-check).
   */
  scheduleFor(c: number, segments: SegmentState[], partial = false): void {
    let due = partial ? this.nextDue[c] : Number.POSITIVE_INFINITY;
    for (const st of segments) {
      const n = this.live.segment(st.id).next(c);
      if (n < due) due = n;
    }
    // A conservative estimate may land on now itself; checking again a millisecond later is safe.
    if (due <= this.live.now) due = this.live.now + 1;
    if (due === this.nextDue[c]) return;
    this.nextDue[c] = due;
    if (due !== Number.POSITIVE_INFINITY) this.heap.push(due, c);
  }

  /** `scheduleFor` with the segments' compiled nodes at hand. */
  scheduleNodes(c: number, nodes: CompiledNode[], partial: boolean): void {
    let due = partial ? this.nextDue[c] : Number.POSITIVE_INFINITY;
    for (let k = 0; k < nodes.length; k++) {
      const n = nodes[k].next(c);
      if (n < due) due = n;
    }
    if (due <= this.live.now) due = this.live.now + 1;
    if (due === this.nextDue[c]) return;
    this.nextDue[c] = due;
    if (due !== Number.POSITIVE_INFINITY) this.heap.push(due, c);
  }

  /** Reschedules `c` after the segments `affected` were re-evaluated for it (all of them when left out). */
  reschedule(c: number, affected?: SegmentState[]): void {
    const timed = this.graph.timedSegments();
    if (affected === undefined || affected === this.graph.order) {
      this.scheduleFor(c, timed);
      return;
    }
    this.scheduleFor(c, this.graph.timedAmong(affected), true);
  }

  /** Schedules every contact of `alive` from scratch. */
  rescheduleAll(alive: Bitset): void {
    const timed = this.graph.timedSegments();
    this.heap.clear();
    this.nextDue.fill(Number.POSITIVE_INFINITY);
    if (timed.length === 0) return;
    for (const c of alive.toArray()) this.scheduleFor(c, timed);
  }

  /**
   * Whether the event just stored for contact `c` at `slot` of `table` leaves its
   * scheduled instant at most every estimate of its readers' `next` (timers.ts), so
   * rescheduling would not move it.
   */
  kept(rs: EventReaders, c: number, table: EventTable, slot: number): boolean {
    // The previous latest event when this one was appended after it.
    const s0 = table.start[c];
    const p = slot > s0 && slot === s0 + table.len[c] - 1 ? table.times[slot - 1] : Number.NaN;
    rs.plan ??= timerPlan(
      rs.type,
      rs.states.flatMap((st) => (st.rule ? [plainForTimers(st.rule)] : [])),
      this.live.tz,
    );
    return rs.plan.keeps(p, table.times[slot], this.live.now, this.nextDue[c]);
  }
}
