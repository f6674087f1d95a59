/**
 * The pipelined event ingest (LiveWorkspace.ingestEvents): a batch is acknowledged once
 * committed (on a SQLite file by the store's writer thread) and applied to the engine
 * just after, while the next batch commits. Nothing committed may be invisible to a
 * reader, each batch's changes are its own, and a contact erased between the check and
 * the commit gets no events.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LiveWorkspace, UnknownContactError } from "../../src/service/live-workspace.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store } from "../../src/store/types.ts";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const clock = { now: () => NOW };

let dir: string;
let store: Store;

afterEach(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ ws: string; live: LiveWorkspace }> {
  dir = mkdtempSync(join(tmpdir(), "slice-pipeline-"));
  store = await openStore({ sqlitePath: join(dir, "slice.db"), clock });
  const ws = (await store.createWorkspace({ name: "p" })).id;
  await store
    .workspace(ws)
    .contacts.put(
      ["c1", "c2", "c3"].map((id) => ({ id, email: `${id}@x.com`, status: "subscribed" as const })),
    );
  await store.workspace(ws).segments.create({
    id: "openers",
    kind: "dynamic",
    name: "openers",
    rule: { type: "event", event: "email_opened", op: "gte", value: 2, window: { in_last: "30d" } },
  });
  return { ws, live: await LiveWorkspace.open(store, ws, { clock }) };
}

const opened = (contact_id: string, k: number) => ({
  id: `${contact_id}-${k}`,
  type: "email_opened",
  contact_id,
  timestamp: NOW - 1000 * k,
});

describe("pipelined event ingest", () => {
  it("acknowledges a committed batch and applies it before anyone reads the engine", async () => {
    const { ws, live } = await setup();
    const engine = live.engine;
    const r = await live.ingestEvents([opened("c1", 1), opened("c1", 2)]);
    expect(r.accepted).toBe(2);
    // Acknowledged means committed.
    expect(await store.workspace(ws).events.count()).toBe(2);
    // Not applied yet: the engine works on it after the acknowledgement...
    expect(engine.members("openers").has("c1")).toBe(false);
    // ...but a read through the workspace applies it first.
    expect(live.engine.members("openers").has("c1")).toBe(true);
    expect(r.changes.map((c) => [c.segment_id, c.contact_id, c.change])).toEqual([
      ["openers", "c1", "entered"],
    ]);
  });

  it("applies batches in commit order, each with its own changes, also with no read in between", async () => {
    const { ws, live } = await setup();
    const results = [];
    results.push(await live.ingestEvents([opened("c1", 1), opened("c2", 1)]));
    results.push(await live.ingestEvents([opened("c1", 2)]));
    results.push(await live.ingestEvents([opened("c1", 2), opened("c3", 1)])); // c1-2 is a duplicate
    results.push(await live.ingestEvents([opened("c2", 2), opened("c3", 2)]));
    // Concurrent batches, committed together.
    results.push(...(await Promise.all([3, 4].map((k) => live.ingestEvents([opened("c1", k)])))));
    expect(results.map((r) => [r.accepted, r.duplicates])).toEqual([
      [2, 0],
      [1, 0],
      [1, 1],
      [2, 0],
      [1, 0],
      [1, 0],
    ]);
    expect(results.map((r) => r.changes.map((c) => `${c.contact_id} ${c.change}`))).toEqual([
      [],
      ["c1 entered"],
      [],
      ["c2 entered", "c3 entered"],
      [],
      [],
    ]);
    expect(await store.workspace(ws).events.count()).toBe(8);
    await live.flush();
    const log = await store.workspace(ws).changes.list({ segmentId: "openers" });
    expect(log.data.map((c) => `${c.contact_id} ${c.change}`)).toEqual([
      "c1 entered",
      "c2 entered",
      "c3 entered",
    ]);
  });

  it("refuses events for a contact erased after the check, storing none of them", async () => {
    const { ws, live } = await setup();
    const first = live.ingestEvents([opened("c1", 1), opened("c2", 1)]);
    const erase = live.write(
      (tx) => tx.workspace(ws).contacts.delete("c1"),
      () => {
        live.engine.removeContact("c1");
      },
    );
    // Checked now (c1 is there), committed after the erasure.
    const late = live.ingestEvents([opened("c2", 2), opened("c1", 2)]);
    const after = live.ingestEvents([opened("c2", 3)]);
    await expect(first).resolves.toMatchObject({ accepted: 2 });
    await erase;
    const err = await late.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownContactError);
    expect((err as UnknownContactError).index).toBe(1);
    await expect(after).resolves.toMatchObject({ accepted: 1 });
    const stored = (await store.workspace(ws).events.listOfContact("c2")).data.map((e) => e.id);
    expect(stored.sort()).toEqual(["c2-1", "c2-3"]);
    expect((await store.workspace(ws).events.listOfContact("c1")).data).toEqual([]);
    expect(live.hasContact("c1")).toBe(false);
    expect(live.engine.members("openers").has("c2")).toBe(true);
    expect(live.engine.members("openers").has("c1")).toBe(false);
  });

  it("trusts an index found as the request was read only while it is still that contact's", async () => {
    const { ws, live } = await setup();
    const [c1, c2] = [live.contactIndex("c1"), live.contactIndex("c2")];
    expect(c1).toBeGreaterThanOrEqual(0);
    // An index of another contact (as after the engine was rebuilt): c1's events stay c1's.
    await live.ingestEvents([opened("c1", 1), opened("c1", 2)], { found: Int32Array.of(c2, c2) });
    expect(live.engine.members("openers").has("c1")).toBe(true);
    expect(live.engine.members("openers").has("c2")).toBe(false);
    // c2's own index, found before c2 was erased: refused, nothing stored.
    await live.write(
      (tx) => tx.workspace(ws).contacts.delete("c2"),
      () => {
        live.engine.removeContact("c2");
      },
    );
    const err = await live
      .ingestEvents([opened("c2", 1), opened("c2", 2)], { found: Int32Array.of(c2, c2) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownContactError);
    expect((await store.workspace(ws).events.listOfContact("c2")).data).toEqual([]);
    expect(live.engine.members("openers").has("c2")).toBe(false);
  });

  it("checks a batch whole before committing any of it", async () => {
    const { ws, live } = await setup();
    const bad = [
      [opened("c1", 1), { ...opened("c1", 2), type: "Bad Type" }],
      [opened("c1", 1), { ...opened("c1", 2), timestamp: Number.NaN }],
      [opened("c1", 1), { ...opened("c1", 2), properties: [] as unknown as Record<string, never> }],
      [opened("c1", 1), opened("nobody", 2)],
    ];
    const messages = [];
    for (const b of bad) messages.push(await live.ingestEvents(b).catch((e: Error) => e.message));
    expect(messages).toEqual([
      "events[1].type: expected an event type matching [a-z0-9_.:-]{1,64}",
      "events[1].timestamp: expected epoch milliseconds",
      "events[1].properties: expected an object",
      'events[1].contact_id: unknown contact "nobody"',
    ]);
    expect(await store.workspace(ws).events.count()).toBe(0);
    expect(live.engine.members("openers").count).toBe(0);
  });
});
