/**
 * `GET /v1/segments/{id}/analytics` over HTTP (answers checked against their schema):
 * breakdown labels as the profiles spell them, revenue per currency, and the days before
 * the segment was created recomputed from an event rule or marked unknown.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
const DAY = 86_400_000;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  // Contacts count on past days from their creation on: these are a month old.
  const created_at = new Date(Date.now() - 30 * DAY).toISOString();
  const contacts = [
    { email: "a@example.com", city: "Saint-Étienne" },
    { email: "b@example.com", city: " Saint-Étienne " },
    { email: "c@example.com", city: "SAINT-ÉTIENNE" },
    { email: "d@example.com", city: "lyon" },
  ].map((c) => ({ ...c, created_at }));
  const c = await s.call("POST", "/v1/contacts/batch", contacts);
  expect(c.body.errors).toEqual([]);
  const now = Date.now();
  const order = (email: string, daysAgo: number, amount: number, currency?: string) => ({
    type: "order_placed",
    contact: { email },
    timestamp: new Date(now - daysAgo * DAY).toISOString(),
    properties: { amount, ...(currency ? { currency } : {}) },
  });
  const e = await s.call("POST", "/v1/events", [
    order("a@example.com", 3, 100, "EUR"),
    order("b@example.com", 2, 50, "USD"),
    order("c@example.com", 1, 25, "EUR"),
  ]);
  expect(e.body.errors).toEqual([]);
});

afterAll(async () => {
  await s?.stop();
});

async function segment(name: string, rule: unknown): Promise<string> {
  const r = await s.call("POST", "/v1/segments", { name, kind: "dynamic", rule });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

describe("segment analytics", () => {
  it("labels breakdown values as the members' profiles spell them", async () => {
    const id = await segment("everyone", { type: "field", field: "email", op: "is_set" });
    const r = await s.call("GET", `/v1/segments/${id}/analytics?breakdown=city&days=1`);
    expect(r.status).toBe(200);
    expect(r.body.breakdown.values).toEqual([
      { value: "saint-étienne", label: "Saint-Étienne", count: 3 },
      { value: "lyon", label: "lyon", count: 1 },
    ]);
  });

  it("gives revenue per currency, never one sum across them", async () => {
    const id = await segment("buyers", { type: "event", event: "order_placed" });
    const r = await s.call("GET", `/v1/segments/${id}/analytics?days=1`);
    expect(r.body.engagement.revenue_by_currency).toEqual([
      { currency: "EUR", amount: 125, orders: 2 },
      { currency: "USD", amount: 50, orders: 1 },
    ]);
    expect(r.body.engagement.revenue).toBeUndefined();
  });

  it("recomputes the days before an event segment was created", async () => {
    const id = await segment("ordered", { type: "event", event: "order_placed" });
    const r = await s.call("GET", `/v1/segments/${id}/analytics?days=5`);
    expect(r.body.history).toMatchObject({ before: "rule", reason: null });
    const sizes = r.body.daily.map((d: { size: number | null }) => d.size);
    // 4, 3, 2 and 1 days ago at their ends: 0, 1, 2 and 3 buyers; today, from the log.
    expect(sizes).toEqual([0, 1, 2, 3, 3]);
    expect(r.body.history.starts_on).toBe(r.body.daily[0].date);
    expect(r.body.history.logged_since).toBe(r.body.daily[4].date);
  });

  it("marks them unknown for a field rule, with the reason", async () => {
    const id = await segment("french", { type: "field", field: "city", op: "eq", value: "saint-étienne" });
    const r = await s.call("GET", `/v1/segments/${id}/analytics?days=5`);
    expect(r.body.history).toMatchObject({
      before: "unknown",
      reason: 'the rule reads the field "city", whose past values are not kept',
    });
    expect(r.body.daily.map((d: { size: number | null }) => d.size)).toEqual([null, null, null, null, 3]);
    expect(r.body.history.starts_on).toBe(r.body.daily[4].date);
  });
});
