/**
 * Segment-compatible `identify` calls into a workspace with computed fields (docs/rules.md,
 * "Computed fields"; docs/ingest.md): a trait named like a computed field is not stored on
 * the contact (its value is a measure of events, never written) and the answer says so
 * with a warning naming the trait; the call's other traits still apply, and the
 * computed value stays the measure of the contact's events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

describe("Segment-compatible identify and computed fields", () => {
  let s: TestServer;
  let ingestKey: string;

  const api = (method: string, path: string, body?: unknown) =>
    s.call(method, path, body, { key: ADMIN_KEY });
  const post = (path: string, body: unknown) =>
    s.call("POST", path, undefined, {
      key: null,
      raw: JSON.stringify(body),
      headers: { "content-type": "application/json", authorization: basic(ingestKey) },
    });

  async function contactBy(external_id: string): Promise<Json> {
    const r = await api("GET", "/v1/contacts?limit=1000");
    expect(r.status).toBe(200);
    const c = r.body.data.find((x: Json) => x.external_id === external_id);
    return c ? (await api("GET", `/v1/contacts/${c.id}`)).body : null;
  }

  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
    const k = await api("POST", "/v1/keys", { name: "sdk", role: "ingest" });
    expect(k.status).toBe(201);
    ingestKey = k.body.key;
    const f = await api("POST", "/v1/fields", {
      key: "lifetime_value",
      type: "number",
      computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
    });
    expect(f.status, f.text).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
  });

  it("batch: the computed trait is skipped with a warning, the other traits apply", async () => {
    const r = await post("/segment/v1/batch", {
      batch: [
        { type: "track", userId: "ct-1", event: "Order Completed", properties: { total: 40 } },
        {
          type: "identify",
          userId: "ct-1",
          traits: { email: "ct1@x.io", plan: "pro", lifetimeValue: 1_000_000 },
        },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 2, errors: [] });
    expect(r.body.warnings).toEqual([
      { index: 1, warning: "batch[1].traits.lifetimeValue: computed field; not applied" },
    ]);
    const c = await contactBy("ct-1");
    expect(c.email).toBe("ct1@x.io");
    expect(c.fields).toEqual({ plan: "pro" });
    expect(c.computed).toEqual({ lifetime_value: 40 });
  });

  it("single call: context.traits of a track call are skipped the same way", async () => {
    const r = await post("/segment/v1/track", {
      userId: "ct-2",
      event: "Order Completed",
      properties: { total: 5 },
      context: { traits: { lifetime_value: "lots", city: "Lyon" } },
    });
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual([
      { index: 0, warning: "context.traits.lifetime_value: computed field; not applied" },
    ]);
    const c = await contactBy("ct-2");
    expect(c.city).toBe("Lyon");
    expect(c.fields).toEqual({});
    expect(c.computed).toEqual({ lifetime_value: 5 });
  });
});
