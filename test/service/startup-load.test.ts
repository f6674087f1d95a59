/**
 * Start-up through the bulk read of a SQLite file (worker threads, columnar events,
 * the change log's membership computed by a reader) must build exactly the engine the
 * streaming path builds (`streamContacts`/`streamEvents` → `loadEvents`) and reconcile
 * the log to exactly the same changes: same membership, explain results, event tables
 * (layout, times, property columns, dictionary) and contact columns, on a data set with
 * properties of every kind, events of unknown contacts, deleted events (gaps in `seq`),
 * a second workspace interleaved in the same tables, and a change log that misses
 * changes and holds wrong ones.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import { LiveWorkspace } from "../../src/service/live-workspace.ts";
import { loadInBulk } from "../../src/service/startup-load.ts";
import { Mutex } from "../../src/store/executor.ts";
import { openStore } from "../../src/store/index.ts";
import { readSqliteWorkspace } from "../../src/store/sqlite/bulk-read.ts";
import type { StartupMessage, StartupRead } from "../../src/store/startup-read.ts";
import type { ChangeRecord, EventWrite, JsonObject, JsonValue, Store } from "../../src/store/types.ts";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const clock = { now: () => NOW };
const DAY = 86_400_000;

let dir: string;
let seeded: string;
let wsA: string;
let wsB: string;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Contact ids that a careless encoding would break. */
const ODD_IDS = ['c"quote', "c,comma", "c\nnewline", "c[bracket]", "c\\backslash", "cé", "c😀"];

function properties(r: () => number, k: number): JsonObject {
  const p: JsonObject = {};
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  if (r() < 0.7) p.amount = pick([0, 1.5, -2, 10, 99.99, 1e21, -0]);
  if (r() < 0.5)
    p.plan = pick(["Gold", " gold ", "GOLD", "silver", "Ünïcode ", "a,b", 'q"uote', "new\nline"]);
  if (r() < 0.2) p.flag = r() < 0.5;
  if (r() < 0.2) p.tags = ["x", 1, null, { y: 2 }];
  if (r() < 0.3) p.nested = { level: pick(["Top", "low"]), n: k % 7, deep: { x: pick([1, "one", true]) } };
  if (r() < 0.2) p.none = null;
  if (r() < 0.1) p["dotted.key"] = 5;
  if (r() < 0.1) p.mixed = pick([1, "one", false, [1], { a: null }]);
  if (r() < 0.05) p.bounce_type = pick(["hard", " Hard", "soft"]);
  if (r() < 0.05) p["123"] = "numeric key";
  return p;
}

const TYPES = ["email_opened", "email_clicked", "email_bounced", "order_placed", "page.viewed", "x:y-z"];

async function seed(path: string): Promise<void> {
  const store = await openStore({ sqlitePath: path, clock });
  wsA = (await store.createWorkspace({ name: "a" })).id;
  wsB = (await store.createWorkspace({ name: "b" })).id;
  await store.workspace(wsA).fields.create({ key: "score", type: "number", label: "Score" });
  const r = rng(7);
  const ids = [...Array.from({ length: 300 }, (_, i) => `ct_${String(i).padStart(4, "0")}`), ...ODD_IDS];
  for (const ws of [wsA, wsB]) {
    await store.workspace(ws).contacts.put(
      ids.map((id, i) => ({
        id,
        email: `${ws}-${i}@example.com`,
        status: i % 5 === 0 ? "unsubscribed" : "subscribed",
        email_status: i % 7 === 0 ? "soft_bouncing" : "deliverable",
        status_written_at: i % 3 === 0 ? NOW - 40 * DAY : null,
        email_status_written_at: i % 4 === 0 ? NOW - 20 * DAY : null,
        country: i % 2 ? "FR" : " fr ",
        tags: i % 3 ? ["VIP", " new "] : [],
        fields: (ws === wsA ? { score: i % 11 } : {}) as Record<string, number>,
      })),
    );
  }
  // Interleaved batches of both workspaces, so A's `seq` numbers have B's rows between them.
  for (let b = 0; b < 40; b++) {
    for (const ws of [wsA, wsB]) {
      const batch: EventWrite[] = [];
      for (let k = 0; k < 60; k++) {
        const known = r() < 0.95;
        batch.push({
          type: TYPES[Math.floor(r() * TYPES.length)],
          contact_id: known
            ? ids[Math.floor(r() * ids.length)]
            : `${r() < 0.5 ? "ghost" : "ghöst😀"}_${Math.floor(r() * 20)}`,
          // Duplicate timestamps on purpose: the order among them is arrival order.
          timestamp: NOW - Math.floor(r() * 60) * DAY - (r() < 0.3 ? 0 : Math.floor(r() * DAY)),
          properties: properties(r, k),
        });
      }
      await store.workspace(ws).events.insert(batch);
    }
  }
  const seg = (id: string, rule: unknown) =>
    store.workspace(wsA).segments.create({ id, kind: "dynamic", name: id, rule: rule as never });
  await seg("openers", {
    type: "event",
    event: "email_opened",
    window: { in_last: "30d" },
    op: "gte",
    value: 2,
  });
  await seg("gold", {
    type: "event",
    event: "order_placed",
    where: [{ property: "plan", op: "eq", value: "gold" }],
    op: "gte",
    value: 1,
  });
  await seg("spend", {
    type: "event",
    event: "order_placed",
    measure: { fn: "sum", property: "amount" },
    op: "gt",
    value: 50,
  });
  await seg("nested", {
    type: "event",
    event: "page.viewed",
    where: [{ property: "nested.level", op: "eq", value: "TOP" }],
  });
  await seg("deep", {
    type: "event",
    event: "x:y-z",
    where: [{ property: "nested.deep.x", op: "eq", value: 1 }],
  });
  await seg("flagged", {
    type: "event",
    event: "email_clicked",
    where: [{ property: "flag", op: "eq", value: true }],
  });
  await seg("gold_openers", {
    type: "and",
    conditions: [
      { type: "segment", op: "in", segment: "gold" },
      { type: "segment", op: "in", segment: "openers" },
    ],
  });
  await store.workspace(wsA).segments.create({ id: "vips", kind: "static", name: "vips" });
  await store.workspace(wsA).members.put("vips", [
    { contact_id: ids[3], action: "added" },
    { contact_id: ids[5], action: "added", expires_at: NOW + DAY },
  ]);
  // Erasure deletes a contact's events (gaps in `seq`).
  await store.workspace(wsA).contacts.delete(ids[10]);
  await store.close();
  // More gaps, without erasing anybody.
  const db = new Database(path);
  db.prepare("DELETE FROM events WHERE workspace_id = ? AND seq % 9 = 0").run(wsA);
  db.close();
}

function copy(name: string): string {
  const p = join(dir, name);
  copyFileSync(seeded, p);
  return p;
}

/** The same store without its bulk read: `LiveWorkspace.open` streams pages. */
function streamingOnly(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "startupRead") return undefined;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

interface Opened {
  live: LiveWorkspace;
  store: Store;
  logged: ChangeRecord[];
}

async function open(path: string, streaming: boolean): Promise<Opened> {
  const store = await openStore({ sqlitePath: path, clock });
  const logged: ChangeRecord[] = [];
  const live = await LiveWorkspace.open(streaming ? streamingOnly(store) : store, wsA, {
    clock,
    afterLog: (l) => logged.push(...l),
  });
  return { live, store, logged };
}

function jsonOf(v: JsonValue | undefined): string {
  return v === undefined ? "-" : JSON.stringify(v);
}

/** Everything the loaded engine holds that rules, explain and writes read. */
function state(engine: Engine): unknown {
  const contacts = engine.contacts;
  const n = contacts.size;
  const columns: Record<string, unknown[]> = {};
  for (const key of [...contacts.columns.keys()].sort()) {
    columns[key] = Array.from({ length: n }, (_, i) => contacts.valueOf(i, key));
  }
  const tables: Record<string, unknown> = {};
  for (const [type, t] of [...engine.events.tables].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const props: Record<string, unknown> = {};
    for (const [path, col] of [...t.props].sort(([a], [b]) => (a < b ? -1 : 1))) {
      props[path] = {
        num: col.num ? Array.from(col.num.subarray(0, t.used), (x) => (Number.isNaN(x) ? "NaN" : x)) : null,
        str: col.str ? Array.from(col.str.subarray(0, t.used)) : null,
        other: col.other ? Array.from({ length: t.used }, (_, s) => jsonOf(col.other?.[s])) : null,
      };
    }
    tables[type] = {
      total: t.total,
      used: t.used,
      holes: t.holes,
      slab: t.times.length,
      start: Array.from(t.start.subarray(0, n)),
      len: Array.from(t.len.subarray(0, n)),
      cap: Array.from(t.cap.subarray(0, n)),
      times: Array.from(t.times.subarray(0, t.used)),
      props,
    };
  }
  const segments: Record<string, unknown> = {};
  for (const id of engine.segmentIds()) {
    const members = engine.members(id).ids();
    segments[id] = {
      members,
      explain: contacts.ids
        .slice(0, 40)
        .map((c) => (contacts.alive.has(contacts.index(c)!) ? engine.explain(c, id) : null)),
    };
  }
  return {
    ids: contacts.ids,
    alive: contacts.alive.toArray(),
    columns,
    dictionary: engine.events.dict.values,
    tables,
    segments,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-startup-"));
  seeded = join(dir, "seeded.db");
  await seed(seeded);
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("start-up bulk read", () => {
  it("reads only the workspace's rows, in seq order, across ranges and two workers", async () => {
    const path = copy("read.db");
    const db = new Database(path, { readonly: true });
    const expected = db
      .prepare("SELECT type, contact_id, ts, properties FROM events WHERE workspace_id = ? ORDER BY seq")
      .all(wsA) as { type: string; contact_id: string; ts: number; properties: string }[];
    const contactIds = (
      db.prepare("SELECT id FROM contacts WHERE workspace_id = ? ORDER BY id").all(wsA) as { id: string }[]
    ).map((c) => c.id);
    db.close();
    for (const workers of [1, 2]) {
      for (const pageSize of [7, 500, 20_000]) {
        const got: { type: string; contact_id: string; ts: number }[] = [];
        const contacts: string[] = [];
        const types: string[][] = [[], []];
        const ids: string[][] = [[], []];
        const kinds: string[] = [];
        for await (const m of readSqliteWorkspace(path, new Mutex(), wsA, {
          workers,
          pageSize,
        }) as AsyncIterable<StartupMessage>) {
          if (kinds[kinds.length - 1] !== m.kind) kinds.push(m.kind);
          if (m.kind === "contacts") contacts.push(...m.ids);
          if (m.kind !== "events") continue;
          types[m.source].push(...m.newTypes);
          ids[m.source].push(...m.newContacts);
          // Codes below `known` are positions in the contacts pages; the others, the source's own list.
          expect([m.known, m.lastKnown]).toEqual([contactIds.length, contactIds.at(-1) ?? null]);
          for (let i = 0; i < m.count; i++) {
            const code = m.contact[i];
            got.push({
              type: types[m.source][m.type[i]],
              contact_id: code < m.known ? contacts[code] : ids[m.source][code - m.known],
              ts: m.time[i],
            });
          }
        }
        expect(kinds).toEqual(["contacts", "events", "events-done", "logged"].filter((k) => k !== "logged"));
        expect(contacts).toEqual(contactIds);
        expect(got).toEqual(expected.map((e) => ({ type: e.type, contact_id: e.contact_id, ts: e.ts })));
      }
    }
  });

  it("builds the same engine as the streaming path and reconciles the log the same way", async () => {
    // First start: the log is empty, and both paths write it whole.
    const a = await open(copy("bulk.db"), false);
    const b = await open(copy("stream.db"), true);
    expect(a.logged.length).toBeGreaterThan(0);
    expect(a.logged.map(({ seq: _, ...c }) => c)).toEqual(b.logged.map(({ seq: _, ...c }) => c));
    expect(state(a.live.engine)).toEqual(state(b.live.engine));
    await a.store.close();
    await b.store.close();
  }, 60_000);

  it("writes back exactly the changes a crash left out of the log, and removes wrong ones", async () => {
    const path = copy("crash.db");
    const first = await open(path, false);
    const members = first.live.engine.members("openers").ids();
    const nonMember = first.live.engine.contactIds().find((c) => !first.live.engine.members("gold").has(c))!;
    await first.store.close();
    expect(members.length).toBeGreaterThan(3);
    // A crash-like log: entries lost, a wrong `entered`, an erased contact still in, an
    // exit followed by an entry (still a member), and a segment that no longer exists.
    const db = new Database(path);
    const lost = members.slice(0, 3);
    for (const c of lost)
      db.prepare(
        "DELETE FROM changes WHERE workspace_id = ? AND segment_id = 'openers' AND contact_id = ?",
      ).run(wsA, c);
    const add = db.prepare(
      "INSERT INTO changes (workspace_id, segment_id, contact_id, change, at) VALUES (?, ?, ?, ?, ?)",
    );
    add.run(wsA, "gold", nonMember, "entered", NOW - DAY);
    add.run(wsA, "spend", "ct_0010", "entered", NOW - DAY); // erased in the seed
    add.run(wsA, "openers", members[5], "exited", NOW - DAY);
    add.run(wsA, "openers", members[5], "entered", NOW - DAY);
    add.run(wsA, "gone", members[4], "entered", NOW - DAY);
    db.close();
    copyFileSync(path, join(dir, "crash-stream.db"));

    const a = await open(path, false);
    const b = await open(join(dir, "crash-stream.db"), true);
    const written = (l: ChangeRecord[]) => l.map((c) => `${c.segment_id} ${c.contact_id} ${c.change}`);
    expect(written(a.logged).sort()).toEqual(
      [...lost.map((c) => `openers ${c} entered`), `gold ${nonMember} exited`, "spend ct_0010 exited"].sort(),
    );
    expect(written(a.logged)).toEqual(written(b.logged));
    expect(state(a.live.engine)).toEqual(state(b.live.engine));
    await a.store.close();
    await b.store.close();

    // A start after that finds nothing to write.
    const c = await open(path, false);
    expect(c.logged).toEqual([]);
    await c.store.close();
  }, 60_000);

  it("refuses a reader whose contacts are not the ones loaded (its codes would name other contacts)", async () => {
    // A contacts page as `readContacts` sends it: a column per CONTACT_ROW_COLUMNS after the id.
    const unset = () => ({ numbers: Float64Array.of(Number.NaN, Number.NaN) });
    const contacts: StartupMessage = {
      kind: "contacts",
      source: 0,
      count: 2,
      ids: ["a", "b"],
      columns: [
        ...Array.from({ length: 13 }, unset),
        { values: ["[]"], codes: Int32Array.of(0, 0) },
        { values: ["{}"], codes: Int32Array.of(0, 0) },
        { numbers: Float64Array.of(NOW, NOW) },
        unset(),
        unset(),
        unset(),
        { numbers: Float64Array.of(NOW, NOW) },
      ],
    };
    const events = (known: number, lastKnown: string | null): StartupMessage => ({
      kind: "events",
      source: 0,
      range: 0,
      count: 1,
      newTypes: ["email_opened"],
      known,
      lastKnown,
      newContacts: [],
      newStrings: [],
      newProps: [],
      type: Int32Array.of(0),
      contact: Int32Array.of(1),
      time: Float64Array.of(NOW),
      props: [],
    });
    const run = async (messages: StartupMessage[]) => {
      const read: StartupRead = {
        async *[Symbol.asyncIterator]() {
          yield* messages;
        },
        close: async () => {},
      };
      const engine = new Engine({ clock });
      const bulk = await loadInBulk({ startupRead: () => read } as unknown as Store, "ws", engine);
      return { engine, bulk };
    };
    // The same two contacts: code 1 is "b".
    const ok = await run([contacts, events(2, "b"), { kind: "events-done" }]);
    expect(ok.bulk).not.toBeNull();
    expect(ok.engine.contacts.ids).toEqual(["a", "b"]);
    const opened = ok.engine.events.table("email_opened");
    expect([opened.len[0], opened.len[1]]).toEqual([0, 1]);
    await expect(run([contacts, events(3, "c"), { kind: "events-done" }])).rejects.toThrow(
      "start-up read: a reader saw 3 contacts where 2 were loaded",
    );
    await expect(run([contacts, events(2, "z"), { kind: "events-done" }])).rejects.toThrow(
      "start-up read: a reader saw 2 contacts where 2 were loaded",
    );
  });

  it("fails as the streaming path does on a stored event the engine rejects", async () => {
    const path = copy("bad.db");
    const db = new Database(path);
    db.prepare(
      "INSERT INTO events (workspace_id, type, contact_id, ts, properties, received_at) VALUES (?, 'Bad Type', 'ct_0001', 1, '{}', 1)",
    ).run(wsA);
    db.close();
    copyFileSync(path, join(dir, "bad-stream.db"));
    const store = await openStore({ sqlitePath: path, clock });
    await expect(LiveWorkspace.open(store, wsA, { clock })).rejects.toThrow(/event type/);
    await store.close();
    const store2 = await openStore({ sqlitePath: join(dir, "bad-stream.db"), clock });
    await expect(LiveWorkspace.open(streamingOnly(store2), wsA, { clock })).rejects.toThrow(/event type/);
    await store2.close();
  });
});
