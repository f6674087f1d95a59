/**
 * Membership changes as the engine emits them and as the change log takes them: the
 * same fields, instants in epoch ms on both sides (text only at the edge, iso-instant.ts).
 * Copied across so that neither side holds the other's objects.
 */

import type { MembershipChange } from "../../engine/index.ts";
import type { ChangeInput } from "../../store/types.ts";

export const toLog = (c: MembershipChange): ChangeInput => ({
  segment_id: c.segment_id,
  contact_id: c.contact_id,
  change: c.change,
  at: c.at,
});

export function fromLog(c: ChangeInput): MembershipChange {
  return {
    segment_id: c.segment_id,
    contact_id: c.contact_id,
    change: c.change,
    at: c.at,
  };
}
