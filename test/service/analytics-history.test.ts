/**
 * Segment analytics before the segment existed (docs/analytics.md, "History before the
 * segment"): rules on events are recomputed at each past day's end with the events of
 * then only; rules on fields with no kept past leave those days unknown, and say why.
 * Also: revenue per currency, never one sum across currencies.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REBUILT_DAYS } from "../../src/engine/history-rebuild.ts";
import { type ContactInput, Engine, type EventInput } from "../../src/engine/index.ts";
import { segmentAnalytics } from "../../src/service/analytics.ts";
import { openStore, type Store } from "../../src/store/index.ts";

const TZ = "UTC";
/** Noon on 30 March 2026; the segments are created at 09:00 on 28 March. */
const NOW = Date.parse("2026-03-30T12:00:00.000Z");
const CREATED = Date.parse("2026-03-28T09:00:00.000Z");
const T = (iso: string) => Date.parse(iso);

let dir: string;
let store: Store;
let ws: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-analytics-history-"));
  store = await openStore({ sqlitePath: join(dir, "slice.db"), clock: { now: () => NOW } });
  ws = (await store.createWorkspace({ name: "history", time_zone: TZ })).id;
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const contacts: ContactInput[] = [
  { id: "a", country: "FR", created_at: "2026-01-01T00:00:00Z" },
  { id: "b", country: "FR", created_at: "2026-01-01T00:00:00Z" },
  { id: "c", country: "US", created_at: "2026-01-01T00:00:00Z" },
  // Created on 26 March: not a member of any day before.
  { id: "d", country: "US", created_at: "2026-03-26T10:00:00Z" },
];
const ev = (contact_id: string, type: string, at: string, properties?: EventInput["properties"]) => ({
  contact_id,
  type,
  timestamp: T(at),
  ...(properties ? { properties } : {}),
});
const events: EventInput[] = [
  ev("a", "email_opened", "2026-03-20T10:00:00Z"),
  ev("b", "email_opened", "2026-03-25T10:00:00Z"),
  // Before d existed: the event is kept, but d is no contact of that day.
  ev("d", "email_opened", "2026-03-25T11:00:00Z"),
  ev("d", "email_opened", "2026-03-27T10:00:00Z"),
  ev("c", "order_placed", "2026-03-26T10:00:00Z", { amount: 10, currency: "EUR" }),
  ev("a", "order_placed", "2026-03-29T10:00:00Z", { amount: 20.5, currency: "eur" }),
  ev("b", "order_placed", "2026-03-29T11:00:00Z", { amount: 7, currency: "USD" }),
  ev("b", "order_placed", "2026-03-29T12:00:00Z", { amount: 3 }),
];

function engine(): Engine {
  const eng = new Engine({ timeZone: TZ, clock: { now: () => NOW } });
  for (const c of contacts) eng.upsertContact(c, { receivedAt: 0 });
  eng.addEvents(events);
  eng.defineSegment({
    id: "opened_3d",
    rule: { type: "event", event: "email_opened", window: { in_last: "3d" } },
  });
  // No window: "ever ordered" must not count the orders made after each past day.
  eng.defineSegment({ id: "buyers", rule: { type: "event", event: "order_placed" } });
  eng.defineSegment({
    id: "buyers_not_openers",
    rule: {
      type: "and",
      conditions: [
        { type: "segment", op: "in", segment: "buyers" },
        { type: "not", condition: { type: "segment", op: "in", segment: "opened_3d" } },
      ],
    },
  });
  eng.defineSegment({ id: "french", rule: { type: "field", field: "country", op: "eq", value: "fr" } });
  eng.defineSegment({ id: "hand_picked", kind: "static" });
  return eng;
}

describe("size history before the segment existed", () => {
  const eng = engine();
  const run = (segmentId: string, days = 7) =>
    segmentAnalytics({ store, ws, engine: eng, segmentId, timeZone: TZ, now: NOW, days, createdAt: CREATED });

  it("recomputes an event rule at each past day's end, with the events known then", async () => {
    const r = await run("opened_3d");
    expect(r.history).toEqual({
      logged_since: "2026-03-28",
      before: "rule",
      starts_on: "2026-03-24",
      reason: null,
    });
    // Day ends of 24–27 March; the log (empty here) covers 28 March on.
    expect(r.daily.slice(0, 4)).toEqual([
      { date: "2026-03-24", size: 0, entered: 0, exited: 0 }, // a's open of the 20th is 4 days old
      { date: "2026-03-25", size: 1, entered: 1, exited: 0 }, // b: d opened, but did not exist yet
      { date: "2026-03-26", size: 2, entered: 1, exited: 0 }, // b, and d from its creation on
      { date: "2026-03-27", size: 2, entered: 0, exited: 0 },
    ]);
    expect(r.daily[4].date).toBe("2026-03-28");
  });

  it("cuts a rule without a window at each day's end", async () => {
    const r = await run("buyers", 6);
    expect(r.history.before).toBe("rule");
    expect(r.daily.slice(0, 3).map((d) => d.size)).toEqual([0, 1, 1]); // 25, 26, 27 March: c only
  });

  it("follows references to other segments at the same instant", async () => {
    const r = await run("buyers_not_openers", 6);
    expect(r.history.before).toBe("rule");
    // 25: no buyer; 26: c bought, c opened nothing; 27: c still.
    expect(r.daily.slice(0, 3).map((d) => d.size)).toEqual([0, 1, 1]);
  });

  it("leaves the days unknown when the rule reads a field whose past is not kept", async () => {
    const r = await run("french");
    expect(r.history).toEqual({
      logged_since: "2026-03-28",
      before: "unknown",
      starts_on: "2026-03-28",
      reason: 'the rule reads the field "country", whose past values are not kept',
    });
    expect(r.daily.slice(0, 4).every((d) => d.size === null && d.entered === null && d.exited === null)).toBe(
      true,
    );
    expect(r.daily[4].size).toBe(0);
    const s = await run("hand_picked");
    expect(s.history).toMatchObject({
      before: "unknown",
      reason: "a static segment's past members are not kept",
    });
  });

  it("changes nothing when the range starts on or after the creation day", async () => {
    const r = await run("french", 3);
    expect(r.history).toEqual({
      logged_since: "2026-03-28",
      before: "none",
      starts_on: "2026-03-28",
      reason: null,
    });
    expect(r.daily.every((d) => d.size !== null)).toBe(true);
  });

  it(`recomputes at most ${MAX_REBUILT_DAYS} days, and says so`, async () => {
    const r = await run("opened_3d", MAX_REBUILT_DAYS + 10);
    const unknown = r.daily.filter((d) => d.size === null);
    expect(unknown).toHaveLength(7); // 100 days, of which 3 logged and 90 recomputed
    expect(r.history.before).toBe("rule");
    expect(r.history.starts_on).toBe(r.daily[7].date);
    expect(r.history.reason).toMatch(/only the last 90 days/);
  });
});

describe("revenue per currency", () => {
  it("sums each currency apart, largest first, and orders without one on their own", async () => {
    const eng = engine();
    eng.defineSegment({ id: "everyone", rule: { type: "field", field: "created_at", op: "is_set" } });
    const r = await segmentAnalytics({
      store,
      ws,
      engine: eng,
      segmentId: "everyone",
      timeZone: TZ,
      now: NOW,
      days: 1,
    });
    expect(r.engagement.orders).toBe(4);
    expect(r.engagement.revenue_by_currency).toEqual([
      { currency: "EUR", amount: 30.5, orders: 2 },
      { currency: "USD", amount: 7, orders: 1 },
      { currency: null, amount: 3, orders: 1 },
    ]);
  });
});
