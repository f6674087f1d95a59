/**
 * An engine restored from a snapshot is the engine that was saved: every answer (members
 * of every kind of rule, explain, profile values, identity lookups, effects) is the same
 * right after the restore and after the same later writes on both; a damaged file or
 * one written for other fields is refused.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { liveSegments } from "../../bench/sections/live.ts";
import { generateContacts, generateEvents } from "../../src/demo/generate.ts";
import { Engine, type EventInput, type StoredContact } from "../../src/engine/index.ts";
import {
  packStrings,
  SnapshotReader,
  SnapshotUnusable,
  SnapshotWriter,
  unpackStrings,
} from "../../src/engine/snapshot-io.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-11-01T00:00:00Z");
const dir = mkdtempSync(join(tmpdir(), "slice-engine-snapshot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIELDS = [
  { key: "plan", type: "string" as const },
  { key: "birthday", type: "date" as const },
  { key: "score", type: "number" as const },
  { key: "vip", type: "boolean" as const },
  { key: "interests", type: "string_list" as const },
];

const f = (field: string, op: string, value?: unknown) =>
  value === undefined ? { type: "field", field, op } : { type: "field", field, op, value };
/** Every kind of rule: the live benchmark's 100 (ranks, calendars, sequences, references) and one per field type. */
const RULES: Record<string, unknown> = {
  ...Object.fromEntries(liveSegments().map((s) => [s.id, s.rule])),
  plan_pro: f("plan", "eq", "pro"),
  born_early: f("birthday", "before", "1990-01-01"),
  score: f("score", "gt", 50),
  vip: f("vip", "eq", true),
  interests: f("interests", "contains", "shoes"),
  tagged: f("tags", "contains", "vip"),
  external: f("external_id", "is_set"),
  nested: {
    type: "event",
    event: "page_viewed",
    where: [{ property: "page.section", op: "eq", value: "pricing" }],
    op: "gte",
    value: 1,
  },
  bounced: f("email_status", "eq", "hard_bounced"),
  unsubscribed: f("status", "eq", "unsubscribed"),
};

const spec = { seed: 7, contacts: 3_000, events: 30_000, now: NOW };

function engine(fields = FIELDS, clock = { now: () => NOW }): Engine {
  return new Engine({ clock, fields });
}

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The contacts `built` loads, as loaded. */
function builtContacts(): StoredContact[] {
  const r = rnd(3);
  return [...generateContacts(spec)].map((c, k) => ({
    ...c,
    external_id: k % 5 === 0 ? `Ext-${k}` : null,
    fields: {
      plan: ["free", "pro", "enterprise"][k % 3],
      birthday: k % 4 === 0 ? null : `19${50 + (k % 50)}-0${1 + (k % 9)}-1${k % 9}`,
      score: k % 7 === 0 ? null : Math.round(r() * 100),
      vip: k % 3 === 0 ? null : k % 2 === 0,
      interests: k % 2 === 0 ? ["shoes", "hats"].slice(0, 1 + (k % 2)) : [],
    },
    ...(k % 11 === 0 ? { status_written_at: NOW - 30 * DAY } : {}),
  }));
}

/** A loaded engine with every kind of value, then live writes that leave holes, relocations, erasures. */
function built(clock?: { now(): number }): Engine {
  const e = engine(FIELDS, clock);
  const contacts = builtContacts();
  e.loadContacts(contacts);
  const events: EventInput[] = [...generateEvents(spec)];
  for (let k = 0; k < 300; k++) {
    events.push({
      type: "page_viewed",
      contact_id: contacts[k * 7].id,
      timestamp: NOW - k * 3_600_000,
      properties: { page: { section: k % 2 ? "pricing" : "blog", tags: ["a", k] }, ok: k % 3 === 0 },
    });
    events.push({
      type: k % 2 ? "email_bounced" : "email_unsubscribed",
      contact_id: contacts[k * 5].id,
      timestamp: NOW - k * 60_000,
      properties: k % 4 === 0 ? { bounce_type: "hard" } : {},
    });
  }
  e.loadEvents(events);
  for (const [id, rule] of Object.entries(RULES)) e.defineSegment({ id, rule });
  // Live writes: events to busy contacts (blocks move, leaving holes), profile changes, erasures.
  for (let k = 0; k < 2_000; k++) {
    e.addEvent({
      type: "order_placed",
      contact_id: contacts[k % 40].id,
      timestamp: NOW - (k % 100) * DAY,
      properties: { amount: k % 250, currency: k % 2 ? "EUR" : "USD" },
    });
  }
  for (let k = 0; k < 50; k++) e.patchContact({ id: contacts[k].id, tags: ["vip"], status: "subscribed" });
  for (let k = 100; k < 120; k++) e.removeContact(contacts[k].id);
  e.upsertContact({ id: "brand_new", email: "New@Example.com", external_id: "X-1", fields: { plan: "pro" } });
  return e;
}

async function restored(path: string, fields = FIELDS): Promise<Engine> {
  const r = await SnapshotReader.open(path);
  const e = engine(fields);
  e.restoreState(r, r.header as Parameters<Engine["restoreState"]>[1]);
  for (const [id, rule] of Object.entries(RULES)) e.defineSegment({ id, rule });
  return e;
}

function save(e: Engine, name: string): string {
  const w = new SnapshotWriter();
  const state = e.saveState(w);
  const path = join(dir, name);
  w.writeTo(path, state);
  return path;
}

function answers(e: Engine): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of e.segmentIds()) out[`segment ${id}`] = e.members(id).ids().sort();
  const ids = e.contactIds().sort();
  out.contacts = ids;
  const keys = [
    "email",
    "external_id",
    "status",
    "email_status",
    "tags",
    "country",
    ...FIELDS.map((f) => f.key),
  ];
  out.values = ids
    .filter((_, k) => k % 13 === 0)
    .map((id) => keys.map((key) => e.contacts.valueOf(e.contacts.index(id)!, key)));
  out.explain = ids.slice(0, 20).map((id) => e.explain(id, "seg_050"));
  out.byEmail = e.contacts.byEmail("new@example.com");
  out.byExternal = [
    e.contacts.byExternalId("Ext-5"),
    e.contacts.byExternalId("ext-5"),
    e.contacts.byExternalId("X-1"),
  ];
  out.events = e.events.total;
  return out;
}

describe("engine snapshot", () => {
  it("restores an engine that answers as the saved one, now and after the same writes", async () => {
    const a = built();
    const path = save(a, "a.snap");
    const b = await restored(path);
    b.advanceTo(NOW);
    expect(answers(b)).toEqual(answers(a));

    const later = (e: Engine) => {
      const out: unknown[] = [];
      for (let k = 0; k < 500; k++) {
        out.push(
          e.addEvent({
            type: "order_placed",
            contact_id: e.contactIds()[k % 60]!,
            timestamp: NOW + k,
            properties: { amount: 90 + (k % 20), currency: "EUR" },
          }),
        );
      }
      // Explicitly subscribed after an unsubscribe event: a new effect event recomputes the
      // status from the write's time, which the snapshot must have kept.
      for (let k = 0; k < 50; k += 5) {
        out.push(e.addEvent({ type: "email_bounced", contact_id: e.contactIds()[k]!, timestamp: NOW + 5 }));
      }
      out.push(e.patchContact({ id: e.contactIds()[3]!, fields: { score: 99 } }));
      out.push(e.removeContact(e.contactIds()[4]!));
      out.push(e.advanceTo(NOW + 200 * DAY));
      // Changes of one call as a set: timers due at one instant may fire in another order.
      return out.map((changes) =>
        (changes as { at: number; segment_id: string; contact_id: string; change: string }[])
          .map((c) => `${c.at} ${c.segment_id} ${c.contact_id} ${c.change}`)
          .sort(),
      );
    };
    expect(later(b)).toEqual(later(a));
    expect(answers(b)).toEqual(answers(a));
  });

  it("takes memberships and timers from the file, computing what changed since, as a running engine has them", async () => {
    let now = NOW;
    const clock = { now: () => now };
    const a = built(clock);
    const ids = a.contactIds();
    // Overrides that end, on a dynamic segment and a static one.
    a.addMembers("plan_pro", ids.slice(30, 40), { expiresAt: NOW + 2 * DAY });
    a.defineSegment({ id: "picked", kind: "static" });
    a.addMembers("picked", ids.slice(0, 30), { expiresAt: NOW + 3 * DAY });
    a.advanceTo(NOW);
    const w = new SnapshotWriter();
    const state = a.saveState(w);
    const maintained = a.saveMaintained(w);
    expect(maintained).not.toBeNull();
    const path = join(dir, "maintained.snap");
    w.writeTo(path, { state, maintained });

    // What the store gets after the file, an hour later: events (one for a new contact),
    // contacts rewritten and erased, a rule edited, a segment defined, an override lifted.
    now = NOW + 3_600_000;
    const events: EventInput[] = [];
    for (let k = 0; k < 200; k++) {
      events.push({
        type: k % 3 === 0 ? "email_opened" : "order_placed",
        contact_id: ids[(k * 13) % 2_000]!,
        timestamp: NOW - (k % 40) * DAY + k,
        properties: { amount: k % 300, currency: "EUR" },
      });
    }
    events.push({
      type: "order_placed",
      contact_id: "arrived_later",
      timestamp: NOW + 1_000,
      properties: {},
    });
    const byId = new Map(builtContacts().map((c) => [c.id, c]));
    const rewritten = ids
      .slice(200, 220)
      .filter((id) => byId.has(id))
      .map((id) => ({ ...byId.get(id)!, fields: { ...byId.get(id)!.fields, plan: "pro", score: 77 } }));
    const erased = ids.slice(2_500, 2_505); // no event above is theirs
    const edited = { id: "plan_pro", rule: f("plan", "eq", "enterprise") };
    const defined = { id: "scored", rule: f("score", "gte", 90) };
    for (const e of events) a.addEvent(e);
    for (const c of rewritten) a.upsertContact(c);
    for (const id of erased) a.removeContact(id);
    a.defineSegment(edited);
    a.defineSegment(defined);
    a.liftOverrides("picked", ids.slice(0, 5));
    a.advanceTo(now);

    // The same, as a start-up loads it: the file, then the store's rows since, in bulk.
    const restart = async (maintainedToo: boolean) => {
      const r = await SnapshotReader.open(path);
      const header = r.header as {
        state: Parameters<Engine["restoreState"]>[1];
        maintained: typeof maintained;
      };
      const e = engine(FIELDS, clock);
      e.restoreState(r, header.state);
      e.forgetLoaded(erased);
      e.loadContacts(rewritten);
      e.loadEvents(events, { finish: false });
      e.finishLoad({ tight: false });
      e.loadSegments([
        ...Object.entries(RULES).map(([id, rule]) => (id === edited.id ? edited : { id, rule })),
        { id: "picked", kind: "static" as const },
        defined,
      ]);
      e.loadMembers(
        "plan_pro",
        ids.slice(30, 40).map((contact_id) => ({ contact_id, action: "added", expires_at: NOW + 2 * DAY })),
      );
      e.loadMembers(
        "picked",
        ids.slice(5, 30).map((contact_id) => ({ contact_id, action: "added", expires_at: NOW + 3 * DAY })),
      );
      const touched = [...erased, ...rewritten.map((c) => c.id), ...events.map((x) => x.contact_id)];
      const took = maintainedToo ? e.restoreMaintained(r, header.maintained!, touched) : null;
      e.advanceTo(now);
      return { e, took };
    };
    const b = await restart(true);
    const c = await restart(false);
    // plan_pro's rule changed, scored is new; the ranked segments follow their population;
    // and each of those carries the segments referring to it.
    expect(b.took).toBeGreaterThanOrEqual(2);
    expect(b.took).toBeLessThan(b.e.segmentIds().length / 2);
    // Against the same rows loaded with every membership computed (a start-up without the
    // file's maintained state), and in the segments no rewritten contact is in, the running engine.
    const fromC = answers(c.e);
    expect(answers(b.e)).toEqual(fromC);
    expect(fromC["segment scored"]).toEqual(answers(a)["segment scored"]);
    expect(fromC["segment picked"]).toEqual(answers(a)["segment picked"]);

    // Timers: the same changes at the same instants over the next 200 days, with writes.
    const later = (e: Engine) => {
      const out: string[][] = [];
      const sorted = (changes: { at: number; segment_id: string; contact_id: string; change: string }[]) =>
        changes.map((x) => `${x.at} ${x.segment_id} ${x.contact_id} ${x.change}`).sort();
      for (let day = 1; day <= 200; day += 7) {
        out.push(sorted(e.advanceTo(now + day * DAY)));
        out.push(
          sorted(
            e.addEvent({
              type: "order_placed",
              contact_id: ids[(day * 31) % 2_000]!,
              timestamp: now + day * DAY,
              properties: { amount: 120, currency: "EUR" },
            }),
          ),
        );
      }
      return out;
    };
    const fromFull = later(c.e);
    expect(fromFull.flat().length).toBeGreaterThan(100);
    expect(later(b.e)).toEqual(fromFull);
  });

  it("leaves a file's maintained state unused when it is ahead of the clock", async () => {
    let now = NOW;
    const clock = { now: () => now };
    const a = built(clock);
    now = NOW + DAY;
    a.advanceTo(now);
    const w = new SnapshotWriter();
    const state = a.saveState(w);
    const maintained = a.saveMaintained(w)!;
    const path = join(dir, "ahead.snap");
    w.writeTo(path, { state, maintained });
    now = NOW;
    const r = await SnapshotReader.open(path);
    const b = engine(FIELDS, clock);
    b.restoreState(r, state);
    b.loadSegments(Object.entries(RULES).map(([id, rule]) => ({ id, rule })));
    expect(b.restoreMaintained(r, maintained, [])).toBeNull();
    b.advanceTo(now);
    const fresh = engine(FIELDS, clock);
    fresh.restoreState(await SnapshotReader.open(path), state);
    for (const [id, rule] of Object.entries(RULES)) fresh.defineSegment({ id, rule });
    expect(answers(b)).toEqual(answers(fresh));
  });

  it("keeps lists of strings whole: empty, with empty strings, with a NUL", () => {
    for (const list of [[], [""], ["", ""], ["a", "", "b"], ["naïve", "日本", "x\u0000y", "z"], ["only"]]) {
      const packed = packStrings(list);
      expect(unpackStrings(JSON.parse(JSON.stringify(packed)))).toEqual(list);
    }
    expect(packStrings(["a", "b"])).toEqual({ n: 2, joined: "a\u0000b" });
    expect(() => unpackStrings({ n: 3, joined: "a\u0000b" })).toThrow(SnapshotUnusable);
  });

  it("refuses a snapshot written for other fields or another time zone", async () => {
    const path = save(built(), "fields.snap");
    await expect(restored(path, FIELDS.slice(0, 4))).rejects.toThrow(SnapshotUnusable);
    const r = await SnapshotReader.open(path);
    const other = new Engine({ clock: { now: () => NOW }, fields: FIELDS, timeZone: "Europe/Paris" });
    expect(() => other.restoreState(r, r.header as Parameters<Engine["restoreState"]>[1])).toThrow(
      /time zone/,
    );
  });

  it("refuses a corrupt, truncated or foreign file", async () => {
    const path = save(built(), "bad.snap");
    const bytes = readFileSync(path);
    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 10] ^= 0xff;
    writeFileSync(join(dir, "flipped.snap"), flipped);
    await expect(SnapshotReader.open(join(dir, "flipped.snap"))).rejects.toThrow(/checksum/);
    const head = Buffer.from(bytes);
    head[40] ^= 0xff;
    writeFileSync(join(dir, "head.snap"), head);
    await expect(SnapshotReader.open(join(dir, "head.snap"))).rejects.toThrow(SnapshotUnusable);
    writeFileSync(join(dir, "short.snap"), bytes);
    truncateSync(join(dir, "short.snap"), bytes.length - 100);
    await expect(SnapshotReader.open(join(dir, "short.snap"))).rejects.toThrow(/truncated/);
    // A byte of the first array, before an empty one: the body's checksum covers every array.
    const w = new SnapshotWriter();
    w.add(new Float64Array([1, 2, 3]));
    w.add(new Int32Array(0));
    w.add(new Uint32Array([7, 8]));
    const small = join(dir, "small.snap");
    w.writeTo(small, { what: "arrays around an empty one" });
    expect([...(await SnapshotReader.open(small)).array(2, Uint32Array)]).toEqual([7, 8]);
    const early = readFileSync(small);
    early[32 + early.readUInt32LE(12)] ^= 0xff;
    writeFileSync(join(dir, "early.snap"), early);
    await expect(SnapshotReader.open(join(dir, "early.snap"))).rejects.toThrow(/checksum/);
    writeFileSync(join(dir, "foreign.snap"), "hello, this is not a snapshot at all");
    await expect(SnapshotReader.open(join(dir, "foreign.snap"))).rejects.toThrow(/not a snapshot/);
    await expect(SnapshotReader.open(join(dir, "missing.snap"))).rejects.toThrow(SnapshotUnusable);
  });
});
