/**
 * Key roles (SPEC §4): each role reaches exactly its routes, keys are managed within a
 * role, no workspace key revokes the admin key, and gzip bodies are accepted.
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, startTestServer, type TestServer } from "../support/server.ts";

describe("key roles", () => {
  let s: TestServer;
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
    for (const role of ["read_write", "read_only", "ingest"]) {
      const r = await s.call("POST", "/v1/keys", { name: role, role });
      expect(r.status).toBe(201);
      expect(r.body.role).toBe(role);
      keys[role] = r.body.key;
    }
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("lists each key with its role; the bootstrap key is the admin", async () => {
    const list = (await s.call("GET", "/v1/keys")).body.data as { name: string; role: string }[];
    expect(list.map((k) => k.role).sort()).toEqual(["admin", "ingest", "read_only", "read_write"]);
  });

  it("a read_only key reads and previews but writes nothing", async () => {
    const k = keys.read_only!;
    expect((await s.call("GET", "/v1/segments", undefined, { key: k })).status).toBe(200);
    const preview = await s.call(
      "POST",
      "/v1/segments/preview",
      { rule: { type: "field", field: "country", op: "eq", value: "FR" } },
      { key: k },
    );
    expect(preview.status).toBe(200);
    const write = await s.call("POST", "/v1/contacts", { email: "ro@example.com" }, { key: k });
    expect(write.status).toBe(403);
    expect(write.body.error.message).toContain("read_only");
    expect((await s.call("GET", "/v1/keys", undefined, { key: k })).status).toBe(403);
    expect((await s.call("GET", "/v1/contacts?limit=5", undefined, { key: k })).body.data).toHaveLength(0);
  });

  it("an ingest key writes contacts and events and reads nothing", async () => {
    const k = keys.ingest!;
    expect((await s.call("POST", "/v1/contacts", { email: "in@example.com" }, { key: k })).status).toBe(201);
    const ev = await s.call(
      "POST",
      "/v1/events",
      [{ type: "page_viewed", contact: { email: "in@example.com" } }],
      { key: k },
    );
    expect(ev.status).toBe(200);
    expect(ev.body.accepted).toBe(1);
    for (const path of ["/v1/contacts", "/v1/segments", "/v1/keys", "/v1/fields"]) {
      expect((await s.call("GET", path, undefined, { key: k })).status, path).toBe(403);
    }
    const seg = await s.call(
      "POST",
      "/v1/segments",
      { name: "x", rule: { type: "field", field: "country", op: "eq", value: "FR" } },
      { key: k },
    );
    expect(seg.status).toBe(403);
  });

  it("workspace keys manage only keys of their own role and never the admin key", async () => {
    const k = keys.read_write!;
    const other = await s.call("POST", "/v1/keys", { role: "ingest" }, { key: k });
    expect(other.status).toBe(403);
    expect(other.body.error.details.path).toBe("role");
    const same = await s.call("POST", "/v1/keys", { name: "mine" }, { key: k });
    expect(same.status).toBe(201);
    const list = (await s.call("GET", "/v1/keys", undefined, { key: k })).body.data as {
      id: string;
      role: string;
      name: string;
    }[];
    const admin = list.find((x) => x.role === "admin")!;
    const ingest = list.find((x) => x.role === "ingest")!;
    expect((await s.call("DELETE", `/v1/keys/${admin.id}`, undefined, { key: k })).status).toBe(403);
    expect((await s.call("DELETE", `/v1/keys/${ingest.id}`, undefined, { key: k })).status).toBe(403);
    expect((await s.call("GET", "/v1/workspace", undefined, { key: ADMIN_KEY })).status).toBe(200);
    expect((await s.call("DELETE", `/v1/keys/${same.body.id}`, undefined, { key: k })).status).toBe(204);
    expect((await s.call("GET", "/v1/segments", undefined, { key: same.body.key })).status).toBe(401);
  });

  it("refuses a role that does not exist, naming the path", async () => {
    const r = await s.call("POST", "/v1/keys", { role: "admin" });
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("role");
  });

  it("accepts gzip request bodies and refuses unknown encodings", async () => {
    const body = gzipSync(JSON.stringify({ email: "gz@example.com", first_name: "Gz" }));
    const r = await s.call("POST", "/v1/contacts", undefined, {
      raw: body,
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
    expect(r.status).toBe(201);
    expect(r.body.first_name).toBe("Gz");
    const bad = await s.call("POST", "/v1/contacts", undefined, {
      raw: "{}",
      headers: { "content-type": "application/json", "content-encoding": "br" },
    });
    expect(bad.status).toBe(415);
    const corrupt = await s.call("POST", "/v1/contacts", undefined, {
      raw: Buffer.from("not gzip at all"),
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error.code).toBe("invalid_request");
  });

  it("applies the body limit to the decompressed bytes", async () => {
    const small = await startTestServer({ kind: "sqlite" }, { bodyLimit: 10_000 });
    try {
      const big = JSON.stringify({ email: "big@example.com", first_name: "x".repeat(50_000) });
      const gz = gzipSync(big);
      expect(gz.length).toBeLessThan(10_000);
      const r = await small.call("POST", "/v1/contacts", undefined, {
        raw: gz,
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      expect(r.status).toBe(413);
    } finally {
      await small.stop();
    }
  });
});
