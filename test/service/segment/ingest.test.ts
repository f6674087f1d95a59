/**
 * Segment batches applied to a workspace (docs/ingest.md), on both stores: who each
 * message lands on (userId, anonymousId, email), anonymous visitors who become known or
 * merge into a known contact (events, fields, tags and membership follow; the anonymous
 * contact exits its segments), aliases, retried messages, per-message errors, traits of
 * fields declared later, and a restart over all of it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ingestSegmentBatch, ingestSegmentCall } from "../../../src/service/segment/ingest.ts";
import { WorkspaceService } from "../../../src/service/workspace.ts";
import { openStore } from "../../../src/store/index.ts";
import type { OpenStoreOptions, Store, Workspace } from "../../../src/store/types.ts";
import { type PgServer, startPostgres } from "../../support/postgres.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const clock = { now: () => NOW };

describe.each(["sqlite", "postgres"] as const)("Segment ingest over %s", (kind) => {
  let pg: PgServer | null = null;
  let dbCount = 0;
  let dir: string;
  let opts: OpenStoreOptions;
  let store: Store;
  let info: Workspace;
  let ws: WorkspaceService;
  let buyers: string;
  let visitors: string;

  beforeAll(async () => {
    if (kind === "postgres") pg = await startPostgres("slice_segment_ingest");
  }, 120_000);

  afterAll(async () => {
    await pg?.stop();
  });

  afterEach(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function setup(): Promise<void> {
    dir = mkdtempSync(join(tmpdir(), "slice-segment-"));
    opts =
      kind === "sqlite"
        ? { sqlitePath: join(dir, "slice.db"), clock }
        : { databaseUrl: await pg!.createDatabase(`slice_segment_${++dbCount}`), clock };
    store = await openStore(opts);
    info = await store.createWorkspace({ name: "segment", time_zone: "UTC" });
    ws = await WorkspaceService.open(store, info, { clock });
    buyers = (
      await ws.createSegment({
        name: "buyers",
        rule: { type: "event", event: "order_placed", op: "gte", value: 1 },
      })
    ).id;
    visitors = (
      await ws.createSegment({
        name: "visitors",
        rule: { type: "event", event: "page_viewed", op: "gte", value: 1 },
      })
    ).id;
  }

  async function restart(): Promise<void> {
    await store.close();
    store = await openStore(opts);
    ws = await WorkspaceService.open(store, info, { clock });
  }

  const batch = (...messages: unknown[]) => ingestSegmentBatch(ws, { batch: messages }, NOW);
  const byExternal = async (external_id: string) =>
    (await store.workspace(info.id).contacts.find([{ external_id }]))[0];
  const eventTypes = async (id: string) =>
    (await ws.contactEvents(id, { limit: 100 })).data.map((e) => e.type).sort();
  const member = (segment: string, id: string) => ws.live.engine.members(segment).has(id);
  const anonOf = async (a: string) => (await store.workspace(info.id).identities.find([a]))[0];

  it("identify then track by userId: the contact, its fields, its events and its segments", async () => {
    await setup();
    await ws.createField({ key: "plan", type: "string" });
    const r = await batch(
      {
        type: "identify",
        userId: "u1",
        messageId: "m1",
        traits: { email: "Peter@Example.com", name: "Peter Gibbons", plan: "premium", company_size: 40 },
      },
      {
        type: "track",
        userId: "u1",
        messageId: "m2",
        event: "Order Completed",
        properties: { total: 30, currency: "EUR" },
        timestamp: "2026-06-01T11:00:00Z",
      },
    );
    expect(r).toEqual({ success: true, accepted: 2, duplicates: 0, errors: [], warnings: [] });
    const c = (await byExternal("u1"))!;
    expect(c).toMatchObject({
      email: "peter@example.com",
      first_name: "Peter",
      last_name: "Gibbons",
      fields: { plan: "premium", company_size: 40 },
    });
    expect(await eventTypes(c.id)).toEqual(["order_completed", "order_placed"]);
    expect(member(buyers, c.id)).toBe(true);
    expect(ws.live.engine.contacts.valueOf(ws.live.engine.contacts.index(c.id)!, "plan")).toBe("premium");

    // The same batch again (a retry): nothing counted twice.
    const again = await batch({
      type: "track",
      userId: "u1",
      messageId: "m2",
      event: "Order Completed",
      properties: { total: 30 },
    });
    expect(again).toMatchObject({ accepted: 0, duplicates: 2, errors: [] });
    expect(await eventTypes(c.id)).toHaveLength(2);
  });

  it("an anonymous visitor who identifies as a new user becomes that contact, events and all", async () => {
    await setup();
    await batch(
      { type: "page", anonymousId: "anon-1", messageId: "p1", name: "Pricing" },
      {
        type: "track",
        anonymousId: "anon-1",
        messageId: "p2",
        event: "Product Added",
        properties: { price: 5 },
      },
    );
    const anonId = (await anonOf("anon-1"))!;
    expect(anonId).not.toBeNull();
    const before = (await store.workspace(info.id).contacts.get(anonId))!;
    expect([before.email, before.external_id]).toEqual([null, null]);
    expect(member(visitors, anonId)).toBe(true);

    const r = await batch({
      type: "identify",
      userId: "u2",
      anonymousId: "anon-1",
      traits: { email: "new@x.io" },
    });
    expect(r.errors).toEqual([]);
    const c = (await byExternal("u2"))!;
    expect(c.id).toBe(anonId);
    expect(c.email).toBe("new@x.io");
    expect(await eventTypes(c.id)).toEqual(["cart_added", "page_viewed", "product_added"]);
    expect(member(visitors, c.id)).toBe(true);
  });

  it("an anonymous visitor who identifies as a known user merges into them: events, gaps, tags and membership follow", async () => {
    await setup();
    const known = (
      await ws.upsertContact({
        external_id: "u3",
        email: "k@x.io",
        first_name: "Kim",
        tags: ["vip"],
        status: "subscribed",
      })
    ).contact.id;
    await batch(
      { type: "page", anonymousId: "anon-2", messageId: "a1", properties: { url: "https://x.io/a" } },
      {
        type: "identify",
        anonymousId: "anon-2",
        traits: { firstName: "Anon", address: { city: "Lyon" }, shoe: 42 },
      },
      { type: "group", anonymousId: "anon-2", groupId: "acme" },
    );
    const anon = (await anonOf("anon-2"))!;
    expect(member(visitors, anon)).toBe(true);
    expect(member(visitors, known)).toBe(false);

    const r = await batch({ type: "identify", userId: "u3", anonymousId: "anon-2", messageId: "i1" });
    expect(r.errors).toEqual([]);
    expect(await store.workspace(info.id).contacts.get(anon)).toBeNull();
    expect(await anonOf("anon-2")).toBe(known);
    const c = (await store.workspace(info.id).contacts.get(known))!;
    expect(c).toMatchObject({ first_name: "Kim", city: "Lyon", status: "subscribed", fields: { shoe: 42 } });
    expect(c.tags.sort()).toEqual(["group:acme", "vip"]);
    expect(await eventTypes(known)).toEqual(["page_viewed"]);
    expect(member(visitors, known)).toBe(true);
    expect(
      ws.live.engine.contacts.index(anon) === undefined ||
        !ws.live.engine.contacts.alive.has(ws.live.engine.contacts.index(anon)!),
    ).toBe(true);
    const changes = (await ws.changes(visitors, { limit: 100 })).data.map((x) => [x.contact_id, x.change]);
    expect(changes).toEqual([
      [anon, "entered"],
      [anon, "exited"],
      [known, "entered"],
    ]);

    // Later events of the anonymous id land on the known contact.
    await batch({ type: "track", anonymousId: "anon-2", event: "Order Completed", properties: { total: 9 } });
    expect(member(buyers, known)).toBe(true);

    // And all of it survives a restart.
    await restart();
    expect(member(visitors, known)).toBe(true);
    expect(member(buyers, known)).toBe(true);
    expect(await eventTypes(known)).toEqual(["order_completed", "order_placed", "page_viewed"]);
  });

  it("alias merges the previous id's contact into the user's; in one batch with the anonymous events", async () => {
    await setup();
    await batch({ type: "track", userId: "u4", event: "Signed In" });
    const u = (await byExternal("u4"))!.id;
    const r = await batch(
      { type: "page", anonymousId: "anon-3", messageId: "x1" },
      { type: "alias", previousId: "anon-3", userId: "u4" },
      { type: "page", anonymousId: "anon-3", messageId: "x2" },
    );
    expect(r).toMatchObject({ accepted: 2, errors: [] });
    expect(await eventTypes(u)).toEqual(["page_viewed", "page_viewed", "signed_in"]);
    expect(await anonOf("anon-3")).toBe(u);
    expect(await store.workspace(info.id).contacts.count()).toBe(1);

    // An alias of a stored anonymous contact into a user with no contact yet: it becomes theirs.
    await batch({ type: "page", anonymousId: "anon-4" });
    const a4 = (await anonOf("anon-4"))!;
    await batch({ type: "alias", previousId: "anon-4", userId: "u5" });
    expect((await byExternal("u5"))!.id).toBe(a4);
  });

  it("an anonymous identify with a known email merges into that contact; a taken email is a warning", async () => {
    await setup();
    const k = (await ws.upsertContact({ email: "list@x.io" })).contact.id;
    await batch({ type: "page", anonymousId: "anon-5" });
    const r = await batch({ type: "identify", anonymousId: "anon-5", traits: { email: "LIST@x.io" } });
    expect(r.errors).toEqual([]);
    expect(await anonOf("anon-5")).toBe(k);
    expect(await eventTypes(k)).toEqual(["page_viewed"]);
    expect(await store.workspace(info.id).contacts.count()).toBe(1);

    // A userId claims the contact an email names when it has no userId yet.
    await batch({ type: "identify", userId: "u6", traits: { email: "list@x.io" } });
    expect((await byExternal("u6"))!.id).toBe(k);

    const w = await batch({ type: "identify", userId: "u7", traits: { email: "list@x.io" } });
    expect(w.warnings).toEqual([
      {
        index: 0,
        warning: `batch[0].traits.email: "list@x.io" belongs to another contact (${k}); not applied`,
      },
    ]);
    expect((await byExternal("u7"))!.email).toBeNull();
  });

  it("a call with both ids ties them; once tied, such calls need no profile write", async () => {
    await setup();
    await batch({ type: "track", userId: "u8", event: "Signed In" });
    const u = (await byExternal("u8"))!.id;
    await batch({ type: "track", userId: "u8", anonymousId: "anon-8", event: "Viewed" });
    expect(await anonOf("anon-8")).toBe(u);
    await batch({ type: "page", anonymousId: "anon-8" });
    expect(await eventTypes(u)).toEqual(["page_viewed", "signed_in", "viewed"]);
    expect(await store.workspace(info.id).contacts.count()).toBe(1);

    const writes = vi.spyOn(ws.live, "write");
    const r = await batch(
      { type: "track", userId: "u8", anonymousId: "anon-8", event: "Viewed", messageId: "v1" },
      { type: "page", userId: "u8", anonymousId: "anon-8", messageId: "v2" },
    );
    expect(r).toMatchObject({ accepted: 2, errors: [] });
    expect(writes.mock.calls.filter((c) => c[0].toString().includes("ProfileWrite"))).toEqual([]);
    writes.mockRestore();
    expect(await eventTypes(u)).toHaveLength(5);
  });

  it("per-message errors: the rest of the batch applies", async () => {
    await setup();
    const r = await batch(
      { type: "track", userId: "ok", event: "Fine", messageId: "e1" },
      { type: "track", userId: "ok" },
      { type: "identify" },
      "not a message",
      { type: "track", userId: "ok", event: "x", properties: { blob: "y".repeat(20_000) } },
      { type: "track", userId: "ok", event: "Also Fine", messageId: "e2" },
    );
    expect(r.accepted).toBe(2);
    expect(r.errors.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(r.errors[0]!.error).toBe("batch[1].event: a track call needs an event name");
    expect(r.errors[1]!.error).toBe("batch[2]: expected a userId or an anonymousId");
    expect(r.errors[3]!.error).toMatch(/^batch\[4\]\.properties: properties exceed 16384 bytes/);
    expect(await eventTypes((await byExternal("ok"))!.id)).toEqual(["also_fine", "fine"]);
  });

  it("a body that is not a batch is refused; a single call that does not apply answers its error", async () => {
    await setup();
    await expect(ingestSegmentBatch(ws, [1, 2], NOW)).rejects.toThrow(
      'expected a JSON object with a "batch" array',
    );
    await expect(ingestSegmentBatch(ws, { batch: "x" }, NOW)).rejects.toThrow(
      "batch: expected an array of messages",
    );
    await expect(ingestSegmentCall(ws, "track", { userId: "u" }, NOW)).rejects.toThrow(
      "event: a track call needs an event name",
    );
    const ok = await ingestSegmentCall(ws, "track", { userId: "u", event: "Went" }, NOW);
    expect(ok.accepted).toBe(1);
  });

  it("traits of a field declared later become usable in rules; values of the wrong type are dropped", async () => {
    await setup();
    await batch(
      { type: "identify", userId: "t1", traits: { score: 12 } },
      { type: "identify", userId: "t2", traits: { score: "high" } },
      { type: "identify", userId: "t3", traits: { other: true } },
    );
    // Kept on the contact before the field exists, and the engine starts up over them.
    expect((await byExternal("t2"))!.fields).toEqual({ score: "high" });
    await restart();
    await ws.createField({ key: "score", type: "number" });
    const high = (
      await ws.createSegment({ name: "high", rule: { type: "field", field: "score", op: "gte", value: 10 } })
    ).id;
    const t1 = (await byExternal("t1"))!.id;
    expect(ws.live.engine.members(high).ids()).toEqual([t1]);
    expect((await byExternal("t2"))!.fields).toEqual({});
    expect((await byExternal("t3"))!.fields).toEqual({ other: true });
    // Now declared: a wrong type is a warning, and a right one updates membership.
    const r = await batch(
      { type: "identify", userId: "t2", traits: { score: "x" } },
      { type: "identify", userId: "t3", traits: { score: 50 } },
    );
    expect(r.warnings).toEqual([
      { index: 0, warning: "batch[0].traits.score: expected a number; not applied" },
    ]);
    expect(ws.live.engine.members(high).ids().length).toBe(2);
    await restart();
    expect(ws.live.engine.members(high).ids().length).toBe(2);
  });

  it("mergeContacts merges two contacts as one write", async () => {
    await setup();
    const a = (await ws.upsertContact({ email: "a@m.io", country: "FR", tags: ["t1"] })).contact.id;
    const b = (await ws.upsertContact({ external_id: "bb", tags: ["t2"] })).contact.id;
    await ws.ingest([{ type: "page_viewed", contact: { id: a } }]);
    const r = await ws.mergeContacts(a, b);
    expect(r.events).toBe(1);
    expect(r.contact).toMatchObject({ id: b, email: "a@m.io", country: "FR", external_id: "bb" });
    expect(r.contact.segments).toContain(visitors);
    await expect(ws.getContact(a)).rejects.toThrow("not found");
  });
});
