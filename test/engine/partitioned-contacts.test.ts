/**
 * The engine split over worker threads, asked what the service asks of one engine about
 * single contacts and pages of members: contact writes (upserts, patches, tags,
 * erasures) make the changes one engine makes; explain and `segmentsOf` answer as one
 * engine does; and member pages walk a segment in contact id order, each member once,
 * with a cursor that holds while contacts enter and leave between pages.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveSegments } from "../../bench/sections/live.ts";
import { type DatasetSpec, generateContacts, generateEvents, TIME_ZONE } from "../../src/demo/generate.ts";
import { type ContactInput, Engine, type MembershipChange } from "../../src/engine/index.ts";
import { lowestAfter, mergePage } from "../../src/engine/partitioned/page.ts";
import { PartitionedEngine } from "../../src/engine/partitioned/partitioned-engine.ts";

const spec: DatasetSpec = { seed: 21, contacts: 2_000, events: 20_000, now: Date.UTC(2026, 5, 1) };
const options = {
  timeZone: TIME_ZONE,
  fields: [
    { key: "plan", type: "string" as const },
    { key: "birthday", type: "date" as const },
  ],
  clock: { now: () => spec.now },
  defaultSegments: false as const,
};
// Every form of rule but ranks (not maintained across workers yet).
const defs = liveSegments().filter((d) => d.id !== "seg_089");

let one: Engine;
let split: PartitionedEngine;
let contacts: ContactInput[];

/** Each contact's changes as a sorted list: the workers interleave contacts differently. */
function perContact(changes: MembershipChange[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of changes) {
    const list = out.get(c.contact_id) ?? [];
    list.push(`${c.segment_id} ${c.change} ${c.at}`);
    out.set(c.contact_id, list);
  }
  for (const list of out.values()) list.sort();
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

beforeAll(async () => {
  contacts = [...generateContacts(spec, { birthday: true })];
  one = new Engine(options);
  split = await PartitionedEngine.start({ ...options, workers: 2, partitions: 4, batchEvents: 2_048 });
  one.loadContacts(contacts);
  one.loadEvents(generateEvents(spec));
  await split.loadContacts(contacts);
  await split.loadEvents(generateEvents(spec));
  await split.finishLoad();
  one.loadSegments(defs);
  await split.loadSegments(defs);
  one.advanceTo(spec.now);
  await split.advanceTo(spec.now);
}, 60_000);

afterAll(async () => {
  await split?.close();
});

async function sameMembers(): Promise<void> {
  for (const d of defs) {
    const m = await split.members(d.id);
    expect([...m.ids].sort(), d.id).toEqual(one.members(d.id).ids().sort());
  }
}

describe("contact writes on worker threads", () => {
  it("make the changes one engine makes, contact by contact", async () => {
    const want: MembershipChange[] = [];
    const got: MembershipChange[] = [];
    const both = async (a: () => MembershipChange[], b: () => Promise<{ toArray(): MembershipChange[] }>) => {
      want.push(...a());
      got.push(...(await b()).toArray());
    };
    for (let k = 0; k < 600; k++) {
      const c = contacts[(k * 37) % contacts.length];
      const other = contacts[(k * 101 + 7) % contacts.length];
      switch (k % 6) {
        case 0: {
          // Another contact's profile under this one's id and e-mail: every field may move.
          const next: ContactInput = { ...other, id: c.id, email: c.email };
          await both(
            () => one.upsertContact(next),
            () => split.upsertContact(next),
          );
          break;
        }
        case 1: {
          const patch: ContactInput = { id: c.id, status: other.status, country: other.country ?? "US" };
          await both(
            () => one.patchContact(patch),
            () => split.upsertContact(patch, { patch: true }),
          );
          break;
        }
        case 2: {
          const fresh: ContactInput = { ...other, id: `new-${k}`, email: `new-${k}@example.com` };
          await both(
            () => one.upsertContact(fresh),
            () => split.upsertContact(fresh),
          );
          break;
        }
        case 3:
          await both(
            () => one.changeTags(c.id, { add: ["vip", `t${k % 5}`], remove: ["t1"] }),
            () => split.changeTags(c.id, { add: ["vip", `t${k % 5}`], remove: ["t1"] }),
          );
          break;
        case 4:
          await both(
            () => one.removeContact(c.id),
            () => split.removeContact(c.id),
          );
          break;
        case 5:
          await both(
            () => one.removeContact(`never-${k}`),
            () => split.removeContact(`never-${k}`),
          );
          break;
      }
    }
    expect(want.length).toBeGreaterThan(500);
    expect(got.length).toBe(want.length);
    expect(perContact(got)).toEqual(perContact(want));
    await sameMembers();
  }, 60_000);

  it("refuse what one engine refuses, with the same error", async () => {
    const bad = { id: contacts[0].id, fields: { birthday: "not a date" } } as ContactInput;
    let wanted: unknown;
    try {
      one.upsertContact(bad);
    } catch (e) {
      wanted = e;
    }
    expect(wanted).toBeInstanceOf(Error);
    await expect(split.upsertContact(bad)).rejects.toThrow((wanted as Error).message);
    await expect(split.upsertContact({ id: "" } as ContactInput)).rejects.toThrow(/id/);
    await expect(split.changeTags("nobody-here", { add: ["x"] })).rejects.toThrow(
      (() => {
        try {
          one.changeTags("nobody-here", { add: ["x"] });
        } catch (e) {
          return (e as Error).message;
        }
        return "one engine took it";
      })(),
    );
  });
});

describe("questions about one contact on worker threads", () => {
  it("explain and segmentsOf answer as one engine does", async () => {
    const rule = {
      type: "and",
      conditions: [
        { type: "field", field: "plan", op: "neq", value: "free" },
        { type: "event", event: "page_viewed", window: { in_last: "30d" }, op: "gte", value: 2 },
      ],
    };
    for (let k = 0; k < 150; k++) {
      const id = contacts[(k * 13) % contacts.length].id;
      const i = one.contacts.index(id);
      if (i === undefined || !one.contacts.alive.has(i)) continue; // erased above
      expect(await split.segmentsOf(id), id).toEqual(one.segmentsOf(id));
      for (const d of defs.slice(k % 10, (k % 10) + 3)) {
        expect(await split.explain(id, d.id), `${id} ${d.id}`).toEqual(one.explain(id, d.id));
      }
      expect(await split.explain(id, rule, spec.now - 86_400_000)).toEqual(
        one.explain(id, one.validate(rule), spec.now - 86_400_000),
      );
    }
    expect(await split.segmentsOf("nobody-here")).toEqual([]);
  });

  it("refuses to explain a rank condition, and an unknown contact as one engine does", async () => {
    const rank = { type: "event", event: "page_viewed", rank: { direction: "top", percent: 10 } };
    await expect(split.explain(contacts[1].id, rank)).rejects.toThrow(/rank or quintile/);
    const message = (() => {
      try {
        one.explain("nobody-here", defs[0].id);
      } catch (e) {
        return (e as Error).message;
      }
      return "one engine took it";
    })();
    await expect(split.explain("nobody-here", defs[0].id)).rejects.toThrow(message);
  });
});

describe("member pages on worker threads", () => {
  it("walk a segment in id order, each member once, as one engine's sorted members", async () => {
    for (const d of defs.slice(0, 12)) {
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await split.membersPage(d.id, { limit: 37, ...(after ? { after } : {}) });
        seen.push(...page.ids);
        if (page.next === null) break;
        expect(page.ids.length).toBe(37);
        after = page.next;
      }
      expect(seen, d.id).toEqual(one.members(d.id).ids().sort());
    }
  });

  it("keep their cursor while contacts enter and leave between pages", async () => {
    const seg = defs.find((d) => one.members(d.id).count > 300)!;
    const before = new Set(one.members(seg.id).ids());
    const touched = new Set<string>();
    const seen: string[] = [];
    let after: string | undefined;
    let k = 0;
    for (;;) {
      const page = await split.membersPage(seg.id, { limit: 25, ...(after ? { after } : {}) });
      seen.push(...page.ids);
      if (page.next === null) break;
      after = page.next;
      // Between pages: a member before the cursor and one after it erased, a new contact written.
      for (const id of [...before].filter((x) => !touched.has(x)).slice(k % 7, (k % 7) + 2)) {
        touched.add(id);
        one.removeContact(id);
        await split.removeContact(id);
      }
      k++;
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i] > seen[i - 1]).toBe(true);
    // Every member no write touched is on exactly one page; no erased one after its erasure.
    const untouched = [...before].filter((id) => !touched.has(id)).sort();
    expect(seen.filter((id) => !touched.has(id))).toEqual(untouched);
    expect(touched.size).toBeGreaterThan(10);
  });

  it("go on past a page when one worker holds every member left", async () => {
    const alive = (id: string) => {
      const i = one.contacts.index(id);
      return i !== undefined && one.contacts.alive.has(i);
    };
    const onOne = contacts
      .filter((c) => split.workerOfContact(c.id) === 0 && c.email && alive(c.id))
      .slice(0, 90);
    const def = {
      id: "seg_one_worker",
      rule: { type: "field", field: "email", op: "in", value: onOne.map((c) => c.email) },
    };
    one.defineSegment(def);
    await split.defineSegment(def);
    const want = one.members(def.id).ids().sort();
    expect(want.length).toBeGreaterThan(60);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await split.membersPage(def.id, { limit: 30, ...(after ? { after } : {}) });
      seen.push(...page.ids);
      if (page.next === null) break;
      after = page.next;
    }
    expect(seen).toEqual(want);
  });

  it("refuse a limit under 1 and an unknown segment", async () => {
    await expect(split.membersPage(defs[0].id, { limit: 0 })).rejects.toThrow(
      /limit: expected a whole number/,
    );
    await expect(split.membersPage("seg_nope", { limit: 5 })).rejects.toThrow(/unknown segment/);
  });
});

describe("a page's selection", () => {
  it("is the lowest ids after the cursor, in order, from any worker's answers", () => {
    // Each contact is on one worker: the ids are dealt out to the workers.
    const dealt = fc
      .tuple(fc.uniqueArray(fc.string({ maxLength: 4 }), { maxLength: 150 }), fc.integer({ min: 1, max: 4 }))
      .map(([ids, n]) => Array.from({ length: n }, (_, w) => ids.filter((_, k) => k % n === w)));
    const args = fc.tuple(dealt, fc.string({ maxLength: 4 }), fc.integer({ min: 1, max: 20 }));
    fc.assert(
      fc.property(args, ([workers, after, limit]) => {
        const everyone = workers
          .flat()
          .filter((x) => x > after)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const page = mergePage(
          workers.map((w) => lowestAfter(w, after, limit + 1)),
          limit,
        );
        expect(page.ids).toEqual(everyone.slice(0, limit));
        expect(page.next).toBe(everyone.length > limit ? everyone[limit - 1] : null);
      }),
      { numRuns: 500 },
    );
  });
});
