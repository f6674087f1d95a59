/**
 * The passing of time. The live instant moves only here: to the clock's now before
 * every write and read of maintained state (`sync`), or to an instant the caller names
 * (`advanceTo`). Moving it handles exactly the contacts due by then, each at its own
 * instant, so a change's `at` is the boundary instant itself.
 */
import type { ContactTable } from "../contacts.ts";
import type { SegmentEnv } from "../segments.ts";
import type { Clock, MembershipChange } from "../types.ts";
import type { SegmentGraph } from "./dependencies.ts";
import type { DueTimes } from "./due.ts";
import type { MaintainedMembership } from "./membership.ts";

export class Scheduler {
  constructor(
    private readonly clock: Clock,
    private readonly live: SegmentEnv,
    private readonly contacts: ContactTable,
    private readonly graph: SegmentGraph,
    private readonly members: MaintainedMembership,
    private readonly due: DueTimes,
  ) {}

  /** The instant maintained membership is exact at. */
  get now(): number {
    return this.live.now;
  }

  /**
   * Moves maintained membership to instant `t`, handling every contact whose answer can
   * change by then, each at its own instant. Returns the changes, oldest first.
   */
  advanceTo(t: number): MembershipChange[] {
    const out: MembershipChange[] = [];
    const { members, due } = this;
    if (members.dirty) this.rebuild(Math.max(t, this.live.now));
    for (let c = due.popDue(t); c >= 0; c = due.popDue(t)) {
      if (!this.contacts.alive.has(c)) continue;
      // Expired overrides stay in their maps: membership at a past instant still needs them.
      this.live.now = Math.max(due.poppedAt, this.live.now);
      if (members.ranks.size > 0) members.rankTouch(c, null, out);
      // Only timed segments can change with time alone (and they include every segment referring to one).
      const timed = this.graph.timedSegments();
      const nodes = members.timedNodes();
      for (let k = 0; k < timed.length; k++) members.reevaluateNode(timed[k], nodes[k], c, out);
      due.scheduleNodes(c, nodes, false);
    }
    if (t > this.live.now) this.live.now = t;
    return out;
  }

  /** Brings maintained state to the clock's now; returns the time-driven changes on the way. */
  sync(): MembershipChange[] {
    const now = this.clock.now();
    if (this.members.dirty) this.rebuild(Math.max(now, this.live.now));
    return this.advanceTo(now);
  }

  /** Recomputes every segment from scratch and schedules every contact (after bulk loads). */
  private rebuild(at: number): void {
    this.live.now = at;
    this.members.rebuild();
    this.due.rescheduleAll(this.contacts.alive);
  }
}
