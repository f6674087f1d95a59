/**
 * Membership changes as a worker sends them back (change-batch.ts): through a structured
 * clone, as `postMessage` copies them, they come out as they went in, in order, whatever
 * the contact ids (runs of one contact, a contact coming back after others, ids of
 * characters outside the Basic Multilingual Plane, an empty id).
 */
import { describe, expect, it } from "vitest";
import type { MembershipChange } from "../../src/engine/index.ts";
import { ChangeSet, encodeChanges } from "../../src/engine/partitioned/change-batch.ts";

function change(contact: string, segment: string, entered: boolean, at: number): MembershipChange {
  return { contact_id: contact, segment_id: segment, change: entered ? "entered" : "exited", at };
}

function roundTrip(changes: MembershipChange[]): MembershipChange[] {
  const { batch, transfer } = encodeChanges(changes);
  return new ChangeSet([structuredClone(batch, { transfer })]).toArray();
}

describe("changes sent back by a worker", () => {
  it("come out as they went in, each contact id whole", () => {
    const changes = [
      change("c1", "s1", true, 1),
      change("c1", "s2", false, 1),
      change("c1", "s1", false, 2),
      change("c22", "s2", true, 3),
      change("c1", "s3", true, 4),
      change("émilie😀", "s1", true, 5),
      change("émilie😀", "s2", true, 5),
      change("", "s1", false, 6),
      change("c333", "s1", true, 7),
    ];
    expect(roundTrip(changes)).toEqual(changes);
  });

  it("send each run of one contact's changes with its id once", () => {
    const changes = [change("a", "s1", true, 1), change("a", "s2", true, 1), change("bb", "s1", true, 2)];
    const { batch } = encodeChanges(changes);
    expect(batch.contacts).toBe("abb");
    expect([...batch.contact]).toEqual([0, 0, 1]);
  });

  it("of several workers are merged worker by worker", () => {
    const a = [change("x", "s1", true, 1), change("y", "s1", true, 2)];
    const b = [change("z", "s2", false, 3)];
    const set = new ChangeSet([encodeChanges(a).batch, encodeChanges(b).batch]);
    expect(set.count).toBe(3);
    expect(set.toArray()).toEqual([...a, ...b]);
  });

  it("may be none", () => {
    expect(roundTrip([])).toEqual([]);
  });
});
