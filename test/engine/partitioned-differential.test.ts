/**
 * The engine split over worker threads against one engine, on random sequences of every
 * kind of write and clock move (the steps of test/live/live-property.ts: upserts,
 * patches, tags, erasures, events, static members and overrides with expiries, segment
 * definitions and deletions, clock moves): after each sequence, 4 partitions on 2
 * workers hold the same members in every segment and have made the same changes,
 * contact by contact, as one engine. fast-check prints the seed and the sequence of a
 * failure.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine, type MembershipChange } from "../../src/engine/index.ts";
import { PartitionedEngine } from "../../src/engine/partitioned/partitioned-engine.ts";
import { relativeKeys } from "../../src/engine/rank.ts";
import {
  COMPUTED_FIELDS,
  eventOf,
  FIELDS,
  patchOf,
  ruleOf,
  SEG_IDS,
  type Step,
  stepArb,
  T0,
  upsertOf,
} from "../live/live-property.ts";
import { perContact } from "../support/changes.ts";

const CONTACTS = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
const step = stepArb({ contacts: CONTACTS, eventWeight: 4, clockWeight: 3 });

async function differ(tz: string, steps: Step[]): Promise<void> {
  let now = T0;
  const clock = { now: () => now };
  const one = new Engine({ timeZone: tz, clock, fields: FIELDS });
  const split = await PartitionedEngine.start({
    timeZone: tz,
    clock,
    fields: FIELDS,
    workers: 2,
    partitions: 4,
  });
  try {
    expect(new Set(CONTACTS.map((c) => split.workerOfContact(c))).size).toBe(2);
    const want: MembershipChange[] = [];
    const got: MembershipChange[] = [];
    const both = async (a: () => MembershipChange[], b: () => Promise<{ toArray(): MembershipChange[] }>) => {
      want.push(...a());
      got.push(...(await b()).toArray());
    };
    for (const [def, computed] of COMPUTED_FIELDS) {
      one.defineComputedField(def, computed);
      await split.defineComputedField(def, computed);
    }
    await both(
      () => one.defineSegment({ id: "seg_static", kind: "static" }),
      () => split.defineSegment({ id: "seg_static", kind: "static" }),
    );
    // Defaults read `now`; as many as one engine made.
    await both(
      () => one.advanceTo(now),
      () => split.advanceTo(now),
    );
    const defined = new Set(["seg_static"]);
    for (const s of steps) {
      const alive = new Set(one.contactIds());
      switch (s.kind) {
        case "upsert": {
          const c = upsertOf(s, now);
          await both(
            () => one.upsertContact(c),
            () => split.upsertContact(c),
          );
          break;
        }
        case "patch": {
          if (!alive.has(s.id)) break;
          const c = patchOf(s);
          await both(
            () => one.patchContact(c),
            () => split.upsertContact(c, { patch: true }),
          );
          break;
        }
        case "tags":
          if (!alive.has(s.id)) break;
          await both(
            () => one.changeTags(s.id, { add: s.add, remove: s.remove }),
            () => split.changeTags(s.id, { add: s.add, remove: s.remove }),
          );
          break;
        case "remove":
          await both(
            () => one.removeContact(s.id),
            () => split.removeContact(s.id),
          );
          break;
        case "event": {
          const e = eventOf(s, now);
          await both(
            () => one.addEvent(e),
            () => split.ingest([e]),
          );
          break;
        }
        case "members": {
          const id = SEG_IDS[s.seg];
          const ids = s.ids.filter((c) => alive.has(c));
          if (!defined.has(id) || ids.length === 0) break;
          const opts = s.expires !== null ? { expiresAt: now + s.expires } : {};
          if (s.action === "add")
            await both(
              () => one.addMembers(id, ids, opts),
              () => split.addMembers(id, ids, opts),
            );
          else if (s.action === "remove")
            await both(
              () => one.removeMembers(id, ids, opts),
              () => split.removeMembers(id, ids, opts),
            );
          else
            await both(
              () => one.liftOverrides(id, ids),
              () => split.liftOverrides(id, ids),
            );
          break;
        }
        case "define": {
          // Rank and quintile conditions are not maintained across workers yet (refused there).
          if (s.seg === 0 || relativeKeys(s.rule).size > 0) break;
          const id = SEG_IDS[s.seg];
          const rule = ruleOf(s, defined);
          await both(
            () => one.defineSegment({ id, rule }),
            () => split.defineSegment({ id, rule }),
          );
          defined.add(id);
          break;
        }
        case "drop": {
          const id = SEG_IDS[s.seg];
          if (s.seg === 0 || !defined.has(id) || one.usesOf(id).length > 0) break;
          one.removeSegment(id);
          await split.removeSegment(id);
          defined.delete(id);
          break;
        }
        case "clock":
          now += s.dt;
          await both(
            () => one.advanceTo(now),
            () => split.advanceTo(now),
          );
          break;
      }
    }
    // Every timer still due within three days, on both.
    now += 3 * 86_400_000;
    await both(
      () => one.advanceTo(now),
      () => split.advanceTo(now),
    );
    for (const id of one.segmentIds()) {
      expect([...(await split.members(id)).ids].sort(), id).toEqual(one.members(id).ids().sort());
    }
    expect(perContact(got)).toEqual(perContact(want));
  } finally {
    await split.close();
  }
}

describe("an engine split over worker threads, on random writes and clock moves", () => {
  it("holds the members and makes the changes one engine makes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("UTC", "Europe/Paris", "America/New_York"),
        fc.array(step, { minLength: 10, maxLength: 80 }),
        differ,
      ),
      // Each run starts two worker threads (about a second): fewer, longer sequences, and a
      // failure reported as found rather than shrunk, which would start hundreds more.
      { numRuns: 12, endOnFailure: true },
    );
  }, 120_000);
});
