/**
 * Computed fields over HTTP (docs/rules.md "Computed fields", docs/api.md): declared
 * with a definition, shown on contacts and kept current as events arrive, usable in
 * rules (explain says so), exported, never written, refused deletion while in use, and
 * kept across a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
let sqlitePath: string;
let contact: string;

const DAY = 86_400_000;
const iso = (t: number) => new Date(t).toISOString();

async function event(type: string, properties: Json, timestamp = iso(Date.now() - DAY)) {
  const r = await s.call("POST", "/v1/events", {
    type,
    contact: { email: "ann@shop.example" },
    timestamp,
    properties,
  });
  expect(r.status, r.text).toBeLessThan(300);
}

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  sqlitePath = s.sqlitePath!;
  const c = await s.call("POST", "/v1/contacts", { email: "ann@shop.example", first_name: "Ann" });
  expect(c.status, c.text).toBe(201);
  contact = c.body.id;
}, 60_000);

afterAll(async () => {
  await s?.stop();
});

describe("computed fields over HTTP", () => {
  it("declares computed fields, with the definition in both forms", async () => {
    const ltv = await s.call("POST", "/v1/fields", {
      key: "lifetime_value",
      type: "number",
      label: "Lifetime value",
      computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
    });
    expect(ltv.status, ltv.text).toBe(201);
    expect(ltv.body).toMatchObject({
      key: "lifetime_value",
      type: "number",
      builtin: false,
      computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
      computed_text: "sum(order_placed.amount)",
    });
    const fav = await s.call("POST", "/v1/fields", {
      key: "favorite_category",
      type: "string",
      computed: {
        event: "page_viewed",
        window: { in_last: "90d" },
        measure: { fn: "most_frequent", property: "category" },
      },
    });
    expect(fav.status, fav.text).toBe(201);
    expect(fav.body.computed_text).toBe("most_frequent(page_viewed.category, last 90d)");
    const last = await s.call("POST", "/v1/fields", {
      key: "last_order_at",
      type: "date",
      computed: { event: "order_placed", measure: { fn: "last_at" } },
    });
    expect(last.status, last.text).toBe(201);
    const list = await s.call("GET", "/v1/fields");
    const byKey = new Map((list.body.data as Json[]).map((f) => [f.key, f]));
    expect(byKey.get("lifetime_value").computed_text).toBe("sum(order_placed.amount)");
    expect(byKey.get("email")).toMatchObject({ builtin: true, computed: null, computed_text: null });
  });

  it("refuses a definition whose measure's type is not the field's, or that is malformed, naming the path", async () => {
    const cases: [Json, string][] = [
      [
        {
          key: "x1",
          type: "number",
          computed: { event: "page_viewed", measure: { fn: "most_frequent", property: "category" } },
        },
        "type",
      ],
      [
        { key: "x2", type: "number", computed: { event: "order_placed", measure: { fn: "sum" } } },
        "computed.measure.property",
      ],
      [
        {
          key: "x3",
          type: "number",
          computed: { event: "order_placed", window: { in_last: "30x" }, measure: { fn: "count" } },
        },
        "computed.window.in_last",
      ],
      [
        { key: "x4", type: "number", computed: { event: "Bad Type", measure: { fn: "count" } } },
        "computed.event",
      ],
      [
        { key: "x5", type: "string_list", computed: { event: "order_placed", measure: { fn: "count" } } },
        "type",
      ],
    ];
    for (const [body, path] of cases) {
      const r = await s.call("POST", "/v1/fields", body);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.path, r.text).toBe(path);
    }
  });

  it("shows the values on contacts, current as events arrive", async () => {
    const before = await s.call("GET", `/v1/contacts/${contact}`);
    expect(before.body.computed).toEqual({ lifetime_value: 0, favorite_category: null, last_order_at: null });
    const t = Date.now() - DAY;
    await event("order_placed", { amount: 150 }, iso(t - DAY));
    await event("order_placed", { amount: 80 }, iso(t));
    await event("page_viewed", { category: "Shoes" });
    await event("page_viewed", { category: "shoes " });
    await event("page_viewed", { category: "Hats" });
    const after = await s.call("GET", `/v1/contacts/${contact}`);
    expect(after.body.computed).toEqual({
      lifetime_value: 230,
      favorite_category: "shoes",
      last_order_at: iso(t),
    });
    const list = await s.call("GET", "/v1/contacts");
    const ann = (list.body.data as Json[]).find((c) => c.id === contact);
    expect(ann.computed.lifetime_value).toBe(230);
  });

  it("refuses writes of a computed field, naming the path", async () => {
    const patch = await s.call("PATCH", `/v1/contacts/${contact}`, { fields: { lifetime_value: 5 } });
    expect(patch.status, patch.text).toBe(400);
    expect(patch.body.error.details.path).toBe("fields.lifetime_value");
    expect(patch.body.error.message).toContain("computed field");
    const batch = await s.call("POST", "/v1/contacts/batch", [
      { email: "bob@shop.example" },
      { email: "cy@shop.example", fields: { favorite_category: "hats" } },
    ]);
    expect(batch.status, batch.text).toBe(200);
    expect(batch.body.errors).toEqual([
      { index: 1, error: expect.stringContaining("contacts[1].fields.favorite_category") },
    ]);
  });

  it("keeps a contact's ETag while only its computed values change", async () => {
    const got = await s.call("GET", `/v1/contacts/${contact}`);
    const tag = got.headers.get("etag")!;
    await event("order_placed", { amount: 1 });
    const patch = await s.call(
      "PATCH",
      `/v1/contacts/${contact}`,
      { last_name: "Lee" },
      { headers: { "if-match": tag } },
    );
    expect(patch.status, patch.text).toBe(200);
    expect(patch.body.computed.lifetime_value).toBe(231);
  });

  it("tests computed fields in rules, and explain shows the definition and the value", async () => {
    const seg = await s.call("POST", "/v1/segments", {
      name: "Big spenders",
      rule_text: 'lifetime_value > 200 and favorite_category = "shoes"',
    });
    expect(seg.status, seg.text).toBe(201);
    expect(seg.body.rule.conditions[0]).toEqual({
      type: "field",
      field: "lifetime_value",
      op: "gt",
      value: 200,
    });
    const members = await s.call("GET", `/v1/segments/${seg.body.id}/contacts`);
    expect((members.body.data as Json[]).map((c) => c.id)).toEqual([contact]);
    const ex = await s.call("GET", `/v1/contacts/${contact}/explain?segment=${seg.body.id}`);
    expect(ex.status, ex.text).toBe(200);
    expect(ex.body.rule.conditions[0]).toEqual({
      type: "field",
      field: "lifetime_value",
      op: "gt",
      value: 200,
      result: true,
      actual: 231,
      computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
    });

    const del = await s.call("DELETE", "/v1/fields/lifetime_value");
    expect(del.status, del.text).toBe(409);
    expect(del.body.error.details.uses).toEqual([{ type: "segment", id: seg.body.id }]);
    expect((await s.call("DELETE", `/v1/segments/${seg.body.id}`)).status).toBe(204);
  });

  it("exports computed fields as columns and in NDJSON", async () => {
    const csv = await s.call("GET", "/v1/segments/all/export?format=csv");
    const [header, ...rows] = csv.text.trim().split("\r\n");
    const cols = header!.split(",");
    expect(cols.slice(-3)).toEqual(["lifetime_value", "favorite_category", "last_order_at"]);
    const ann = rows.find((r) => r.includes("ann@shop.example"))!.split(",");
    expect(ann[cols.indexOf("lifetime_value")]).toBe("231");
    expect(ann[cols.indexOf("favorite_category")]).toBe("shoes");
    const picked = await s.call(
      "GET",
      "/v1/segments/all/export?format=csv&columns=email,computed.lifetime_value",
    );
    expect(picked.text.split("\r\n")[0]).toBe("email,computed.lifetime_value");
    const nd = await s.call("GET", "/v1/segments/all/export?format=ndjson");
    const line = nd.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .find((c) => c.id === contact);
    expect(line.computed.lifetime_value).toBe(231);
  });

  it("deletes an unused computed field, not a stored one", async () => {
    const stored = await s.call("POST", "/v1/fields", { key: "plan", type: "string" });
    expect(stored.status, stored.text).toBe(201);
    const refused = await s.call("DELETE", "/v1/fields/plan");
    expect(refused.status, refused.text).toBe(409);
    expect((await s.call("DELETE", "/v1/fields/nope")).status).toBe(404);
    expect((await s.call("DELETE", "/v1/fields/email")).status).toBe(403);
    const gone = await s.call("DELETE", "/v1/fields/last_order_at");
    expect(gone.status, gone.text).toBe(204);
    const c = await s.call("GET", `/v1/contacts/${contact}`);
    expect(Object.keys(c.body.computed).sort()).toEqual(["favorite_category", "lifetime_value"]);
  });

  it("keeps computed fields across a restart", async () => {
    await s.server.close();
    s = await startTestServer({ kind: "sqlite" }, { sqlitePath });
    const c = await s.call("GET", `/v1/contacts/${contact}`);
    expect(c.status, c.text).toBe(200);
    expect(c.body.computed).toEqual({ lifetime_value: 231, favorite_category: "shoes" });
    const patch = await s.call("PATCH", `/v1/contacts/${contact}`, { fields: { lifetime_value: 1 } });
    expect(patch.status).toBe(400);
  });
});
