/**
 * Events naming their contact by email or external id (POST /v1/events, SPEC §2), on
 * both stores. When the engine knows every contact of a batch they take the pipelined
 * ingest (no store lookup, no `LiveWorkspace.write` of their own), and must land exactly where
 * the store's lookup would put them: after the contact's email or external id changed
 * (the old one names nobody, so a new contact is created), after its erasure, when it
 * is created by the same batch, when the change happens while the batch waits for its
 * commit, inside a group commit behind the change, and after a restart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { WorkspaceService } from "../../src/service/workspace.ts";
import { openStore } from "../../src/store/index.ts";
import type { OpenStoreOptions, Store, Workspace } from "../../src/store/types.ts";
import { type PgServer, startPostgres } from "../support/postgres.ts";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const clock = { now: () => NOW };

const opened = (contact: Record<string, string>, id?: string) => ({
  ...(id ? { id } : {}),
  type: "email_opened",
  contact,
});

describe.each(["sqlite", "postgres"] as const)("ingest by email and external id over %s", (kind) => {
  let pg: PgServer | null = null;
  let dbCount = 0;
  let dir: string;
  let opts: OpenStoreOptions;
  let store: Store;
  let info: Workspace;
  let ws: WorkspaceService;

  beforeAll(async () => {
    if (kind === "postgres") pg = await startPostgres("slice_ingest_by_ref");
  }, 120_000);

  afterAll(async () => {
    await pg?.stop();
  });

  afterEach(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh database with contacts A (a@x.com, "Ext-A") and B (b@x.com, "ext-b"), and a segment of openers. */
  async function setup(): Promise<{ a: string; b: string }> {
    dir = mkdtempSync(join(tmpdir(), "slice-by-ref-"));
    opts =
      kind === "sqlite"
        ? { sqlitePath: join(dir, "slice.db"), clock }
        : { databaseUrl: await pg!.createDatabase(`slice_by_ref_${++dbCount}`), clock };
    store = await openStore(opts);
    info = await store.createWorkspace({ name: "by ref", time_zone: "UTC" });
    ws = await WorkspaceService.open(store, info, { clock });
    await ws.createSegment({
      name: "openers",
      rule: { type: "event", event: "email_opened", op: "gte", value: 1, window: { in_last: "30d" } },
    });
    const a = (await ws.upsertContact({ email: "a@x.com", external_id: "Ext-A" })).contact.id;
    const b = (await ws.upsertContact({ email: "b@x.com", external_id: "ext-b" })).contact.id;
    return { a, b };
  }

  /** A restart: a new store connection and a workspace rebuilt from it. */
  async function restart(): Promise<void> {
    await store.close();
    store = await openStore(opts);
    ws = await WorkspaceService.open(store, info, { clock });
  }

  const openersId = async () => (await ws.listSegments()).find((s) => s.name === "openers")!.id;

  /** The contact with this email in the store, and how many events it has there and in the engine. */
  async function byEmail(email: string): Promise<{ id: string; stored: number; member: boolean } | null> {
    const [r] = await store.workspace(info.id).contacts.find([{ email }]);
    if (!r) return null;
    const stored = (await store.workspace(info.id).events.listOfContact(r.id, { limit: 100 })).data.length;
    return { id: r.id, stored, member: ws.live.engine.members(await openersId()).has(r.id) };
  }

  async function eventsOf(id: string): Promise<number> {
    return (await store.workspace(info.id).events.listOfContact(id, { limit: 100 })).data.length;
  }

  it("puts events named by email (any case, spaces) and by external id on their contacts, without asking the store", async () => {
    const { a, b } = await setup();
    const slowWrites = vi.spyOn(ws.live, "write");
    const finds = vi.spyOn(store.workspace(info.id).contacts, "find");
    const r = await ws.ingest([
      opened({ email: " A@X.com " }),
      opened({ external_id: "Ext-A" }),
      opened({ email: "b@x.com" }),
      opened({ id: b }),
    ]);
    expect(r).toEqual({ accepted: 4, duplicates: 0, errors: [] });
    expect(slowWrites).not.toHaveBeenCalled();
    expect(finds).not.toHaveBeenCalled();
    expect([await eventsOf(a), await eventsOf(b)]).toEqual([2, 2]);
    expect(
      ws.live.engine
        .members(await openersId())
        .ids()
        .sort(),
    ).toEqual([a, b].sort());
    expect(await store.workspace(info.id).contacts.count()).toBe(2);
  });

  it("compares external ids exactly, as the store does: another case names another contact", async () => {
    const { a, b } = await setup();
    const r = await ws.ingest([opened({ external_id: "ext-a" }), opened({ external_id: "EXT-B" })]);
    expect(r.accepted).toBe(2);
    expect([await eventsOf(a), await eventsOf(b)]).toEqual([0, 0]);
    const created = await store
      .workspace(info.id)
      .contacts.find([{ external_id: "ext-a" }, { external_id: "EXT-B" }]);
    expect(created.map((c) => c !== null && c.id !== a && c.id !== b)).toEqual([true, true]);
    expect(await store.workspace(info.id).contacts.count()).toBe(4);
  });

  it("after a contact's email and external id change, the old ones name nobody and create a new contact", async () => {
    const { a } = await setup();
    await ws.patchContact(a, { email: "new@x.com", external_id: "Ext-A2" });
    const r = await ws.ingest([opened({ email: "a@x.com" }), opened({ external_id: "Ext-A" })]);
    expect(r.accepted).toBe(2);
    expect(await eventsOf(a)).toBe(0);
    const oldEmail = await byEmail("a@x.com");
    expect(oldEmail).toEqual({ id: expect.any(String), stored: 1, member: true });
    expect(oldEmail!.id).not.toBe(a);
    const [oldExt] = await store.workspace(info.id).contacts.find([{ external_id: "Ext-A" }]);
    expect(oldExt!.id).not.toBe(a);
    expect(await eventsOf(oldExt!.id)).toBe(1);
    // The new ones name the contact.
    const slowWrites = vi.spyOn(ws.live, "write");
    expect(
      (await ws.ingest([opened({ email: "NEW@x.com" }), opened({ external_id: "Ext-A2" })])).accepted,
    ).toBe(2);
    expect(slowWrites).not.toHaveBeenCalled();
    expect(await eventsOf(a)).toBe(2);
  });

  it("after erasure, the contact's email creates a new contact", async () => {
    const { a } = await setup();
    await ws.deleteContact(a);
    const r = await ws.ingest([opened({ email: "a@x.com" }), opened({ external_id: "Ext-A" })]);
    expect(r.accepted).toBe(2);
    expect(await store.workspace(info.id).contacts.get(a)).toBeNull();
    expect(ws.live.hasContact(a)).toBe(false);
    // Two new contacts: one named by the email, one by the external id (SPEC §2).
    const byMail = await byEmail("a@x.com");
    const [byExt] = await store.workspace(info.id).contacts.find([{ external_id: "Ext-A" }]);
    expect([byMail!.id === a, byExt!.id === a, byMail!.id === byExt!.id]).toEqual([false, false, false]);
    expect([byMail!.stored, await eventsOf(byExt!.id)]).toEqual([1, 1]);
  });

  it("creates a contact named twice in one batch once, with both events, and finds it by then", async () => {
    const { a } = await setup();
    const r = await ws.ingest([
      opened({ email: "fresh@x.com" }),
      opened({ email: " FRESH@x.com" }),
      opened({ external_id: "Ext-A" }),
      opened({ external_id: "Fresh-Ext" }),
      opened({ external_id: "Fresh-Ext" }),
    ]);
    expect(r).toEqual({ accepted: 5, duplicates: 0, errors: [] });
    expect(await store.workspace(info.id).contacts.count()).toBe(4);
    const fresh = await byEmail("fresh@x.com");
    expect(fresh).toMatchObject({ stored: 2, member: true });
    const [freshExt] = await store.workspace(info.id).contacts.find([{ external_id: "Fresh-Ext" }]);
    expect(await eventsOf(freshExt!.id)).toBe(2);
    expect(await eventsOf(a)).toBe(1);
    const slowWrites = vi.spyOn(ws.live, "write");
    await ws.ingest([opened({ email: "fresh@x.com" }), opened({ external_id: "Fresh-Ext" })]);
    expect(slowWrites).not.toHaveBeenCalled();
    expect(await eventsOf(fresh!.id)).toBe(3);
    expect(await eventsOf(freshExt!.id)).toBe(3);
  });

  it("an email moved or a contact erased while the batch waits for its commit: the batch follows the store", async () => {
    const { a, b } = await setup();
    // Both writes are queued before the batch, which the engine resolves at once (it
    // does not show them yet): the commit must notice and resolve again.
    const moved = ws.patchContact(a, { email: "moved@x.com" });
    const erased = ws.deleteContact(b);
    // Two batches, so that neither contact's check hides the other's.
    const batches = [
      ws.ingest([opened({ email: "a@x.com" })]),
      ws.ingest([opened({ external_id: "ext-b" })]),
    ];
    await Promise.all([moved, erased]);
    expect((await Promise.all(batches)).map((r) => r.accepted)).toEqual([1, 1]);
    expect(await eventsOf(a)).toBe(0);
    const atOld = await byEmail("a@x.com");
    expect(atOld!.id).not.toBe(a);
    expect(atOld!.stored).toBe(1);
    const [atExt] = await store.workspace(info.id).contacts.find([{ external_id: "ext-b" }]);
    expect(atExt!.id).not.toBe(b);
    expect(await eventsOf(atExt!.id)).toBe(1);
    expect(ws.live.hasContact(b)).toBe(false);
  });

  it("inside a group commit, a batch behind a write answers as the store does after it", async () => {
    const { a, b } = await setup();
    // The first write is in flight; the next two are committed together after it, the
    // engine showing neither until both are committed.
    const first = ws.upsertContact({ email: "other@x.com" });
    const moved = ws.patchContact(a, { email: "moved@x.com" });
    const erased = ws.deleteContact(b);
    const batch = ws.ingest([
      opened({ email: "a@x.com" }),
      opened({ id: b }),
      opened({ email: "unknown@x.com" }),
    ]);
    await Promise.all([first, moved, erased]);
    const r = await batch;
    expect(r.accepted).toBe(2);
    expect(r.errors).toEqual([{ index: 1, error: expect.stringContaining(`no contact with id "${b}"`) }]);
    expect(await eventsOf(a)).toBe(0);
    expect(await eventsOf(b)).toBe(0);
    expect(ws.live.hasContact(b)).toBe(false);
    const atOld = await byEmail("a@x.com");
    expect(atOld!.id).not.toBe(a);
    expect(atOld).toMatchObject({ stored: 1, member: true });
  });

  it("after a restart, knows every contact by email and external id again", async () => {
    const { a, b } = await setup();
    await ws.patchContact(b, { email: "b2@x.com" });
    await restart();
    const slowWrites = vi.spyOn(ws.live, "write");
    const r = await ws.ingest([
      opened({ email: "a@x.com" }),
      opened({ external_id: "Ext-A" }),
      opened({ email: "b2@x.com" }),
      opened({ external_id: "ext-b" }),
    ]);
    expect(r.accepted).toBe(4);
    expect(slowWrites).not.toHaveBeenCalled();
    expect([await eventsOf(a), await eventsOf(b)]).toEqual([2, 2]);
    // Still exact after the restart: the old email and another case name nobody.
    await ws.ingest([opened({ email: "b@x.com" }), opened({ external_id: "EXT-A" })]);
    expect([await eventsOf(a), await eventsOf(b)]).toEqual([2, 2]);
    expect(await store.workspace(info.id).contacts.count()).toBe(4);
  });
});
