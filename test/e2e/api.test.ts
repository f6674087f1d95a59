/**
 * End-to-end tests of the core HTTP API (SPEC §4) over real HTTP, against a real server
 * on SQLite and on PostgreSQL. Every test works in a workspace of its own (made with the
 * admin key), so tests share one server per backend without seeing each other's data.
 * Servers with special options (small body limit and rate limit; a fake clock) are
 * started on fresh databases of their own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgServer, startPostgres } from "../support/postgres.ts";
import {
  ADMIN_KEY,
  type Backend,
  eventually,
  type Json,
  startTestServer,
  type TestServer,
} from "../support/server.ts";

type Reply = { status: number; body: Json; text: string; headers: Headers };
type Call = (method: string, path: string, body?: unknown) => Promise<Reply>;

interface Ws {
  id: string;
  key: string;
  c: Call;
}

/** SPEC §4 error body: `{ error: { code, message, details? } }` with the given status. */
function expectError(r: Reply, status: number, code?: string): Json {
  expect(r.status, r.text).toBe(status);
  expect(r.body).toEqual({
    error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
  });
  if (code !== undefined) expect(r.body.error.code).toBe(code);
  return r.body.error;
}

function expectOk(r: Reply, status = 200): Json {
  expect(r.status, r.text).toBe(status);
  return r.body;
}

const ids = (list: { id: string }[]) => list.map((x) => x.id).sort();

const WIRE_KEYS = [
  "id",
  "email",
  "external_id",
  "phone",
  "first_name",
  "last_name",
  "country",
  "region",
  "city",
  "postal_code",
  "timezone",
  "language",
  "status",
  "email_status",
  "tags",
  "created_at",
  "subscribed_at",
  "fields",
];

function expectWireContact(c: Json): void {
  for (const k of WIRE_KEYS) expect(c, `wire contact key ${k}`).toHaveProperty(k);
  expect(typeof c.id).toBe("string");
  expect(Array.isArray(c.tags)).toBe(true);
  expect(typeof c.fields).toBe("object");
}

/** Every node of an explained rule carries `result`; event nodes `measured` and `needed`. */
function walkExplain(node: Json, seen: Json[] = []): Json[] {
  expect(typeof node.result, JSON.stringify(node)).toBe("boolean");
  seen.push(node);
  if (node.type === "and" || node.type === "or") for (const c of node.conditions) walkExplain(c, seen);
  if (node.type === "not") walkExplain(node.condition, seen);
  if (node.type === "event") {
    expect(node).toHaveProperty("measured");
    expect(node.needed).toEqual(expect.objectContaining({ op: expect.any(String) }));
  }
  return seen;
}

describe.each(["sqlite", "postgres"] as const)("HTTP API over %s", (kind) => {
  let pgServer: PgServer | null = null;
  let dbCount = 0;
  const servers: TestServer[] = [];
  let s: TestServer;
  let wsCount = 0;

  /** A fresh database for every server start. */
  async function backend(): Promise<Backend> {
    if (kind === "sqlite") return { kind: "sqlite" };
    return { kind: "postgres", url: await pgServer!.createDatabase(`slice_e2e_api_${++dbCount}`) };
  }

  async function start(opts: Parameters<typeof startTestServer>[1] = {}): Promise<TestServer> {
    const srv = await startTestServer(await backend(), opts);
    servers.push(srv);
    return srv;
  }

  async function workspaceOn(srv: TestServer, name = `ws ${++wsCount}`): Promise<Ws> {
    const r = await srv.call("POST", "/v1/workspaces", { name });
    const body = expectOk(r, 201);
    expect(body).toEqual({
      workspace: expect.objectContaining({ id: expect.any(String), name }),
      api_key: expect.any(String),
    });
    const key = body.api_key as string;
    return { id: body.workspace.id, key, c: (method, path, b) => srv.call(method, path, b, { key }) };
  }

  const workspace = (name?: string) => workspaceOn(s, name);

  beforeAll(async () => {
    if (kind === "postgres") pgServer = await startPostgres();
    s = await start();
  });

  afterAll(async () => {
    for (const srv of servers.splice(0)) await srv.stop();
    await pgServer?.stop();
  });

  // ================================================================ auth, workspaces, keys

  describe("auth and workspaces", () => {
    it("401 without a key or with a wrong key, with the error body", async () => {
      const none = await s.call("GET", "/v1/contacts", undefined, { key: null });
      expectError(none, 401, "unauthorized");
      const wrong = await s.call("GET", "/v1/contacts", undefined, { key: "sk_nope_0000" });
      expectError(wrong, 401, "unauthorized");
      const malformed = await s.call("GET", "/v1/segments", undefined, {
        key: null,
        headers: { authorization: "Basic abc" },
      });
      expectError(malformed, 401, "unauthorized");
      // The admin key (SLICE_API_KEY) belongs to the default workspace.
      const admin = expectOk(await s.call("GET", "/v1/workspace", undefined, { key: ADMIN_KEY }));
      expect(admin.id).toBe("ws_default");
    });

    it("an admin creates a workspace; its key is a workspace key (403 on POST /v1/workspaces)", async () => {
      const ws = await workspace("Acme");
      const me = expectOk(await ws.c("GET", "/v1/workspace"));
      expect(me).toEqual(expect.objectContaining({ id: ws.id, name: "Acme" }));
      expectError(await ws.c("POST", "/v1/workspaces", { name: "nope" }), 403, "forbidden");
      // An invalid body from the admin is a 400 naming the path.
      const bad = expectError(await s.call("POST", "/v1/workspaces", { name: "" }), 400, "invalid_request");
      expect(bad.details.path).toBe("name");
    });

    it("another workspace's contacts and segments answer 404, both ways", async () => {
      const a = await workspace();
      const b = await workspace();
      const ca = expectOk(await a.c("POST", "/v1/contacts", { email: "a@x.io" }), 201);
      const cb = expectOk(await b.c("POST", "/v1/contacts", { email: "b@x.io" }), 201);
      const sa = expectOk(
        await a.c("POST", "/v1/segments", {
          name: "A",
          rule: { type: "field", field: "email", op: "is_set" },
        }),
        201,
      );
      const sb = expectOk(await b.c("POST", "/v1/segments", { name: "B", kind: "static" }), 201);
      for (const [me, other, contact, segment] of [
        [a, b, cb, sb],
        [b, a, ca, sa],
      ] as const) {
        expectError(await me.c("GET", `/v1/contacts/${contact.id}`), 404, "not_found");
        expectError(await me.c("PATCH", `/v1/contacts/${contact.id}`, { first_name: "X" }), 404);
        expectError(await me.c("DELETE", `/v1/contacts/${contact.id}`), 404);
        expectError(await me.c("GET", `/v1/contacts/${contact.id}/events`), 404);
        expectError(await me.c("GET", `/v1/segments/${segment.id}`), 404, "not_found");
        expectError(await me.c("GET", `/v1/segments/${segment.id}/contacts`), 404);
        expectError(await me.c("DELETE", `/v1/segments/${segment.id}`), 404);
        expectError(
          await me.c("POST", `/v1/segments/${segment.id}/members`, { contacts: [{ id: contact.id }] }),
          404,
        );
        // Its own lists do not show the other's data.
        const list = expectOk(await me.c("GET", "/v1/contacts"));
        expect(list.data.map((x: Json) => x.id)).not.toContain(contact.id);
        const segs = expectOk(await me.c("GET", "/v1/segments"));
        expect(segs.data.map((x: Json) => x.id)).not.toContain(segment.id);
        // And the other's data is still there for its owner.
        expectOk(await other.c("GET", `/v1/contacts/${contact.id}`));
      }
      // An event naming another workspace's contact id is a per-item error, not a write there.
      const ev = expectOk(await a.c("POST", "/v1/events", [{ type: "x", contact: { id: cb.id } }]));
      expect(ev.accepted).toBe(0);
      expect(ev.errors).toHaveLength(1);
      expect(expectOk(await b.c("GET", `/v1/contacts/${cb.id}/events`)).data).toEqual([]);
      // Emails, external ids and event ids are unique per workspace, not across them.
      const sameA = expectOk(
        await a.c("POST", "/v1/contacts", { email: "same@x.io", external_id: "same" }),
        201,
      );
      const sameB = expectOk(
        await b.c("POST", "/v1/contacts", { email: "same@x.io", external_id: "same" }),
        201,
      );
      expect(sameB.id).not.toBe(sameA.id);
      const evA = { id: "evt-shared", type: "email_sent", contact: { email: "same@x.io" } };
      expect(expectOk(await a.c("POST", "/v1/events", evA))).toEqual({
        accepted: 1,
        duplicates: 0,
        errors: [],
      });
      expect(expectOk(await b.c("POST", "/v1/events", evA))).toEqual({
        accepted: 1,
        duplicates: 0,
        errors: [],
      });
      expect(expectOk(await b.c("GET", `/v1/contacts/${sameB.id}/events`)).data).toHaveLength(1);
    });

    it("keys: created with the secret shown once, listed without it, revoked (then 401)", async () => {
      const ws = await workspace();
      const made = expectOk(await ws.c("POST", "/v1/keys", { name: "ci" }), 201);
      expect(made).toEqual(
        expect.objectContaining({ id: expect.any(String), name: "ci", key: expect.any(String) }),
      );
      const secret = made.key as string;
      // The new key works and belongs to the same workspace.
      const me = expectOk(await s.call("GET", "/v1/workspace", undefined, { key: secret }));
      expect(me.id).toBe(ws.id);
      expectError(await s.call("POST", "/v1/workspaces", { name: "x" }, { key: secret }), 403);
      const list = await ws.c("GET", "/v1/keys");
      const body = expectOk(list);
      expect(body.next_cursor).toBeNull();
      expect(body.data.map((k: Json) => k.id)).toContain(made.id);
      expect(list.text).not.toContain(secret);
      for (const k of body.data) {
        expect(k).not.toHaveProperty("key");
        expect(k).not.toHaveProperty("secret");
      }
      expect(await ws.c("DELETE", `/v1/keys/${made.id}`)).toMatchObject({ status: 204 });
      expectError(await s.call("GET", "/v1/workspace", undefined, { key: secret }), 401, "unauthorized");
      expectError(await ws.c("DELETE", `/v1/keys/${made.id}`), 404);
      // Another workspace cannot revoke this workspace's key.
      const other = await workspace();
      expectError(await other.c("DELETE", `/v1/keys/${body.data[0].id}`), 404);
      expectOk(await ws.c("GET", "/v1/workspace"));
    });
  });

  // ================================================================ contacts

  describe("contacts", () => {
    it("upserts by email (case-insensitive, stored lower-cased): 201 then 200, merging", async () => {
      const ws = await workspace();
      const r1 = await ws.c("POST", "/v1/contacts", {
        email: "  Ann.Lee@Example.COM ",
        first_name: "Ann",
        country: "fr",
        tags: ["vip"],
      });
      const c1 = expectOk(r1, 201);
      expectWireContact(c1);
      expect(c1.email).toBe("ann.lee@example.com");
      expect(c1.first_name).toBe("Ann");
      expect(c1.country).toBe("FR");
      expect(c1.status).toBe("non_subscribed");
      expect(c1.email_status).toBe("deliverable");
      expect(c1.segments).toContain("all");

      const c2 = expectOk(
        await ws.c("POST", "/v1/contacts", { email: "ANN.LEE@example.com", last_name: "Lee" }),
      );
      expect(c2.id).toBe(c1.id);
      expect(c2.email).toBe("ann.lee@example.com");
      // Keys not given are kept.
      expect(c2).toMatchObject({ first_name: "Ann", last_name: "Lee", country: "FR", tags: ["vip"] });
      expect(c2.created_at).toBe(c1.created_at);

      const list = expectOk(await ws.c("GET", "/v1/contacts"));
      expect(list.data).toHaveLength(1);
    });

    it("upserts by external_id, PATCH, GET with segments, DELETE then 404", async () => {
      const ws = await workspace();
      const c1 = expectOk(
        await ws.c("POST", "/v1/contacts", { external_id: "u-1", first_name: "Bo", status: "subscribed" }),
        201,
      );
      expect(c1.email).toBeNull();
      expect(c1.subscribed_at).not.toBeNull();
      const c2 = expectOk(await ws.c("POST", "/v1/contacts", { external_id: "u-1", email: "bo@x.io" }));
      expect(c2).toMatchObject({ id: c1.id, first_name: "Bo", email: "bo@x.io", status: "subscribed" });
      // The email now finds the same contact.
      const c3 = expectOk(await ws.c("POST", "/v1/contacts", { email: "BO@x.io", city: "Lyon" }));
      expect(c3).toMatchObject({ id: c1.id, external_id: "u-1", city: "Lyon" });

      const p = expectOk(await ws.c("PATCH", `/v1/contacts/${c1.id}`, { last_name: "Ek", tags: ["a", "b"] }));
      expect(p).toMatchObject({
        id: c1.id,
        first_name: "Bo",
        last_name: "Ek",
        tags: ["a", "b"],
        city: "Lyon",
      });
      expectError(await ws.c("PATCH", `/v1/contacts/${c1.id}`, { nope: 1 }), 400, "invalid_request");
      expectError(await ws.c("PATCH", "/v1/contacts/ct_missing", { first_name: "X" }), 404, "not_found");

      const got = expectOk(await ws.c("GET", `/v1/contacts/${c1.id}`));
      expectWireContact(got);
      expect(got.segments).toEqual(expect.arrayContaining(["all", "subscribed"]));
      expect(got.segments).not.toContain("hard_bounced");

      expect((await ws.c("DELETE", `/v1/contacts/${c1.id}`)).status).toBe(204);
      expectError(await ws.c("GET", `/v1/contacts/${c1.id}`), 404, "not_found");
      expectError(await ws.c("DELETE", `/v1/contacts/${c1.id}`), 404, "not_found");
      expect(expectOk(await ws.c("GET", "/v1/segments/all")).size).toBe(0);
    });

    it("created_at is taken on create and kept on update; an upsert without a key is a 400", async () => {
      const ws = await workspace();
      const c1 = expectOk(
        await ws.c("POST", "/v1/contacts", { email: "old@x.io", created_at: "2020-03-01T10:00:00Z" }),
        201,
      );
      expect(c1.created_at).toBe("2020-03-01T10:00:00.000Z");
      const c2 = expectOk(
        await ws.c("POST", "/v1/contacts", { email: "old@x.io", created_at: "2023-01-01T00:00:00Z" }),
      );
      expect(c2.created_at).toBe("2020-03-01T10:00:00.000Z");
      const c3 = expectOk(
        await ws.c("PATCH", `/v1/contacts/${c1.id}`, { created_at: "2024-01-01T00:00:00Z" }),
      );
      expect(c3.created_at).toBe("2020-03-01T10:00:00.000Z");

      expectError(await ws.c("POST", "/v1/contacts", { first_name: "nobody" }), 400, "invalid_request");
      const badEmail = expectError(await ws.c("POST", "/v1/contacts", { email: "not-an-email" }), 400);
      expect(badEmail.details.path).toBe("email");
      const badDate = expectError(
        await ws.c("POST", "/v1/contacts", { email: "d@x.io", created_at: "2021-02-30" }),
        400,
      );
      expect(badDate.details.path).toBe("created_at");
    });

    it("custom fields: declared, typed, unknown keys refused", async () => {
      const ws = await workspace();
      const f = expectOk(
        await ws.c("POST", "/v1/fields", { key: "score", type: "number", label: "Score" }),
        201,
      );
      expect(f).toEqual(
        expect.objectContaining({ key: "score", type: "number", label: "Score", builtin: false }),
      );
      expectOk(await ws.c("POST", "/v1/fields", { key: "plan", type: "string" }), 201);
      expectError(await ws.c("POST", "/v1/fields", { key: "score", type: "string" }), 409, "conflict");
      const shadow = expectError(await ws.c("POST", "/v1/fields", { key: "email", type: "string" }), 400);
      expect(shadow.code).toBe("invalid_request");
      expect(shadow.details.path).toBe("key");
      expectError(await ws.c("POST", "/v1/fields", { key: "colour", type: "colour" }), 400);

      const list = expectOk(await ws.c("GET", "/v1/fields"));
      expect(list.next_cursor).toBeNull();
      const byKey = new Map(list.data.map((x: Json) => [x.key, x]));
      expect(byKey.get("score")).toMatchObject({ type: "number", label: "Score", builtin: false });
      expect(byKey.get("plan")).toMatchObject({ type: "string", builtin: false });
      expect(byKey.get("email")).toMatchObject({ type: "string", builtin: true });
      expect(byKey.get("tags")).toMatchObject({ type: "string_list", builtin: true });

      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "f@x.io", fields: { score: 7 } }), 201);
      expect(c.fields).toEqual({ score: 7 });
      const c2 = expectOk(await ws.c("POST", "/v1/contacts", { email: "f@x.io", fields: { plan: "pro" } }));
      expect(c2.fields).toEqual({ score: 7, plan: "pro" });

      const wrong = expectError(
        await ws.c("POST", "/v1/contacts", { email: "f@x.io", fields: { score: "high" } }),
        400,
        "invalid_request",
      );
      expect(wrong.details.path).toBe("fields.score");
      expect(wrong.message).toContain("expected a number");
      const unknown = expectError(
        await ws.c("POST", "/v1/contacts", { email: "f@x.io", fields: { nope: 1 } }),
        400,
        "invalid_request",
      );
      expect(unknown.details.path).toBe("fields.nope");
      // Neither failed write changed anything.
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).fields).toEqual({ score: 7, plan: "pro" });
    });

    it("lists with cursor pagination; limit clamped at 1000, 0 refused", async () => {
      const ws = await workspace();
      for (let i = 0; i < 5; i++) expectOk(await ws.c("POST", "/v1/contacts", { email: `p${i}@x.io` }), 201);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
        const page = expectOk(await ws.c("GET", `/v1/contacts?limit=2${q}`));
        expect(Object.keys(page).sort()).toEqual(["data", "next_cursor", "total"]);
        expect(page.total).toBe(5);
        expect(page.data.length).toBe(pages < 2 ? 2 : 1);
        for (const c of page.data) expectWireContact(c);
        seen.push(...page.data.map((c: Json) => c.id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(5);

      expectError(await ws.c("GET", "/v1/contacts?limit=0"), 400, "invalid_request");
      expectError(await ws.c("GET", "/v1/contacts?limit=-3"), 400);
      expectError(await ws.c("GET", "/v1/contacts?limit=abc"), 400);
      expect(expectOk(await ws.c("GET", "/v1/contacts?limit=5000")).data).toHaveLength(5);

      // Over 1000 contacts, a limit of 5000 answers 1000 and a cursor.
      const many = Array.from({ length: 1001 }, (_, i) => ({ email: `m${i}@x.io` }));
      const batch = expectOk(await ws.c("POST", "/v1/contacts/batch", { contacts: many }));
      expect(batch).toEqual({ accepted: 1001, duplicates: 0, errors: [] });
      const big = expectOk(await ws.c("GET", "/v1/contacts?limit=5000"));
      expect(big.data).toHaveLength(1000);
      expect(big.next_cursor).toEqual(expect.any(String));
      const rest = expectOk(
        await ws.c("GET", `/v1/contacts?limit=5000&cursor=${encodeURIComponent(big.next_cursor)}`),
      );
      expect(rest.data).toHaveLength(6);
      expect(rest.next_cursor).toBeNull();
      expect(expectOk(await ws.c("GET", "/v1/contacts")).data).toHaveLength(100);
    });

    it("batch: per-item errors naming the path, the rest applied", async () => {
      const ws = await workspace();
      expectOk(await ws.c("POST", "/v1/fields", { key: "score", type: "number" }), 201);
      const r = expectOk(
        await ws.c("POST", "/v1/contacts/batch", {
          contacts: [
            { email: "b0@x.io", fields: { score: 1 } },
            { email: "b1@x.io", fields: { score: "x" } },
            { email: "B0@X.io", first_name: "Zed" },
            { first_name: "no key" },
            { external_id: "e-9", country: "Narnia" },
            { email: "b5@x.io", bogus: true },
            { external_id: "e-6" },
          ],
        }),
      );
      expect(r.accepted).toBe(2);
      expect(r.duplicates).toBe(1);
      expect(r.errors.map((e: Json) => e.index)).toEqual([1, 3, 4, 5]);
      for (const e of r.errors) expect(Object.keys(e).sort()).toEqual(["error", "index"]);
      expect(r.errors[0].error).toBe("contacts[1].fields.score: expected a number");
      expect(r.errors[1].error).toMatch(/^contacts\[3\]/);
      expect(r.errors[2].error).toMatch(/^contacts\[4\]\.country/);
      expect(r.errors[3].error).toMatch(/^contacts\[5\]/);
      const list = expectOk(await ws.c("GET", "/v1/contacts"));
      const emails = list.data.map((c: Json) => c.email ?? c.external_id).sort();
      expect(emails).toEqual(["b0@x.io", "e-6"]);
      const b0 = list.data.find((c: Json) => c.email === "b0@x.io");
      expect(b0).toMatchObject({ first_name: "Zed", fields: { score: 1 } });

      expectError(await ws.c("POST", "/v1/contacts/batch", { contacts: "nope" }), 400, "invalid_request");
    });
  });

  // ================================================================ events

  describe("events", () => {
    it("one event and an array; idempotency across and within requests", async () => {
      const ws = await workspace();
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "ev@x.io" }), 201);
      const one = expectOk(
        await ws.c("POST", "/v1/events", { id: "e-1", type: "email_sent", contact: { id: c.id } }),
      );
      expect(one).toEqual({ accepted: 1, duplicates: 0, errors: [] });
      const again = expectOk(
        await ws.c("POST", "/v1/events", { id: "e-1", type: "email_sent", contact: { id: c.id } }),
      );
      expect(again).toEqual({ accepted: 0, duplicates: 1, errors: [] });
      const arr = expectOk(
        await ws.c("POST", "/v1/events", [
          { id: "e-2", type: "email_opened", contact: { email: "EV@x.io" } },
          { id: "e-2", type: "email_opened", contact: { email: "ev@x.io" } },
          { id: "e-1", type: "email_sent", contact: { id: c.id } },
          { type: "page_viewed", contact: { id: c.id }, properties: { url: "/a" } },
        ]),
      );
      expect(arr).toEqual({ accepted: 2, duplicates: 2, errors: [] });
      const evs = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/events`));
      expect(evs.data).toHaveLength(3);
      expect(evs.next_cursor).toBeNull();
      // Counted once: an event condition sees one open.
      const prev = expectOk(
        await ws.c("POST", "/v1/segments/preview", {
          rule: { type: "event", event: "email_opened", op: "eq", value: 1 },
        }),
      );
      expect(prev.count).toBe(1);
    });

    it("per-item errors: unknown id, invalid type, oversized properties; unknown email creates", async () => {
      const ws = await workspace();
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "k@x.io" }), 201);
      const r = expectOk(
        await ws.c("POST", "/v1/events", [
          { type: "email_sent", contact: { id: c.id } },
          { type: "email_sent", contact: { id: "ct_does_not_exist" } },
          { type: "Not A Type!", contact: { id: c.id } },
          { type: "page_viewed", contact: { id: c.id }, properties: { blob: "x".repeat(17 * 1024) } },
          { type: "email_sent", contact: { email: "New.Person@X.io" } },
          { type: "email_sent", contact: { id: c.id }, timestamp: "yesterday" },
          { type: "email_sent", contact: { id: c.id, email: "k@x.io" } },
          { type: "email_sent", contact: { id: c.id }, properties: { blob: "x".repeat(15 * 1024) } },
        ]),
      );
      expect(r.accepted).toBe(3);
      expect(r.duplicates).toBe(0);
      expect(r.errors.map((e: Json) => e.index)).toEqual([1, 2, 3, 5, 6]);
      expect(r.errors[0].error).toMatch(/^\[1\]\.contact/);
      expect(r.errors[0].error).toContain("ct_does_not_exist");
      expect(r.errors[1].error).toMatch(/^\[2\]\.type/);
      expect(r.errors[2].error).toMatch(/^\[3\]\.properties/);
      expect(r.errors[3].error).toMatch(/^\[5\]\.timestamp/);
      expect(r.errors[4].error).toMatch(/^\[6\]\.contact/);

      const list = expectOk(await ws.c("GET", "/v1/contacts"));
      expect(list.data).toHaveLength(2);
      const created = list.data.find((x: Json) => x.email === "new.person@x.io");
      expect(created).toBeDefined();
      expect(created.status).toBe("non_subscribed");
      expect(expectOk(await ws.c("GET", `/v1/contacts/${created.id}/events`)).data).toHaveLength(1);
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}/events`)).data).toHaveLength(2);

      // A single invalid event (not an array) is answered like one contact: a 400 naming the path.
      const single = expectError(
        await ws.c("POST", "/v1/events", { type: "bad type", contact: { id: c.id } }),
        400,
        "invalid_request",
      );
      expect(single.details.path).toBe("type");
    });

    it("a contact's events come newest first, with their properties", async () => {
      const ws = await workspace();
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "n@x.io" }), 201);
      expectOk(
        await ws.c("POST", "/v1/events", [
          {
            type: "order_placed",
            contact: { id: c.id },
            timestamp: "2024-05-02T10:00:00Z",
            properties: { amount: 20 },
          },
          { type: "email_opened", contact: { id: c.id }, timestamp: "2024-05-03T10:00:00Z" },
          { type: "email_sent", contact: { id: c.id }, timestamp: "2024-05-01T10:00:00Z" },
        ]),
      );
      const evs = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/events`));
      expect(evs.data.map((e: Json) => e.type)).toEqual(["email_opened", "order_placed", "email_sent"]);
      expect(evs.data[1]).toMatchObject({
        type: "order_placed",
        contact_id: c.id,
        timestamp: "2024-05-02T10:00:00.000Z",
        properties: { amount: 20 },
      });
      const p1 = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/events?limit=2`));
      expect(p1.data.map((e: Json) => e.type)).toEqual(["email_opened", "order_placed"]);
      const p2 = expectOk(
        await ws.c("GET", `/v1/contacts/${c.id}/events?limit=2&cursor=${encodeURIComponent(p1.next_cursor)}`),
      );
      expect(p2.data.map((e: Json) => e.type)).toEqual(["email_sent"]);
      expect(p2.next_cursor).toBeNull();
      // The order is a customer now.
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).segments).toContain("customers");
    });

    it("profile effects: hard bounce, unsubscribe, complaint", async () => {
      const ws = await workspace();
      const a = expectOk(await ws.c("POST", "/v1/contacts", { email: "a@x.io", status: "subscribed" }), 201);
      const b = expectOk(await ws.c("POST", "/v1/contacts", { email: "b@x.io", status: "subscribed" }), 201);
      expect(expectOk(await ws.c("GET", "/v1/segments/subscribed")).size).toBe(2);

      expectOk(
        await ws.c("POST", "/v1/events", {
          type: "email_bounced",
          contact: { email: "a@x.io" },
          properties: { bounce_type: "hard" },
        }),
      );
      const ga = expectOk(await ws.c("GET", `/v1/contacts/${a.id}`));
      expect(ga.email_status).toBe("hard_bounced");
      expect(ga.segments).toContain("hard_bounced");
      const hb = expectOk(await ws.c("GET", "/v1/segments/hard_bounced/contacts"));
      expect(ids(hb.data)).toEqual([a.id]);
      expect(expectOk(await ws.c("GET", "/v1/segments/hard_bounced")).size).toBe(1);
      // In the list of contacts too.
      const listed = expectOk(await ws.c("GET", "/v1/contacts")).data.find((x: Json) => x.id === a.id);
      expect(listed.email_status).toBe("hard_bounced");

      expectOk(await ws.c("POST", "/v1/events", { type: "email_unsubscribed", contact: { id: b.id } }));
      const gb = expectOk(await ws.c("GET", `/v1/contacts/${b.id}`));
      expect(gb.status).toBe("unsubscribed");
      expect(gb.segments).not.toContain("subscribed");
      expect(ids(expectOk(await ws.c("GET", "/v1/segments/subscribed/contacts")).data)).toEqual([a.id]);

      // A hard bounce stays until the profile is changed explicitly, even through a complaint.
      expectOk(await ws.c("POST", "/v1/events", { type: "email_complained", contact: { id: a.id } }));
      const ga2 = expectOk(await ws.c("GET", `/v1/contacts/${a.id}`));
      expect(ga2).toMatchObject({ status: "unsubscribed", email_status: "hard_bounced" });
      expect(ga2.segments).toContain("hard_bounced");
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "c@x.io", status: "subscribed" }), 201);
      expectOk(await ws.c("POST", "/v1/events", { type: "email_complained", contact: { email: "c@x.io" } }));
      const gc = expectOk(await ws.c("GET", `/v1/contacts/${c.id}`));
      expect(gc).toMatchObject({ status: "unsubscribed", email_status: "complained" });
      expect(gc.segments).not.toContain("subscribed");

      // An explicit write later than the events wins.
      const back = expectOk(
        await ws.c("PATCH", `/v1/contacts/${a.id}`, { status: "subscribed", email_status: "deliverable" }),
      );
      expect(back).toMatchObject({ status: "subscribed", email_status: "deliverable" });
      expect(back.segments).toContain("subscribed");
    });

    it("profile effects follow event timestamps, not arrival; explicit writes count when received", async () => {
      const ws = await workspace();
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "o@x.io", status: "subscribed" }), 201);
      const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
      // An unsubscribe that happened before the explicit subscribe does not undo it.
      expectOk(
        await ws.c("POST", "/v1/events", {
          type: "email_unsubscribed",
          contact: { id: c.id },
          timestamp: ago(3_600_000),
        }),
      );
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).status).toBe("subscribed");

      // Soft bounce now; an open from before it arrives late and changes nothing.
      expectOk(
        await ws.c("POST", "/v1/events", {
          type: "email_bounced",
          contact: { id: c.id },
          properties: { bounce_type: "soft" },
        }),
      );
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).email_status).toBe("soft_bouncing");
      expectOk(
        await ws.c("POST", "/v1/events", {
          type: "email_opened",
          contact: { id: c.id },
          timestamp: ago(600_000),
        }),
      );
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).email_status).toBe("soft_bouncing");
      // A later open makes it deliverable again.
      await new Promise((r) => setTimeout(r, 5));
      expectOk(await ws.c("POST", "/v1/events", { type: "email_clicked", contact: { id: c.id } }));
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).email_status).toBe("deliverable");
    });

    it("more than 10,000 items in one request: 413", async () => {
      const ws = await workspace();
      const events = Array.from({ length: 10_001 }, () => ({ type: "x", contact: { id: "ct_x" } }));
      expectError(await ws.c("POST", "/v1/events", events), 413, "payload_too_large");
      const contacts = Array.from({ length: 10_001 }, (_, i) => ({ external_id: `x${i}` }));
      expectError(await ws.c("POST", "/v1/contacts/batch", { contacts }), 413, "payload_too_large");
      expect(expectOk(await ws.c("GET", "/v1/segments/all")).size).toBe(0);
    });
  });

  // ================================================================ segments

  describe("segments", () => {
    it("default segments are present and read-only", async () => {
      const ws = await workspace();
      const list = expectOk(await ws.c("GET", "/v1/segments"));
      expect(list.next_cursor).toBeNull();
      const defaults = ["all", "customers", "subscribed", "inactive", "hard_bounced", "excluded"];
      expect(list.data.map((x: Json) => x.id)).toEqual(expect.arrayContaining(defaults));
      for (const d of list.data.filter((x: Json) => defaults.includes(x.id))) {
        expect(d).toMatchObject({ kind: "dynamic", default: true, size: 0 });
        expect(typeof d.name).toBe("string");
        expect(d.rule).toEqual(expect.objectContaining({ type: expect.any(String) }));
      }
      expect(expectOk(await ws.c("GET", "/v1/segments/all")).name).toBe("All Contacts");
      for (const id of defaults) {
        expectError(
          await ws.c("PUT", `/v1/segments/${id}`, {
            name: "x",
            rule: { type: "field", field: "email", op: "is_set" },
          }),
          403,
          "forbidden",
        );
        expectError(await ws.c("DELETE", `/v1/segments/${id}`), 403, "forbidden");
      }
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "a@x.io" }), 201);
      const refs = { contacts: [{ id: c.id }] };
      expectError(await ws.c("POST", "/v1/segments/all/members", refs), 403, "forbidden");
      expectError(await ws.c("DELETE", "/v1/segments/all/members", refs), 403, "forbidden");
      expectError(await ws.c("DELETE", "/v1/segments/all/overrides", refs), 403, "forbidden");
      expect(expectOk(await ws.c("GET", "/v1/segments/all/overrides"))).toEqual({
        data: [],
        next_cursor: null,
      });
      expect(expectOk(await ws.c("GET", "/v1/segments/all")).size).toBe(1);
      expectError(await ws.c("GET", "/v1/segments/seg_nope"), 404, "not_found");
    });

    it("create, read, replace (version, changes logged), delete", async () => {
      const ws = await workspace();
      const fr = expectOk(await ws.c("POST", "/v1/contacts", { email: "fr@x.io", country: "FR" }), 201);
      const de = expectOk(await ws.c("POST", "/v1/contacts", { email: "de@x.io", country: "DE" }), 201);
      expectOk(await ws.c("POST", "/v1/contacts", { email: "us@x.io", country: "US" }), 201);
      const created = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "France",
          description: "French contacts",
          rule: { type: "field", field: "country", op: "eq", value: "fr" },
        }),
        201,
      );
      expect(created).toMatchObject({
        name: "France",
        description: "French contacts",
        kind: "dynamic",
        rule: { type: "field", field: "country", op: "eq", value: "fr" },
        version: 1,
        size: 1,
      });
      expect(created.id).toMatch(/^seg_/);
      const id = created.id as string;
      expect(expectOk(await ws.c("GET", `/v1/segments/${id}`))).toMatchObject({ id, size: 1, version: 1 });
      const members = expectOk(await ws.c("GET", `/v1/segments/${id}/contacts`));
      expect(ids(members.data)).toEqual([fr.id]);
      expect(members.next_cursor).toBeNull();
      expect(expectOk(await ws.c("GET", `/v1/contacts?segment=${id}`)).data.map((c: Json) => c.id)).toEqual([
        fr.id,
      ]);
      expect(expectOk(await ws.c("GET", "/v1/segments")).data.find((x: Json) => x.id === id).size).toBe(1);

      const replaced = expectOk(
        await ws.c("PUT", `/v1/segments/${id}`, {
          name: "Germany",
          rule: { type: "field", field: "country", op: "in", value: ["DE"] },
        }),
      );
      expect(replaced).toMatchObject({ id, name: "Germany", version: 2, size: 1, description: "" });
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${id}/contacts`)).data)).toEqual([de.id]);
      // The edit is in the log: fr entered (create), fr exited and de entered (edit).
      const log = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${id}/changes`));
          return r.data.length >= 3 ? r : null;
        },
        2000,
        "the edit's changes",
      );
      const pairs = log.data.map((x: Json) => [x.contact_id, x.change]);
      expect(pairs[0]).toEqual([fr.id, "entered"]);
      // The order of the two changes of one edit is not specified.
      expect(pairs.slice(1)).toEqual(
        expect.arrayContaining([
          [fr.id, "exited"],
          [de.id, "entered"],
        ]),
      );
      expect(pairs).toHaveLength(3);
      expectError(
        await ws.c("PUT", `/v1/segments/${id}`, { name: "x", rule: { type: "nope" } }),
        400,
        "invalid_request",
      );
      expectError(
        await ws.c("PUT", "/v1/segments/seg_missing", {
          name: "x",
          rule: { type: "field", field: "email", op: "is_set" },
        }),
        404,
      );

      expect((await ws.c("DELETE", `/v1/segments/${id}`)).status).toBe(204);
      expectError(await ws.c("GET", `/v1/segments/${id}`), 404, "not_found");
      expectError(await ws.c("GET", `/v1/segments/${id}/contacts`), 404);
      // Deleting a segment never deletes contacts.
      expect(expectOk(await ws.c("GET", "/v1/segments/all")).size).toBe(3);
    });

    it("invalid rules: 400 with details.path; cycles refused", async () => {
      const ws = await workspace();
      const bad = expectError(
        await ws.c("POST", "/v1/segments", {
          name: "bad",
          rule: {
            type: "and",
            conditions: [
              { type: "field", field: "country", op: "eq", value: "FR" },
              { type: "field", field: "country", op: "gt", value: 3 },
            ],
          },
        }),
        400,
        "invalid_request",
      );
      expect(bad.details.path).toBe("rule.conditions[1].op");
      const unknownField = expectError(
        await ws.c("POST", "/v1/segments", {
          name: "bad",
          rule: { type: "or", conditions: [{ type: "field", field: "shoe_size", op: "gt", value: 3 }] },
        }),
        400,
      );
      expect(unknownField.details.path).toMatch(/^rule\.conditions\[0\]/);
      const empty = expectError(
        await ws.c("POST", "/v1/segments", { name: "bad", rule: { type: "and", conditions: [] } }),
        400,
      );
      expect(empty.details.path).toMatch(/^rule/);
      expectError(await ws.c("POST", "/v1/segments", { name: "no rule" }), 400);
      expectError(
        await ws.c("POST", "/v1/segments", {
          name: "",
          rule: { type: "field", field: "email", op: "is_set" },
        }),
        400,
      );
      expectError(
        await ws.c("POST", "/v1/segments", {
          name: "x",
          rule: { type: "segment", op: "in", segment: "seg_missing" },
        }),
        400,
      );
      expectError(
        await ws.c("POST", "/v1/segments", {
          name: "s",
          kind: "static",
          rule: { type: "field", field: "email", op: "is_set" },
        }),
        400,
      );

      const a = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "A",
          rule: { type: "field", field: "email", op: "is_set" },
        }),
        201,
      );
      const b = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "B",
          rule: { type: "and", conditions: [{ type: "segment", op: "in", segment: a.id }] },
        }),
        201,
      );
      const cyc = expectError(
        await ws.c("PUT", `/v1/segments/${a.id}`, {
          name: "A",
          rule: { type: "not", condition: { type: "segment", op: "in", segment: b.id } },
        }),
        400,
        "invalid_request",
      );
      expect(cyc.details.path).toMatch(/^rule/);
      const self = expectError(
        await ws.c("PUT", `/v1/segments/${a.id}`, {
          name: "A",
          rule: { type: "segment", op: "not_in", segment: a.id },
        }),
        400,
      );
      expect(self.details.path).toMatch(/^rule/);
      // Still the old rule, version 1.
      expect(expectOk(await ws.c("GET", `/v1/segments/${a.id}`))).toMatchObject({ version: 1 });
    });

    it("preview: count, sample of wire contacts, took_ms; with segment_id the edit diff", async () => {
      const ws = await workspace();
      const contacts = Array.from({ length: 14 }, (_, i) => ({
        email: `pv${i}@x.io`,
        country: i < 12 ? "FR" : "DE",
      }));
      expect(expectOk(await ws.c("POST", "/v1/contacts/batch", { contacts })).accepted).toBe(14);
      const fr = { type: "field", field: "country", op: "eq", value: "FR" };
      const p = expectOk(await ws.c("POST", "/v1/segments/preview", { rule: fr }));
      expect(p.count).toBe(12);
      expect(p.sample.length).toBe(10);
      for (const c of p.sample) {
        expectWireContact(c);
        expect(c.country).toBe("FR");
      }
      expect(typeof p.took_ms).toBe("number");
      const bad = expectError(
        await ws.c("POST", "/v1/segments/preview", {
          rule: { type: "or", conditions: [fr, { type: "field" }] },
        }),
        400,
      );
      expect(bad.details.path).toMatch(/^rule\.conditions\[1\]/);
      // Nothing was saved.
      const segs = expectOk(await ws.c("GET", "/v1/segments")).data;
      expect(segs.every((x: Json) => x.default)).toBe(true);

      const seg = expectOk(await ws.c("POST", "/v1/segments", { name: "FR", rule: fr }), 201);
      const diff = expectOk(
        await ws.c("POST", "/v1/segments/preview", {
          rule: { type: "field", field: "email", op: "in", value: ["pv0@x.io", "pv12@x.io"] },
          segment_id: seg.id,
        }),
      );
      expect(diff.count).toBe(2);
      expect(diff.diff).toMatchObject({ entered: 1, exited: 11 });
      expect(diff.diff.entered_sample.map((c: Json) => c.email)).toEqual(["pv12@x.io"]);
      expect(diff.diff.exited_sample).toHaveLength(10);
      // The segment itself did not change.
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}`)).size).toBe(12);
    });

    it("static segments: add and remove members, expires_at validated", async () => {
      const ws = await workspace();
      const a = expectOk(await ws.c("POST", "/v1/contacts", { email: "a@x.io" }), 201);
      const b = expectOk(await ws.c("POST", "/v1/contacts", { external_id: "b" }), 201);
      const st = expectOk(await ws.c("POST", "/v1/segments", { name: "VIP", kind: "static" }), 201);
      expect(st).toMatchObject({ kind: "static", rule: null, size: 0 });
      const added = expectOk(
        await ws.c("POST", `/v1/segments/${st.id}/members`, {
          contacts: [{ id: a.id }, { external_id: "b" }, { email: "A@x.io" }],
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
      expect(added).toEqual({ added: 2 });
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${st.id}/contacts`)).data)).toEqual(ids([a, b]));
      expect(expectOk(await ws.c("GET", `/v1/contacts/${a.id}`)).segments).toContain(st.id);
      const past = expectError(
        await ws.c("POST", `/v1/segments/${st.id}/members`, {
          contacts: [{ id: a.id }],
          expires_at: "2001-01-01T00:00:00Z",
        }),
        400,
      );
      expect(past.details.path).toBe("expires_at");
      const missing = expectError(
        await ws.c("POST", `/v1/segments/${st.id}/members`, {
          contacts: [{ id: a.id }, { email: "ghost@x.io" }],
        }),
        404,
      );
      expect(missing.details.path).toBe("contacts[1]");
      expectError(await ws.c("POST", `/v1/segments/${st.id}/members`, { contacts: [] }), 400);
      expectError(
        await ws.c("POST", `/v1/segments/${st.id}/members`, { contacts: [{ id: a.id, email: "a@x.io" }] }),
        400,
      );

      expect(
        expectOk(await ws.c("DELETE", `/v1/segments/${st.id}/members`, { contacts: [{ id: a.id }] })),
      ).toEqual({
        removed: 1,
      });
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${st.id}/contacts`)).data)).toEqual([b.id]);
      // A static segment has members, not overrides: the overrides routes refuse it and
      // leave its members alone.
      expectError(await ws.c("GET", `/v1/segments/${st.id}/overrides`), 400, "invalid_request");
      expectError(
        await ws.c("DELETE", `/v1/segments/${st.id}/overrides`, { contacts: [{ id: b.id }] }),
        400,
        "invalid_request",
      );
      // A field change never moves a static segment.
      expectOk(await ws.c("PATCH", `/v1/contacts/${b.id}`, { country: "FR" }));
      expect(expectOk(await ws.c("GET", `/v1/segments/${st.id}`)).size).toBe(1);
      // Explain of a static segment: membership without a rule.
      expect(expectOk(await ws.c("GET", `/v1/contacts/${b.id}/explain?segment=${st.id}`))).toEqual({
        member: true,
        rule: null,
      });
    });

    it("dynamic segments: manual overrides added, removed, listed and lifted", async () => {
      const ws = await workspace();
      const fr = expectOk(await ws.c("POST", "/v1/contacts", { email: "fr@x.io", country: "FR" }), 201);
      const de = expectOk(await ws.c("POST", "/v1/contacts", { email: "de@x.io", country: "DE" }), 201);
      const seg = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "FR",
          rule: { type: "field", field: "country", op: "eq", value: "FR" },
        }),
        201,
      );
      const members = async () => ids(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data);
      expect(await members()).toEqual([fr.id]);

      expect(
        expectOk(await ws.c("POST", `/v1/segments/${seg.id}/members`, { contacts: [{ id: de.id }] })),
      ).toEqual({
        added: 1,
      });
      expect(
        expectOk(
          await ws.c("DELETE", `/v1/segments/${seg.id}/members`, { contacts: [{ email: "fr@x.io" }] }),
        ),
      ).toEqual({
        removed: 1,
      });
      expect(await members()).toEqual([de.id]);
      // The overrides hold whatever the rule says.
      expectOk(await ws.c("PATCH", `/v1/contacts/${de.id}`, { country: "US" }));
      expectOk(await ws.c("PATCH", `/v1/contacts/${fr.id}`, { city: "Paris" }));
      expect(await members()).toEqual([de.id]);

      const ov = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/overrides`));
      expect(ov.next_cursor).toBeNull();
      const byContact = Object.fromEntries(ov.data.map((o: Json) => [o.contact_id, o]));
      expect(byContact[de.id]).toEqual({ contact_id: de.id, action: "added", expires_at: null });
      expect(byContact[fr.id]).toEqual({ contact_id: fr.id, action: "removed", expires_at: null });
      expect(ov.data).toHaveLength(2);

      const explainFr = expectOk(await ws.c("GET", `/v1/contacts/${fr.id}/explain?segment=${seg.id}`));
      expect(explainFr.member).toBe(false);
      expect(explainFr.rule.result).toBe(true);

      expect(
        expectOk(
          await ws.c("DELETE", `/v1/segments/${seg.id}/overrides`, {
            contacts: [{ id: fr.id }, { id: de.id }],
          }),
        ),
      ).toEqual({ lifted: 2 });
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/overrides`)).data).toEqual([]);
      expect(await members()).toEqual([fr.id]);
    });

    it("actions: tag_add, tag_remove, copy_to answer how many changed", async () => {
      const ws = await workspace();
      expectOk(
        await ws.c("POST", "/v1/contacts/batch", {
          contacts: [
            { email: "a@x.io", country: "FR", tags: ["old"] },
            { email: "b@x.io", country: "FR", tags: ["keep", "new"] },
            { email: "c@x.io", country: "DE", tags: ["old"] },
          ],
        }),
      );
      const seg = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "FR",
          rule: { type: "field", field: "country", op: "eq", value: "FR" },
        }),
        201,
      );
      expect(expectOk(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { tag_add: ["new"] }))).toEqual({
        changed: 1,
      });
      expect(expectOk(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { tag_add: ["new"] }))).toEqual({
        changed: 0,
      });
      expect(expectOk(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { tag_remove: ["old"] }))).toEqual(
        {
          changed: 1,
        },
      );
      const list = expectOk(await ws.c("GET", "/v1/contacts")).data;
      const tags = Object.fromEntries(list.map((c: Json) => [c.email, [...c.tags].sort()]));
      expect(tags).toEqual({ "a@x.io": ["new"], "b@x.io": ["keep", "new"], "c@x.io": ["old"] });
      // Tag changes are seen by rules at once.
      const tagged = expectOk(
        await ws.c("POST", "/v1/segments/preview", {
          rule: { type: "field", field: "tags", op: "contains", value: "new" },
        }),
      );
      expect(tagged.count).toBe(2);

      const snap = expectOk(await ws.c("POST", "/v1/segments", { name: "snapshot", kind: "static" }), 201);
      expect(expectOk(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { copy_to: snap.id }))).toEqual({
        changed: 2,
      });
      expect(expectOk(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { copy_to: snap.id }))).toEqual({
        changed: 0,
      });
      expect(expectOk(await ws.c("GET", `/v1/segments/${snap.id}`)).size).toBe(2);
      // A snapshot: later changes to the source do not move it.
      expectOk(await ws.c("POST", "/v1/contacts", { email: "c@x.io", country: "FR" }));
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}`)).size).toBe(3);
      expect(expectOk(await ws.c("GET", `/v1/segments/${snap.id}`)).size).toBe(2);

      expectError(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { copy_to: seg.id }), 400);
      expectError(await ws.c("POST", `/v1/segments/${seg.id}/actions`, { copy_to: "seg_missing" }), 404);
      expectError(
        await ws.c("POST", `/v1/segments/${seg.id}/actions`, { explode: true }),
        400,
        "invalid_request",
      );
      expectError(await ws.c("POST", "/v1/segments/seg_missing/actions", { tag_add: ["x"] }), 404);
    });

    it("changes: oldest first, shape, since; members at a past instant from the log", async () => {
      const ws = await workspace();
      const seg = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "VIP",
          rule: { type: "field", field: "tags", op: "contains", value: "vip" },
        }),
        201,
      );
      const a = expectOk(await ws.c("POST", "/v1/contacts", { email: "a@x.io", tags: ["vip"] }), 201);
      const t1 = new Date().toISOString();
      // Membership at an instant just after a write reflects it (SPEC §3.3a).
      const atT1 = expectOk(
        await ws.c("GET", `/v1/segments/${seg.id}/contacts?at=${encodeURIComponent(t1)}`),
      );
      expect(atT1.data.map((c: Json) => c.id)).toEqual([a.id]);

      await new Promise((r) => setTimeout(r, 20));
      const b = expectOk(await ws.c("POST", "/v1/contacts", { email: "b@x.io", tags: ["vip"] }), 201);
      expectOk(await ws.c("PATCH", `/v1/contacts/${a.id}`, { tags: [] }));
      const expected = [
        [a.id, "entered"],
        [b.id, "entered"],
        [a.id, "exited"],
      ];
      const log = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/changes`));
          return r.data.length >= 3 ? r : null;
        },
        2000,
        "changes in the log",
      );
      expect(log.data.map((x: Json) => [x.contact_id, x.change])).toEqual(expected);
      for (const x of log.data) {
        expect(Object.keys(x).sort()).toEqual(["at", "change", "contact_id", "segment_id"]);
        expect(x.segment_id).toBe(seg.id);
        expect(new Date(x.at).toISOString()).toBe(x.at);
      }
      const ats = log.data.map((x: Json) => Date.parse(x.at));
      expect([...ats].sort((p, q) => p - q)).toEqual(ats);
      expect(log.next_cursor).toBeNull();

      const since = expectOk(
        await ws.c("GET", `/v1/segments/${seg.id}/changes?since=${encodeURIComponent(log.data[1].at)}`),
      );
      expect(since.data.map((x: Json) => [x.contact_id, x.change])).toEqual(expected.slice(1));
      const paged = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/changes?limit=2`));
      expect(paged.data).toHaveLength(2);
      const paged2 = expectOk(
        await ws.c(
          "GET",
          `/v1/segments/${seg.id}/changes?limit=2&cursor=${encodeURIComponent(paged.next_cursor)}`,
        ),
      );
      expect(paged2.data.map((x: Json) => x.contact_id)).toEqual([a.id]);
      expectError(await ws.c("GET", `/v1/segments/${seg.id}/changes?since=not-a-date`), 400);

      // Now: b only. At t1: a only (from the log). Before anything: nobody.
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data)).toEqual([b.id]);
      const past = expectOk(
        await ws.c("GET", `/v1/segments/${seg.id}/contacts?at=${encodeURIComponent(t1)}`),
      );
      expect(past.data.map((c: Json) => c.id)).toEqual([a.id]);
      expectWireContact(past.data[0]);
      const before = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts?at=2001-01-01T00:00:00Z`));
      expect(before.data).toEqual([]);
      expectError(await ws.c("GET", `/v1/segments/${seg.id}/contacts?at=garbage`), 400);

      // Erasing a contact logs its exits.
      expect((await ws.c("DELETE", `/v1/contacts/${b.id}`)).status).toBe(204);
      await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/changes`));
          const last = r.data[r.data.length - 1];
          return last?.contact_id === b.id && last.change === "exited";
        },
        2000,
        "the erased contact's exit",
      );
      const all = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", "/v1/segments/all/changes"));
          return r.data.some((x: Json) => x.contact_id === b.id && x.change === "exited") ? r : null;
        },
        2000,
        "exit from all",
      );
      expect(all.data.filter((x: Json) => x.contact_id === b.id).map((x: Json) => x.change)).toEqual([
        "entered",
        "exited",
      ]);
    });

    it("uses: a segment referred to by another cannot be deleted (409 with details.uses)", async () => {
      const ws = await workspace();
      const a = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "A",
          rule: { type: "field", field: "email", op: "is_set" },
        }),
        201,
      );
      const b = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "B",
          rule: {
            type: "and",
            conditions: [
              { type: "field", field: "country", op: "eq", value: "FR" },
              { type: "segment", op: "not_in", segment: a.id },
            ],
          },
        }),
        201,
      );
      const uses = expectOk(await ws.c("GET", `/v1/segments/${a.id}/uses`));
      expect(uses).toEqual({ data: [{ type: "segment", id: b.id }], next_cursor: null });
      expect(expectOk(await ws.c("GET", `/v1/segments/${b.id}/uses`)).data).toEqual([]);
      const err = expectError(await ws.c("DELETE", `/v1/segments/${a.id}`), 409, "conflict");
      expect(err.details.uses).toEqual([{ type: "segment", id: b.id }]);
      expect(expectOk(await ws.c("GET", `/v1/segments/${a.id}`)).id).toBe(a.id);
      expectError(await ws.c("GET", "/v1/segments/seg_missing/uses"), 404);

      // Once the use is removed, the delete goes through.
      expectOk(
        await ws.c("PUT", `/v1/segments/${b.id}`, {
          name: "B",
          rule: { type: "field", field: "country", op: "eq", value: "FR" },
        }),
      );
      expect(expectOk(await ws.c("GET", `/v1/segments/${a.id}/uses`)).data).toEqual([]);
      expect((await ws.c("DELETE", `/v1/segments/${a.id}`)).status).toBe(204);
    });

    it("explain: member and every node's result, measured and needed on event nodes", async () => {
      const ws = await workspace();
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "x@x.io", country: "FR" }), 201);
      const rule = {
        type: "and",
        conditions: [
          { type: "field", field: "country", op: "eq", value: "FR" },
          { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 2 },
          {
            type: "not",
            condition: {
              type: "event",
              event: "order_placed",
              measure: { fn: "sum", property: "amount" },
              op: "gt",
              value: 100,
            },
          },
        ],
      };
      const seg = expectOk(await ws.c("POST", "/v1/segments", { name: "Engaged", rule }), 201);
      expectOk(
        await ws.c("POST", "/v1/events", [
          { type: "email_opened", contact: { id: c.id } },
          { type: "order_placed", contact: { id: c.id }, properties: { amount: 30 } },
        ]),
      );
      const ex = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/explain?segment=${seg.id}`));
      expect(Object.keys(ex).sort()).toEqual(["member", "rule"]);
      expect(ex.member).toBe(false);
      const nodes = walkExplain(ex.rule);
      expect(nodes).toHaveLength(5);
      expect(ex.rule.result).toBe(false);
      const [field, opened, not] = ex.rule.conditions;
      expect(field.result).toBe(true);
      expect(opened).toMatchObject({ result: false, measured: 1, needed: { op: "gte", value: 2 } });
      expect(not.result).toBe(true);
      expect(not.condition).toMatchObject({ result: false, measured: 30, needed: { op: "gt", value: 100 } });

      expectOk(await ws.c("POST", "/v1/events", { type: "email_opened", contact: { id: c.id } }));
      const ex2 = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/explain?segment=${seg.id}`));
      expect(ex2.member).toBe(true);
      expect(ex2.rule.conditions[1]).toMatchObject({ result: true, measured: 2 });
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).segments).toContain(seg.id);

      // Default segments explain too.
      const all = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/explain?segment=all`));
      expect(all.member).toBe(true);
      walkExplain(all.rule);
      expectError(await ws.c("GET", `/v1/contacts/${c.id}/explain`), 400);
      expectError(await ws.c("GET", `/v1/contacts/${c.id}/explain?segment=seg_missing`), 404);
      expectError(await ws.c("GET", `/v1/contacts/ct_missing/explain?segment=${seg.id}`), 404);
    });

    it("segment templates and analytics", async () => {
      const ws = await workspace();
      const tpl = expectOk(await ws.c("GET", "/v1/segment-templates"));
      expect(tpl.next_cursor).toBeNull();
      expect(tpl.data.length).toBeGreaterThanOrEqual(5);
      for (const t of tpl.data) {
        expect(t).toEqual(
          expect.objectContaining({
            id: expect.any(String),
            name: expect.any(String),
            description: expect.any(String),
            rule: expect.objectContaining({ type: expect.any(String) }),
          }),
        );
      }
      // A template's rule (one that needs no custom field) saves as a segment.
      const usable = tpl.data.find((t: Json) => !t.requires || t.requires.length === 0);
      expectOk(await ws.c("POST", "/v1/segments", { name: usable.name, rule: usable.rule }), 201);

      expectOk(
        await ws.c("POST", "/v1/contacts/batch", {
          contacts: [
            { email: "a@x.io", country: "FR" },
            { email: "b@x.io", country: "FR" },
            { email: "c@x.io", country: "DE" },
            { email: "d@x.io", country: "US" },
          ],
        }),
      );
      const seg = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "FR",
          rule: { type: "field", field: "country", op: "eq", value: "FR" },
        }),
        201,
      );
      const an = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/analytics`));
      expect(an.size).toBe(2);
      expect(an.share).toBeCloseTo(0.5, 10);
      expect(Array.isArray(an.daily)).toBe(true);
      expect(an.daily.length).toBeGreaterThanOrEqual(1);
      for (const d of an.daily) {
        expect(Object.keys(d)).toEqual(expect.arrayContaining(["date", "size", "entered", "exited"]));
        expect(d.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
      const today = new Date().toISOString().slice(0, 10);
      const last = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/analytics`));
          const d = r.daily[r.daily.length - 1];
          return d.entered === 2 ? d : null;
        },
        2000,
        "today's entries in analytics",
      );
      expect(last).toEqual(expect.objectContaining({ date: today, size: 2, entered: 2, exited: 0 }));
      expectError(await ws.c("GET", "/v1/segments/seg_missing/analytics"), 404, "not_found");
      expectError(await ws.c("GET", `/v1/segments/${seg.id}/analytics?days=abc`), 400);
      const all = expectOk(await ws.c("GET", "/v1/segments/all/analytics"));
      expect(all).toMatchObject({ size: 4, share: 1 });
    });
  });

  // ================================================================ HTTP surface and limits

  describe("HTTP surface", () => {
    it("unknown routes 404 with the error body; healthz; the public OpenAPI document", async () => {
      expectError(await s.call("GET", "/v1/nope"), 404, "not_found");
      expectError(await s.call("POST", "/v1/contacts/x/y/z", {}), 404, "not_found");
      expectError(await s.call("GET", "/nope", undefined, { key: null }), 404, "not_found");
      const h = await s.call("GET", "/healthz", undefined, { key: null });
      expect(h.status).toBe(200);
      const api = await s.call("GET", "/v1/openapi.json", undefined, { key: null });
      expect(api.status).toBe(200);
      expect(api.body).toHaveProperty("paths");
      const paths = Object.keys(api.body.paths);
      for (const p of [
        "/v1/contacts",
        "/v1/contacts/batch",
        "/v1/contacts/{id}",
        "/v1/contacts/{id}/events",
        "/v1/contacts/{id}/explain",
        "/v1/events",
        "/v1/fields",
        "/v1/segments",
        "/v1/segments/{id}",
        "/v1/segments/preview",
        "/v1/segments/{id}/contacts",
        "/v1/segments/{id}/members",
        "/v1/segments/{id}/overrides",
        "/v1/segments/{id}/actions",
        "/v1/segments/{id}/changes",
        "/v1/segments/{id}/analytics",
        "/v1/segments/{id}/uses",
        "/v1/segment-templates",
        "/v1/workspaces",
        "/v1/keys",
      ]) {
        expect(paths, p).toContain(p);
      }
      // A contact batch is taken as an array or as `{ "contacts": [...] }`, and documented so.
      const batch = api.body.paths["/v1/contacts/batch"].post.requestBody.content["application/json"].schema;
      const forms = (batch.anyOf ?? batch.oneOf ?? []).map((f: Json) => f.type);
      expect(forms.sort()).toEqual(["array", "object"]);
      const wrapped = (batch.anyOf ?? batch.oneOf).find((f: Json) => f.type === "object");
      expect(wrapped.properties.contacts.type).toBe("array");
      expect(wrapped.required).toEqual(["contacts"]);
    });

    it("invalid JSON is a 400 with the error body", async () => {
      const ws = await workspace();
      const r = await s.call("POST", "/v1/contacts", undefined, {
        key: ws.key,
        raw: "{not json",
        headers: { "content-type": "application/json" },
      });
      expectError(r, 400, "invalid_request");
      expectError(await ws.c("POST", "/v1/contacts"), 400, "invalid_request");
    });

    it("413 for a body over the limit; 429 past the rate limit", async () => {
      const srv = await start({ bodyLimit: 10_000, rateLimit: { max: 5, windowMs: 60_000 } });
      const big = await srv.call("POST", "/v1/contacts", {
        email: "big@x.io",
        first_name: "x".repeat(20_000),
      });
      expectError(big, 413, "payload_too_large");
      const small = await srv.call("POST", "/v1/contacts", { email: "small@x.io" });
      expect(small.status).toBe(201);

      const ws = await workspaceOn(srv);
      const statuses: number[] = [];
      let limited: Reply | null = null;
      for (let i = 0; i < 7; i++) {
        const r = await ws.c("GET", "/v1/contacts");
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      expectError(limited!, 429, "rate_limited");
      // The limit is per key: the admin key still gets through.
      expect((await srv.call("GET", "/v1/segments")).status).toBe(200);
    });
  });

  // ================================================================ time

  describe("time", () => {
    it("opened in the last 5 minutes: the exit happens at the boundary, with no new event", async () => {
      let t = Date.UTC(2025, 4, 12, 9, 0, 0);
      const srv = await start({ clock: { now: () => t } });
      const ws = await workspaceOn(srv);
      const c = expectOk(await ws.c("POST", "/v1/contacts", { email: "t@x.io", status: "subscribed" }), 201);
      expect(c.created_at).toBe(new Date(t).toISOString());
      const seg = expectOk(
        await ws.c("POST", "/v1/segments", {
          name: "Opened recently",
          rule: { type: "event", event: "email_opened", window: { in_last: "5m" }, op: "gte", value: 1 },
        }),
        201,
      );
      expect(seg.size).toBe(0);

      t += 60_000;
      const openedAt = t;
      expect(
        expectOk(await ws.c("POST", "/v1/events", { type: "email_opened", contact: { id: c.id } })),
      ).toEqual({
        accepted: 1,
        duplicates: 0,
        errors: [],
      });
      const evs = expectOk(await ws.c("GET", `/v1/contacts/${c.id}/events`));
      expect(evs.data[0].timestamp).toBe(new Date(openedAt).toISOString());
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data)).toEqual([c.id]);

      // Just before the boundary: still in.
      t = openedAt + 5 * 60_000 - 1;
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data)).toEqual([c.id]);
      // Past it: out, without any new event, and the exit is logged at the boundary.
      t = openedAt + 5 * 60_000 + 30_000;
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data).toEqual([]);
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).segments).not.toContain(seg.id);
      const log = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/changes`));
          return r.data.length >= 2 ? r : null;
        },
        2000,
        "the time-driven exit",
      );
      expect(log.data).toEqual([
        { segment_id: seg.id, contact_id: c.id, change: "entered", at: new Date(openedAt).toISOString() },
        {
          segment_id: seg.id,
          contact_id: c.id,
          change: "exited",
          at: new Date(openedAt + 5 * 60_000).toISOString(),
        },
      ]);
      // The log answers membership in the past.
      const at = (ms: number) =>
        `/v1/segments/${seg.id}/contacts?at=${encodeURIComponent(new Date(ms).toISOString())}`;
      expect(ids(expectOk(await ws.c("GET", at(openedAt + 60_000))).data)).toEqual([c.id]);
      expect(expectOk(await ws.c("GET", at(openedAt + 5 * 60_000))).data).toEqual([]);
      expect(expectOk(await ws.c("GET", at(openedAt - 1))).data).toEqual([]);

      // A static member with expires_at leaves the segment at that instant.
      const st = expectOk(await ws.c("POST", "/v1/segments", { name: "Trial", kind: "static" }), 201);
      const expiresAt = t + 3_600_000;
      expectOk(
        await ws.c("POST", `/v1/segments/${st.id}/members`, {
          contacts: [{ id: c.id }],
          expires_at: new Date(expiresAt).toISOString(),
        }),
      );
      expect(expectOk(await ws.c("GET", `/v1/segments/${st.id}`)).size).toBe(1);
      t = expiresAt + 1000;
      expect(expectOk(await ws.c("GET", `/v1/segments/${st.id}`)).size).toBe(0);
      const stLog = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${st.id}/changes`));
          return r.data.length >= 2 ? r : null;
        },
        2000,
        "the expiry",
      );
      expect(stLog.data.map((x: Json) => [x.change, x.at])).toEqual([
        ["entered", new Date(expiresAt - 3_600_000).toISOString()],
        ["exited", new Date(expiresAt).toISOString()],
      ]);

      // An override with expires_at on a dynamic segment: added by hand for an hour.
      const addedUntil = t + 3_600_000;
      expectOk(
        await ws.c("POST", `/v1/segments/${seg.id}/members`, {
          contacts: [{ id: c.id }],
          expires_at: new Date(addedUntil).toISOString(),
        }),
      );
      const ov = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/overrides`));
      expect(ov.data).toEqual([
        { contact_id: c.id, action: "added", expires_at: new Date(addedUntil).toISOString() },
      ]);
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}`)).size).toBe(1);
      t = addedUntil + 1;
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}`)).size).toBe(0);
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/overrides`)).data).toEqual([]);

      // A late event: an open 3 minutes before now enters at once and leaves 2 minutes later.
      const late = expectOk(await ws.c("POST", "/v1/contacts", { email: "late@x.io" }), 201);
      const lateAt = t - 3 * 60_000;
      expectOk(
        await ws.c("POST", "/v1/events", {
          type: "email_opened",
          contact: { id: late.id },
          timestamp: new Date(lateAt).toISOString(),
        }),
      );
      // One too old for the window never enters.
      expectOk(
        await ws.c("POST", "/v1/events", {
          type: "email_opened",
          contact: { email: "older@x.io" },
          timestamp: new Date(t - 6 * 60_000).toISOString(),
        }),
      );
      expect(ids(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data)).toEqual([late.id]);
      t += 2 * 60_000 + 1;
      expect(expectOk(await ws.c("GET", `/v1/segments/${seg.id}/contacts`)).data).toEqual([]);
      const lateLog = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", `/v1/segments/${seg.id}/changes?limit=1000`));
          const mine = r.data.filter((x: Json) => x.contact_id === late.id);
          return mine.length >= 2 ? mine : null;
        },
        2000,
        "the late event's exit",
      );
      expect(lateLog.map((x: Json) => x.change)).toEqual(["entered", "exited"]);
      expect(lateLog[1].at).toBe(new Date(lateAt + 5 * 60_000).toISOString());

      // Default segments move with time too: 90 days after its last open, the subscriber
      // (subscribed since the start) becomes inactive.
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).subscribed_at).toBe(c.created_at);
      t = openedAt + 90 * 86_400_000 + 1000;
      expect(expectOk(await ws.c("GET", `/v1/contacts/${c.id}`)).segments).toContain("inactive");
      const inactive = await eventually(
        async () => {
          const r = expectOk(await ws.c("GET", "/v1/segments/inactive/changes"));
          return r.data.length >= 1 ? r : null;
        },
        2000,
        "the inactive entry",
      );
      expect(inactive.data).toEqual([
        {
          segment_id: "inactive",
          contact_id: c.id,
          change: "entered",
          at: new Date(openedAt + 90 * 86_400_000).toISOString(),
        },
      ]);
    });
  });
});
