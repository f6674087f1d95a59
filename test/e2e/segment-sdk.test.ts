/**
 * SPEC §4.1 from outside: a real Slice server fed by the unmodified Segment
 * (`@segment/analytics-node`, host = the server, path = `/segment/v1/batch`) and
 * RudderStack (`@rudderstack/rudder-sdk-node`, dataPlaneUrl = the server + `/segment`,
 * which gzips its batches) Node SDKs, and by hand over HTTP: contacts, events and
 * segment membership come out right, a retried message counts once, anonymous users'
 * events follow them when they identify (as a new user and into a known one), and bad
 * input answers per-message errors, 400, 401, 403 or 413.
 */
import { gzipSync } from "node:zlib";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

describe("Segment-compatible ingest with the real SDKs", () => {
  let s: TestServer;
  let wsKey: string;
  let ingestKey: string;
  let buyers: string;
  let visitors: string;

  const api = (method: string, path: string, body?: unknown) => s.call(method, path, body, { key: wsKey });
  /** A raw POST under /segment/v1/ with HTTP Basic auth. */
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}, key = ingestKey) =>
    s.call("POST", path, undefined, {
      key: null,
      raw: body,
      headers: { "content-type": "application/json", authorization: basic(key), ...headers },
    });

  async function contactBy(external_id: string): Promise<Json> {
    const r = await api("GET", "/v1/contacts?limit=1000");
    expect(r.status).toBe(200);
    const c = r.body.data.find((x: Json) => x.external_id === external_id);
    return c ? (await api("GET", `/v1/contacts/${c.id}`)).body : null;
  }
  const eventTypes = async (id: string): Promise<string[]> =>
    (await api("GET", `/v1/contacts/${id}/events`)).body.data.map((e: Json) => e.type).sort();

  function segmentClient(): { client: Analytics; statuses: number[] } {
    const statuses: number[] = [];
    const client = new Analytics({
      writeKey: ingestKey,
      host: s.url,
      path: "/segment/v1/batch",
      flushInterval: 20,
      maxRetries: 0,
    });
    client.on("http_response", (r) => statuses.push(r.status));
    return { client, statuses };
  }

  function rudderClient(): { client: RudderAnalytics; errors: unknown[] } {
    const errors: unknown[] = [];
    const client = new RudderAnalytics(ingestKey, {
      dataPlaneUrl: `${s.url}/segment`,
      flushInterval: 20,
      retryCount: 0,
      logLevel: "error",
      errorHandler: (e) => errors.push(e),
    });
    return { client, errors };
  }

  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
    // Only the admin key makes keys of another role than its own (SPEC §4): the test
    // works in the admin key's workspace.
    wsKey = ADMIN_KEY;
    const k = await api("POST", "/v1/keys", { name: "sdk", role: "ingest" });
    expect(k.status).toBe(201);
    ingestKey = k.body.key;
    const seg = async (name: string, event: string) => {
      const r = await api("POST", "/v1/segments", {
        name,
        kind: "dynamic",
        rule: { type: "event", event, op: "gte", value: 1 },
      });
      expect(r.status).toBe(201);
      return r.body.id as string;
    };
    buyers = await seg("buyers", "order_placed");
    visitors = await seg("visitors", "page_viewed");
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
  });

  it("@segment/analytics-node: identify and track land on the contact, a retried messageId counts once, the buyer enters the segment", async () => {
    const { client, statuses } = segmentClient();
    client.identify({
      userId: "seg-u1",
      traits: { email: "Ada@Example.com", firstName: "Ada", lastName: "Lovelace", plan: "pro" },
    });
    client.track({
      userId: "seg-u1",
      event: "Order Completed",
      messageId: "seg-order-1",
      properties: { order_id: "o1", total: 42.5, currency: "EUR" },
    });
    client.track({
      userId: "seg-u1",
      event: "Order Completed",
      messageId: "seg-order-1",
      properties: { order_id: "o1", total: 42.5, currency: "EUR" },
    });
    client.page({ userId: "seg-u1", name: "Pricing", properties: { url: "https://x.io/pricing" } });
    await client.closeAndFlush();
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((x) => x === 200)).toBe(true);

    const c = await contactBy("seg-u1");
    expect(c).toMatchObject({ email: "ada@example.com", first_name: "Ada", last_name: "Lovelace" });
    expect(c.fields).toEqual({ plan: "pro" });
    expect(await eventTypes(c.id)).toEqual(["order_completed", "order_placed", "page_viewed"]);
    expect(c.segments).toEqual(expect.arrayContaining([buyers, visitors, "customers"]));
    const orders = (await api("GET", `/v1/contacts/${c.id}/events`)).body.data.filter(
      (e: Json) => e.type === "order_placed",
    );
    expect(orders[0].properties).toMatchObject({ amount: 42.5, currency: "EUR" });
  });

  it("@segment/analytics-node: alias merges an anonymous visitor's events into the user", async () => {
    const { client, statuses } = segmentClient();
    client.page({ anonymousId: "seg-anon-1", name: "Home" });
    client.track({
      anonymousId: "seg-anon-1",
      event: "Product Added",
      properties: { price: 10, quantity: 3 },
    });
    await client.closeAndFlush();
    const before = (await contactBy("seg-u1")).id;
    const { client: second } = segmentClient();
    second.track({ userId: "seg-u2", event: "Signed Up" });
    second.alias({ previousId: "seg-anon-1", userId: "seg-u2" });
    await second.closeAndFlush();
    expect(statuses.every((x) => x === 200)).toBe(true);
    const c = await contactBy("seg-u2");
    expect(await eventTypes(c.id)).toEqual(["cart_added", "page_viewed", "product_added", "signed_up"]);
    expect(c.segments).toContain(visitors);
    expect((await contactBy("seg-u1")).id).toBe(before);
  });

  it("@rudderstack/rudder-sdk-node (gzip): an anonymous visitor who identifies becomes the contact", async () => {
    const { client, errors } = rudderClient();
    client.page({ anonymousId: "rs-anon-1", name: "Landing", properties: { url: "https://x.io/" } });
    client.track({ anonymousId: "rs-anon-1", event: "Product Added", properties: { price: 4 } });
    await client.flush();
    const anonymous = (await api("GET", "/v1/contacts?limit=1000")).body.data.filter(
      (x: Json) => x.external_id === null && x.email === null,
    );
    expect(anonymous).toHaveLength(1);
    const anonId = anonymous[0].id;

    client.identify({
      userId: "rs-u1",
      anonymousId: "rs-anon-1",
      traits: { email: "rs1@x.io", name: "Rudy Stack" },
    });
    client.track({ userId: "rs-u1", event: "Order Completed", properties: { revenue: 15 } });
    await client.flush();
    expect(errors).toEqual([]);
    const c = await contactBy("rs-u1");
    expect(c.id).toBe(anonId);
    expect(c).toMatchObject({ email: "rs1@x.io", first_name: "Rudy", last_name: "Stack" });
    expect(await eventTypes(c.id)).toEqual([
      "cart_added",
      "order_completed",
      "order_placed",
      "page_viewed",
      "product_added",
    ]);
    expect(c.segments).toEqual(expect.arrayContaining([buyers, visitors]));
  });

  it("@rudderstack/rudder-sdk-node: an anonymous visitor who identifies as a known user merges into them; the anonymous contact exits", async () => {
    const known = await api("POST", "/v1/contacts", {
      external_id: "rs-u2",
      email: "known@x.io",
      first_name: "Kay",
    });
    expect(known.status).toBe(201);
    const knownId = known.body.id;
    const { client, errors } = rudderClient();
    client.page({ anonymousId: "rs-anon-2", name: "Blog" });
    client.identify({ anonymousId: "rs-anon-2", traits: { address: { city: "Nantes" } } });
    await client.flush();
    const anon = (await api("GET", "/v1/contacts?limit=1000")).body.data.find(
      (x: Json) => x.city === "Nantes",
    );
    expect(anon.segments ?? (await api("GET", `/v1/contacts/${anon.id}`)).body.segments).toContain(visitors);

    client.identify({ userId: "rs-u2", anonymousId: "rs-anon-2" });
    await client.flush();
    expect(errors).toEqual([]);
    expect((await api("GET", `/v1/contacts/${anon.id}`)).status).toBe(404);
    const c = (await api("GET", `/v1/contacts/${knownId}`)).body;
    expect(c).toMatchObject({ first_name: "Kay", city: "Nantes", email: "known@x.io" });
    expect(c.segments).toContain(visitors);
    expect(await eventTypes(knownId)).toEqual(["page_viewed"]);
    const changes = (await api("GET", `/v1/segments/${visitors}/changes?limit=1000`)).body.data;
    expect(changes.filter((x: Json) => x.contact_id === anon.id).map((x: Json) => x.change)).toEqual([
      "entered",
      "exited",
    ]);
  });

  it("by hand: a gzip batch, a retried batch, per-message errors and single calls", async () => {
    const batch = {
      batch: [
        { type: "identify", userId: "raw-1", messageId: "raw-i1", traits: { email: "raw1@x.io" } },
        { type: "track", userId: "raw-1", messageId: "raw-t1", event: "Course Clicked" },
        { type: "track", userId: "raw-1", messageId: "raw-t2" },
        { type: "screen", userId: "raw-1", messageId: "raw-s1", name: "Feed" },
      ],
      sentAt: new Date().toISOString(),
    };
    const gz = await post("/segment/v1/batch", gzipSync(JSON.stringify(batch)), {
      "content-encoding": "gzip",
    });
    expect(gz.status).toBe(200);
    expect(gz.body).toEqual({
      success: true,
      accepted: 2,
      duplicates: 0,
      errors: [{ index: 2, error: "batch[2].event: a track call needs an event name" }],
      warnings: [],
    });
    const again = await post("/segment/v1/batch", JSON.stringify(batch));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2 });
    const c = await contactBy("raw-1");
    expect(await eventTypes(c.id)).toEqual(["course_clicked", "screen_viewed"]);

    const one = await post(
      "/segment/v1/track",
      JSON.stringify({ userId: "raw-1", event: "Checkout Started", messageId: "raw-t3" }),
    );
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ success: true, accepted: 1 });
    const id = await post(
      "/segment/v1/identify",
      JSON.stringify({ userId: "raw-1", traits: { lastName: "Raw" } }),
    );
    expect(id.status).toBe(200);
    expect((await contactBy("raw-1")).last_name).toBe("Raw");
    // Read as JSON whatever the Content-Type says, or without one.
    for (const type of ["text/plain", "application/x-www-form-urlencoded", null]) {
      const r = await s.call("POST", "/segment/v1/batch", undefined, {
        key: null,
        raw: Buffer.from(
          JSON.stringify({ batch: [{ type: "track", userId: "raw-1", event: `Typed ${type}` }] }),
        ),
        headers: { authorization: basic(ingestKey), ...(type ? { "content-type": type } : {}) },
      });
      expect([type, r.status, r.body?.accepted]).toEqual([type, 200, 1]);
    }
    const doc = await s.call("GET", "/v1/openapi.json", undefined, { key: null });
    expect(doc.body.paths["/segment/v1/batch"].post.requestBody).toBeDefined();
    expect(doc.body.paths["/segment/v1/alias"].post.summary).toContain("HTTP Basic");
    const bad = await post("/segment/v1/track", JSON.stringify({ userId: "raw-1" }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe("event: a track call needs an event name");
  });

  it("by hand: 400 for a body that is not a batch, 401 without a valid key, 403 for a read-only key, 413 over Segment's sizes", async () => {
    const notBatch = await post("/segment/v1/batch", JSON.stringify([{ type: "track" }]));
    expect(notBatch.status).toBe(400);
    expect(notBatch.body.error.code).toBe("invalid_request");
    expect((await post("/segment/v1/batch", '{"batch": [')).status).toBe(400);
    expect((await post("/segment/v1/batch", JSON.stringify({ batch: {} }))).body.error.message).toBe(
      "batch: expected an array of messages",
    );

    const none = await s.call("POST", "/segment/v1/batch", { batch: [] }, { key: null });
    expect(none.status).toBe(401);
    expect((await post("/segment/v1/batch", JSON.stringify({ batch: [] }), {}, "sk_nope")).status).toBe(401);
    const ro = await api("POST", "/v1/keys", { role: "read_only" });
    expect((await post("/segment/v1/batch", JSON.stringify({ batch: [] }), {}, ro.body.key)).status).toBe(
      403,
    );

    const big = {
      batch: Array.from({ length: 20 }, (_, i) => ({
        type: "track",
        userId: "big",
        event: "Big",
        properties: { pad: "x".repeat(30_000), i },
      })),
    };
    const tooBig = await post("/segment/v1/batch", JSON.stringify(big));
    expect(tooBig.status).toBe(413);
    // The limit counts decompressed bytes: the same batch gzipped is far below 500 KB on the wire.
    const gz = gzipSync(JSON.stringify(big));
    expect(gz.length).toBeLessThan(50_000);
    expect((await post("/segment/v1/batch", gz, { "content-encoding": "gzip" })).status).toBe(413);
    const single = await post(
      "/segment/v1/track",
      JSON.stringify({ userId: "big", event: "Big", properties: { pad: "x".repeat(40_000) } }),
    );
    expect(single.status).toBe(413);
    // A message over 32 KB inside a batch under 500 KB is that message's error.
    const oneBig = await post(
      "/segment/v1/batch",
      JSON.stringify({
        batch: [
          { type: "track", userId: "big", event: "Big", properties: { pad: "x".repeat(40_000) } },
          { type: "track", userId: "big", event: "Small" },
        ],
      }),
    );
    expect(oneBig.status).toBe(200);
    expect(oneBig.body.errors).toEqual([{ index: 0, error: "batch[0]: message exceeds 32 KB" }]);
    expect(oneBig.body.accepted).toBe(1);
  });
});
