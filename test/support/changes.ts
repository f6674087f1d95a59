/**
 * Membership changes compared contact by contact: engines split over workers make each
 * contact's changes in its own worker, interleaved with other contacts' differently
 * from one engine, so two runs are compared as each contact's changes, sorted.
 */
import type { MembershipChange } from "../../src/engine/index.ts";

export function perContact(changes: readonly MembershipChange[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of changes) {
    const list = out.get(c.contact_id) ?? [];
    list.push(`${c.segment_id} ${c.change} ${c.at}`);
    out.set(c.contact_id, list);
  }
  for (const list of out.values()) list.sort();
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}
