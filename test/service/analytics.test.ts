/**
 * Segment analytics (SPEC §4 `GET /v1/segments/{id}/analytics`, docs/analytics.md)
 * on a real SQLite store and an engine with a fixed clock, in Europe/Paris so that
 * calendar days differ from UTC days and one of them is 23 hours long.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ContactInput, Engine, type EventInput } from "../../src/engine/index.ts";
import { AnalyticsError, segmentAnalytics } from "../../src/service/analytics.ts";
import { type ChangeInput, openStore, type Store } from "../../src/store/index.ts";

const TZ = "Europe/Paris";
/** Monday 30 March 2026, 12:00 in Paris (CEST, UTC+2); 29 March is the 23-hour day. */
const NOW = Date.parse("2026-03-30T10:00:00.000Z");
const T = (iso: string) => Date.parse(iso);

let dir: string;
let store: Store;
let ws: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-analytics-"));
  store = await openStore({ sqlitePath: join(dir, "slice.db"), clock: { now: () => NOW } });
  ws = (await store.createWorkspace({ name: "analytics", time_zone: TZ })).id;
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function engine(contacts: ContactInput[], events: EventInput[] = [], now = NOW): Engine {
  const eng = new Engine({
    timeZone: TZ,
    clock: { now: () => now },
    fields: [
      { key: "vip", type: "boolean" },
      { key: "score", type: "number" },
    ],
  });
  for (const c of contacts) eng.upsertContact(c, { receivedAt: 0 });
  eng.addEvents(events);
  return eng;
}

function change(segment_id: string, contact_id: string, kind: "entered" | "exited", at: string): ChangeInput {
  return { segment_id, contact_id, change: kind, at: T(at) };
}

describe("daily history from the change log", () => {
  const seg = "seg_daily";
  const eng = engine([{ id: "a" }], []);
  eng.defineSegment({ id: seg, rule: { type: "field", field: "created_at", op: "is_not_set" } });

  beforeAll(async () => {
    await store.workspace(ws).changes.append([
      // Before the first day (26 March in Paris): in at the start.
      change(seg, "a", "entered", "2026-03-26T22:30:00.000Z"), // 23:30 on the 26th
      change(seg, "f", "entered", "2026-03-26T22:59:59.999Z"), // the 26th's last millisecond
      // 27 March: 00:00 Paris is 23:00Z on the 26th.
      change(seg, "f", "exited", "2026-03-26T23:00:00.000Z"),
      change(seg, "b", "entered", "2026-03-26T23:30:00.000Z"), // 00:30 on the 27th (still the 26th in UTC)
      // 28 March, at its first millisecond.
      change(seg, "c", "entered", "2026-03-27T23:00:00.000Z"),
      // 29 March (23 hours: 23:00Z on the 28th to 22:00Z on the 29th).
      change(seg, "d", "entered", "2026-03-29T12:00:00.000Z"),
      change(seg, "c", "exited", "2026-03-29T21:59:59.999Z"), // 23:59:59.999 CEST
      // 30 March (today).
      change(seg, "a", "exited", "2026-03-29T22:30:00.000Z"), // 00:30 on the 30th (the 29th in UTC)
      change(seg, "e", "entered", "2026-03-30T11:00:00.000Z"), // after now: not counted
      // Another segment's changes are not this one's.
      change("seg_other", "a", "entered", "2026-03-28T10:00:00.000Z"),
      change("seg_other", "z", "exited", "2026-03-29T10:00:00.000Z"),
    ]);
  });

  it("counts entries and exits per Paris day and the size at each day's end", async () => {
    const r = await segmentAnalytics({
      store,
      ws,
      engine: eng,
      segmentId: seg,
      timeZone: TZ,
      now: NOW,
      days: 4,
    });
    expect(r.daily).toEqual([
      { date: "2026-03-27", size: 2, entered: 1, exited: 1 },
      { date: "2026-03-28", size: 3, entered: 1, exited: 0 },
      { date: "2026-03-29", size: 3, entered: 1, exited: 1 },
      { date: "2026-03-30", size: 2, entered: 0, exited: 1 },
    ]);
    // Each day's size is what the log says at its end.
    for (const [date, end] of [
      ["2026-03-27", "2026-03-27T22:59:59.999Z"],
      ["2026-03-28", "2026-03-28T22:59:59.999Z"],
      ["2026-03-29", "2026-03-29T21:59:59.999Z"],
      ["2026-03-30", "2026-03-30T10:00:00.000Z"],
    ] as const) {
      const point = r.daily.find((p) => p.date === date)!;
      expect(point.size).toBe(await store.workspace(ws).changes.countMembersAt(seg, T(end)));
    }
  });

  it("defaults to 30 days ending today, clamps at 365, and refuses less than 1", async () => {
    const base = { store, ws, engine: eng, segmentId: seg, timeZone: TZ, now: NOW };
    const d30 = await segmentAnalytics(base);
    expect(d30.daily).toHaveLength(30);
    expect(d30.daily[0].date).toBe("2026-03-01");
    expect(d30.daily[29]).toEqual({ date: "2026-03-30", size: 2, entered: 0, exited: 1 });
    expect(d30.daily.slice(0, 25).every((p) => p.size === 0 && p.entered === 0)).toBe(true);
    expect(d30.daily[25]).toEqual({ date: "2026-03-26", size: 2, entered: 2, exited: 0 });
    const long = await segmentAnalytics({ ...base, days: 5000 });
    expect(long.daily).toHaveLength(365);
    expect(long.daily[364].date).toBe("2026-03-30");
    for (const days of [0, -1, 1.5]) {
      await expect(segmentAnalytics({ ...base, days })).rejects.toMatchObject({
        code: "invalid",
        path: "days",
      });
    }
  });

  it("reads the log in pages", async () => {
    const big = "seg_big";
    const rows: ChangeInput[] = [];
    for (let k = 0; k < 9000; k++) {
      rows.push(change(big, `c${k}`, "entered", "2026-03-28T08:00:00.000Z"));
      if (k % 3 === 0) rows.push(change(big, `c${k}`, "exited", "2026-03-29T08:00:00.000Z"));
    }
    await store.workspace(ws).changes.append(rows); // 12,000 rows: more than one page of 10,000
    const e2 = engine([{ id: "x" }]);
    e2.defineSegment({ id: big, rule: { type: "field", field: "created_at", op: "is_set" } });
    const r = await segmentAnalytics({
      store,
      ws,
      engine: e2,
      segmentId: big,
      timeZone: TZ,
      now: NOW,
      days: 3,
    });
    expect(r.daily).toEqual([
      { date: "2026-03-28", size: 9000, entered: 9000, exited: 0 },
      { date: "2026-03-29", size: 6000, entered: 0, exited: 3000 },
      { date: "2026-03-30", size: 6000, entered: 0, exited: 0 },
    ]);
  });
});

describe("size, breakdown, engagement and overlap from the engine", () => {
  const contacts: ContactInput[] = [
    {
      id: "m1",
      status: "subscribed",
      country: "FR",
      tags: ["vip", "b2b"],
      created_at: "2026-02-28T23:30:00Z",
      fields: { vip: true, score: 3 },
    },
    {
      id: "m2",
      status: "subscribed",
      country: " fr ",
      tags: ["vip"],
      created_at: "2026-03-05",
      fields: { vip: false },
    },
    { id: "m3", status: "subscribed", country: "FR", created_at: "2026-03-06", fields: { score: 3 } },
    { id: "m4", status: "subscribed", country: "US", tags: ["b2b"], fields: { score: 1.5 } },
    { id: "m5", status: "subscribed", country: "US", tags: ["press"] },
    { id: "m6", status: "subscribed", country: "DE" },
    { id: "m7", status: "subscribed", country: "GB" },
    { id: "m8", status: "subscribed" },
    { id: "n1", status: "unsubscribed", country: "FR", tags: ["vip"] },
    { id: "n2", status: "non_subscribed", country: "DE" },
  ];
  // The 30-day window in Paris: 30 calendar days before 12:00 CEST on 30 March is 12:00 CET
  // on 28 February, i.e. 11:00Z (30 × 24 h would be 10:00Z).
  const WINDOW_START = "2026-02-28T11:00:00.000Z";
  const ev = (contact_id: string, type: string, at: string, properties?: EventInput["properties"]) => ({
    contact_id,
    type,
    timestamp: T(at),
    ...(properties ? { properties } : {}),
  });
  const events: EventInput[] = [
    ev("m1", "email_opened", "2026-03-29T08:00:00Z"),
    ev("m1", "email_opened", "2026-03-20T08:00:00Z"),
    ev("m1", "email_opened", WINDOW_START), // exactly 30 days ago: out
    ev("m1", "email_clicked", "2026-03-20T08:01:00Z"),
    ev("m2", "email_opened", "2026-02-28T11:00:00.001Z"), // just inside
    ev("m2", "email_opened", "2026-02-28T10:30:00Z"), // inside 30 × 24 h, outside 30 calendar days
    ev("m3", "order_placed", "2026-03-10T10:00:00Z", { amount: 100.1 }),
    ev("m3", "order_placed", "2026-03-11T10:00:00Z", { amount: 0.2 }),
    ev("m3", "order_placed", "2026-03-12T10:00:00Z", { amount: "50" }), // not a number: no revenue
    ev("m4", "order_placed", "2026-03-30T10:00:00Z"), // at now, no amount
    ev("m4", "order_placed", "2026-03-30T10:00:00.001Z", { amount: 1000 }), // after now: out
    ev("m5", "order_placed", "2025-12-01T10:00:00Z", { amount: 70 }), // too old
    ev("m6", "email_sent", "2026-03-29T08:00:00Z"),
    ev("n1", "email_opened", "2026-03-29T08:00:00Z"), // not a member
    ev("n1", "order_placed", "2026-03-29T08:00:00Z", { amount: 999 }),
  ];
  const eng = engine(contacts, events);
  eng.defineSegment({
    id: "seg_sub",
    rule: { type: "field", field: "status", op: "eq", value: "subscribed" },
  });
  eng.defineSegment({
    id: "seg_eu",
    rule: { type: "field", field: "country", op: "in", value: ["fr", "de"] },
  });
  eng.defineSegment({ id: "seg_empty", rule: { type: "field", field: "country", op: "eq", value: "jp" } });
  const base = { store: null as unknown as Store, ws: "", engine: eng, timeZone: TZ, now: NOW };

  beforeAll(() => {
    base.store = store;
    base.ws = ws;
  });

  it("size and share of all contacts", async () => {
    const r = await segmentAnalytics({ ...base, segmentId: "seg_sub", days: 1 });
    expect(r.size).toBe(8);
    expect(r.total_contacts).toBe(10);
    expect(r.share).toBeCloseTo(0.8);
    expect(r.breakdown).toBeUndefined();
    expect(r.overlap).toBeUndefined();
    const empty = await segmentAnalytics({ ...base, segmentId: "seg_empty", days: 1 });
    expect([empty.size, empty.share]).toEqual([0, 0]);
  });

  it("breaks down by a string field: top N, then (other), then no value", async () => {
    const r = await segmentAnalytics({ ...base, segmentId: "seg_sub", breakdownField: "country", top: 2 });
    expect(r.breakdown).toEqual({
      field: "country",
      values: [
        { value: "fr", label: "fr", count: 3 },
        { value: "us", label: "us", count: 2 },
        { value: "(other)", label: "(other)", count: 2 },
        { value: null, label: null, count: 1 },
      ],
    });
    const all = await segmentAnalytics({ ...base, segmentId: "seg_sub", breakdownField: "country" });
    expect(all.breakdown!.values).toEqual([
      { value: "fr", label: "fr", count: 3 },
      { value: "us", label: "us", count: 2 },
      { value: "de", label: "de", count: 1 },
      { value: "gb", label: "gb", count: 1 },
      { value: null, label: null, count: 1 },
    ]);
  });

  it("breaks down lists by element, and booleans, numbers and dates (by month in the zone)", async () => {
    const by = async (field: string) =>
      (await segmentAnalytics({ ...base, segmentId: "seg_sub", breakdownField: field })).breakdown!.values;
    expect(await by("tags")).toEqual([
      { value: "b2b", label: "b2b", count: 2 },
      { value: "vip", label: "vip", count: 2 },
      { value: "press", label: "press", count: 1 },
      { value: null, label: null, count: 4 },
    ]);
    expect(await by("vip")).toEqual([
      { value: "false", label: "false", count: 1 },
      { value: "true", label: "true", count: 1 },
      { value: null, label: null, count: 6 },
    ]);
    expect(await by("score")).toEqual([
      { value: "3", label: "3", count: 2 },
      { value: "1.5", label: "1.5", count: 1 },
      { value: null, label: null, count: 5 },
    ]);
    // 23:30Z on 28 February is 00:30 on 1 March in Paris.
    expect(await by("created_at")).toEqual([
      { value: "2026-03", label: "2026-03", count: 3 },
      { value: null, label: null, count: 5 },
    ]);
  });

  it("sums the members' engagement over the last 30 calendar days", async () => {
    const r = await segmentAnalytics({ ...base, segmentId: "seg_sub" });
    expect(r.engagement).toEqual({
      window_days: 30,
      opens: 3,
      clicks: 1,
      orders: 4,
      revenue_by_currency: [{ currency: null, amount: 100.3, orders: 2 }],
      contacts_opened: 2,
      contacts_clicked: 1,
      contacts_ordered: 2,
    });
    const none = await segmentAnalytics({ ...base, segmentId: "seg_empty" });
    expect(none.engagement).toEqual({
      window_days: 30,
      opens: 0,
      clicks: 0,
      orders: 0,
      revenue_by_currency: [],
      contacts_opened: 0,
      contacts_clicked: 0,
      contacts_ordered: 0,
    });
  });

  it("overlaps with another segment", async () => {
    const r = await segmentAnalytics({ ...base, segmentId: "seg_sub", overlapWith: "seg_eu" });
    // seg_eu: m1, m2, m3, m6, n1, n2; in both: m1, m2, m3, m6.
    expect(r.overlap).toEqual({
      segment_id: "seg_eu",
      size: 6,
      both: 4,
      share_of_this: 0.5,
      share_of_other: 4 / 6,
    });
    const rev = await segmentAnalytics({ ...base, segmentId: "seg_eu", overlapWith: "seg_sub" });
    expect(rev.overlap).toMatchObject({ size: 8, both: 4, share_of_this: 4 / 6, share_of_other: 0.5 });
    const e = await segmentAnalytics({ ...base, segmentId: "seg_sub", overlapWith: "seg_empty" });
    expect(e.overlap).toEqual({
      segment_id: "seg_empty",
      size: 0,
      both: 0,
      share_of_this: 0,
      share_of_other: 0,
    });
  });

  it("evaluates at `now` when it is not the engine's instant", async () => {
    eng.defineSegment({
      id: "seg_opened_2d",
      rule: { type: "event", event: "email_opened", window: { in_last: "2d" } },
    });
    const atNow = await segmentAnalytics({ ...base, segmentId: "seg_opened_2d", days: 1 });
    expect(atNow.size).toBe(2); // m1, n1
    const earlier = T("2026-03-20T12:00:00Z");
    const then = await segmentAnalytics({ ...base, now: earlier, segmentId: "seg_opened_2d", days: 1 });
    expect(then.size).toBe(1); // m1's open of 20 March
    expect(then.daily[0].date).toBe("2026-03-20");
  });

  it("refuses unknown segments and fields", async () => {
    await expect(segmentAnalytics({ ...base, segmentId: "seg_nope" })).rejects.toMatchObject({
      code: "not_found",
      path: "segmentId",
    });
    await expect(
      segmentAnalytics({ ...base, segmentId: "seg_sub", overlapWith: "seg_nope" }),
    ).rejects.toBeInstanceOf(AnalyticsError);
    await expect(
      segmentAnalytics({ ...base, segmentId: "seg_sub", breakdownField: "nope" }),
    ).rejects.toMatchObject({
      code: "invalid",
      path: "breakdownField",
    });
    await expect(segmentAnalytics({ ...base, segmentId: "seg_sub", top: 0 })).rejects.toMatchObject({
      path: "top",
    });
  });
});
