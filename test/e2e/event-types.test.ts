/**
 * `GET /v1/event-types`: the event types a workspace has events of, with their property
 * paths and the JSON types of their values (answers checked against their schema).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
});

afterAll(async () => {
  await s?.stop();
});

describe("GET /v1/event-types", () => {
  it("answers an empty list before any event", async () => {
    const r = await s.call("GET", "/v1/event-types");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: [], next_cursor: null });
  });

  it("lists the workspace's own event types with their properties and value types", async () => {
    const contact = { email: "ann@example.com" };
    const e = await s.call("POST", "/v1/events", [
      { type: "trial_started", contact, properties: { plan: "Pro", seats: 3 } },
      { type: "trial_started", contact, properties: { plan: "Team", beta: true, seats: "five" } },
      {
        type: "order_placed",
        contact,
        properties: { amount: 20, currency: "EUR", items: [{ sku: "a" }], shipping: { country: "FR" } },
      },
      { type: "email_opened", contact },
    ]);
    expect(e.body.errors).toEqual([]);
    const r = await s.call("GET", "/v1/event-types");
    expect(r.status).toBe(200);
    expect(r.body.next_cursor).toBeNull();
    expect(r.body.data).toEqual([
      { type: "email_opened", count: 1, properties: [] },
      {
        type: "order_placed",
        count: 1,
        properties: [
          { name: "amount", types: ["number"] },
          { name: "currency", types: ["string"] },
          { name: "items", types: ["array"] },
          { name: "shipping", types: ["object"] },
          { name: "shipping.country", types: ["string"] },
        ],
      },
      {
        type: "trial_started",
        count: 2,
        properties: [
          { name: "beta", types: ["boolean"] },
          { name: "plan", types: ["string"] },
          { name: "seats", types: ["number", "string"] },
        ],
      },
    ]);
  });

  it("is documented, and readable by a read-only key but not an ingest key", async () => {
    const doc = (await s.call("GET", "/v1/openapi.json")).body;
    expect(doc.paths["/v1/event-types"].get.summary).toMatch(/event types/);
    const read = await s.call("POST", "/v1/keys", { role: "read" });
    const ingest = await s.call("POST", "/v1/keys", { role: "ingest" });
    expect((await s.call("GET", "/v1/event-types", undefined, { key: read.body.key })).status).toBe(200);
    expect((await s.call("GET", "/v1/event-types", undefined, { key: ingest.body.key })).status).toBe(403);
    expect((await s.call("GET", "/v1/event-types", undefined, { key: `${ADMIN_KEY}x` })).status).toBe(401);
  });
});
