/**
 * The engine split over worker threads, asked what the service asks of one engine about
 * single contacts, overrides and pages of members: contact writes (upserts, patches,
 * tags, erasures), static members and overrides, fields and segments defined and
 * deleted make the changes one engine makes and are refused as one engine refuses them;
 * explain, `segmentsOf` and a rule edit's preview answer as one engine does; and member
 * pages walk a segment in contact id order, each member once, with a cursor that holds
 * while contacts enter and leave between pages.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveSegments } from "../../bench/sections/live.ts";
import { type DatasetSpec, generateContacts, generateEvents, TIME_ZONE } from "../../src/demo/generate.ts";
import { type ContactInput, Engine, type MembershipChange } from "../../src/engine/index.ts";
import { lowestAfter, mergePage } from "../../src/engine/partitioned/page.ts";
import { PartitionedEngine } from "../../src/engine/partitioned/partitioned-engine.ts";
import { perContact } from "../support/changes.ts";

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

/** The error one engine throws for `f`, or a failure of the test when it throws none. */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("one engine took it");
}

/** Whether one engine holds contact `id` (not erased). */
function alive(id: string): boolean {
  const i = one.contacts.index(id);
  return i !== undefined && one.contacts.alive.has(i);
}

/** Every page of a segment's members, `limit` at a time, each but the last full: the ids in order of the pages. */
async function walk(segment: string, limit: number, between?: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await split.membersPage(segment, { limit, ...(after ? { after } : {}) });
    seen.push(...page.ids);
    if (page.next === null) return seen;
    expect(page.ids.length).toBe(limit);
    after = page.next;
    await between?.();
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
    await expect(split.upsertContact(bad)).rejects.toThrow(refusal(() => one.upsertContact(bad)));
    await expect(split.upsertContact({ id: "" } as ContactInput)).rejects.toThrow(/id/);
    await expect(split.changeTags("nobody-here", { add: ["x"] })).rejects.toThrow(
      refusal(() => one.changeTags("nobody-here", { add: ["x"] })),
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
      if (!alive(id)) continue; // erased above
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
    const message = refusal(() => one.explain("nobody-here", defs[0].id));
    await expect(split.explain("nobody-here", defs[0].id)).rejects.toThrow(message);
  });
});

describe("member pages on worker threads", () => {
  it("walk a segment in id order, each member once, as one engine's sorted members", async () => {
    for (const d of defs.slice(0, 12)) {
      const seen = await walk(d.id, 37);
      expect(seen, d.id).toEqual(one.members(d.id).ids().sort());
    }
  });

  it("keep their cursor while contacts enter and leave between pages", async () => {
    const seg = defs.find((d) => one.members(d.id).count > 300)!;
    const before = new Set(one.members(seg.id).ids());
    const touched = new Set<string>();
    let k = 0;
    // Between pages: two members the walk started with erased, before or after the cursor.
    const seen = await walk(seg.id, 25, async () => {
      for (const id of [...before].filter((x) => !touched.has(x)).slice(k % 7, (k % 7) + 2)) {
        touched.add(id);
        one.removeContact(id);
        await split.removeContact(id);
      }
      k++;
    });
    for (let i = 1; i < seen.length; i++) expect(seen[i] > seen[i - 1]).toBe(true);
    // Every member no write touched is on exactly one page.
    const untouched = [...before].filter((id) => !touched.has(id)).sort();
    expect(seen.filter((id) => !touched.has(id))).toEqual(untouched);
    expect(touched.size).toBeGreaterThan(10);
  });

  it("go on past a page when one worker holds every member left", async () => {
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
    const seen = await walk(def.id, 30);
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

describe("overrides, fields and segments on worker threads", () => {
  const DAY = 86_400_000;
  const living = () => contacts.map((c) => c.id).filter(alive);

  it("static members and overrides make the changes one engine makes, and expire alike", async () => {
    const want: MembershipChange[] = [];
    const got: MembershipChange[] = [];
    const ids = living();
    const picked = ids.filter((_, k) => k % 17 === 0).slice(0, 60);
    expect(new Set(picked.map((id) => split.workerOfContact(id))).size).toBe(2);
    const staticDef = { id: "seg_static", kind: "static" as const };
    want.push(...one.defineSegment(staticDef));
    got.push(...(await split.defineSegment(staticDef)).toArray());
    want.push(...one.addMembers("seg_static", picked));
    got.push(...(await split.addMembers("seg_static", picked)).toArray());
    want.push(...one.removeMembers("seg_static", picked.slice(0, 10)));
    got.push(...(await split.removeMembers("seg_static", picked.slice(0, 10))).toArray());

    const dynamic = defs.find((d) => one.members(d.id).count > 100)!.id;
    const inside = one.members(dynamic).ids().slice(0, 20);
    const outside = ids.filter((id) => !one.members(dynamic).has(id)).slice(0, 20);
    const until = { expiresAt: spec.now + DAY };
    want.push(...one.removeMembers(dynamic, inside, until));
    got.push(...(await split.removeMembers(dynamic, inside, until)).toArray());
    want.push(...one.addMembers(dynamic, outside));
    got.push(...(await split.addMembers(dynamic, outside)).toArray());

    const sorted = (o: { contact_id: string; action: string; expires_at: number | null }[]) =>
      o.map((x) => `${x.contact_id} ${x.action} ${x.expires_at}`).sort();
    for (const seg of ["seg_static", dynamic]) {
      expect(sorted(await split.overrides(seg)), seg).toEqual(sorted(one.overrides(seg)));
    }
    want.push(...one.liftOverrides(dynamic, outside.slice(0, 5)));
    got.push(...(await split.liftOverrides(dynamic, outside.slice(0, 5))).toArray());
    // The "always out" overrides expire after a day.
    want.push(...one.advanceTo(spec.now + 2 * DAY));
    got.push(...(await split.advanceTo(spec.now + 2 * DAY)).toArray());
    expect(want.filter((c) => c.at === spec.now + DAY).length).toBeGreaterThan(0);
    expect(want.length).toBeGreaterThan(100);
    expect(perContact(got)).toEqual(perContact(want));
    expect(sorted(await split.overrides(dynamic))).toEqual(sorted(one.overrides(dynamic)));
    expect([...(await split.members("seg_static")).ids].sort()).toEqual(
      one.members("seg_static").ids().sort(),
    );
    await sameMembers();
  });

  it("a list naming one unknown contact is refused whole, in every worker", async () => {
    const ids = living().slice(0, 30);
    const list = [...ids.slice(0, 15), "nobody-here", ...ids.slice(15), "nobody-either"];
    const before = [...(await split.members("seg_static")).ids].sort();
    const message = refusal(() => one.addMembers("seg_static", list));
    await expect(split.addMembers("seg_static", list)).rejects.toThrow(message);
    expect(message).toContain("nobody-here");
    expect([...(await split.members("seg_static")).ids].sort()).toEqual(before);
    expect([...(await split.members("seg_static")).ids].sort()).toEqual(
      one.members("seg_static").ids().sort(),
    );
    for (const [seg, m] of [
      ["seg_nope", /unknown segment/],
      [defs[0].id, /expires_at|instant/],
    ] as const) {
      const call =
        seg === "seg_nope"
          ? split.addMembers(seg, ids)
          : split.addMembers(seg, ids, { expiresAt: Number.NaN });
      await expect(call).rejects.toThrow(m);
    }
  });

  it("a rule edit's preview names who would enter and leave, as one engine's", async () => {
    const seg = defs.find((d) => one.members(d.id).count > 100 && one.segment(d.id)?.kind === "dynamic")!.id;
    const rule = { type: "field", field: "plan", op: "eq", value: "pro" };
    const a = one.previewEdit(seg, rule);
    const b = await split.previewEdit(seg, rule);
    expect(a.entered.length + a.exited.length).toBeGreaterThan(50);
    expect(b.entered.sort()).toEqual(a.entered.sort());
    expect(b.exited.sort()).toEqual(a.exited.sort());
    await expect(split.previewEdit("seg_static", rule)).rejects.toThrow(
      refusal(() => one.previewEdit("seg_static", rule)),
    );
    const rank = { type: "event", event: "page_viewed", rank: { direction: "top", percent: 10 } };
    await expect(split.previewEdit(seg, rank)).rejects.toThrow(/rank or quintile/);
  });

  it("a field defined, then written and tested, as on one engine; a segment deleted", async () => {
    const field = { key: "score", type: "number" as const };
    one.defineField(field);
    await split.defineField(field);
    await expect(split.defineField(field)).rejects.toThrow(refusal(() => one.defineField(field)));
    const ids = living().slice(0, 40);
    const want: MembershipChange[] = [];
    const got: MembershipChange[] = [];
    const def = { id: "seg_score", rule: { type: "field", field: "score", op: "gte", value: 10 } };
    want.push(...one.defineSegment(def));
    got.push(...(await split.defineSegment(def)).toArray());
    for (const [k, id] of ids.entries()) {
      const patch = { id, fields: { score: k } };
      want.push(...one.patchContact(patch));
      got.push(...(await split.upsertContact(patch, { patch: true })).toArray());
    }
    expect(want.length).toBe(30);
    expect(perContact(got)).toEqual(perContact(want));
    const bad = { id: ids[0], fields: { score: "ten" } } as unknown as ContactInput;
    await expect(split.upsertContact(bad, { patch: true })).rejects.toThrow(
      refusal(() => one.patchContact(bad)),
    );

    const uses = { id: "seg_uses", rule: { type: "segment", op: "in", segment: "seg_score" } };
    one.defineSegment(uses);
    await split.defineSegment(uses);
    await expect(split.removeSegment("seg_score")).rejects.toThrow(
      refusal(() => one.removeSegment("seg_score")),
    );
    for (const id of ["seg_uses", "seg_score"]) {
      one.removeSegment(id);
      await split.removeSegment(id);
    }
    await expect(split.members("seg_score")).rejects.toThrow(/unknown segment/);
    await expect(split.defineSegment({ id: "seg_static", rule: def.rule, kind: "static" })).rejects.toThrow(
      refusal(() => one.defineSegment({ id: "seg_static", rule: def.rule, kind: "static" })),
    );
  });
});

describe("computed fields and definitions on worker threads", () => {
  const favourite = {
    event: "page_viewed",
    window: { in_last: "90d" },
    measure: { fn: "count" },
  } as const;

  it("a computed field is read and tested as on one engine", async () => {
    const def = { key: "views_90d", type: "number" as const };
    one.defineComputedField(def, favourite);
    await split.defineComputedField(def, favourite);
    const seg = { id: "seg_views", rule: { type: "field", field: "views_90d", op: "gte", value: 3 } };
    const want = one.defineSegment(seg);
    const got = (await split.defineSegment(seg)).toArray();
    expect(want.length).toBeGreaterThan(10);
    expect(perContact(got)).toEqual(perContact(want));

    const ids = [...contacts.slice(0, 120).map((c) => c.id), "nobody-here"];
    const read = one.computedReader();
    const values = await split.computedValues(ids);
    expect(values).toEqual(ids.map(read));
    expect(values.filter((v) => typeof v.views_90d === "number" && v.views_90d > 0).length).toBeGreaterThan(
      5,
    );
    const past = spec.now - 40 * 86_400_000;
    expect(await split.computedValues(ids, past)).toEqual(ids.map(one.computedReader(past)));

    await expect(split.removeComputedField("views_90d")).rejects.toThrow(
      refusal(() => one.removeComputedField("views_90d")),
    );
    one.removeSegment("seg_views");
    await split.removeSegment("seg_views");
    one.removeComputedField("views_90d");
    await split.removeComputedField("views_90d");
    expect(await split.computedValues(ids.slice(0, 5))).toEqual([{}, {}, {}, {}, {}]);
  });

  it("definitions are answered as one engine answers them, timers summed", async () => {
    expect(split.segmentIds().sort()).toEqual(one.segmentIds().sort());
    for (const id of one.segmentIds()) {
      expect(split.segment(id), id).toEqual(one.segment(id));
      expect(split.usesOf(id).sort(), id).toEqual(one.usesOf(id).sort());
    }
    expect(split.fieldUses("plan").sort()).toEqual(one.fieldUses("plan").sort());
    expect(split.fields.custom()).toEqual(one.fields.custom());
    expect([...split.computedFields().keys()]).toEqual([...one.computedFields().keys()]);
    expect(one.timerCount).toBeGreaterThan(0);
    expect(await split.timerCount()).toBe(one.timerCount);
  });
});
