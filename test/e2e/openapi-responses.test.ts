/**
 * The core routes document their success answers: `/v1/openapi.json` carries a response
 * schema for every JSON answer, the success statuses, ETag and If-Match; and an answer
 * that strays from its schema is caught by `responseProblem` (which the test server
 * runs on every answer, so the calls below also check the schemas against real answers).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responseProblem } from "../../src/http/openapi.ts";
import { ROUTES } from "../../src/http/routes.ts";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

type Op = [method: string, path: string, ok: number[]];

/** The routes of src/http/routes.ts and their success statuses. */
const CORE: Op[] = [
  ["post", "/v1/workspaces", [201]],
  ["get", "/v1/workspace", [200]],
  ["post", "/v1/keys", [201]],
  ["get", "/v1/keys", [200]],
  ["delete", "/v1/keys/{id}", [204]],
  ["post", "/v1/contacts", [200, 201]],
  ["post", "/v1/contacts/batch", [200]],
  ["get", "/v1/contacts", [200]],
  ["get", "/v1/contacts/{id}", [200]],
  ["patch", "/v1/contacts/{id}", [200]],
  ["delete", "/v1/contacts/{id}", [204]],
  ["get", "/v1/contacts/{id}/events", [200]],
  ["get", "/v1/contacts/{id}/explain", [200]],
  ["post", "/v1/events", [200]],
  ["get", "/v1/fields", [200]],
  ["post", "/v1/fields", [201]],
  ["get", "/v1/segments", [200]],
  ["post", "/v1/segments", [201]],
  ["post", "/v1/segments/preview", [200]],
  ["get", "/v1/segment-templates", [200]],
  ["get", "/v1/segments/{id}", [200]],
  ["put", "/v1/segments/{id}", [200]],
  ["delete", "/v1/segments/{id}", [204]],
  ["get", "/v1/segments/{id}/versions", [200]],
  ["post", "/v1/segments/{id}/versions/{version}/restore", [200]],
  ["get", "/v1/segments/{id}/contacts", [200]],
  ["post", "/v1/segments/{id}/members", [200]],
  ["delete", "/v1/segments/{id}/members", [200]],
  ["get", "/v1/segments/{id}/overrides", [200]],
  ["delete", "/v1/segments/{id}/overrides", [200]],
  ["post", "/v1/segments/{id}/actions", [200]],
  ["get", "/v1/segments/{id}/changes", [200]],
  ["get", "/v1/segments/{id}/uses", [200]],
  ["get", "/v1/segments/{id}/analytics", [200]],
  ["get", "/v1/segments/{id}/export", [200]],
];

const ETAG = ["post /v1/contacts", "get /v1/contacts/{id}", "patch /v1/contacts/{id}", "post /v1/segments"]
  .concat(["get /v1/segments/{id}", "put /v1/segments/{id}"])
  .concat(["post /v1/segments/{id}/versions/{version}/restore"]);
const IF_MATCH = ["patch /v1/contacts/{id}", "delete /v1/contacts/{id}"]
  .concat(["put /v1/segments/{id}", "delete /v1/segments/{id}"])
  .concat(["post /v1/segments/{id}/versions/{version}/restore"]);

let s: TestServer;
let doc: Json;
let segId: string;
let contactId: string;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  doc = (await s.call("GET", "/v1/openapi.json")).body;
  const c = await s.call("POST", "/v1/contacts", { email: "ann@example.com", country: "FR", tags: ["vip"] });
  expect(c.status, c.text).toBe(201);
  contactId = c.body.id;
  await s.call("POST", "/v1/contacts", { email: "bob@example.com", country: "BE" });
  const seg = await s.call("POST", "/v1/segments", { name: "France", rule_text: 'country = "FR"' });
  expect(seg.status, seg.text).toBe(201);
  segId = seg.body.id;
});

afterAll(async () => {
  await s.stop();
});

describe("the OpenAPI document of the core routes", () => {
  it.each(CORE)("%s %s documents its success answers", (method, path, ok) => {
    const op = doc.paths[path]?.[method];
    expect(op, `${method} ${path} is in the document`).toBeDefined();
    const success = Object.keys(op.responses).filter((k) => k.startsWith("2"));
    expect(success.map(Number)).toEqual(ok);
    for (const status of success) {
      if (status === "204") {
        expect(op.responses[status].content).toBeUndefined();
        continue;
      }
      const content = op.responses[status].content;
      if (path.endsWith("/export")) {
        expect(Object.keys(content)).toEqual(["text/csv", "application/x-ndjson"]);
        continue;
      }
      const schema = content["application/json"].schema;
      expect(Object.keys(schema).length, `${method} ${path} ${status} has a response schema`).toBeGreaterThan(
        0,
      );
      // Strict: an undocumented key is not part of the answer.
      expect(schema.additionalProperties).toBe(false);
    }
    const key = `${method} ${path}`;
    const headers = Object.keys(op.responses[success[0]!].headers ?? {});
    expect(headers).toEqual(ETAG.includes(key) ? ["ETag"] : []);
    const ifMatch = op.parameters.some((p: Json) => p.name === "If-Match");
    expect(ifMatch).toBe(IF_MATCH.includes(key));
    expect("412" in op.responses).toBe(IF_MATCH.includes(key));
  });

  it("types query parameters", () => {
    const params = (path: string) =>
      Object.fromEntries(doc.paths[path].get.parameters.map((p: Json) => [p.name, p.schema]));
    const analytics = params("/v1/segments/{id}/analytics");
    expect(analytics.days).toMatchObject({ type: "integer", minimum: 1 });
    expect(analytics.top).toMatchObject({ type: "integer", minimum: 1 });
    const exp = params("/v1/segments/{id}/export");
    expect(exp.format.enum).toEqual(["csv", "ndjson", "meta", "google"]);
    expect(exp.include_suppressed.enum).toEqual(["true", "false", "1", "0"]);
    expect(exp.formulas.enum).toEqual(["escape", "raw"]);
    for (const t of [params("/v1/segments/{id}/contacts").at, params("/v1/segments/{id}/changes").since]) {
      expect(t).toMatchObject({ type: "string", maxLength: 100 });
      expect(t.description).toMatch(/ISO 8601/);
    }
  });

  it("names the segment's fixed value sets", () => {
    const seg = doc.paths["/v1/segments/{id}"].get.responses["200"].content["application/json"].schema;
    expect(seg.properties.kind.enum).toEqual(["dynamic", "static"]);
    expect(seg.required).toEqual(expect.arrayContaining(["id", "rule", "rule_text", "size", "version"]));
    const contact = doc.paths["/v1/contacts/{id}"].get.responses["200"].content["application/json"].schema;
    expect(contact.properties.segments.type).toBe("array");
    expect(JSON.stringify(contact.properties.status)).toContain('"unsubscribed"');
  });
});

describe("answers are checked against their schema", () => {
  const doc = (method: string, path: string) => {
    const r = ROUTES.find((d) => d.method === method && d.path === path);
    if (!r) throw new Error(`${method} ${path} not registered`);
    return r;
  };

  it("accepts a real answer and refuses one that strays from it", async () => {
    const got = await s.call("GET", `/v1/segments/${segId}`);
    expect(got.status, got.text).toBe(200);
    const r = doc("GET", "/v1/segments/{id}");
    expect(responseProblem(r, 200, got.body)).toBeNull();
    expect(responseProblem(r, 200, { ...got.body, extra: 1 })).toMatch(
      /GET \/v1\/segments\/\{id\}: the answer does not match its response schema: .*extra/,
    );
    const { size: _size, ...noSize } = got.body;
    expect(responseProblem(r, 200, noSize)).toMatch(/does not match its response schema: size/);
    expect(responseProblem(r, 200, { ...got.body, kind: "smart" })).toMatch(/kind/);
    expect(responseProblem(r, 201, got.body)).toMatch(/answered 201, documented as 200/);
  });

  it("checks a contact's wire form, segments included", async () => {
    const got = await s.call("GET", `/v1/contacts/${contactId}`);
    expect(got.status, got.text).toBe(200);
    expect(got.body.segments).toEqual(expect.arrayContaining(["all", segId]));
    const r = doc("GET", "/v1/contacts/{id}");
    expect(responseProblem(r, 200, got.body)).toBeNull();
    const { segments: _segments, ...plain } = got.body;
    expect(responseProblem(r, 200, plain)).toMatch(/segments/);
    expect(responseProblem(r, 200, { ...got.body, status: "gone" })).toMatch(/status/);
    // A list item has no `segments`.
    expect(responseProblem(doc("GET", "/v1/contacts"), 200, { data: [got.body], next_cursor: null })).toMatch(
      /data\[0\]/,
    );
  });

  it("a 204 route refuses a body", () => {
    expect(responseProblem(doc("DELETE", "/v1/keys/{id}"), 204, undefined)).toBeNull();
    expect(responseProblem(doc("DELETE", "/v1/keys/{id}"), 200, { ok: true })).toMatch(/answered 200/);
  });
});

describe("the less common answers match their schemas", () => {
  // The test server checks every answer: a mismatch is a 500.
  it("explain, preview with a diff, analytics, past members", async () => {
    const ex = await s.call("GET", `/v1/contacts/${contactId}/explain?segment=${segId}`);
    expect(ex.status, ex.text).toBe(200);
    expect(ex.body).toMatchObject({ member: true, rule: { type: "field", actual: "fr", result: true } });
    // Every kind of node explains within the schema: a bucket and a calendar condition too.
    const seg2 = await s.call("POST", "/v1/segments", {
      name: "Holdout, this month",
      rule_text: 'bucket("h1") < 50 or created_at during this_month',
    });
    expect(seg2.status, seg2.text).toBe(201);
    const ex2 = await s.call("GET", `/v1/contacts/${contactId}/explain?segment=${seg2.body.id}`);
    expect(ex2.status, ex2.text).toBe(200);
    expect(ex2.body.rule.conditions[0]).toMatchObject({ type: "bucket", seed: "h1" });
    expect(typeof ex2.body.rule.conditions[0].actual).toBe("number");
    const nested = await s.call("POST", "/v1/segments/preview", {
      rule: {
        type: "and",
        conditions: [
          { type: "not", condition: { type: "segment", op: "in", segment: "hard_bounced" } },
          { type: "event", event: "email_opened", window: { in_last: "30d" } },
        ],
      },
      segment_id: segId,
    });
    expect(nested.status, nested.text).toBe(200);
    expect(nested.body.diff).toMatchObject({ entered: 0, exited: 1 });
    const an = await s.call(
      "GET",
      `/v1/segments/${segId}/analytics?days=3&breakdown=country&overlap=all&top=1`,
    );
    expect(an.status, an.text).toBe(200);
    expect(an.body.daily).toHaveLength(3);
    const at = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    expect((await s.call("DELETE", `/v1/contacts/${contactId}`)).status).toBe(204);
    // A member erased since is answered with its id alone.
    const past = await s.call("GET", `/v1/segments/${segId}/contacts?at=${encodeURIComponent(at)}`);
    expect(past.status, past.text).toBe(200);
    expect(past.body.data).toEqual([{ id: contactId }]);
  });

  it("overrides, versions and templates", async () => {
    const dyn = await s.call("POST", "/v1/segments", { name: "Belgium", rule_text: 'country = "BE"' });
    const id = dyn.body.id;
    const add = await s.call("POST", `/v1/segments/${id}/members`, {
      contacts: [{ email: "bob@example.com" }],
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(add.status, add.text).toBe(200);
    const ov = await s.call("GET", `/v1/segments/${id}/overrides`);
    expect(ov.status, ov.text).toBe(200);
    expect(ov.body.data).toHaveLength(1);
    const ver = await s.call("GET", `/v1/segments/${id}/versions`);
    expect(ver.status, ver.text).toBe(200);
    const defaults = await s.call("GET", "/v1/segments/inactive/versions");
    expect(defaults.status, defaults.text).toBe(200);
    expect(defaults.body.data[0].created_at).toBeNull();
    const t = await s.call("GET", "/v1/segment-templates");
    expect(t.status, t.text).toBe(200);
    expect(t.body.data.some((x: Json) => x.requires)).toBe(true);
  });
});
