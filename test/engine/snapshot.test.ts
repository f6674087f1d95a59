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
import { Engine, type EventInput } from "../../src/engine/index.ts";
import { SnapshotReader, SnapshotUnusable, SnapshotWriter } from "../../src/engine/snapshot-io.ts";

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

function engine(fields = FIELDS): Engine {
  return new Engine({ clock: { now: () => NOW }, fields });
}

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A loaded engine with every kind of value, then live writes that leave holes, relocations, erasures. */
function built(): Engine {
  const e = engine();
  const r = rnd(3);
  const contacts = [...generateContacts(spec)].map((c, k) => ({
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
    writeFileSync(join(dir, "foreign.snap"), "hello, this is not a snapshot at all");
    await expect(SnapshotReader.open(join(dir, "foreign.snap"))).rejects.toThrow(/not a snapshot/);
    await expect(SnapshotReader.open(join(dir, "missing.snap"))).rejects.toThrow(SnapshotUnusable);
  });
});
