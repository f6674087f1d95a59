/**
 * Finding a contact by what the integrator knows: `GET /v1/contacts?email=` and
 * `?external_id=`, "is this contact in?" with `GET /v1/segments/{id}/contacts?email=`
 * (or `external_id=`, `id=`), unknown query parameters refused (400 naming them), and
 * `slice explain` taking an email where it takes a contact id.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
let ana: Json;
let seg: string;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  const a = await s.call("POST", "/v1/contacts", {
    email: "Ana@Example.com",
    external_id: "crm-1",
    country: "FR",
  });
  expect(a.status, a.text).toBe(201);
  ana = a.body;
  await s.call("POST", "/v1/contacts", { email: "bob@example.com", external_id: "crm-2", country: "BE" });
  const r = await s.call("POST", "/v1/segments", { name: "France", rule_text: 'country = "FR"' });
  seg = r.body.id;
});

afterAll(async () => {
  await s.stop();
});

const emails = (r: { body: Json }) => (r.body.data as Json[]).map((c) => c.email);

describe("GET /v1/contacts lookups", () => {
  it("finds one contact by email, case-insensitively, in the list shape", async () => {
    const r = await s.call("GET", "/v1/contacts?email=ANA%40example.COM");
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toHaveLength(1);
    expect(r.body.data[0].id).toBe(ana.id);
    expect(r.body.next_cursor).toBeNull();
  });

  it("finds one contact by external_id, exactly", async () => {
    expect(emails(await s.call("GET", "/v1/contacts?external_id=crm-2"))).toEqual(["bob@example.com"]);
    expect((await s.call("GET", "/v1/contacts?external_id=CRM-2")).body.data).toEqual([]);
  });

  it("answers an empty list when nothing matches, or when email and external_id name two contacts", async () => {
    expect((await s.call("GET", "/v1/contacts?email=nobody%40example.com")).body).toEqual({
      data: [],
      next_cursor: null,
    });
    expect((await s.call("GET", "/v1/contacts?email=ana%40example.com&external_id=crm-2")).body.data).toEqual(
      [],
    );
    expect(emails(await s.call("GET", "/v1/contacts?email=ana%40example.com&external_id=crm-1"))).toEqual([
      "ana@example.com",
    ]);
  });

  it("combines with segment=", async () => {
    expect(emails(await s.call("GET", `/v1/contacts?segment=${seg}&email=ana%40example.com`))).toEqual([
      "ana@example.com",
    ]);
    expect((await s.call("GET", `/v1/contacts?segment=${seg}&email=bob%40example.com`)).body.data).toEqual(
      [],
    );
  });

  it("refuses an over-long email before anything reads it", async () => {
    const r = await s.call("GET", `/v1/contacts?email=${"a".repeat(300)}%40example.com`);
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("query.email");
  });
});

describe("GET /v1/segments/{id}/contacts: is this contact in?", () => {
  it("answers the contact when it is a member, else an empty list", async () => {
    const inside = await s.call("GET", `/v1/segments/${seg}/contacts?email=ana%40example.com`);
    expect(inside.status, inside.text).toBe(200);
    expect(inside.body.data.map((c: Json) => c.id)).toEqual([ana.id]);
    expect((await s.call("GET", `/v1/segments/${seg}/contacts?email=bob%40example.com`)).body.data).toEqual(
      [],
    );
    expect((await s.call("GET", `/v1/segments/${seg}/contacts?external_id=crm-1`)).body.data).toHaveLength(1);
    expect((await s.call("GET", `/v1/segments/${seg}/contacts?id=${ana.id}`)).body.data).toHaveLength(1);
    expect((await s.call("GET", `/v1/segments/${seg}/contacts?id=ct_nope`)).body.data).toEqual([]);
  });

  it("refuses a lookup combined with at=", async () => {
    const r = await s.call(
      "GET",
      `/v1/segments/${seg}/contacts?email=ana%40example.com&at=2024-01-01T00:00:00Z`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("query.at");
  });
});

describe("unknown query parameters", () => {
  it("are a 400 naming the parameter", async () => {
    for (const [path, name] of [
      ["/v1/contacts?emial=ana%40example.com", "emial"],
      [`/v1/segments/${seg}/contacts?foo=1`, "foo"],
      [`/v1/segments/${seg}/changes?limit=5&foo=1`, "foo"],
      [`/v1/segments/${seg}/export?foo=1`, "foo"],
      [`/v1/contacts/${ana.id}/events?foo=1`, "foo"],
      [`/v1/contacts/${ana.id}/explain?segment=${seg}&foo=1`, "foo"],
    ] as const) {
      const r = await s.call("GET", path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.message, path).toBe(`query.${name}: unknown parameter`);
      expect(r.body.error.details.path, path).toBe(`query.${name}`);
    }
  });

  it("a parameter given twice is refused", async () => {
    const r = await s.call("GET", "/v1/contacts?email=a%40example.com&email=b%40example.com");
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("query.email");
  });

  it("known parameters still work", async () => {
    expect((await s.call("GET", "/v1/contacts?limit=1")).body.data).toHaveLength(1);
    expect((await s.call("GET", `/v1/segments/${seg}/changes?limit=5`)).status).toBe(200);
  });
});

describe("slice explain takes an email", () => {
  const ROOT = fileURLToPath(new URL("../..", import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        SLICE_URL: s.url,
        SLICE_API_KEY: ADMIN_KEY,
        NO_COLOR: "1",
      };
      const child = spawn(process.execPath, [join(ROOT, "bin", "slice.js"), ...args], { cwd: ROOT, env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end();
    });

  it("looks the contact up by email", async () => {
    const r = await run(["explain", "ana@example.com", "--segment", seg, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).member).toBe(true);
    const text = await run(["explain", "ANA@example.com", "--segment", seg]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(ana.id);
  });

  it("says so when no contact has the email", async () => {
    const r = await run(["explain", "nobody@example.com", "--segment", seg]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no contact with email "nobody@example.com"');
  });
}, 120_000);
