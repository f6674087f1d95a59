/**
 * A restart from a snapshot file (docs/operations.md, "Snapshots") ends where a restart
 * from the store ends: the same memberships, profiles, events and change log, with
 * contacts written, patched, erased and merged, events added and segments defined after
 * the file was written, and time moved on. A file that cannot serve (damaged, or written
 * before the workspace's fields changed) is passed over for the store.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/index.ts";
import { Slice } from "../../src/service/slice.ts";
import { readSnapshot, snapshotPath, writeSnapshot } from "../../src/service/snapshot/file.ts";
import type { WorkspaceService } from "../../src/service/workspace.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store } from "../../src/store/types.ts";
import { type PgServer, startPostgres } from "../support/postgres.ts";

const DAY = 86_400_000;
const WS = "ws_default";
const root = mkdtempSync(join(tmpdir(), "slice-snapshot-restart-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let now = Date.parse("2026-11-01T00:00:00Z");
const clock = { now: () => now };

interface Started {
  slice: Slice;
  ws: WorkspaceService;
  phases: string[];
  /** The segments whose memberships the load computed (the `segments` phase's rows). */
  computed: number;
}

/** A database of the test: a SQLite file's path, or a PostgreSQL URL. */
type Db = string;

function storeOf(db: Db): Promise<Store> {
  return openStore(db.startsWith("postgres://") ? { databaseUrl: db, clock } : { sqlitePath: db, clock });
}

async function start(db: Db, snapshotDir?: string): Promise<Started> {
  const phases: string[] = [];
  let computed = -1;
  const slice = await Slice.start({
    store: await storeOf(db),
    clock,
    log: (line) => {
      throw new Error(`unexpected service message: ${line}`);
    },
    announceAdminKey: () => {},
    observer: {
      loadProgress: (_ws, phase, rows) => {
        if (!phases.includes(phase)) phases.push(phase);
        if (phase === "segments") computed = rows;
      },
    },
    ...(snapshotDir ? { snapshots: { dir: snapshotDir } } : {}),
  });
  const ws = await slice.workspace(WS);
  return { slice, ws, phases, computed };
}

function copyDb(from: string, to: string): void {
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
  }
}

const email = (k: number) => `p${k}@example.com`;

/** Contacts, events and segments of every kind, before the snapshot. */
async function seed(ws: WorkspaceService): Promise<void> {
  await ws.createField({ key: "plan", type: "string" });
  await ws.createField({ key: "score", type: "number" });
  await ws.upsertContacts(
    Array.from({ length: 300 }, (_, k) => ({
      email: email(k),
      country: ["FR", "DE", "US"][k % 3],
      status: k % 4 === 0 ? "unsubscribed" : "subscribed",
      tags: k % 5 === 0 ? ["vip"] : [],
      fields: { plan: ["free", "pro"][k % 2], score: k % 100 },
    })),
  );
  const events = [];
  for (let k = 0; k < 2_000; k++) {
    events.push({
      type: ["email_opened", "order_placed", "page_viewed"][k % 3]!,
      contact: { email: email((k * 7) % 300) },
      timestamp: new Date(now - (k % 60) * DAY).toISOString(),
      properties:
        k % 3 === 1 ? { amount: k % 170, currency: k % 2 ? "EUR" : "USD" } : { page: { path: `/p${k % 4}` } },
    });
  }
  for (let k = 0; k < events.length; k += 500) await ws.ingest(events.slice(k, k + 500));
  const f = (field: string, op: string, value: unknown) => ({ type: "field", field, op, value });
  const opened = await ws.createSegment({
    name: "opened in 30 days",
    rule: { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 1 },
  });
  await ws.createSegment({ name: "pro", rule: f("plan", "eq", "pro") });
  await ws.createSegment({
    name: "big spenders",
    rule: {
      type: "event",
      event: "order_placed",
      measure: { fn: "sum", property: "amount" },
      op: "gt",
      value: 300,
    },
  });
  await ws.createSegment({
    name: "engaged pros",
    rule: {
      type: "and",
      conditions: [{ type: "segment", op: "in", segment: opened.id }, f("score", "gte", 50)],
    },
  });
  const hand = await ws.createSegment({ name: "hand-picked", kind: "static" });
  await ws.addMembers(hand.id, {
    contacts: ws.live.engine
      .contactIds()
      .slice(0, 10)
      .map((id) => ({ id })),
  });
}

/** Writes of every kind after the snapshot. */
async function later(ws: WorkspaceService): Promise<void> {
  now += 3 * DAY;
  await ws.upsertContacts(
    Array.from({ length: 20 }, (_, k) => ({
      email: `new${k}@example.com`,
      country: "FR",
      fields: { plan: "pro" },
    })),
  );
  const ids = ws.live.engine.contactIds().sort();
  for (let k = 0; k < 10; k++) await ws.patchContact(ids[k]!, { fields: { plan: "pro", score: 99 } });
  for (let k = 20; k < 25; k++) await ws.deleteContact(ids[k]!);
  for (let k = 30; k < 36; k += 2) await ws.mergeContacts(ids[k]!, ids[k + 1]!);
  const events = [];
  for (let k = 0; k < 500; k++) {
    events.push({
      type: k % 2 ? "order_placed" : "email_opened",
      contact: k % 10 === 0 ? { email: `fresh${k}@example.com` } : { id: ids[40 + (k % 200)]! },
      timestamp: new Date(now - (k % 5) * DAY).toISOString(),
      properties: { amount: 80 },
    });
  }
  await ws.ingest(events);
  await ws.createSegment({
    name: "ordered this week",
    rule: { type: "event", event: "order_placed", window: { in_last: "7d" }, op: "gte", value: 1 },
  });
  await ws.live.flush();
}

async function answers(s: Started): Promise<Record<string, unknown>> {
  const e = s.ws.live.engine;
  const out: Record<string, unknown> = {};
  for (const id of e.segmentIds()) out[`members ${id}`] = e.members(id).ids().sort();
  const ids = e.contactIds().sort();
  out.contacts = ids;
  out.profiles = ids.map((id) =>
    ["email", "status", "email_status", "tags", "country", "plan", "score"].map((k) =>
      e.contacts.valueOf(e.contacts.index(id)!, k),
    ),
  );
  out.events = e.events.total;
  const log: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await s.slice.store
      .workspace(WS)
      .changes.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const c of page.data) log.push(`${c.segment_id} ${c.contact_id} ${c.change} ${c.at}`);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  out.log = log.sort();
  return out;
}

/**
 * Seeds `db`, writes the snapshot, writes more, stops without a snapshot; then starts a
 * copy from the file and another copy from the store, and compares them.
 */
async function sameAfterRestart(db: Db, snaps: string, copy: (name: string) => Promise<Db>): Promise<void> {
  const first = await start(db);
  await seed(first.ws);
  const written = await first.ws.snapshot(snaps);
  expect(written.bytes).toBeGreaterThan(0);
  await later(first.ws);
  await first.slice.stop(); // no snapshots option: the file stays the one written above
  now += DAY;
  const a = await copy("a");
  const b = await copy("b");
  const fromFile = await start(a, snaps);
  const fromStore = await start(b);
  try {
    expect(fromFile.phases).toContain("snapshot");
    expect(fromFile.phases).not.toContain("contacts");
    expect(fromStore.phases).toContain("contacts");
    // Memberships from the file: only the segment defined since is computed, not every one.
    const segments = fromStore.ws.live.engine.segmentIds().length;
    expect(fromStore.computed).toBe(segments);
    expect(fromFile.computed).toBeGreaterThanOrEqual(1);
    expect(fromFile.computed).toBeLessThan(segments / 2);
    expect(await answers(fromFile)).toEqual(await answers(fromStore));
  } finally {
    await fromFile.slice.stop();
    await fromStore.slice.stop();
  }
}

describe("restart from a snapshot on PostgreSQL", () => {
  let pgs: PgServer;
  beforeAll(async () => {
    pgs = await startPostgres("slice_snapshots");
  }, 60_000);
  afterAll(() => pgs?.stop());

  it("ends where a restart from the store ends", async () => {
    const snaps = join(root, "pg-snapshots");
    await sameAfterRestart(pgs.url, snaps, async (name) => {
      const client = new pg.Client({ connectionString: pgs.url.replace(/\/slice_snapshots$/, "/postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE copy_${name} TEMPLATE slice_snapshots`);
      } finally {
        await client.end();
      }
      return pgs.urlOf(`copy_${name}`);
    });
  }, 120_000);
});

describe("restart from a snapshot", () => {
  const dir = join(root, "main");
  mkdirSync(dir);
  const db = join(dir, "slice.db");
  const snaps = join(dir, "snapshots");

  it("ends where a restart from the store ends, after writes of every kind since the file", async () => {
    await sameAfterRestart(db, snaps, (name) => {
      const copy = join(dir, `${name}.db`);
      copyDb(db, copy);
      return Promise.resolve(copy);
    });
  });

  it("passes over a damaged file and one written before the fields changed", async () => {
    const path = snapshotPath(snaps, WS);
    const bytes = readFileSync(path);
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 5] ^= 0x5a;
    const damagedDir = join(dir, "damaged");
    mkdirSync(damagedDir);
    writeFileSync(snapshotPath(damagedDir, WS), damaged);
    copyDb(db, join(dir, "c.db"));
    copyDb(db, join(dir, "d.db"));
    const fromDamaged = await start(join(dir, "c.db"), damagedDir);
    const fromStore = await start(join(dir, "d.db"));
    try {
      expect(fromDamaged.phases).toContain("contacts");
      expect(await answers(fromDamaged)).toEqual(await answers(fromStore));
    } finally {
      await fromDamaged.slice.stop();
      await fromStore.slice.stop();
    }

    // A field created after the file: the file's columns are not the workspace's.
    const withField = await start(db);
    await withField.ws.createField({ key: "vip", type: "boolean" });
    await withField.slice.stop();
    const after = await start(db, snaps);
    try {
      expect(after.phases).toContain("contacts");
      expect(after.phases).not.toContain("snapshot");
    } finally {
      await after.slice.stop();
    }
  });

  it("writes the file at stop, which the next start reads", async () => {
    const d = join(root, "stop");
    mkdirSync(d);
    const file = join(d, "slice.db");
    const s1 = await start(file, join(d, "snapshots"));
    await seed(s1.ws);
    await s1.ws.live.flush();
    const before = await answers(s1);
    await s1.slice.stop();
    expect(existsSync(snapshotPath(join(d, "snapshots"), WS))).toBe(true);
    const first = readFileSync(snapshotPath(join(d, "snapshots"), WS));
    const s2 = await start(file, join(d, "snapshots"));
    try {
      expect(s2.phases).toContain("snapshot");
      expect(await answers(s2)).toEqual(before);
      await s2.ws.upsertContacts([{ email: "later@example.com", fields: { plan: "pro" } }]);
    } finally {
      await s2.slice.stop();
    }
    // The first file put back: the journal was pruned past it by the second, so it cannot catch up.
    writeFileSync(snapshotPath(join(d, "snapshots"), WS), first);
    const s3 = await start(file, join(d, "snapshots"));
    try {
      expect(s3.phases).toContain("contacts");
      expect(s3.ws.live.engine.contacts.byEmail("later@example.com")).toBeDefined();
    } finally {
      await s3.slice.stop();
    }
  });
});

describe("the change log's membership in a snapshot file", () => {
  it("is the engine's minus the changes not logged yet, undone newest first", async () => {
    const engine = new Engine({ clock, defaultSegments: false });
    engine.loadContacts([{ id: "a" }, { id: "b" }, { id: "c" }]);
    engine.loadSegments([{ id: "fr", rule: { type: "field", field: "country", op: "eq", value: "FR" } }]);
    engine.advanceTo(now);
    engine.upsertContact({ id: "a", country: "FR" });
    engine.upsertContact({ id: "b", country: "FR" });
    // Not logged yet: a entered; b entered, exited, entered again; c entered then exited.
    const unlogged = [
      { segment_id: "fr", contact_id: "a", change: "entered" as const, at: now },
      { segment_id: "fr", contact_id: "b", change: "entered" as const, at: now },
      { segment_id: "fr", contact_id: "b", change: "exited" as const, at: now },
      { segment_id: "fr", contact_id: "b", change: "entered" as const, at: now },
      { segment_id: "fr", contact_id: "c", change: "entered" as const, at: now },
      { segment_id: "fr", contact_id: "c", change: "exited" as const, at: now },
    ];
    const path = join(root, "unit.snap");
    writeSnapshot(
      path,
      engine,
      unlogged,
      { journal: 1, events: 0, changes: 0 },
      { id: "w", created_at: 1 },
      now,
    ).commitSync();
    const { reader, header } = await readSnapshot(path, { id: "w", created_at: 1 });
    const m = header.members.find((s) => s.segment === "fr")!;
    const words = reader.array(m.words, Uint32Array);
    const inLog = ["a", "b", "c"].filter((id) => {
      const i = engine.contacts.index(id)!;
      return (words[i >>> 5]! & (1 << (i & 31))) !== 0;
    });
    // The log has none of a's or b's entries: both out. c's entry and exit: out too.
    expect(engine.members("fr").ids().sort()).toEqual(["a", "b"]);
    expect(inLog).toEqual([]);
    await expect(readSnapshot(path, { id: "w", created_at: 2 })).rejects.toThrow(/another workspace/);
  });
});
