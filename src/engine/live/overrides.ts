/**
 * Manual membership (SPEC §3): the members of a static segment, and a dynamic
 * segment's "always in" / "always out" overrides, each optionally until an instant.
 * An expiring override makes its segment timed: the contact is rescheduled with it.
 */
import type { ContactTable } from "../contacts.ts";
import { FieldValueError } from "../contacts.ts";
import type { SegmentState } from "../segments.ts";
import type { MembershipChange } from "../types.ts";
import { aliveIndex } from "./alive.ts";
import type { SegmentGraph } from "./dependencies.ts";
import type { DueTimes } from "./due.ts";
import type { MaintainedMembership } from "./membership.ts";
import type { SegmentRegistry } from "./registry.ts";
import type { Scheduler } from "./schedule.ts";

export interface Override {
  contact_id: string;
  action: "added" | "removed";
  /** Epoch ms, or null when it does not expire. */
  expires_at: number | null;
}

function checkExpiry(expiresAt: number | undefined): number {
  if (expiresAt === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isFinite(expiresAt)) throw new FieldValueError("expires_at", "expected an instant");
  return expiresAt;
}

export class Overrides {
  constructor(
    private readonly contacts: ContactTable,
    private readonly segments: SegmentRegistry,
    private readonly graph: SegmentGraph,
    private readonly members: MaintainedMembership,
    private readonly scheduler: Scheduler,
    private readonly due: DueTimes,
  ) {}

  private apply(
    segmentId: string,
    contactIds: string[],
    apply: (st: SegmentState, c: number) => void,
  ): MembershipChange[] {
    const st = this.segments.editable(segmentId);
    const idx = contactIds.map((id) => aliveIndex(this.contacts, id));
    const out = this.scheduler.sync();
    const affected = this.graph.dependentsOf(segmentId);
    for (const c of idx) {
      apply(st, c);
      // An expiring override can make a segment timed.
      this.members.forgetDerived();
      for (const s of affected) this.members.reevaluateOne(s, c, out);
      this.due.reschedule(c);
    }
    return out;
  }

  add(segmentId: string, contactIds: string[], expiresAt: number | undefined): MembershipChange[] {
    const until = checkExpiry(expiresAt);
    return this.apply(segmentId, contactIds, (st, c) => {
      st.removed.delete(c);
      st.added.set(c, until);
    });
  }

  remove(segmentId: string, contactIds: string[], expiresAt: number | undefined): MembershipChange[] {
    const until = checkExpiry(expiresAt);
    return this.apply(segmentId, contactIds, (st, c) => {
      st.added.delete(c);
      if (st.kind === "dynamic") st.removed.set(c, until);
    });
  }

  lift(segmentId: string, contactIds: string[]): MembershipChange[] {
    return this.apply(segmentId, contactIds, (st, c) => {
      st.added.delete(c);
      st.removed.delete(c);
    });
  }

  list(segmentId: string): Override[] {
    this.scheduler.sync();
    const st = this.segments.known(segmentId);
    const out: Override[] = [];
    for (const [action, map] of [
      ["added", st.added],
      ["removed", st.removed],
    ] as const) {
      for (const [c, t] of map) {
        if (t <= this.scheduler.now) continue;
        out.push({ contact_id: this.contacts.ids[c], action, expires_at: Number.isFinite(t) ? t : null });
      }
    }
    return out;
  }

  /** Bulk load (start-up): no changes emitted; unknown segments or contacts throw. */
  load(
    segmentId: string,
    members: { contact_id: string; action: "added" | "removed"; expires_at?: number | null }[],
  ): void {
    const st = this.segments.known(segmentId);
    for (const m of members) {
      const c = aliveIndex(this.contacts, m.contact_id);
      const until = m.expires_at ?? Number.POSITIVE_INFINITY;
      if (m.action === "added") st.added.set(c, until);
      else st.removed.set(c, until);
    }
    this.members.forgetDerived();
    this.members.dirty = true;
  }
}
