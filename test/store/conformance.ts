/**
 * One conformance suite for every store adapter: `runStoreConformance` is called by
 * sqlite.test.ts and postgres.test.ts with a factory that opens a store on a real
 * database. Every test works in workspaces of its own, so tests share one database.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChangeRecord,
  type ContactRecord,
  type Dialect,
  MAX_IMPORT_ERRORS,
  type OpenStoreOptions,
  type Store,
  StoreError,
  type StoreOps,
} from "../../src/store/index.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";

export interface StoreFactory {
  dialect: Dialect;
  /** Opens a store on the shared test database (every call the same database). */
  open(opts?: Partial<OpenStoreOptions>): Promise<Store>;
  /** Options of a new, empty database. */
  fresh(): Promise<Partial<OpenStoreOptions>>;
  /** Options that open the same database from another process. */
  openOptions(): Partial<OpenStoreOptions>;
  /** Reads the database directly, bypassing the store. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

async function collect<T>(it: AsyncIterable<T[]>): Promise<T[][]> {
  const pages: T[][] = [];
  for await (const p of it) pages.push(p);
  return pages;
}

async function rejection(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error("expected a StoreError, got success");
}

/** A manual clock so that times written by the store are known. */
class TestClock {
  t = 1_700_000_000_000;
  now(): number {
    return this.t;
  }
}

export function runStoreConformance(name: string, factory: () => StoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    let f: StoreFactory;
    let store: Store;
    const clock = new TestClock();
    let n = 0;
    const newWs = async (label = "w") => (await store.createWorkspace({ name: `${label}-${++n}` })).id;

    beforeAll(async () => {
      f = factory();
      store = await f.open({ clock });
    });
    afterAll(async () => {
      await store?.close();
    });

    describe("migrations", () => {
      it("are recorded once and running them again changes nothing", async () => {
        const before = await store.migrations();
        expect(before.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
        const again = await f.open();
        try {
          expect(await again.migrations()).toEqual(before);
          // The second store works on the same data as the first.
          const ws = await again.createWorkspace({ name: "via second store" });
          expect((await store.getWorkspace(ws.id))?.name).toBe("via second store");
        } finally {
          await again.close();
        }
        const rows = await f.raw("SELECT version FROM schema_migrations");
        expect(rows.map((r) => Number(r.version)).sort((a, b) => a - b)).toEqual(
          MIGRATIONS.map((m) => m.version),
        );
      });

      it("are applied once when several stores open an empty database at the same time", async () => {
        const opts = await f.fresh();
        const stores = await Promise.all([1, 2, 3].map(() => f.open(opts)));
        try {
          for (const s of stores) {
            expect((await s.migrations()).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
          }
          // They share the data, and their transactions do not block each other for good.
          const ws = await stores[0].createWorkspace({ name: "shared" });
          await Promise.all(
            stores.map((s, i) =>
              s.transaction(ws.id, async (tx) => {
                await tx
                  .workspace(ws.id)
                  .events.insert([{ id: `s${i}`, type: "x", contact_id: "c", timestamp: i }]);
                await new Promise((r) => setTimeout(r, 5));
                await tx
                  .workspace(ws.id)
                  .events.insert([{ id: `t${i}`, type: "x", contact_id: "c", timestamp: i }]);
              }),
            ),
          );
          expect(await stores[2].workspace(ws.id).events.count()).toBe(6);
        } finally {
          for (const s of stores) await s.close();
        }
      });

      it("refuse a database newer than the code", async () => {
        await f.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
        try {
          await expect(f.open()).rejects.toThrow(/newer than this Slice knows/);
        } finally {
          await f.raw("DELETE FROM schema_migrations WHERE version = 999");
        }
      });
    });

    describe("server secrets", () => {
      it("are made once, 32 random bytes, the same for every store and reopening; concurrent first uses agree", async () => {
        const opts = await f.fresh();
        const stores = await Promise.all([1, 2, 3].map(() => f.open(opts)));
        let first: Buffer;
        try {
          const keys = await Promise.all(stores.map((s) => s.serverSecret("test-key")));
          first = keys[0]!;
          expect(keys[0]!.length).toBe(32);
          for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
          expect((await stores[0]!.serverSecret("other-key")).equals(keys[0]!)).toBe(false);
        } finally {
          for (const s of stores) await s.close();
        }
        const again = await f.open(opts);
        try {
          expect((await again.serverSecret("test-key")).equals(first)).toBe(true);
        } finally {
          await again.close();
        }
      });
    });

    describe("workspaces and keys", () => {
      it("creates, reads, lists and updates workspaces", async () => {
        clock.t = 1_700_000_000_000;
        const w = await store.createWorkspace({
          id: `ws_fixed_${f.dialect}`,
          name: "Acme",
          time_zone: "Europe/Paris",
        });
        expect(w).toEqual({
          id: `ws_fixed_${f.dialect}`,
          name: "Acme",
          time_zone: "Europe/Paris",
          settings: {},
          created_at: clock.t,
        });
        expect(await store.getWorkspace(w.id)).toEqual(w);
        expect((await store.listWorkspaces()).some((x) => x.id === w.id)).toBe(true);
        const u = await store.updateWorkspace(w.id, { settings: { inactive_days: 60 } });
        expect(u?.settings).toEqual({ inactive_days: 60 });
        expect((await store.getWorkspace(w.id))?.settings).toEqual({ inactive_days: 60 });
        expect((await store.getWorkspace(w.id))?.time_zone).toBe("Europe/Paris");
        expect(await store.updateWorkspace("ws_missing", { name: "x" })).toBeNull();
        expect(await store.getWorkspace("ws_missing")).toBeNull();
        const dup = await rejection(store.createWorkspace({ id: w.id, name: "again" }));
        expect(dup.code).toBe("conflict");
        const generated = await store.createWorkspace({ name: "gen" });
        expect(generated.id).toMatch(/^ws_[0-9a-z]{22}$/);
      });

      it("stores API keys hashed and authenticates by secret", async () => {
        const ws = await newWs();
        const { key, secret } = await store.workspace(ws).apiKeys.create({ name: "ci" });
        expect(secret).toMatch(/^slk_/);
        expect(key).toMatchObject({ workspace_id: ws, name: "ci", admin: false });
        expect(secret.startsWith(key.prefix)).toBe(true);
        const rows = await f.raw("SELECT * FROM api_keys WHERE workspace_id = ?", [ws]);
        expect(rows).toHaveLength(1);
        expect(rows[0].secret_hash).toBe(createHash("sha256").update(secret).digest("hex"));
        expect(JSON.stringify(rows)).not.toContain(secret);

        const auth = await store.authenticate(secret);
        expect(auth?.workspace.id).toBe(ws);
        expect(auth?.key).toEqual(key);
        expect(await store.authenticate(`${secret}x`)).toBeNull();

        const admin = await store
          .workspace(ws)
          .apiKeys.create({ admin: true, secret: `bootstrap-secret-${ws}` });
        expect(admin.secret).toBe(`bootstrap-secret-${ws}`);
        expect((await store.authenticate(`bootstrap-secret-${ws}`))?.key.admin).toBe(true);
        const dup = await rejection(store.workspace(ws).apiKeys.create({ secret: `bootstrap-secret-${ws}` }));
        expect(dup.code).toBe("conflict");
        expect((await rejection(store.workspace(ws).apiKeys.create({ secret: "short" }))).code).toBe(
          "invalid",
        );

        expect((await store.workspace(ws).apiKeys.list()).map((k) => k.id).sort()).toEqual(
          [key.id, admin.key.id].sort(),
        );
        expect(await store.workspace(ws).apiKeys.delete(key.id)).toBe(true);
        expect(await store.workspace(ws).apiKeys.delete(key.id)).toBe(false);
        expect(await store.authenticate(secret)).toBeNull();
      });

      it("keeps each key's role; an admin key has the admin role", async () => {
        const ws = await newWs();
        const ro = await store.workspace(ws).apiKeys.create({ role: "read_only" });
        const ing = await store.workspace(ws).apiKeys.create({ role: "ingest" });
        const rw = await store.workspace(ws).apiKeys.create({});
        const admin = await store.workspace(ws).apiKeys.create({ admin: true });
        expect([ro.key.role, ing.key.role, rw.key.role, admin.key.role]).toEqual([
          "read_only",
          "ingest",
          "read_write",
          "admin",
        ]);
        expect((await store.authenticate(ing.secret))?.key.role).toBe("ingest");
        expect((await store.authenticate(admin.secret))?.key).toMatchObject({ role: "admin", admin: true });
        const listed = new Map((await store.workspace(ws).apiKeys.list()).map((k) => [k.id, k.role]));
        expect(listed.get(ro.key.id)).toBe("read_only");
        expect(listed.get(admin.key.id)).toBe("admin");
      });
    });

    describe("anonymous identities and receivers", () => {
      it("maps anonymous ids to contacts, repoints them, and moves a contact's events and identities", async () => {
        const ws = await newWs();
        const [a, b] = await store.workspace(ws).contacts.put([
          { email: "anon-merge-a@example.com", tags: [], fields: {} },
          { email: "anon-merge-b@example.com", tags: [], fields: {} },
        ]);
        await store.workspace(ws).identities.put([
          { anonymous_id: "anon-1", contact_id: a!.id },
          { anonymous_id: "anon-2", contact_id: a!.id },
        ]);
        expect(await store.workspace(ws).identities.find(["anon-2", "nope", "anon-1"])).toEqual([
          a!.id,
          null,
          a!.id,
        ]);
        await store.workspace(ws).events.insert([
          { id: "m1", type: "page_viewed", contact_id: a!.id, timestamp: 1, properties: {} },
          { id: "m2", type: "page_viewed", contact_id: a!.id, timestamp: 2, properties: {} },
          { id: "m3", type: "page_viewed", contact_id: b!.id, timestamp: 3, properties: {} },
        ]);
        expect(await store.workspace(ws).identities.moveContactData(a!.id, b!.id)).toEqual({ events: 2 });
        expect((await store.workspace(ws).events.listOfContact(a!.id)).data).toHaveLength(0);
        expect((await store.workspace(ws).events.listOfContact(b!.id)).data.map((e) => e.id)).toEqual([
          "m3",
          "m2",
          "m1",
        ]);
        expect(await store.workspace(ws).identities.find(["anon-1", "anon-2"])).toEqual([b!.id, b!.id]);
        await store.workspace(ws).identities.put([{ anonymous_id: "anon-1", contact_id: a!.id }]);
        expect(await store.workspace(ws).identities.find(["anon-1"])).toEqual([a!.id]);
        const other = await newWs();
        expect(await store.workspace(other).identities.find(["anon-1"])).toEqual([null]);
      });

      it("stores receivers per workspace and finds one by id alone", async () => {
        const ws = await newWs();
        const r = await store.workspace(ws).receivers.create({
          provider: "mailgun",
          name: "Mailgun",
          config: { signing_key: "key-123" },
        });
        expect(r.id).toMatch(/^rcv_/);
        expect(await store.workspace(ws).receivers.get(r.id)).toEqual(r);
        expect(await store.findReceiver(r.id)).toEqual(r);
        expect(await store.workspace(await newWs()).receivers.get(r.id)).toBeNull();
        expect((await store.workspace(ws).receivers.list()).map((x) => x.id)).toEqual([r.id]);
        const u = await store.workspace(ws).receivers.update(r.id, {
          name: "Mailgun EU",
          config: { signing_key: "key-456" },
        });
        expect(u).toEqual({ ...r, name: "Mailgun EU", config: { signing_key: "key-456" } });
        expect(
          await store.workspace(await newWs()).receivers.update(r.id, { name: "x", config: {} }),
        ).toBeNull();
        expect(await store.workspace(ws).receivers.delete(r.id)).toBe(true);
        expect(await store.findReceiver(r.id)).toBeNull();
      });
    });

    describe("custom fields", () => {
      it("registers fields per workspace", async () => {
        const ws = await newWs();
        const other = await newWs();
        const plan = await store.workspace(ws).fields.create({ key: "plan", type: "string", label: "Plan" });
        expect(plan).toMatchObject({ key: "plan", type: "string", label: "Plan" });
        await store.workspace(ws).fields.create({ key: "score", type: "number" });
        expect((await store.workspace(ws).fields.list()).map((x) => [x.key, x.type, x.label])).toEqual([
          ["plan", "string", "Plan"],
          ["score", "number", "score"],
        ]);
        const dup = await rejection(store.workspace(ws).fields.create({ key: "plan", type: "number" }));
        expect(dup.code).toBe("conflict");
        expect(dup.field).toBe("key");
        // The same key in another workspace is another field.
        await store.workspace(other).fields.create({ key: "plan", type: "boolean" });
        expect((await store.workspace(other).fields.list()).map((x) => x.type)).toEqual(["boolean"]);
        expect(await store.workspace(ws).fields.delete("plan")).toBe(true);
        expect((await store.workspace(ws).fields.list()).map((x) => x.key)).toEqual(["score"]);
        expect((await store.workspace(other).fields.list()).map((x) => x.key)).toEqual(["plan"]);
      });
    });

    describe("contacts", () => {
      it("creates contacts with server ids and normalised email, and reads them back whole", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_100_000;
        const [c] = await store.workspace(ws).contacts.put([
          {
            email: "  Ada.Lovelace@Example.COM ",
            external_id: "u-1",
            first_name: "Ada",
            country: "GB",
            status: "subscribed",
            email_status: "deliverable",
            tags: ["vip", "beta"],
            fields: {
              plan: "pro",
              score: 4.5,
              active: true,
              tags2: ["a"],
              birthday: "1815-12-10",
              none: null,
            },
            subscribed_at: 1_600_000_000_000,
            status_written_at: 1_700_000_050_000,
          },
        ]);
        expect(c.id).toMatch(/^ct_[0-9a-z]{22}$/);
        const expected: ContactRecord = {
          id: c.id,
          email: "ada.lovelace@example.com",
          external_id: "u-1",
          phone: null,
          first_name: "Ada",
          last_name: null,
          country: "GB",
          region: null,
          city: null,
          postal_code: null,
          timezone: null,
          language: null,
          status: "subscribed",
          email_status: "deliverable",
          tags: ["vip", "beta"],
          fields: { plan: "pro", score: 4.5, active: true, tags2: ["a"], birthday: "1815-12-10", none: null },
          created_at: clock.t,
          subscribed_at: 1_600_000_000_000,
          status_written_at: 1_700_000_050_000,
          email_status_written_at: null,
          updated_at: clock.t,
        };
        expect(c).toEqual(expected);
        expect(await store.workspace(ws).contacts.get(c.id)).toEqual(expected);
        expect(await store.workspace(ws).contacts.get("ct_missing")).toBeNull();
        expect(await store.workspace(ws).contacts.count()).toBe(1);
      });

      it("finds contacts by id, email (case-insensitively) and external id", async () => {
        const ws = await newWs();
        const [a, b] = await store.workspace(ws).contacts.put([
          { email: "a@x.io", external_id: "ext-a" },
          { email: "B@x.io", external_id: "ext-b" },
        ]);
        const found = await store
          .workspace(ws)
          .contacts.find([
            { email: " A@X.IO" },
            { external_id: "ext-b" },
            { id: a.id },
            { email: "nobody@x.io" },
            { external_id: "EXT-A" },
            { id: "ct_nope" },
            { email: "b@X.io" },
          ]);
        expect(found.map((c) => c?.id ?? null)).toEqual([a.id, b.id, a.id, null, null, null, b.id]);
        const got = await store.workspace(ws).contacts.getMany([b.id, "ct_nope", a.id, b.id]);
        expect(got.map((c) => c?.id ?? null)).toEqual([b.id, null, a.id, b.id]);
        expect(await store.workspace(ws).contacts.find([])).toEqual([]);
      });

      it("keeps email and external_id unique per workspace, email case-insensitively", async () => {
        const ws = await newWs();
        const other = await newWs();
        const [a] = await store.workspace(ws).contacts.put([{ email: "same@x.io", external_id: "E1" }]);
        const e1 = await rejection(store.workspace(ws).contacts.put([{ email: "SAME@x.io " }]));
        expect(e1.code).toBe("conflict");
        expect(e1.field).toBe("email");
        const e2 = await rejection(
          store.workspace(ws).contacts.put([{ email: "other@x.io", external_id: "E1" }]),
        );
        expect(e2.code).toBe("conflict");
        expect(e2.field).toBe("external_id");
        // external_id is compared exactly.
        await store.workspace(ws).contacts.put([{ external_id: "e1" }]);
        // Several contacts without email or external_id are fine.
        await store.workspace(ws).contacts.put([{ first_name: "x" }, { first_name: "y" }]);
        // Another workspace has its own keys.
        const [b] = await store.workspace(other).contacts.put([{ email: "same@x.io", external_id: "E1" }]);
        expect(b.id).not.toBe(a.id);
        // A write that frees an email lets another contact take it.
        await store.workspace(ws).contacts.put([{ id: a.id, email: "renamed@x.io", external_id: "E1" }]);
        const [c] = await store.workspace(ws).contacts.put([{ email: "Same@X.io" }]);
        expect((await store.workspace(ws).contacts.find([{ email: "same@x.io" }]))[0]?.id).toBe(c.id);
        // An existing id conflicting with itself is an update, not a conflict.
        await store.workspace(ws).contacts.put([{ id: c.id, email: "same@x.io", first_name: "Sam" }]);
        expect((await store.workspace(ws).contacts.get(c.id))?.first_name).toBe("Sam");
      });

      it("replaces a contact whole but keeps created_at", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_200_000;
        const [a] = await store.workspace(ws).contacts.put([
          {
            email: "r@x.io",
            first_name: "R",
            tags: ["t"],
            fields: { plan: "free" },
            created_at: 1_500_000_000_000,
          },
        ]);
        expect(a.created_at).toBe(1_500_000_000_000);
        clock.t = 1_700_000_300_000;
        const [b] = await store
          .workspace(ws)
          .contacts.put([{ id: a.id, email: "r@x.io", last_name: "S", created_at: 1 }]);
        expect(b).toMatchObject({
          id: a.id,
          first_name: null,
          last_name: "S",
          tags: [],
          fields: {},
          created_at: 1_500_000_000_000,
          updated_at: 1_700_000_300_000,
        });
        expect(await store.workspace(ws).contacts.get(a.id)).toEqual(b);
        // A given id that is not stored yet creates the contact with that id.
        const [c] = await store.workspace(ws).contacts.put([{ id: "ct_given", email: "g@x.io" }]);
        expect(c.id).toBe("ct_given");
        expect(c.created_at).toBe(clock.t);
        // The same id twice in a batch: the last write wins, as written one by one.
        const [d1, d2] = await store.workspace(ws).contacts.put([
          { id: "ct_twice", first_name: "one" },
          { id: "ct_twice", first_name: "two" },
        ]);
        expect([d1.first_name, d2.first_name]).toEqual(["one", "two"]);
        expect((await store.workspace(ws).contacts.get("ct_twice"))?.first_name).toBe("two");
      });

      it("writes a batch atomically: one conflict stores none of it", async () => {
        const ws = await newWs();
        await store.workspace(ws).contacts.put([{ email: "taken@x.io" }]);
        const batch = Array.from({ length: 50 }, (_, i) => ({ email: `new${i}@x.io` }));
        batch.push({ email: "TAKEN@x.io" });
        expect((await rejection(store.workspace(ws).contacts.put(batch))).code).toBe("conflict");
        expect(await store.workspace(ws).contacts.count()).toBe(1);
        expect(await store.workspace(ws).contacts.find([{ email: "new0@x.io" }])).toEqual([null]);
      });

      it("erases a contact with its events and memberships", async () => {
        const ws = await newWs();
        const [a, b] = await store
          .workspace(ws)
          .contacts.put([{ email: "gone@x.io" }, { email: "stays@x.io" }]);
        const seg = await store.workspace(ws).segments.create({ kind: "static", name: "S" });
        await store.workspace(ws).members.put(seg.id, [
          { contact_id: a.id, action: "added" },
          { contact_id: b.id, action: "added" },
        ]);
        await store.workspace(ws).events.insert([
          { id: "k1", type: "email_opened", contact_id: a.id, timestamp: 1 },
          { type: "email_opened", contact_id: a.id, timestamp: 2 },
          { type: "email_opened", contact_id: b.id, timestamp: 3 },
        ]);
        await store
          .workspace(ws)
          .changes.append([{ segment_id: seg.id, contact_id: a.id, change: "entered", at: 1 }]);
        expect(await store.workspace(ws).contacts.delete(a.id)).toBe(true);
        expect(await store.workspace(ws).contacts.delete(a.id)).toBe(false);
        expect(await store.workspace(ws).contacts.get(a.id)).toBeNull();
        expect((await store.workspace(ws).events.listOfContact(a.id)).data).toEqual([]);
        expect(await store.workspace(ws).events.count()).toBe(1);
        expect((await store.workspace(ws).members.list(seg.id)).data.map((m) => m.contact_id)).toEqual([
          b.id,
        ]);
        // The change log is append-only: erasure appends `exited`, it does not rewrite history.
        expect((await store.workspace(ws).changes.list()).data).toHaveLength(1);
        expect(await store.workspace(ws).contacts.count()).toBe(1);
      });

      it("lists contacts with cursor pagination, optionally filtered by a membership", async () => {
        const ws = await newWs();
        const made = await store
          .workspace(ws)
          .contacts.put(Array.from({ length: 25 }, (_, i) => ({ email: `p${i}@x.io` })));
        const ids = made.map((c) => c.id).sort();
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const p = await store.workspace(ws).contacts.list({ cursor, limit: 10 });
          seen.push(...p.data.map((c) => c.id));
          cursor = p.next_cursor;
          pages++;
        } while (cursor !== null);
        expect(pages).toBe(3);
        expect(seen).toEqual(ids);
        // Exactly `limit` left: the page says there is no next one.
        const last = await store.workspace(ws).contacts.list({ cursor: ids[14], limit: 10 });
        expect(last.data).toHaveLength(10);
        expect(last.next_cursor).toBeNull();
        // Limits are clamped, not refused.
        expect((await store.workspace(ws).contacts.list({ limit: 0 })).data).toHaveLength(1);
        expect((await store.workspace(ws).contacts.list()).data).toHaveLength(25);

        const members = new Set(ids.filter((_, i) => i % 3 === 0));
        const got: string[] = [];
        cursor = null;
        do {
          const p = await store.workspace(ws).contacts.list({ cursor, limit: 4, segmentMembers: members });
          expect(p.data.length).toBeLessThanOrEqual(4);
          got.push(...p.data.map((c) => c.id));
          cursor = p.next_cursor;
        } while (cursor !== null);
        expect(got).toEqual([...members]);
        expect((await store.workspace(ws).contacts.list({ segmentMembers: new Set<string>() })).data).toEqual(
          [],
        );
      });

      it("streams every contact in keyset pages", async () => {
        const ws = await newWs();
        const made = await store
          .workspace(ws)
          .contacts.put(Array.from({ length: 20 }, (_, i) => ({ email: `s${i}@x.io` })));
        const pages = await collect(store.workspace(ws).contacts.stream({ pageSize: 7 }));
        expect(pages.map((p) => p.length)).toEqual([7, 7, 6]);
        expect(pages.flat().map((c) => c.id)).toEqual(made.map((c) => c.id).sort());
        expect(await collect(store.workspace(await newWs()).contacts.stream())).toEqual([]);
        // An exact multiple of the page size ends without an empty page.
        expect(
          (await collect(store.workspace(ws).contacts.stream({ pageSize: 10 }))).map((p) => p.length),
        ).toEqual([10, 10]);
      });
    });

    describe("events", () => {
      it("accepts each idempotency key once per workspace, earlier in the same batch included", async () => {
        const ws = await newWs();
        const other = await newWs();
        clock.t = 1_700_000_400_000;
        const r1 = await store.workspace(ws).events.insert([
          { id: "a", type: "email_opened", contact_id: "ct_1", timestamp: 10 },
          { id: "b", type: "email_opened", contact_id: "ct_1", timestamp: 11 },
          { id: "a", type: "email_opened", contact_id: "ct_1", timestamp: 12 },
          { type: "page_viewed", contact_id: "ct_1", timestamp: 13 },
          { type: "page_viewed", contact_id: "ct_1", timestamp: 13 },
        ]);
        expect(r1).toEqual({
          accepted: 4,
          duplicates: 1,
          items: ["accepted", "accepted", "duplicate", "accepted", "accepted"],
        });
        const r2 = await store.workspace(ws).events.insert([
          { id: "b", type: "email_opened", contact_id: "ct_1", timestamp: 99 },
          { id: "c", type: "email_opened", contact_id: "ct_1", timestamp: 14 },
        ]);
        expect(r2.items).toEqual(["duplicate", "accepted"]);
        expect(await store.workspace(ws).events.count()).toBe(5);
        // The first write of a key is the one kept.
        const b = (await store.workspace(ws).events.listOfContact("ct_1", { limit: 100 })).data.find(
          (e) => e.id === "b",
        );
        expect(b?.timestamp).toBe(11);
        // Keys are per workspace.
        expect(
          (
            await store
              .workspace(other)
              .events.insert([{ id: "a", type: "x", contact_id: "ct_1", timestamp: 1 }])
          ).accepted,
        ).toBe(1);
        expect(await store.workspace(ws).events.insert([])).toEqual({
          accepted: 0,
          duplicates: 0,
          items: [],
        });
        expect(
          (
            await rejection(
              store.workspace(ws).events.insert([{ type: "x", contact_id: "c", timestamp: Number.NaN }]),
            )
          ).code,
        ).toBe("invalid");
      });

      it("keeps properties as JSON and lists a contact's events newest first", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_500_000;
        const props = {
          amount: 12.5,
          currency: "EUR",
          items: [{ sku: "a", qty: 2 }],
          nested: { deep: { ok: true, none: null } },
          text: 'quote " and ? and é',
        };
        await store.workspace(ws).events.insert([
          { id: "o1", type: "order_placed", contact_id: "ct_a", timestamp: 3000, properties: props },
          { type: "email_opened", contact_id: "ct_a", timestamp: 1000, received_at: 5 },
          { type: "email_opened", contact_id: "ct_a", timestamp: 2000 },
          { type: "email_opened", contact_id: "ct_a", timestamp: 2000 },
          { type: "email_opened", contact_id: "ct_b", timestamp: 2500 },
        ]);
        const all = (await store.workspace(ws).events.listOfContact("ct_a")).data;
        expect(all.map((e) => e.timestamp)).toEqual([3000, 2000, 2000, 1000]);
        expect(all[1].seq).toBeGreaterThan(all[2].seq);
        expect(all[0]).toMatchObject({
          id: "o1",
          type: "order_placed",
          properties: props,
          received_at: clock.t,
        });
        expect(all[3]).toMatchObject({ id: null, properties: {}, received_at: 5 });

        const seen: number[] = [];
        let cursor: string | null = null;
        do {
          const p = await store.workspace(ws).events.listOfContact("ct_a", { cursor, limit: 1 });
          seen.push(...p.data.map((e) => e.seq));
          cursor = p.next_cursor;
        } while (cursor !== null);
        expect(seen).toEqual(all.map((e) => e.seq));
        expect(
          (await rejection(store.workspace(ws).events.listOfContact("ct_a", { cursor: "garbage" }))).code,
        ).toBe("invalid");
      });

      it("streams every event in store order, in pages", async () => {
        const ws = await newWs();
        const batch = Array.from({ length: 23 }, (_, i) => ({
          id: `e${i}`,
          type: i % 2 ? "email_opened" : "email_sent",
          contact_id: `ct_${i % 5}`,
          timestamp: 1000 - i,
          properties: { i },
        }));
        await store.workspace(ws).events.insert(batch);
        await store.workspace(await newWs()).events.insert(batch);
        const pages = await collect(store.workspace(ws).events.stream({ pageSize: 10 }));
        expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
        const flat = pages.flat();
        expect(flat.map((e) => e.id)).toEqual(batch.map((e) => e.id));
        expect(flat.map((e) => e.properties.i)).toEqual(batch.map((_, i) => i));
        for (let i = 1; i < flat.length; i++) expect(flat[i].seq).toBeGreaterThan(flat[i - 1].seq);
      });
    });

    describe("event batches (insertEventBatches)", () => {
      const ev = (id: string | null, k: number) => ({
        ...(id !== null ? { id } : {}),
        type: "email_opened",
        contact_id: `ct_${k % 3}`,
        timestamp: 1_000 + k,
        properties: { k, nested: { s: 'é"?' } },
      });
      // The database refuses it (type is NOT NULL), so the batch fails where it is written.
      const refused = { type: null as unknown as string, contact_id: "ct_0", timestamp: 5 };

      it("commits several batches at once, each failing alone", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_600_000;
        const out = await store.insertEventBatches(ws, [
          [ev("a", 1), ev("b", 2), ev(null, 3)],
          [ev("a", 4), ev("c", 5), ev("c", 6)],
          [ev("d", 7), refused],
          [ev("e", 8), { type: "x", contact_id: "ct_0", timestamp: Number.NaN }],
          [],
        ]);
        expect(out.map((o) => o.ok)).toEqual([true, true, false, false, true]);
        expect(out[0]).toEqual({
          ok: true,
          value: { accepted: 3, duplicates: 0, items: ["accepted", "accepted", "accepted"] },
        });
        expect(out[1]).toEqual({
          ok: true,
          value: { accepted: 1, duplicates: 2, items: ["duplicate", "accepted", "duplicate"] },
        });
        for (const k of [2, 3]) {
          const o = out[k]!;
          expect(o.ok ? null : (o.error as StoreError).code).toBe("invalid");
        }
        expect(out[4]).toEqual({ ok: true, value: { accepted: 0, duplicates: 0, items: [] } });
        const stored = (await collect(store.workspace(ws).events.stream())).flat();
        expect(stored.map((e) => e.id)).toEqual(["a", "b", null, "c"]);
        expect(stored[0]).toMatchObject({
          type: "email_opened",
          contact_id: "ct_1",
          timestamp: 1_001,
          properties: { k: 1, nested: { s: 'é"?' } },
          received_at: clock.t,
        });
      });

      it("a lone batch that fails stores nothing and rejects", async () => {
        const ws = await newWs();
        const err = await rejection(store.insertEventBatches(ws, [[ev("a", 1), refused]]));
        expect(err.code).toBe("invalid");
        expect(await store.workspace(ws).events.count()).toBe(0);
        // The store goes on: the same key is free, and later batches commit.
        const [o] = await store.insertEventBatches(ws, [[ev("a", 1)]]);
        expect(o).toMatchObject({ ok: true, value: { accepted: 1 } });
        await expect(store.insertEventBatches(ws, [[ev("x", 1)], []])).resolves.toHaveLength(2);
        expect(await store.workspace(ws).events.count()).toBe(2);
      });

      it("interleaves with transactions and single writes without losing any", async () => {
        const ws = await newWs();
        await Promise.all(
          Array.from({ length: 12 }, (_, i) => {
            if (i % 3 === 0) return store.insertEventBatches(ws, [[ev(`b${i}`, i)], [ev(`b${i}x`, i)]]);
            if (i % 3 === 1) {
              return store.transaction(ws, async (tx) => {
                await tx.workspace(ws).events.insert([ev(`t${i}`, i)]);
                await new Promise((r) => setTimeout(r, 2));
                await tx
                  .workspace(ws)
                  .changes.append([{ segment_id: "s", contact_id: `c${i}`, change: "entered", at: i }]);
              });
            }
            return store.workspace(ws).events.insert([ev(`s${i}`, i)]);
          }),
        );
        expect(await store.workspace(ws).events.count()).toBe(4 * 2 + 4 + 4);
        expect((await store.workspace(ws).changes.list()).data).toHaveLength(4);
      });

      const roundChanges = [
        { segment_id: "s1", contact_id: "c1", change: "entered" as const, at: 10 },
        { segment_id: "s1", contact_id: "c2", change: "exited" as const, at: 11 },
        { segment_id: "s2", contact_id: "c1", change: "entered" as const, at: 12 },
      ];
      const asInput = (c: ChangeRecord) => ({
        segment_id: c.segment_id,
        contact_id: c.contact_id,
        change: c.change,
        at: c.at,
      });

      it("commits a round's log with its batches: the changes, their deliveries and the lease", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_700_000;
        const hook = await store
          .workspace(ws)
          .webhooks.create({ url: "http://127.0.0.1:9/h", events: ["segment.entered"] });
        const round = await store.commitEventRound(ws, {
          batches: [[ev("a", 1)], [refused]],
          log: {
            changes: roundChanges,
            deliveries: [
              { change: 0, webhook_id: hook.id },
              { change: 2, webhook_id: hook.id },
            ],
            claim: { now: clock.t, limit: 1, leaseMs: 60_000 },
          },
        });
        // A failing batch fails alone; the log is written.
        expect(round.outcomes.map((o) => o.ok)).toEqual([true, false]);
        const logged = (await store.workspace(ws).changes.list()).data;
        expect(logged.map(asInput)).toEqual(roundChanges);
        expect(round.log).toEqual({ logged, queued: 2, claimed: [expect.anything()] });
        expect(round.log!.claimed[0]).toMatchObject({
          webhook_id: hook.id,
          change_seq: logged[0]!.seq,
          change: logged[0],
          url: "http://127.0.0.1:9/h",
          next_attempt_at: clock.t + 60_000,
          created_at: clock.t,
        });
        // The other delivery is queued and due, not leased.
        const due = await store.workspace(ws).deliveries.claim({ now: clock.t, limit: 10, leaseMs: 1 });
        expect(due.map((j) => j.change_seq)).toEqual([logged[2]!.seq]);
        expect(await store.workspace(ws).events.count()).toBe(1);
      });

      it("logs with no batches; a round refused by its check, or whose lone batch fails, logs nothing", async () => {
        const ws = await newWs();
        const log = { changes: roundChanges, deliveries: [], claim: null };
        const err = await rejection(
          store.commitEventRound(ws, {
            batches: [[ev("a", 1)]],
            check: () => {
              throw new StoreError("invalid", "refused by the check");
            },
            log,
          }),
        );
        expect(err.message).toBe("refused by the check");
        expect(await rejection(store.commitEventRound(ws, { batches: [[refused]], log }))).toMatchObject({
          code: "invalid",
        });
        expect((await store.workspace(ws).changes.list()).data).toEqual([]);
        expect(await store.workspace(ws).events.count()).toBe(0);
        const alone = await store.commitEventRound(ws, { batches: [], log });
        expect(alone.outcomes).toEqual([]);
        expect(alone.log!.logged.map(asInput)).toEqual(roundChanges);
        expect(alone.log!.queued).toBe(0);
        expect((await store.workspace(ws).changes.list()).data).toEqual(alone.log!.logged);
        // Without a log there is nothing to write: no batches, no transaction.
        expect(await store.commitEventRound(ws, { batches: [] })).toEqual({ outcomes: [], log: null });
      });

      it("is bound to the workspace it names", async () => {
        const ws = await newWs();
        const other = await newWs();
        await store.insertEventBatches(ws, [[ev("a", 1)]]);
        expect(await store.workspace(other).events.count()).toBe(0);
        // Keys are per workspace.
        const [o] = await store.insertEventBatches(other, [[ev("a", 1)]]);
        expect(o).toMatchObject({ ok: true, value: { accepted: 1 } });
      });
    });

    describe("streams", () => {
      it("can be stopped early, many times, without holding on to a connection", async () => {
        const ws = await newWs();
        await store
          .workspace(ws)
          .contacts.put(Array.from({ length: 30 }, (_, i) => ({ email: `early${i}@x.io` })));
        await store
          .workspace(ws)
          .events.insert(
            Array.from({ length: 30 }, (_, i) => ({ type: "x", contact_id: "c", timestamp: i })),
          );
        for (let round = 0; round < 25; round++) {
          for await (const p of store.workspace(ws).events.stream({ pageSize: 10 })) {
            expect(p).toHaveLength(10);
            break;
          }
          for await (const p of store.workspace(ws).contacts.stream({ pageSize: 10 })) {
            expect(p).toHaveLength(10);
            break;
          }
        }
        expect(await store.workspace(ws).contacts.count()).toBe(30);
      });

      it("stream inside a transaction, seeing its writes", async () => {
        const ws = await newWs();
        const n = await store.transaction(ws, async (tx) => {
          await tx
            .workspace(ws)
            .events.insert(
              Array.from({ length: 12 }, (_, i) => ({ type: "x", contact_id: "c", timestamp: i })),
            );
          let count = 0;
          for await (const p of tx.workspace(ws).events.stream({ pageSize: 5 })) count += p.length;
          return count;
        });
        expect(n).toBe(12);
      });
    });

    describe("transactions", () => {
      it("commits together, and rolls back everything when the callback throws", async () => {
        const ws = await newWs();
        await store.transaction(ws, async (tx) => {
          const [c] = await tx.workspace(ws).contacts.put([{ email: "tx@x.io" }]);
          await tx.workspace(ws).events.insert([{ id: "t1", type: "x", contact_id: c.id, timestamp: 1 }]);
          // Reads inside the transaction see its own writes.
          expect(await tx.workspace(ws).contacts.count()).toBe(1);
        });
        expect(await store.workspace(ws).contacts.count()).toBe(1);
        await expect(
          store.transaction(ws, async (tx) => {
            await tx.workspace(ws).contacts.put([{ email: "rolled@x.io" }]);
            await tx.workspace(ws).events.insert([{ id: "t2", type: "x", contact_id: "c", timestamp: 1 }]);
            await tx
              .workspace(ws)
              .changes.append([{ segment_id: "s", contact_id: "c", change: "entered", at: 1 }]);
            throw new Error("boom");
          }),
        ).rejects.toThrow("boom");
        expect(await store.workspace(ws).contacts.count()).toBe(1);
        expect(await store.workspace(ws).events.count()).toBe(1);
        expect((await store.workspace(ws).changes.list()).data).toEqual([]);
        // The key of the rolled-back event was not taken.
        expect(
          (await store.workspace(ws).events.insert([{ id: "t2", type: "x", contact_id: "c", timestamp: 1 }]))
            .accepted,
        ).toBe(1);
      });

      it("is bound to its workspace", async () => {
        const ws = await newWs();
        const other = await newWs();
        const err = await rejection(
          store.transaction(ws, (tx: StoreOps) => tx.workspace(other).contacts.count()),
        );
        expect(err.code).toBe("workspace_mismatch");
      });

      it("commits a batch of 10,000 events atomically, or none of it", async () => {
        const ws = await newWs();
        const batch = Array.from({ length: 10_000 }, (_, i) => ({
          id: `big-${i}`,
          type: "email_sent",
          contact_id: `ct_${i % 100}`,
          timestamp: 1_700_000_000_000 + i,
          properties: { campaign_id: i % 200 },
        }));
        const r = await store.workspace(ws).events.insert(batch);
        expect(r.accepted).toBe(10_000);
        expect(await store.workspace(ws).events.count()).toBe(10_000);
        const again = await store.workspace(ws).events.insert(batch);
        expect(again.duplicates).toBe(10_000);

        const ws2 = await newWs();
        await expect(
          store.transaction(ws2, async (tx) => {
            await tx.workspace(ws2).events.insert(batch);
            await tx
              .workspace(ws2)
              .contacts.put(Array.from({ length: 10_000 }, (_, i) => ({ email: `c${i}@x.io` })));
            throw new Error("abort");
          }),
        ).rejects.toThrow("abort");
        expect(await store.workspace(ws2).events.count()).toBe(0);
        expect(await store.workspace(ws2).contacts.count()).toBe(0);
      });

      it("serialises concurrent transactions without losing writes", async () => {
        const ws = await newWs();
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.transaction(ws, async (tx) => {
              await tx
                .workspace(ws)
                .events.insert([{ id: `c${i}`, type: "x", contact_id: "c", timestamp: i }]);
              await new Promise((r) => setTimeout(r, 2));
              await tx
                .workspace(ws)
                .changes.append([{ segment_id: "s", contact_id: `c${i}`, change: "entered", at: i }]);
            }),
          ),
        );
        expect(await store.workspace(ws).events.count()).toBe(8);
        expect((await store.workspace(ws).changes.list()).data).toHaveLength(8);
      });
    });

    describe("segments", () => {
      it("creates, edits with versions, lists and deletes", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_600_000;
        const rule = { type: "field", field: "country", op: "in", value: ["US", "CA"] };
        const s = await store.workspace(ws).segments.create({ kind: "dynamic", name: "NA", rule });
        expect(s).toEqual({
          id: s.id,
          kind: "dynamic",
          name: "NA",
          description: "",
          rule,
          version: 1,
          created_at: clock.t,
          updated_at: clock.t,
        });
        expect(s.id).toMatch(/^seg_/);
        clock.t += 1000;
        const rule2 = {
          type: "and",
          conditions: [rule, { type: "field", field: "status", op: "eq", value: "subscribed" }],
        };
        const u = await store
          .workspace(ws)
          .segments.update(s.id, { rule: rule2, description: "North America" });
        expect(u).toMatchObject({
          version: 2,
          rule: rule2,
          name: "NA",
          description: "North America",
          updated_at: clock.t,
        });
        expect(u?.created_at).toBe(s.created_at);
        const u3 = await store.workspace(ws).segments.update(s.id, { name: "North America" });
        expect(u3).toMatchObject({ version: 3, rule: rule2, name: "North America" });
        expect(await store.workspace(ws).segments.get(s.id)).toEqual(u3);
        const versions = await store.workspace(ws).segments.versions(s.id);
        expect(versions.map((v) => [v.version, v.name, v.rule])).toEqual([
          [1, "NA", rule],
          [2, "NA", rule2],
          [3, "North America", rule2],
        ]);
        expect(await store.workspace(ws).segments.update("seg_missing", { name: "x" })).toBeNull();

        const st = await store.workspace(ws).segments.create({
          id: "seg_vip",
          kind: "static",
          name: "VIP",
          description: "d",
        });
        expect(st).toMatchObject({ id: "seg_vip", kind: "static", rule: null });
        expect(
          (
            await rejection(
              store.workspace(ws).segments.create({ id: "seg_vip", kind: "static", name: "again" }),
            )
          ).code,
        ).toBe("conflict");
        expect((await store.workspace(ws).segments.list()).map((x) => x.id)).toEqual([s.id, "seg_vip"]);

        const [c] = await store.workspace(ws).contacts.put([{ email: "m@x.io" }]);
        await store.workspace(ws).members.put("seg_vip", [{ contact_id: c.id, action: "added" }]);
        await store
          .workspace(ws)
          .changes.append([{ segment_id: "seg_vip", contact_id: c.id, change: "entered", at: 1 }]);
        expect(await store.workspace(ws).segments.delete("seg_vip")).toBe(true);
        expect(await store.workspace(ws).segments.delete("seg_vip")).toBe(false);
        expect(await store.workspace(ws).segments.get("seg_vip")).toBeNull();
        expect((await store.workspace(ws).members.list("seg_vip")).data).toEqual([]);
        expect(await store.workspace(ws).segments.versions("seg_vip")).toEqual([]);
        // Deleting a segment never deletes contacts, nor its history.
        expect(await store.workspace(ws).contacts.get(c.id)).not.toBeNull();
        expect((await store.workspace(ws).changes.list({ segmentId: "seg_vip" })).data).toHaveLength(1);
      });
    });

    describe("static members and overrides", () => {
      it("adds, replaces, lists, expires and removes entries", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_700_000;
        const cs = await store
          .workspace(ws)
          .contacts.put(Array.from({ length: 6 }, (_, i) => ({ email: `m${i}@x.io` })));
        const ids = cs.map((c) => c.id);
        const st = await store.workspace(ws).segments.create({ kind: "static", name: "S" });
        const dyn = await store.workspace(ws).segments.create({
          kind: "dynamic",
          name: "D",
          rule: { type: "and", conditions: [] },
        });
        expect(
          await store.workspace(ws).members.put(st.id, [
            { contact_id: ids[0], action: "added" },
            { contact_id: ids[1], action: "added", expires_at: 1000 },
            { contact_id: ids[2], action: "added", expires_at: 5000 },
          ]),
        ).toBe(3);
        await store.workspace(ws).members.put(dyn.id, [
          { contact_id: ids[3], action: "added" },
          { contact_id: ids[4], action: "removed", expires_at: 2000 },
        ]);
        const stMembers = (await store.workspace(ws).members.list(st.id)).data;
        expect(stMembers.map((m) => [m.contact_id, m.action, m.expires_at])).toEqual([
          [ids[0], "added", null],
          [ids[1], "added", 1000],
          [ids[2], "added", 5000],
        ]);
        expect(stMembers[0].created_at).toBe(clock.t);
        expect(
          (await store.workspace(ws).members.list(dyn.id, { action: "removed" })).data.map(
            (m) => m.contact_id,
          ),
        ).toEqual([ids[4]]);
        // Writing an entry again replaces it (an override flips from removed to added).
        await store
          .workspace(ws)
          .members.put(dyn.id, [{ contact_id: ids[4], action: "added", expires_at: null }]);
        expect(
          (await store.workspace(ws).members.list(dyn.id)).data.map((m) => [
            m.contact_id,
            m.action,
            m.expires_at,
          ]),
        ).toEqual([
          [ids[3], "added", null],
          [ids[4], "added", null],
        ]);
        // Pagination by contact id.
        const p1 = await store.workspace(ws).members.list(st.id, { limit: 2 });
        expect(p1.data.map((m) => m.contact_id)).toEqual([ids[0], ids[1]]);
        const p2 = await store.workspace(ws).members.list(st.id, { limit: 2, cursor: p1.next_cursor });
        expect(p2).toEqual({ data: [expect.objectContaining({ contact_id: ids[2] })], next_cursor: null });

        const pages = await collect(store.workspace(ws).members.stream({ pageSize: 2 }));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(pages.flat().map((m) => `${m.segment_id}/${m.contact_id}`)).toEqual(
          [
            `${st.id}/${ids[0]}`,
            `${st.id}/${ids[1]}`,
            `${st.id}/${ids[2]}`,
            `${dyn.id}/${ids[3]}`,
            `${dyn.id}/${ids[4]}`,
          ].sort(),
        );

        expect(await store.workspace(ws).members.purgeExpired(1000)).toBe(1);
        expect((await store.workspace(ws).members.list(st.id)).data.map((m) => m.contact_id)).toEqual([
          ids[0],
          ids[2],
        ]);
        expect(await store.workspace(ws).members.delete(st.id, [ids[0], ids[5], ids[0]])).toBe(1);
        expect((await store.workspace(ws).members.list(st.id)).data.map((m) => m.contact_id)).toEqual([
          ids[2],
        ]);
        expect(await store.workspace(ws).members.delete(st.id, [])).toBe(0);
      });

      it("refuses entries for unknown contacts or segments", async () => {
        const ws = await newWs();
        const [c] = await store.workspace(ws).contacts.put([{ email: "u@x.io" }]);
        const s = await store.workspace(ws).segments.create({ kind: "static", name: "S" });
        expect(
          (
            await rejection(
              store.workspace(ws).members.put(s.id, [{ contact_id: "ct_none", action: "added" }]),
            )
          ).code,
        ).toBe("not_found");
        expect(
          (
            await rejection(
              store.workspace(ws).members.put("seg_none", [{ contact_id: c.id, action: "added" }]),
            )
          ).code,
        ).toBe("not_found");
        expect((await store.workspace(ws).members.list(s.id)).data).toEqual([]);
      });
    });

    describe("change log", () => {
      it("appends with increasing sequence numbers and lists since a cursor or a time", async () => {
        const ws = await newWs();
        expect(await store.workspace(ws).changes.lastSeq()).toBe(0);
        const a = await store.workspace(ws).changes.append([
          { segment_id: "s1", contact_id: "c1", change: "entered", at: 100 },
          { segment_id: "s2", contact_id: "c1", change: "entered", at: 100 },
          { segment_id: "s1", contact_id: "c2", change: "entered", at: 150 },
        ]);
        const b = await store.workspace(ws).changes.append([
          { segment_id: "s1", contact_id: "c1", change: "exited", at: 200 },
          { segment_id: "s1", contact_id: "c3", change: "entered", at: 250 },
        ]);
        const all = [...a, ...b];
        for (let i = 1; i < all.length; i++) expect(all[i].seq).toBeGreaterThan(all[i - 1].seq);
        expect(await store.workspace(ws).changes.lastSeq()).toBe(all[4].seq);
        expect(await store.workspace(ws).changes.append([])).toEqual([]);

        const s1 = (await store.workspace(ws).changes.list({ segmentId: "s1" })).data;
        expect(s1.map((c) => [c.contact_id, c.change, c.at])).toEqual([
          ["c1", "entered", 100],
          ["c2", "entered", 150],
          ["c1", "exited", 200],
          ["c3", "entered", 250],
        ]);
        expect(s1[0]).toEqual(all[0]);
        const since = (
          await store.workspace(ws).changes.list({ segmentId: "s1", cursor: String(all[2].seq) })
        ).data;
        expect(since.map((c) => c.seq)).toEqual([all[3].seq, all[4].seq]);
        const byTime = (await store.workspace(ws).changes.list({ segmentId: "s1", since: 150, until: 200 }))
          .data;
        expect(byTime.map((c) => c.at)).toEqual([150, 200]);
        expect((await store.workspace(ws).changes.list()).data).toHaveLength(5);

        const p1 = await store.workspace(ws).changes.list({ limit: 2 });
        const p2 = await store.workspace(ws).changes.list({ limit: 2, cursor: p1.next_cursor });
        const p3 = await store.workspace(ws).changes.list({ limit: 2, cursor: p2.next_cursor });
        expect([...p1.data, ...p2.data, ...p3.data].map((c) => c.seq)).toEqual(all.map((c) => c.seq));
        expect(p3.next_cursor).toBeNull();
        expect((await rejection(store.workspace(ws).changes.list({ cursor: "x1" }))).code).toBe("invalid");
      });

      it("answers who was in a segment at any instant", async () => {
        const ws = await newWs();
        await store.workspace(ws).changes.append([
          { segment_id: "s", contact_id: "a", change: "entered", at: 100 },
          { segment_id: "s", contact_id: "b", change: "entered", at: 100 },
          { segment_id: "s", contact_id: "a", change: "exited", at: 200 },
          { segment_id: "s", contact_id: "c", change: "entered", at: 200 },
          { segment_id: "s", contact_id: "a", change: "entered", at: 300 },
          { segment_id: "s", contact_id: "b", change: "exited", at: 300 },
          // Same instant: the later entry in the log wins.
          { segment_id: "s", contact_id: "d", change: "entered", at: 400 },
          { segment_id: "s", contact_id: "d", change: "exited", at: 400 },
          { segment_id: "other", contact_id: "z", change: "entered", at: 50 },
        ]);
        const at = async (t: number) => (await store.workspace(ws).changes.membersAt("s", t)).data;
        expect(await at(99)).toEqual([]);
        expect(await at(100)).toEqual(["a", "b"]);
        expect(await at(199)).toEqual(["a", "b"]);
        expect(await at(200)).toEqual(["b", "c"]);
        expect(await at(300)).toEqual(["a", "c"]);
        expect(await at(400)).toEqual(["a", "c"]);
        expect(await store.workspace(ws).changes.countMembersAt("s", 200)).toBe(2);
        expect(await store.workspace(ws).changes.countMembersAt("s", 50)).toBe(0);
        expect((await store.workspace(ws).changes.membersAt("other", 1_000)).data).toEqual(["z"]);

        const p1 = await store.workspace(ws).changes.membersAt("s", 150, { limit: 1 });
        expect(p1.data).toEqual(["a"]);
        const p2 = await store
          .workspace(ws)
          .changes.membersAt("s", 150, { limit: 1, cursor: p1.next_cursor });
        expect(p2).toEqual({ data: ["b"], next_cursor: null });
      });

      it("tells the logged membership by append order even when times go back", async () => {
        const ws = await newWs();
        // A late event: logged after an exit, but the entry it caused is dated earlier.
        await store.workspace(ws).changes.append([
          { segment_id: "s", contact_id: "a", change: "exited", at: 500 },
          { segment_id: "s", contact_id: "a", change: "entered", at: 400 },
          { segment_id: "s", contact_id: "b", change: "entered", at: 100 },
        ]);
        expect((await store.workspace(ws).changes.logged("s")).data).toEqual(["a", "b"]);
        // At an instant, time order decides: at 500 the exit is the latest.
        expect((await store.workspace(ws).changes.membersAt("s", 500)).data).toEqual(["b"]);
        expect((await store.workspace(ws).changes.membersAt("s", 450)).data).toEqual(["a", "b"]);
        const p = await store.workspace(ws).changes.logged("s", { limit: 1 });
        expect(p.data).toEqual(["a"]);
        expect((await store.workspace(ws).changes.logged("s", { cursor: p.next_cursor })).data).toEqual([
          "b",
        ]);
      });
    });

    describe("webhooks and their outbox", () => {
      it("stores subscriptions", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_800_000;
        const w = await store.workspace(ws).webhooks.create({
          url: "http://127.0.0.1:9/hook",
          events: ["segment.entered"],
        });
        expect(w).toMatchObject({
          url: "http://127.0.0.1:9/hook",
          events: ["segment.entered"],
          segment_id: null,
        });
        expect(w.secret).toMatch(/^whsec_/);
        expect(w.id).toMatch(/^wh_/);
        const w2 = await store.workspace(ws).webhooks.create({
          url: "http://127.0.0.1:9/b",
          events: ["segment.entered", "segment.exited"],
          segment_id: "seg_x",
          secret: "s3cret",
        });
        expect(w2.secret).toBe("s3cret");
        expect(await store.workspace(ws).webhooks.get(w2.id)).toEqual(w2);
        expect((await store.workspace(ws).webhooks.list()).map((x) => x.id)).toEqual([w.id, w2.id]);
        expect(await store.workspace(ws).webhooks.delete(w.id)).toBe(true);
        expect(await store.workspace(ws).webhooks.delete(w.id)).toBe(false);
        expect(await store.workspace(ws).webhooks.get(w.id)).toBeNull();
      });

      it("queues more deliveries than one statement writes, every one once", async () => {
        const ws = await newWs();
        const w = await store
          .workspace(ws)
          .webhooks.create({ url: "http://127.0.0.1:9/h", events: ["segment.entered"] });
        const ch = await store.workspace(ws).changes.append(
          Array.from({ length: 5_003 }, (_, i) => ({
            segment_id: "s",
            contact_id: `c${i}`,
            change: "entered" as const,
            at: i,
          })),
        );
        const items = ch.map((c) => ({ webhook_id: w.id, change_seq: c.seq }));
        expect(await store.workspace(ws).deliveries.enqueue(items.slice(0, 2))).toBe(2);
        expect(await store.workspace(ws).deliveries.enqueue(items)).toBe(5_001);
        const seen: number[] = [];
        let cursor: string | null | undefined;
        do {
          const page = await store
            .workspace(ws)
            .deliveries.list(w.id, { limit: 1000, ...(cursor ? { cursor } : {}) });
          for (const d of page.data) seen.push(d.change_seq!);
          cursor = page.next_cursor;
        } while (cursor);
        expect(seen.sort((a, b) => a - b)).toEqual(ch.map((c) => c.seq));
      });

      it("releases the claims whose outcome was never recorded, and nothing else", async () => {
        const ws = await newWs();
        clock.t = 10_000;
        const w = await store
          .workspace(ws)
          .webhooks.create({ url: "http://127.0.0.1:9/h", events: ["segment.entered"] });
        const ch = await store.workspace(ws).changes.append(
          ["a", "b", "c", "d"].map((id, i) => ({
            segment_id: "s",
            contact_id: id,
            change: "entered" as const,
            at: i + 1,
          })),
        );
        await store
          .workspace(ws)
          .deliveries.enqueue(ch.map((c) => ({ webhook_id: w.id, change_seq: c.seq })));
        const d = store.workspace(ws).deliveries;
        const [a, b, c] = await d.claim({ now: 10_000, limit: 3, leaseMs: 30_000 });
        await d.markDelivered(a!.id, { at: 11_000 });
        await d.markFailed(b!.id, { at: 11_000, error: "x", retry_at: 25_000 });
        // c stays claimed (its process died); d was never claimed.
        expect(await d.releaseClaims(12_000)).toBe(1);
        expect(await d.get(c!.id)).toMatchObject({ status: "pending", attempts: 0, next_attempt_at: 10_000 });
        expect(await d.get(b!.id)).toMatchObject({ status: "pending", attempts: 1, next_attempt_at: 25_000 });
        expect(await d.get(a!.id)).toMatchObject({ status: "delivered" });
        expect(
          (await d.claim({ now: 12_000, limit: 10, leaseMs: 30_000 })).map((j) => j.change?.contact_id),
        ).toEqual(["c", "d"]);
        expect(await d.releaseClaims(13_000)).toBe(2);
        expect(await d.releaseClaims(13_000)).toBe(0);
      });

      it("moves deliveries pending → (leased) → retried → delivered or failed", async () => {
        const ws = await newWs();
        clock.t = 10_000;
        const w = await store
          .workspace(ws)
          .webhooks.create({ url: "http://127.0.0.1:9/h", events: ["segment.entered"] });
        const ch = await store.workspace(ws).changes.append([
          { segment_id: "s", contact_id: "a", change: "entered", at: 1 },
          { segment_id: "s", contact_id: "b", change: "entered", at: 2 },
          { segment_id: "s", contact_id: "c", change: "exited", at: 3 },
        ]);
        const items = ch.map((c) => ({ webhook_id: w.id, change_seq: c.seq }));
        expect(await store.workspace(ws).deliveries.enqueue(items)).toBe(3);
        expect(await store.workspace(ws).deliveries.enqueue(items.slice(0, 1))).toBe(0);
        expect(
          (
            await rejection(
              store.workspace(ws).deliveries.enqueue([{ webhook_id: "wh_none", change_seq: ch[0].seq }]),
            )
          ).code,
        ).toBe("not_found");

        const jobs = await store.workspace(ws).deliveries.claim({ now: 10_000, limit: 2, leaseMs: 30_000 });
        expect(jobs.map((j) => j.change?.contact_id)).toEqual(["a", "b"]);
        expect(jobs[0]).toMatchObject({
          webhook_id: w.id,
          status: "pending",
          attempts: 0,
          next_attempt_at: 40_000,
          url: w.url,
          secret: w.secret,
          change: ch[0],
        });
        // Leased: not handed out again until the lease ends.
        const rest = await store.workspace(ws).deliveries.claim({ now: 10_000, limit: 10, leaseMs: 30_000 });
        expect(rest.map((j) => j.change?.contact_id)).toEqual(["c"]);
        expect(
          await store.workspace(ws).deliveries.claim({ now: 20_000, limit: 10, leaseMs: 30_000 }),
        ).toEqual([]);

        const [a, b] = jobs;
        expect(
          await store.workspace(ws).deliveries.markFailed(a.id, {
            at: 11_000,
            error: "HTTP 500",
            status_code: 500,
            retry_at: 15_000,
          }),
        ).toBe(true);
        expect(await store.workspace(ws).deliveries.get(a.id)).toMatchObject({
          status: "pending",
          attempts: 1,
          next_attempt_at: 15_000,
          last_error: "HTTP 500",
          last_status_code: 500,
        });
        expect(await store.workspace(ws).deliveries.claim({ now: 14_999, limit: 10, leaseMs: 1 })).toEqual(
          [],
        );
        const retry = await store.workspace(ws).deliveries.claim({ now: 15_000, limit: 10, leaseMs: 30_000 });
        expect(retry.map((j) => j.id)).toEqual([a.id]);
        expect(
          await store.workspace(ws).deliveries.markDelivered(a.id, { at: 15_100, status_code: 204 }),
        ).toBe(true);
        expect(await store.workspace(ws).deliveries.get(a.id)).toMatchObject({
          status: "delivered",
          attempts: 2,
          next_attempt_at: null,
          last_error: null,
          last_status_code: 204,
          delivered_at: 15_100,
        });
        // Only a pending delivery moves.
        expect(await store.workspace(ws).deliveries.markDelivered(a.id, { at: 16_000 })).toBe(false);
        expect(
          await store.workspace(ws).deliveries.markFailed(a.id, { at: 16_000, error: "x", retry_at: 20_000 }),
        ).toBe(false);

        expect(
          await store
            .workspace(ws)
            .deliveries.markFailed(b.id, { at: 11_000, error: "gave up", retry_at: null }),
        ).toBe(true);
        expect(await store.workspace(ws).deliveries.get(b.id)).toMatchObject({
          status: "failed",
          attempts: 1,
          next_attempt_at: null,
        });
        // After the lease, an unanswered claim is due again (at-least-once).
        const again = await store.workspace(ws).deliveries.claim({ now: 40_000, limit: 10, leaseMs: 30_000 });
        expect(again.map((j) => j.change?.contact_id)).toEqual(["c"]);

        const log = await store.workspace(ws).deliveries.list(w.id, { limit: 2 });
        expect(log.data.map((d) => d.change_seq)).toEqual([ch[2].seq, ch[1].seq]);
        const log2 = await store.workspace(ws).deliveries.list(w.id, { limit: 2, cursor: log.next_cursor });
        expect(log2).toEqual({
          data: [expect.objectContaining({ change_seq: ch[0].seq })],
          next_cursor: null,
        });

        expect(await store.workspace(ws).webhooks.delete(w.id)).toBe(true);
        expect(await store.workspace(ws).deliveries.get(a.id)).toBeNull();
      });

      it("rotates a secret, keeping the previous one until a time", async () => {
        const ws = await newWs();
        clock.t = 50_000;
        const w = await store
          .workspace(ws)
          .webhooks.create({ url: "http://127.0.0.1:9/h", events: ["segment.entered"] });
        expect(w).toMatchObject({ previous_secret: null, previous_secret_until: null });
        const r1 = await store.workspace(ws).webhooks.rotateSecret(w.id, {
          secret: "whsec_second",
          previous_until: 90_000,
        });
        expect(r1).toMatchObject({
          secret: "whsec_second",
          previous_secret: w.secret,
          previous_secret_until: 90_000,
        });
        expect(await store.workspace(ws).webhooks.get(w.id)).toEqual(r1);
        // A second rotation drops the oldest secret.
        const r2 = await store.workspace(ws).webhooks.rotateSecret(w.id, {
          secret: "whsec_third",
          previous_until: 95_000,
        });
        expect(r2).toMatchObject({
          secret: "whsec_third",
          previous_secret: "whsec_second",
          previous_secret_until: 95_000,
        });
        expect(
          await store.workspace(ws).webhooks.rotateSecret("wh_none", { secret: "x", previous_until: 1 }),
        ).toBeNull();

        const ch = await store
          .workspace(ws)
          .changes.append([{ segment_id: "s", contact_id: "a", change: "entered", at: 1 }]);
        await store.workspace(ws).deliveries.enqueue([{ webhook_id: w.id, change_seq: ch[0].seq }]);
        const [job] = await store.workspace(ws).deliveries.claim({ now: 50_000, limit: 5, leaseMs: 1_000 });
        expect(job).toMatchObject({
          secret: "whsec_third",
          previous_secret: "whsec_second",
          previous_secret_until: 95_000,
          payload: null,
          redelivery_of: null,
        });
      });

      it("queues deliveries with a fixed payload: without a change, or repeating one", async () => {
        const ws = await newWs();
        clock.t = 60_000;
        const w = await store
          .workspace(ws)
          .webhooks.create({ url: "http://127.0.0.1:9/h", events: ["segment.entered"] });
        const ch = await store
          .workspace(ws)
          .changes.append([{ segment_id: "s", contact_id: "a", change: "entered", at: 1 }]);
        expect(
          await store.workspace(ws).deliveries.enqueue([{ webhook_id: w.id, change_seq: ch[0].seq }]),
        ).toBe(1);
        const [original] = (await store.workspace(ws).deliveries.list(w.id)).data;
        expect(original).toMatchObject({ change_seq: ch[0].seq, redelivery_of: null });

        // A test event: no change; its body may name its own id.
        const test = await store.workspace(ws).deliveries.addPayload({
          webhook_id: w.id,
          payload: (id) => JSON.stringify({ id: `del_${id}`, type: "webhook.test" }),
          next_attempt_at: 70_000,
        });
        expect(test).toMatchObject({ webhook_id: w.id, change_seq: null, status: "pending", attempts: 0 });
        const testJob = await store.workspace(ws).deliveries.getJob(test.id);
        expect(testJob).toMatchObject({ change: null, url: w.url, secret: w.secret });
        expect(JSON.parse(testJob!.payload!)).toEqual({ id: `del_${test.id}`, type: "webhook.test" });

        // A redelivery repeats the change: it is not deduplicated against the original.
        const again = await store.workspace(ws).deliveries.addPayload({
          webhook_id: w.id,
          change_seq: ch[0].seq,
          redelivery_of: original.id,
          payload: '{"id":"del_1"}',
          next_attempt_at: 60_000,
        });
        expect(again).toMatchObject({ change_seq: ch[0].seq, redelivery_of: original.id });
        // Re-enqueueing the change itself still adds nothing.
        expect(
          await store.workspace(ws).deliveries.enqueue([{ webhook_id: w.id, change_seq: ch[0].seq }]),
        ).toBe(0);

        const due = await store.workspace(ws).deliveries.claim({ now: 60_000, limit: 10, leaseMs: 1_000 });
        expect(due.map((j) => j.id).sort((x, y) => x - y)).toEqual([original.id, again.id]);
        const redo = due.find((j) => j.id === again.id)!;
        expect(redo).toMatchObject({ payload: '{"id":"del_1"}', change: ch[0] });
        // The test delivery is due later (its own lease).
        expect(
          (await store.workspace(ws).deliveries.claim({ now: 70_000, limit: 10, leaseMs: 1_000 })).map(
            (j) => j.id,
          ),
        ).toContain(test.id);
        expect((await store.workspace(ws).deliveries.list(w.id)).data.map((d) => d.id)).toEqual([
          again.id,
          test.id,
          original.id,
        ]);
        expect(await store.workspace(ws).deliveries.getJob(987_654)).toBeNull();
      });
    });

    describe("imports", () => {
      it("tracks progress and row errors until the job ends", async () => {
        const ws = await newWs();
        clock.t = 1_700_000_900_000;
        const job = await store
          .workspace(ws)
          .imports.create({ kind: "contacts", options: { segment_id: "seg_x" } });
        expect(job).toMatchObject({
          kind: "contacts",
          status: "pending",
          options: { segment_id: "seg_x" },
          total: null,
          processed: 0,
          accepted: 0,
          rejected: 0,
          errors: [],
          finished_at: null,
        });
        expect(job.id).toMatch(/^imp_/);
        clock.t += 10;
        const p1 = await store.workspace(ws).imports.recordProgress(job.id, {
          processed: 1000,
          accepted: 998,
          rejected: 2,
          errors: [
            { row: 17, error: "email: not an email address" },
            { row: 503, error: "status: unknown value" },
          ],
          total: 2500,
        });
        expect(p1).toMatchObject({
          status: "running",
          processed: 1000,
          accepted: 998,
          rejected: 2,
          total: 2500,
        });
        const p2 = await store.workspace(ws).imports.recordProgress(job.id, {
          processed: 1500,
          accepted: 1499,
          rejected: 1,
          errors: [{ row: 2001, error: "bad" }],
        });
        expect(p2).toMatchObject({ processed: 2500, accepted: 2497, rejected: 3, total: 2500 });
        expect(await store.workspace(ws).imports.get(job.id)).toEqual(p2);
        expect(p2.errors.map((e) => e.row)).toEqual([17, 503, 2001]);
        clock.t += 10;
        const done = await store.workspace(ws).imports.finish(job.id, "done");
        expect(done).toMatchObject({ status: "done", finished_at: clock.t, failure: null });
        expect(await store.workspace(ws).imports.get(job.id)).toEqual(done);
        expect(
          (await rejection(store.workspace(ws).imports.recordProgress(job.id, { processed: 1 }))).code,
        ).toBe("invalid");
        expect((await rejection(store.workspace(ws).imports.finish(job.id, "failed"))).code).toBe("invalid");
        expect(
          (await rejection(store.workspace(ws).imports.recordProgress("imp_none", { processed: 1 }))).code,
        ).toBe("not_found");

        const failed = await store.workspace(ws).imports.create({ kind: "events" });
        const f2 = await store.workspace(ws).imports.finish(failed.id, "failed", "not NDJSON");
        expect(f2).toMatchObject({ status: "failed", failure: "not NDJSON" });
        const list = await store.workspace(ws).imports.list({ limit: 1 });
        expect(list.data.map((j) => j.id)).toEqual([failed.id]);
        const list2 = await store.workspace(ws).imports.list({ limit: 1, cursor: list.next_cursor });
        expect(list2).toEqual({ data: [done], next_cursor: null });
      });

      it("keeps at most MAX_IMPORT_ERRORS row errors and counts the rest", async () => {
        const ws = await newWs();
        const job = await store.workspace(ws).imports.create({ kind: "events" });
        const errors = Array.from({ length: MAX_IMPORT_ERRORS + 5 }, (_, i) => ({ row: i + 1, error: "x" }));
        const p = await store.workspace(ws).imports.recordProgress(job.id, {
          processed: errors.length,
          rejected: errors.length,
          errors,
        });
        expect(p.errors).toHaveLength(MAX_IMPORT_ERRORS);
        expect(p.errors_dropped).toBe(5);
        expect((await store.workspace(ws).imports.get(job.id))?.errors_dropped).toBe(5);
      });
    });

    describe("snapshots: store position and contact journal", () => {
      const sorted = (ids: string[]) => [...ids].sort();
      const journalRows = async (ws: string) =>
        (
          await f.raw(
            "SELECT seq, contact_id, kind FROM contact_journal WHERE workspace_id = ? ORDER BY seq",
            [ws],
          )
        ).map((r) => ({ seq: Number(r.seq), contact_id: String(r.contact_id), kind: String(r.kind) }));

      it("journals 'row' for inserted and updated contacts, one at a time and in batches", async () => {
        const ws = await newWs();
        const repos = store.workspace(ws);
        const p0 = await repos.snapshots.position();
        const [a] = await repos.contacts.put([{ email: "j-a@x.io" }]);
        const p1 = await repos.snapshots.position();
        expect(p1.journal).toBeGreaterThan(p0.journal);
        expect(await repos.snapshots.journalAfter(p0.journal)).toEqual({
          rows: [a!.id],
          erased: [],
          events: [],
        });

        await repos.contacts.put([{ ...a!, first_name: "Ada" }]);
        const p2 = await repos.snapshots.position();
        expect(p2.journal).toBeGreaterThan(p1.journal);
        expect(await repos.snapshots.journalAfter(p1.journal)).toEqual({
          rows: [a!.id],
          erased: [],
          events: [],
        });

        // A batch: 3,000 new contacts and one update, the same id twice in it.
        const batch = await repos.contacts.put([
          ...Array.from({ length: 3000 }, (_, i) => ({ email: `j-batch-${i}@x.io` })),
          { ...a!, first_name: "Ada B" },
          { ...a!, first_name: "Ada C" },
        ]);
        const after = await repos.snapshots.journalAfter(p2.journal);
        expect(after.rows).toEqual(sorted([...new Set(batch.map((c) => c.id))]));
        expect(after.rows).toHaveLength(3001);
        expect(after.erased).toEqual([]);
        expect(after.events).toEqual([]);
        expect((await repos.snapshots.position()).journal).toBeGreaterThan(p2.journal);
        // Everything journaled for the workspace is of kind 'row' and above p0.
        const rows = await journalRows(ws);
        expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(["row"]));
        expect(rows.every((r) => r.seq > p0.journal)).toBe(true);
      });

      it("journals 'erased' for an erasure, 'events' for both contacts of a merge and for deleted events", async () => {
        const ws = await newWs();
        const repos = store.workspace(ws);
        const [a, b, c, d] = await repos.contacts.put([
          { email: "m-a@x.io" },
          { email: "m-b@x.io" },
          { email: "m-c@x.io" },
          { email: "m-d@x.io" },
        ]);
        await repos.events.insert([
          { type: "page_viewed", contact_id: a!.id, timestamp: 1 },
          { type: "page_viewed", contact_id: a!.id, timestamp: 2 },
          { type: "page_viewed", contact_id: b!.id, timestamp: 3 },
          { type: "page_viewed", contact_id: d!.id, timestamp: 4 },
          { type: "page_viewed", contact_id: d!.id, timestamp: 5 },
        ]);

        // Inserting events journals nothing: they are found by their seq.
        const p0 = await repos.snapshots.position();
        expect(await repos.snapshots.journalAfter(p0.journal)).toEqual({ rows: [], erased: [], events: [] });

        await repos.identities.moveContactData(a!.id, b!.id);
        const p1 = await repos.snapshots.position();
        expect(p1.journal).toBeGreaterThan(p0.journal);
        expect(await repos.snapshots.journalAfter(p0.journal)).toEqual({
          rows: [],
          erased: [],
          events: sorted([a!.id, b!.id]),
        });

        // A contact without events: its erasure is its row alone.
        expect(await repos.contacts.delete(c!.id)).toBe(true);
        const p2 = await repos.snapshots.position();
        expect(await repos.snapshots.journalAfter(p1.journal)).toEqual({
          rows: [],
          erased: [c!.id],
          events: [],
        });

        // Events deleted by something other than an erasure.
        const [dFirst] = (await repos.events.ofContacts([d!.id])).map((e) => e.seq);
        await f.raw("DELETE FROM events WHERE workspace_id = ? AND seq = ?", [ws, dFirst]);
        expect(await repos.snapshots.journalAfter(p2.journal)).toEqual({
          rows: [],
          erased: [],
          events: [d!.id],
        });
        const p3 = await repos.snapshots.position();

        // A contact with events: erased, its events deleted with it.
        expect(await repos.contacts.delete(b!.id)).toBe(true);
        const j = await repos.snapshots.journalAfter(p3.journal);
        expect(j.erased).toEqual([b!.id]);
        expect(j.rows).toEqual([]);
        expect(j.events.filter((id) => id !== b!.id)).toEqual([]);

        // An id changed in place (no store path does it) is the old one erased and the new one written.
        const p4 = await repos.snapshots.position();
        await f.raw("UPDATE contacts SET id = ? WHERE workspace_id = ? AND id = ?", [
          "ct_renamed",
          ws,
          d!.id,
        ]);
        expect(await repos.snapshots.journalAfter(p4.journal)).toEqual({
          rows: ["ct_renamed"],
          erased: [d!.id],
          events: [],
        });
      });

      it("answers only entries after the given seq and of its own workspace; prunes its own", async () => {
        const wsA = await newWs();
        const wsB = await newWs();
        const A = store.workspace(wsA);
        const B = store.workspace(wsB);
        const start = await A.snapshots.position();
        const [a1] = await A.contacts.put([{ email: "p-a1@x.io" }]);
        const [b1] = await B.contacts.put([{ email: "p-b1@x.io" }]);
        const mid = await A.snapshots.position();
        // The journal's seq is global: another workspace's write moves it too.
        expect((await B.snapshots.position()).journal).toBe(mid.journal);
        const [a2] = await A.contacts.put([{ email: "p-a2@x.io" }]);
        const [b2] = await B.contacts.put([{ email: "p-b2@x.io" }]);

        expect((await A.snapshots.journalAfter(start.journal)).rows).toEqual(sorted([a1!.id, a2!.id]));
        expect((await A.snapshots.journalAfter(mid.journal)).rows).toEqual([a2!.id]);
        expect((await B.snapshots.journalAfter(start.journal)).rows).toEqual(sorted([b1!.id, b2!.id]));
        expect((await B.snapshots.journalAfter(mid.journal)).rows).toEqual([b2!.id]);
        const end = await A.snapshots.position();
        expect(await A.snapshots.journalAfter(end.journal)).toEqual({ rows: [], erased: [], events: [] });

        expect(await A.snapshots.lastSnapshot()).toBeNull();
        expect(await A.snapshots.recordSnapshot(mid.journal)).toBe(1);
        expect(await A.snapshots.recordSnapshot(mid.journal)).toBe(0);
        expect(await A.snapshots.lastSnapshot()).toBe(mid.journal);
        expect(await B.snapshots.lastSnapshot()).toBeNull();
        expect((await journalRows(wsA)).map((r) => r.contact_id)).toEqual([a2!.id]);
        expect((await A.snapshots.journalAfter(0)).rows).toEqual([a2!.id]);
        // B's rows, below and above the pruned seq, are untouched.
        expect((await journalRows(wsB)).map((r) => r.contact_id)).toEqual([b1!.id, b2!.id]);
        expect(await A.snapshots.recordSnapshot(end.journal)).toBe(1);
        expect(await A.snapshots.lastSnapshot()).toBe(end.journal);
        expect(await journalRows(wsA)).toEqual([]);
        expect((await B.snapshots.journalAfter(0)).rows).toEqual(sorted([b1!.id, b2!.id]));
        // Pruning does not make numbers come back: the next entry is above everything seen.
        const [a3] = await A.contacts.put([{ email: "p-a3@x.io" }]);
        const rows = await journalRows(wsA);
        expect(rows.map((r) => r.contact_id)).toEqual([a3!.id]);
        expect(rows[0]!.seq).toBeGreaterThan(end.journal);
      });

      it("position() advances with each kind of write and agrees with the reads", async () => {
        const ws = await newWs();
        const other = await newWs();
        const repos = store.workspace(ws);
        const p0 = await repos.snapshots.position();
        expect(p0.events).toBe(0);
        expect(p0.changes).toBe(0);

        const [c] = await repos.contacts.put([{ email: "pos@x.io" }]);
        const p1 = await repos.snapshots.position();
        expect(p1).toEqual({ ...p0, journal: p1.journal });
        expect(p1.journal).toBeGreaterThan(p0.journal);

        await repos.events.insert([
          { type: "x", contact_id: c!.id, timestamp: 1 },
          { type: "x", contact_id: c!.id, timestamp: 2 },
        ]);
        const p2 = await repos.snapshots.position();
        const seqs = (await collect(repos.events.stream())).flat().map((e) => e.seq);
        expect(p2).toEqual({ journal: p1.journal, events: Math.max(...seqs), changes: 0 });

        const [ch] = await repos.changes.append([
          { segment_id: "s", contact_id: c!.id, change: "entered", at: 1 },
        ]);
        const p3 = await repos.snapshots.position();
        expect(p3).toEqual({ ...p2, changes: ch!.seq });
        expect(p3.changes).toBe(await repos.changes.lastSeq());

        // Another workspace's events and changes do not move this one's.
        await store.workspace(other).events.insert([{ type: "x", contact_id: "o", timestamp: 1 }]);
        await store
          .workspace(other)
          .changes.append([{ segment_id: "s", contact_id: "o", change: "entered", at: 1 }]);
        expect(await repos.snapshots.position()).toEqual(p3);

        await repos.contacts.delete(c!.id);
        const p4 = await repos.snapshots.position();
        expect(p4.journal).toBeGreaterThan(p3.journal);
        expect(p4.changes).toBe(p3.changes);

        // Inside a transaction, the position sees its writes.
        await store.transaction(ws, async (tx) => {
          await tx.workspace(ws).contacts.put([{ email: "pos-tx@x.io" }]);
          expect((await tx.workspace(ws).snapshots.position()).journal).toBeGreaterThan(p4.journal);
        });
      });

      it("never hands an erased event's seq to a new event", async () => {
        const ws = await newWs();
        const repos = store.workspace(ws);
        const [keep, gone] = await repos.contacts.put([
          { email: "seq-keep@x.io" },
          { email: "seq-gone@x.io" },
        ]);
        await repos.events.insert([{ type: "x", contact_id: keep!.id, timestamp: 1 }]);
        // The newest events of the whole database are the erased contact's.
        await repos.events.insert([
          { type: "x", contact_id: gone!.id, timestamp: 2 },
          { type: "x", contact_id: gone!.id, timestamp: 3 },
          { type: "x", contact_id: gone!.id, timestamp: 4 },
        ]);
        const before = await repos.snapshots.position();
        const [top] = await f.raw("SELECT max(seq) AS m FROM events");
        expect(Number(top!.m)).toBe(before.events);
        await repos.contacts.delete(gone!.id);

        const after = await repos.snapshots.position();
        expect(after.events).toBeLessThan(before.events);
        await repos.events.insert([{ type: "x", contact_id: keep!.id, timestamp: 5 }]);
        const fresh = await repos.snapshots.position();
        expect(fresh.events).toBeGreaterThan(before.events);
        const seen = (await collect(repos.events.streamAfter(after.events))).flat();
        expect(seen.map((e) => e.seq)).toEqual([fresh.events]);

        // Again, now that the top of the table is a placeholder's: erase the newest again.
        const [gone2] = await repos.contacts.put([{ email: "seq-gone-2@x.io" }]);
        await repos.events.insert([{ type: "x", contact_id: gone2!.id, timestamp: 6 }]);
        const before2 = await repos.snapshots.position();
        await repos.contacts.delete(gone2!.id);
        await store.workspace(await newWs()).events.insert([{ type: "x", contact_id: "y", timestamp: 1 }]);
        const [top2] = await f.raw("SELECT max(seq) AS m FROM events");
        expect(Number(top2!.m)).toBeGreaterThan(before2.events);

        if (f.dialect === "sqlite") {
          // One placeholder at most, holding the highest deleted seq; no workspace sees it.
          const ph = await f.raw("SELECT seq FROM events WHERE workspace_id = ''");
          expect(ph.map((r) => Number(r.seq))).toEqual([before2.events]);
          expect(await journalRows("")).toEqual([]);
          const perWs = await f.raw(
            "SELECT workspace_id, COUNT(*) AS n FROM events WHERE workspace_id <> '' GROUP BY workspace_id",
          );
          const [total] = await f.raw("SELECT COUNT(*) AS n FROM events");
          let sum = 0;
          for (const r of perWs) {
            const n = await store.workspace(String(r.workspace_id)).events.count();
            expect(n).toBe(Number(r.n));
            sum += n;
          }
          expect(sum).toBe(Number(total!.n) - 1);
          expect(() => store.workspace("")).toThrow(StoreError);
          expect((await rejection(store.createWorkspace({ id: "", name: "reserved" }))).code).toBe("invalid");
          const streamed = (await collect(repos.events.stream())).flat();
          expect(streamed.some((e) => e.seq === before2.events)).toBe(false);
          expect(streamed.map((e) => e.contact_id)).toEqual([keep!.id, keep!.id]);
          const read = store.startupRead?.(ws) ?? null;
          expect(read).not.toBeNull();
          let events = 0;
          for await (const m of read!) if (m.kind === "events") events += m.count;
          expect(events).toBe(2);
        }
      });

      it("streams events and changes after a seq, and reads events of contacts in seq order", async () => {
        const ws = await newWs();
        const repos = store.workspace(ws);
        const batch = Array.from({ length: 25 }, (_, i) => ({
          id: `sa${i}`,
          type: "x",
          contact_id: `ct_sa_${i % 4}`,
          timestamp: 100 - i,
          properties: { i },
        }));
        await repos.events.insert(batch);
        await store.workspace(await newWs()).events.insert(batch);
        const all = (await collect(repos.events.stream())).flat();
        expect(all).toHaveLength(25);
        const cut = all[9]!.seq;
        const pages = await collect(repos.events.streamAfter(cut, { pageSize: 6 }));
        expect(pages.map((p) => p.length)).toEqual([6, 6, 3]);
        expect(pages.flat()).toEqual(all.slice(10));
        expect(await collect(repos.events.streamAfter(all[24]!.seq))).toEqual([]);
        expect((await collect(repos.events.streamAfter(0))).flat()).toEqual(all);

        const of = await repos.events.ofContacts(["ct_sa_1", "ct_sa_3", "ct_sa_1", "ct_none"]);
        expect(of).toEqual(all.filter((e) => e.contact_id === "ct_sa_1" || e.contact_id === "ct_sa_3"));
        expect(await repos.events.ofContacts([])).toEqual([]);
        // More ids than one query takes: the answer is still one list in seq order.
        const many = Array.from({ length: 10_050 }, (_, i) => `ct_nobody_${i}`);
        many.splice(10_020, 0, "ct_sa_0");
        many.unshift("ct_sa_2");
        const ofMany = await repos.events.ofContacts(many);
        expect(ofMany).toEqual(all.filter((e) => e.contact_id === "ct_sa_0" || e.contact_id === "ct_sa_2"));

        const changes = await repos.changes.append(
          Array.from({ length: 9 }, (_, i) => ({
            segment_id: `s${i % 2}`,
            contact_id: `c${i}`,
            change: "entered" as const,
            at: i,
          })),
        );
        await store
          .workspace(await newWs())
          .changes.append([{ segment_id: "s0", contact_id: "c", change: "entered", at: 1 }]);
        const cp = await collect(repos.changes.streamAfter(changes[2]!.seq, { pageSize: 4 }));
        expect(cp.map((p) => p.length)).toEqual([4, 2]);
        expect(cp.flat()).toEqual(changes.slice(3));
        expect((await collect(repos.changes.streamAfter(0))).flat()).toEqual(changes);
        expect(await collect(repos.changes.streamAfter(changes[8]!.seq))).toEqual([]);
      });

      it("reads many contacts by id across IN-list chunks, in input order", async () => {
        const ws = await newWs();
        const made = await store
          .workspace(ws)
          .contacts.put(
            Array.from({ length: 1200 }, (_, i) => ({ email: `gm-${i}@x.io`, first_name: `n${i}` })),
          );
        const [foreign] = await store.workspace(await newWs()).contacts.put([{ email: "gm-foreign@x.io" }]);
        const ids = [...made.map((c) => c.id).reverse(), "ct_missing", foreign!.id, made[5]!.id];
        const got = await store.workspace(ws).contacts.getMany(ids);
        expect(got).toHaveLength(ids.length);
        expect(got.slice(0, 1200)).toEqual([...made].reverse());
        expect(got.slice(1200)).toEqual([null, null, made[5]]);
        expect(await store.workspace(ws).contacts.getMany([])).toEqual([]);
      });
    });

    describe("workspace isolation", () => {
      it("a second workspace sees nothing of the first, by any method", async () => {
        const a = await newWs("a");
        const b = await newWs("b");
        clock.t = 1_700_001_000_000;
        await store.workspace(a).fields.create({ key: "plan", type: "string" });
        const key = await store.workspace(a).apiKeys.create({ name: "k" });
        const [c] = await store.workspace(a).contacts.put([{ email: "iso@x.io", external_id: "iso" }]);
        await store
          .workspace(a)
          .events.insert([{ id: "iso-e", type: "email_opened", contact_id: c.id, timestamp: 1 }]);
        const seg = await store.workspace(a).segments.create({ kind: "static", name: "S" });
        await store.workspace(a).members.put(seg.id, [{ contact_id: c.id, action: "added" }]);
        const [ch] = await store
          .workspace(a)
          .changes.append([{ segment_id: seg.id, contact_id: c.id, change: "entered", at: 1 }]);
        const wh = await store
          .workspace(a)
          .webhooks.create({ url: "http://127.0.0.1:9/", events: ["segment.entered"] });
        await store.workspace(a).deliveries.enqueue([{ webhook_id: wh.id, change_seq: ch.seq }]);
        const delivery = (await store.workspace(a).deliveries.list(wh.id)).data[0];
        const job = await store.workspace(a).imports.create({ kind: "contacts" });

        expect(await store.workspace(b).fields.list()).toEqual([]);
        expect(await store.workspace(b).fields.delete("plan")).toBe(false);
        expect(await store.workspace(b).apiKeys.list()).toEqual([]);
        expect(await store.workspace(b).apiKeys.delete(key.key.id)).toBe(false);
        expect(await store.workspace(b).contacts.get(c.id)).toBeNull();
        expect(await store.workspace(b).contacts.getMany([c.id])).toEqual([null]);
        expect(
          await store
            .workspace(b)
            .contacts.find([{ id: c.id }, { email: "iso@x.io" }, { external_id: "iso" }]),
        ).toEqual([null, null, null]);
        expect(await store.workspace(b).contacts.count()).toBe(0);
        expect((await store.workspace(b).contacts.list()).data).toEqual([]);
        expect(await collect(store.workspace(b).contacts.stream())).toEqual([]);
        expect(await store.workspace(b).contacts.delete(c.id)).toBe(false);
        expect(await store.workspace(b).events.count()).toBe(0);
        expect((await store.workspace(b).events.listOfContact(c.id)).data).toEqual([]);
        expect(await collect(store.workspace(b).events.stream())).toEqual([]);
        expect(await store.workspace(b).segments.get(seg.id)).toBeNull();
        expect(await store.workspace(b).segments.list()).toEqual([]);
        expect(await store.workspace(b).segments.versions(seg.id)).toEqual([]);
        expect(await store.workspace(b).segments.update(seg.id, { name: "stolen" })).toBeNull();
        expect(await store.workspace(b).segments.delete(seg.id)).toBe(false);
        expect((await store.workspace(b).members.list(seg.id)).data).toEqual([]);
        expect(await collect(store.workspace(b).members.stream())).toEqual([]);
        expect(await store.workspace(b).members.delete(seg.id, [c.id])).toBe(0);
        expect(await store.workspace(b).members.purgeExpired(Number.MAX_SAFE_INTEGER)).toBe(0);
        expect(
          (await rejection(store.workspace(b).members.put(seg.id, [{ contact_id: c.id, action: "added" }])))
            .code,
        ).toBe("not_found");
        expect((await store.workspace(b).changes.list()).data).toEqual([]);
        expect(await store.workspace(b).changes.lastSeq()).toBe(0);
        expect((await store.workspace(b).changes.membersAt(seg.id, 10)).data).toEqual([]);
        expect(await store.workspace(b).changes.countMembersAt(seg.id, 10)).toBe(0);
        expect((await store.workspace(b).changes.logged(seg.id)).data).toEqual([]);
        expect(await store.workspace(b).webhooks.get(wh.id)).toBeNull();
        expect(await store.workspace(b).webhooks.list()).toEqual([]);
        expect(await store.workspace(b).webhooks.delete(wh.id)).toBe(false);
        expect(
          (
            await rejection(
              store.workspace(b).deliveries.enqueue([{ webhook_id: wh.id, change_seq: ch.seq }]),
            )
          ).code,
        ).toBe("not_found");
        expect(
          await store.workspace(b).deliveries.claim({ now: Number.MAX_SAFE_INTEGER, limit: 10, leaseMs: 1 }),
        ).toEqual([]);
        expect(await store.workspace(b).deliveries.get(delivery.id)).toBeNull();
        expect(await store.workspace(b).deliveries.markDelivered(delivery.id, { at: 1 })).toBe(false);
        expect(
          await store.workspace(b).deliveries.markFailed(delivery.id, { at: 1, error: "x", retry_at: null }),
        ).toBe(false);
        expect((await store.workspace(b).deliveries.list(wh.id)).data).toEqual([]);
        expect(await store.workspace(b).imports.get(job.id)).toBeNull();
        expect((await store.workspace(b).imports.list()).data).toEqual([]);
        expect(
          (await rejection(store.workspace(b).imports.recordProgress(job.id, { processed: 1 }))).code,
        ).toBe("not_found");
        expect((await rejection(store.workspace(b).imports.finish(job.id, "done"))).code).toBe("not_found");

        // And everything of the first is intact.
        expect(await store.workspace(a).contacts.get(c.id)).not.toBeNull();
        expect(await store.workspace(a).events.count()).toBe(1);
        expect((await store.workspace(a).segments.get(seg.id))?.name).toBe("S");
        expect((await store.workspace(a).members.list(seg.id)).data).toHaveLength(1);
        expect(await store.workspace(a).deliveries.get(delivery.id)).toMatchObject({ status: "pending" });
        expect((await store.workspace(a).imports.get(job.id))?.status).toBe("pending");
        expect((await store.authenticate(key.secret))?.workspace.id).toBe(a);
      });
    });

    describe("closing", () => {
      it("leaves nothing running: a process that opened and closed the store twice ends by itself", async () => {
        const child = fileURLToPath(new URL("./reopen-child.ts", import.meta.url));
        const ws = await newWs("reopen");
        const proc = spawn(
          process.execPath,
          ["--import", "tsx", child, JSON.stringify(f.openOptions()), ws],
          {
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let out = "";
        let err = "";
        proc.stdout.on("data", (d: Buffer) => {
          out += d.toString();
        });
        proc.stderr.on("data", (d: Buffer) => {
          err += d.toString();
        });
        // Generous: the child loads tsx and the store's threads; a hang is what fails.
        const killer = setTimeout(() => proc.kill("SIGKILL"), 45_000);
        const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
          proc.once("exit", (c, s) => r([c, s])),
        );
        clearTimeout(killer);
        expect({ code, signal, out, err }).toEqual({ code: 0, signal: null, out: "done\n", err: "" });
      }, 60_000);
    });

    describe("durability", () => {
      it("keeps every acknowledged batch after SIGKILL, and never half a batch", async () => {
        const child = fileURLToPath(new URL("./kill-child.ts", import.meta.url));
        const ws = await newWs("kill");
        const acked = new Map<string, number>();
        for (let run = 0; run < 3; run++) {
          const prefix = `r${run}`;
          const want = 2 + ((run * 5) % 4);
          const proc = spawn(
            process.execPath,
            ["--import", "tsx", child, JSON.stringify(f.openOptions()), ws, prefix],
            {
              stdio: ["ignore", "pipe", "pipe"],
            },
          );
          let last = -1;
          let err = "";
          proc.stderr.on("data", (d: Buffer) => {
            err += d.toString();
          });
          await new Promise<void>((resolve, reject) => {
            let buf = "";
            proc.stdout.on("data", (d: Buffer) => {
              buf += d.toString();
              const lines = buf.split("\n");
              buf = lines.pop() ?? "";
              for (const l of lines) last = Number(l.slice(4));
              if (last >= want) {
                proc.kill("SIGKILL");
                resolve();
              }
            });
            proc.on("exit", (code, signal) => {
              if (signal !== "SIGKILL") reject(new Error(`child exited (${code}) before the kill: ${err}`));
            });
          });
          await new Promise((r) =>
            proc.exitCode !== null || proc.signalCode !== null ? r(null) : proc.once("exit", r),
          );
          acked.set(prefix, last);
        }
        const s = await f.open();
        try {
          const perBatch = new Map<string, number>();
          for await (const page of s.workspace(ws).events.stream()) {
            for (const e of page) {
              const [prefix, b] = (e.id ?? "").split("-");
              const k = `${prefix}-${b}`;
              perBatch.set(k, (perBatch.get(k) ?? 0) + 1);
            }
          }
          for (const [prefix, last] of acked) {
            for (let b = 0; b <= last; b++) expect(perBatch.get(`${prefix}-${b}`)).toBe(500);
          }
          // Whatever else is there (a batch committed but not yet acknowledged) is whole.
          for (const n of perBatch.values()) expect(n).toBe(500);
          const changes = (await s.workspace(ws).changes.list({ limit: 10_000 })).data.length;
          expect(changes).toBe(perBatch.size);
        } finally {
          await s.close();
        }
      });

      it("keeps what was committed across close and reopen", async () => {
        const ws = await newWs();
        const s2 = await f.open();
        const [c] = await s2.workspace(ws).contacts.put([{ email: "durable@x.io" }]);
        await s2.workspace(ws).events.insert([{ id: "d1", type: "x", contact_id: c.id, timestamp: 1 }]);
        await s2.close();
        const s3 = await f.open();
        try {
          expect((await s3.workspace(ws).contacts.find([{ email: "durable@x.io" }]))[0]?.id).toBe(c.id);
          expect(
            (await s3.workspace(ws).events.insert([{ id: "d1", type: "x", contact_id: c.id, timestamp: 1 }]))
              .duplicates,
          ).toBe(1);
        } finally {
          await s3.close();
        }
      });
    });
  });
}
