/**
 * A segment's edit history over the API: `GET /v1/segments/{id}/versions` (newest
 * first) and `POST /v1/segments/{id}/versions/{version}/restore`, which writes a new
 * version equal to the old one through the same path as `PUT` (engine and change log
 * follow).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
let id: string;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  const r = await s.call("POST", "/v1/contacts/batch", {
    contacts: [
      { email: "fr@example.com", country: "FR" },
      { email: "be@example.com", country: "BE" },
    ],
  });
  expect(r.status).toBe(200);
  const seg = await s.call("POST", "/v1/segments", {
    name: "France",
    description: "first",
    rule_text: 'country = "FR"',
  });
  expect(seg.status, seg.text).toBe(201);
  id = seg.body.id;
  const put = await s.call("PUT", `/v1/segments/${id}`, {
    name: "Belgium",
    description: "second",
    rule_text: 'country = "BE"',
  });
  expect(put.status, put.text).toBe(200);
});

afterAll(async () => {
  await s.stop();
});

describe("segment versions", () => {
  it("lists every version newest first, rule in both forms", async () => {
    const r = await s.call("GET", `/v1/segments/${id}/versions`);
    expect(r.status, r.text).toBe(200);
    const data = r.body.data as Json[];
    expect(data.map((v) => v.version)).toEqual([2, 1]);
    expect(data[1]).toMatchObject({
      version: 1,
      name: "France",
      description: "first",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
      rule_text: 'country = "FR"',
    });
    expect(new Date(data[1].created_at).toISOString()).toBe(data[1].created_at);
    expect(data[0]).toMatchObject({ version: 2, name: "Belgium", rule_text: 'country = "BE"' });
    expect(r.body.next_cursor).toBeNull();
  });

  it("restores a version as a new one; membership and change log follow", async () => {
    const before = await s.call("GET", `/v1/segments/${id}/contacts`);
    expect(before.body.data.map((c: Json) => c.email)).toEqual(["be@example.com"]);

    const r = await s.call("POST", `/v1/segments/${id}/versions/1/restore`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ id, version: 3, name: "France", description: "first", size: 1 });
    expect(r.headers.get("etag")).toBe((await s.call("GET", `/v1/segments/${id}`)).headers.get("etag"));

    const after = await s.call("GET", `/v1/segments/${id}/contacts`);
    expect(after.body.data.map((c: Json) => c.email)).toEqual(["fr@example.com"]);
    const versions = (await s.call("GET", `/v1/segments/${id}/versions`)).body.data as Json[];
    expect(versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(versions[0].rule).toEqual(versions[2].rule);

    const changes = (await s.call("GET", `/v1/segments/${id}/changes`)).body.data as Json[];
    expect(changes.some((c) => c.change === "exited")).toBe(true);
  });

  it("honours If-Match on restore", async () => {
    const r = await s.call("POST", `/v1/segments/${id}/versions/2/restore`, undefined, {
      headers: { "if-match": '"stale"' },
    });
    expect(r.status).toBe(412);
    expect(r.body.error.code).toBe("precondition_failed");
  });

  it("404s an unknown version or segment; 400s a version that is not a number", async () => {
    const unknown = await s.call("POST", `/v1/segments/${id}/versions/99/restore`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain("99");
    expect((await s.call("GET", "/v1/segments/seg_nope/versions")).status).toBe(404);
    expect((await s.call("POST", "/v1/segments/seg_nope/versions/1/restore")).status).toBe(404);
    const bad = await s.call("POST", `/v1/segments/${id}/versions/one/restore`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("version");
  });

  it("a default segment has one version and cannot be restored", async () => {
    const r = await s.call("GET", "/v1/segments/subscribed/versions");
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toHaveLength(1);
    expect(r.body.data[0]).toMatchObject({ version: 1, rule_text: 'status = "subscribed"' });
    expect((await s.call("POST", "/v1/segments/subscribed/versions/1/restore")).status).toBe(403);
  });
});
