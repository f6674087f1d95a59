/**
 * `Idempotency-Key` on POST (issue 14): a retry gets the first answer replayed instead of
 * a second write, another request under a used key is a 422, keys are scoped per
 * workspace and API key, kept across a restart, and forgotten after 24 hours.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

const HOUR = 3600_000;

describe("Idempotency-Key", () => {
  let s: TestServer;
  let dir: string;
  let t = Date.UTC(2025, 0, 1);
  const clock = { now: () => t };
  const start = () => startTestServer({ kind: "sqlite" }, { sqlitePath: join(dir, "slice.db"), clock });
  const post = (path: string, body: unknown, key?: string, apiKey?: string) =>
    s.call("POST", path, body, {
      ...(apiKey ? { key: apiKey } : {}),
      ...(key ? { headers: { "idempotency-key": key } } : {}),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slice-idem-"));
    s = await start();
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replays the first answer to POST /v1/contacts and creates one contact", async () => {
    const first = await post("/v1/contacts", { email: "once@example.com", first_name: "Ada" }, "k-contact-1");
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await post("/v1/contacts", { email: "once@example.com", first_name: "Ada" }, "k-contact-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toContain("application/json");
    expect(again.body).toEqual(first.body);
    const list = await s.call("GET", "/v1/contacts?limit=100");
    expect(list.body.data.filter((c: Json) => c.email === "once@example.com")).toHaveLength(1);
  });

  it("answers 422 to the same key with another body, and writes nothing", async () => {
    const r = await post("/v1/contacts", { email: "other@example.com" }, "k-contact-1");
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("idempotency_key_reused");
    expect(r.body.error.message).toContain("Idempotency-Key");
    const list = await s.call("GET", "/v1/contacts?limit=100");
    expect(list.body.data.map((c: Json) => c.email)).not.toContain("other@example.com");
  });

  it("answers 422 to the same key on another route", async () => {
    const r = await post("/v1/segments", { name: "X", kind: "static" }, "k-contact-1");
    expect(r.status).toBe(422);
  });

  it("replays POST /v1/events without recording the events twice", async () => {
    const c = await post("/v1/contacts", { email: "events@example.com" });
    expect(c.status).toBe(201);
    const batch = [
      { type: "purchase", contact: { id: c.body.id }, properties: { amount: 10 } },
      { type: "purchase", contact: { id: c.body.id }, properties: { amount: 20 } },
    ];
    const first = await post("/v1/events", batch, "k-events-1");
    expect(first.status).toBeLessThan(300);
    const again = await post("/v1/events", batch, "k-events-1");
    expect(again.status).toBe(first.status);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    const events = await s.call("GET", `/v1/contacts/${c.body.id}/events`);
    expect(events.status).toBe(200);
    expect(events.body.data).toHaveLength(2);
  });

  it("replays POST /v1/segments: one segment, the same id", async () => {
    const body = { name: "Retried", kind: "static" };
    const first = await post("/v1/segments", body, "k-seg-1");
    expect(first.status).toBe(201);
    const again = await post("/v1/segments", body, "k-seg-1");
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    const list = await s.call("GET", "/v1/segments?limit=100");
    expect(list.body.data.filter((x: Json) => x.name === "Retried")).toHaveLength(1);
  });

  it("leaves requests without the header alone", async () => {
    const body = { name: "Twice", kind: "static" };
    expect((await post("/v1/segments", body)).status).toBe(201);
    expect((await post("/v1/segments", body)).status).toBe(201);
    const list = await s.call("GET", "/v1/segments?limit=100");
    expect(list.body.data.filter((x: Json) => x.name === "Twice")).toHaveLength(2);
  });

  it("replays an error answer too: the request's outcome, not a transient failure", async () => {
    const bad = { email: "not an email" };
    const first = await post("/v1/contacts", bad, "k-bad-1");
    expect(first.status).toBe(400);
    const again = await post("/v1/contacts", bad, "k-bad-1");
    expect(again.status).toBe(400);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
  });

  it("scopes keys per API key and per workspace", async () => {
    const other = await post("/v1/keys", { name: "second", role: "read_write" });
    expect(other.status).toBe(201);
    const r = await post("/v1/contacts", { email: "scoped@example.com" }, "k-contact-1", other.body.key);
    expect(r.status).toBe(201);
    expect(r.headers.get("idempotent-replayed")).toBeNull();

    const ws = await post("/v1/workspaces", { name: "Other" });
    expect(ws.status).toBe(201);
    const wsKey: string = ws.body.api_key;
    expect(typeof wsKey).toBe("string");
    const inOther = await post(
      "/v1/contacts",
      { email: "once@example.com", first_name: "Ada" },
      "k-contact-1",
      wsKey,
    );
    expect(inOther.status).toBe(201);
    expect(inOther.headers.get("idempotent-replayed")).toBeNull();
    expect(inOther.body.id).not.toBe(undefined);
  });

  it("never runs concurrent duplicates twice: the others get the replay or 409", async () => {
    const body = { name: "Concurrent", kind: "static" };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post("/v1/segments", body, "k-conc-1")),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((x) => x === 201 || x === 409)).toBe(true);
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.body.error.code).toBe("conflict");
      expect(a.headers.get("retry-after")).toBe("1");
    }
    const ids = new Set(answers.filter((a) => a.status === 201).map((a) => a.body.id));
    expect(ids.size).toBe(1);
    const list = await s.call("GET", "/v1/segments?limit=100");
    expect(list.body.data.filter((x: Json) => x.name === "Concurrent")).toHaveLength(1);
  });

  it("replays a streamed import, and refuses another file under its key", async () => {
    const send = (csv: string) =>
      s.call("POST", "/v1/imports", undefined, {
        raw: csv,
        headers: { "content-type": "text/csv", "idempotency-key": "k-import-1" },
      });
    const first = await send("email\nimported@example.com\n");
    expect(first.status).toBe(202);
    // The key holds the upload's hash once the file has been read.
    let again = await send("email\nimported@example.com\n");
    for (let i = 0; i < 50 && again.status === 409; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await send("email\nimported@example.com\n");
    }
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.id).toBe(first.body.id);
    expect((await send("email\nelse@example.com\n")).status).toBe(422);
  });

  it("refuses a malformed key", async () => {
    const r = await post("/v1/segments", { name: "Y", kind: "static" }, "x".repeat(300));
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("Idempotency-Key");
  });

  it("keeps keys across a restart", async () => {
    await s.server.close();
    s = await start();
    const again = await post("/v1/segments", { name: "Retried", kind: "static" }, "k-seg-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await post("/v1/contacts", { email: "x@example.com" }, "k-contact-1")).status).toBe(422);
  });

  it("forgets keys after 24 hours", async () => {
    t += 24 * HOUR + 60_000;
    const r = await post("/v1/contacts", { email: "later@example.com" }, "k-contact-1");
    expect(r.status).toBe(201);
    expect(r.headers.get("idempotent-replayed")).toBeNull();
  });
});
