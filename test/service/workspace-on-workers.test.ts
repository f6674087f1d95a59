/**
 * A workspace served with its engine on worker threads (4 partitions on 2 workers)
 * answers as one served on one thread: the same sequence of use cases (fields and a
 * computed field, contacts written, patched, tagged, merged and erased, events by id
 * and by email, dynamic segments reading each other, a static segment, overrides with
 * an expiry, and days passing) gives every segment the same members and the change log
 * the same changes, contact by contact; reads (contacts with their segments and
 * computed values, a preview, explain, analytics) answer alike. Each runs on a store of
 * its own with one test clock; ids differ between the two (they are made at creation),
 * so contacts compare by email and segments by name. A workspace with a rank segment
 * is served on one thread.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkspaceService } from "../../src/service/workspace.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import type { ChangeRecord } from "../../src/store/types.ts";

const DAY = 86_400_000;
const TZ = "Europe/Paris";
let t = Date.parse("2026-06-01T08:00:00Z");
const clock = { now: () => t };

interface Side {
  name: string;
  dir: string;
  store: Store;
  svc: WorkspaceService;
  /** email → contact id, segment name → id */
  contacts: Map<string, string>;
  /** Every contact id seen → its email (erased and merged ones too, for the log). */
  emailOf: Map<string, string>;
  segments: Map<string, string>;
}

const sides: Side[] = [];
/** Per side, the events refused (by their index in their batch). */
const refused = new Map<string, number[]>();

async function side(name: string, workers?: { count: number; partitions: number }): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), `slice-on-workers-${name}-`));
  const store = await openStore({ sqlitePath: join(dir, "slice.db"), clock });
  const info = await store.createWorkspace({ name, time_zone: TZ });
  const svc = await WorkspaceService.open(store, info, { clock, ...(workers ? { workers } : {}) });
  return { name, dir, store, svc, contacts: new Map(), emailOf: new Map(), segments: new Map() };
}

beforeAll(async () => {
  sides.push(await side("one"), await side("workers", { count: 2, partitions: 4 }));
  expect(sides[0]!.svc.live.onWorkers).toBe(false);
  expect(sides[1]!.svc.live.onWorkers).toBe(true);
}, 60_000);

afterAll(async () => {
  for (const s of sides) {
    await s.svc.live.flush().catch(() => undefined);
    await s.svc.live.close();
    await s.store.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

/** The same step on both sides, in turn. */
async function both(step: (s: Side) => Promise<void>): Promise<void> {
  for (const s of sides) await step(s);
}

const emails = Array.from({ length: 80 }, (_, k) => `p${k}@example.com`);

async function logOf(s: Side): Promise<Map<string, string[]>> {
  await s.svc.live.flush();
  const emailOf = s.emailOf;
  const nameOf = new Map([...s.segments].map(([n, id]) => [id, n]));
  const out = new Map<string, string[]>();
  let cursor: string | null = null;
  do {
    const page: { data: ChangeRecord[]; next_cursor: string | null } = await s.store
      .workspace(s.svc.id)
      .changes.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const c of page.data) {
      const who = emailOf.get(c.contact_id) ?? c.contact_id;
      const list = out.get(who) ?? [];
      list.push(`${nameOf.get(c.segment_id) ?? c.segment_id} ${c.change} ${c.at}`);
      out.set(who, list);
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
  for (const l of out.values()) l.sort();
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function membersOf(s: Side): Promise<Record<string, string[]>> {
  const emailOf = s.emailOf;
  const out: Record<string, string[]> = {};
  for (const seg of await s.svc.listSegments()) {
    const m = await s.svc.engine.members(seg.id);
    out[seg.default ? seg.id : seg.name] = m
      .ids()
      .map((id) => emailOf.get(id) ?? id)
      .sort();
  }
  return out;
}

/** Contacts made since (an event naming an email no contact has makes one) by email. */
async function refresh(s: Side): Promise<void> {
  for (const c of (await s.svc.listContacts({ limit: 1000 })).data) {
    if (!c.email) continue;
    s.contacts.set(c.email, c.id);
    s.emailOf.set(c.id, c.email);
  }
}

async function same(): Promise<void> {
  const [a, b] = sides;
  await refresh(a!);
  await refresh(b!);
  expect(await membersOf(b!)).toEqual(await membersOf(a!));
  expect(await logOf(b!)).toEqual(await logOf(a!));
}

describe("a workspace on engine workers", () => {
  it("makes the changes one thread makes, through every kind of write and days passing", async () => {
    await both(async (s) => {
      await s.svc.createField({ key: "plan", type: "string" });
      await s.svc.createField({
        key: "orders_14d",
        type: "number",
        computed: { event: "order_placed", window: { in_last: "14d" }, measure: { fn: "count" } },
      });
      const written = await s.svc.upsertContactsWithIds(
        emails.map((email, k) => ({
          email,
          country: ["FR", "DE", "US"][k % 3],
          status: k % 7 === 0 ? "unsubscribed" : "subscribed",
          fields: { plan: k % 4 === 0 ? "pro" : "free" },
          tags: k % 5 === 0 ? ["vip"] : [],
        })),
      );
      expect(written.result.errors).toEqual([]);
      written.ids.forEach((id, k) => s.contacts.set(emails[k]!, id));
      for (const [name, rule_text] of [
        ["french", 'country = "FR"'],
        ["buyers", "count(order_placed, last 7d) >= 1"],
        ["openers", "did(email_opened, last 3d)"],
        ["pro buyers", 'plan = "pro" and orders_14d >= 2'],
        ["lapsed", 'status = "subscribed" and not did(email_opened, last 2d)'],
      ] as const) {
        s.segments.set(name, (await s.svc.createSegment({ name, rule_text })).id);
      }
      s.segments.set(
        "french buyers",
        (
          await s.svc.createSegment({
            name: "french buyers",
            rule: {
              type: "and",
              conditions: [
                { type: "segment", segment: s.segments.get("french")!, op: "in" },
                { type: "segment", segment: s.segments.get("buyers")!, op: "in" },
              ],
            },
          })
        ).id,
      );
      s.segments.set("vip list", (await s.svc.createSegment({ name: "vip list", kind: "static" })).id);
    });
    await same();

    for (let day = 0; day < 6; day++) {
      await both(async (s) => {
        const events = emails.flatMap((email, k) =>
          (k + day) % 3 === 0
            ? [
                {
                  type: (k + day) % 2 === 0 ? "order_placed" : "email_opened",
                  contact: k % 2 === 0 ? { email } : { id: s.contacts.get(email)! },
                  timestamp: new Date(t - (k % 5) * 3_600_000).toISOString(),
                  properties: { amount: 10 + k, currency: "eur" },
                },
              ]
            : [],
        );
        const r = await s.svc.ingest(events);
        // Events by id for a contact erased or merged away are refused, alike on both sides.
        refused.set(s.name, [...(refused.get(s.name) ?? []), ...r.errors.map((e) => e.index)]);
        const id = (k: number) => s.contacts.get(emails[k]!)!;
        await s.svc.patchContact(id(day + 1), { country: day % 2 === 0 ? "FR" : "US" });
        await s.svc.changeTags(id(day + 10), ["vip"], []);
        await s.svc.addMembers(s.segments.get("vip list")!, { contacts: [{ email: emails[day + 20]! }] });
        await s.svc.addMembers(s.segments.get("french")!, {
          contacts: [{ id: id(day + 30) }],
          expires_at: new Date(t + 2 * DAY).toISOString(),
        });
        if (day === 2) {
          await s.svc.removeMembers(s.segments.get("buyers")!, {
            contacts: [{ id: id(41) }, { id: id(42) }],
          });
          await s.svc.deleteContact(id(50));
        }
        if (day === 3) {
          const merged = await s.svc.mergeContacts(id(61), id(60));
          expect(merged.contact.id).toBe(id(60));
          await s.svc.liftOverrides(s.segments.get("buyers")!, { contacts: [{ id: id(42) }] });
          const replaced = await s.svc.replaceSegment(s.segments.get("openers")!, {
            name: "openers",
            rule_text: "did(email_opened, last 4d)",
          });
          expect(replaced.version).toBe(2);
        }
        if (day === 4) {
          const fresh = await s.svc.upsertContact({ email: "late@example.com", country: "FR" });
          s.contacts.set("late@example.com", fresh.contact.id);
        }
      });
      t += DAY - 3_600_000;
      await both(async (s) => {
        await s.svc.tick();
      });
      await same();
    }
    expect(refused.get("workers")).toEqual(refused.get("one"));
    expect(refused.get("one")!.length).toBeGreaterThan(0);
    // Merged away and erased: their changes are logged, their ids gone.
    const log = await logOf(sides[1]!);
    expect(log.get(emails[50]!)?.some((c) => c.includes("exited"))).toBe(true);
    expect([...log.values()].flat().length).toBeGreaterThan(100);
  }, 120_000);

  it("answers reads as one thread does", async () => {
    const [a, b] = sides as [Side, Side];
    const page = async (s: Side) => {
      const p = await s.svc.listContacts({ limit: 200 });
      return p.data
        .map((c) => ({
          ...c,
          id: undefined,
          created_at: undefined,
          updated_at: undefined,
          subscribed_at: undefined,
        }))
        .sort((x, y) => (String(x.email) < String(y.email) ? -1 : 1));
    };
    expect(await page(b)).toEqual(await page(a));
    const one = async (s: Side, email: string) => {
      const c: { computed?: unknown; segments?: string[] } = await s.svc.getContact(s.contacts.get(email)!);
      const nameOf = new Map([...s.segments].map(([n, id]) => [id, n]));
      return { computed: c.computed, segments: (c.segments ?? []).map((id) => nameOf.get(id) ?? id).sort() };
    };
    for (const email of emails.slice(0, 12)) expect(await one(b, email), email).toEqual(await one(a, email));
    const preview = async (s: Side) => {
      const p = await s.svc.preview({ rule_text: 'country = "FR" and orders_14d >= 1' });
      return p.count;
    };
    expect(await preview(b)).toBe(await preview(a));
    const explain = async (s: Side, email: string) =>
      s.svc.explain(s.contacts.get(email)!, s.segments.get("pro buyers")!);
    for (const email of emails.slice(0, 8))
      expect(await explain(b, email), email).toEqual(await explain(a, email));
    const analytics = async (s: Side) => {
      const r = await s.svc.analytics(s.segments.get("buyers")!, { days: 7, breakdown: "country" });
      return { ...r, history: { ...r.history } };
    };
    expect(await analytics(b)).toEqual(await analytics(a));
  }, 60_000);

  it("moves to one thread when a rank segment is defined, answering as before", async () => {
    await both(async (s) => {
      // An event batch on its way while the workspace moves: applied where it is when its turn comes.
      const [top, ingested] = await Promise.all([
        s.svc.createSegment({ name: "top", rule_text: "top 20% by sum(order_placed.amount)" }),
        s.svc.ingest(
          emails.slice(0, 30).map((email, k) => ({
            type: "order_placed",
            contact: { email },
            timestamp: new Date(t - k * 60_000).toISOString(),
            properties: { amount: 5 + k },
          })),
        ),
      ]);
      expect(ingested.errors.length).toBeLessThanOrEqual(1);
      s.segments.set("top", top.id);
    });
    expect(sides[1]!.svc.live.onWorkers).toBe(false);
    await same();
    expect((await membersOf(sides[0]!)).top!.length).toBeGreaterThan(0);
    t += DAY;
    await both(async (s) => {
      await s.svc.ingest([
        { type: "order_placed", contact: { email: emails[3]! }, timestamp: new Date(t).toISOString() },
      ]);
      await s.svc.tick();
    });
    await same();
  }, 60_000);

  it("serves a workspace with a rank segment on one thread", async () => {
    const s = await side("ranked");
    sides.push(s);
    await s.svc.createSegment({ name: "top", rule_text: "top 10% by count(order_placed)" });
    await s.svc.live.flush();
    const info = (await s.store.listWorkspaces()).find((w) => w.id === s.svc.id)!;
    const again = await WorkspaceService.open(s.store, info, {
      clock,
      workers: { count: 2, partitions: 4 },
    });
    expect(again.live.onWorkers).toBe(false);
    await again.live.flush();
  }, 60_000);
});
