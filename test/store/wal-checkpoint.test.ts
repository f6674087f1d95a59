/**
 * The WAL of a SQLite store that ingests event batches is checkpointed by a thread of its
 * own (src/store/sqlite/wal-checkpointer.ts), not by the commit that takes it past
 * `wal_autocheckpoint` pages.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { WalCheckpointer } from "../../src/store/sqlite/wal-checkpointer.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-wal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The WAL index's frame count and how many of those frames are in the database file
 * (`mxFrame` of the first header copy, `nBackfill` of the checkpoint info:
 * https://www.sqlite.org/walformat.html), read from the `-shm` file without a connection,
 * since asking a connection would checkpoint.
 */
function walState(path: string): { frames: number; backfilled: number } {
  const shm = readFileSync(`${path}-shm`);
  return { frames: shm.readUInt32LE(16), backfilled: shm.readUInt32LE(96) };
}

/** Waits up to 10 s for every frame of the WAL to be in the database file. */
async function backfilled(path: string): Promise<{ frames: number; backfilled: number }> {
  let state = walState(path);
  const deadline = Date.now() + 10_000;
  while (state.backfilled < state.frames && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    state = walState(path);
  }
  return state;
}

it("copies the committed event batches into the database file while the WAL is far below the automatic checkpoint", async () => {
  const path = join(dir, "slice.db");
  const store = await openStore({ sqlitePath: path });
  try {
    const ws = (await store.createWorkspace({ name: "w" })).id;
    const batch = (k: number) =>
      Array.from({ length: 1_000 }, (_, i) => ({
        id: `e${k}-${i}`,
        type: "email_opened",
        contact_id: `ct_${i % 50}`,
        timestamp: 1_000 + i,
        properties: { k, i },
      }));
    // Past the rows after which the thread starts (SqliteEventWriter.CHECKPOINT_AFTER_ROWS).
    for (let k = 0; k < 25; k++) await store.insertEventBatches(ws, [batch(k)]);
    const written = walState(path);
    // A few hundred pages: a commit's own checkpoint would wait for 10,000.
    expect(written.frames).toBeGreaterThan(0);
    expect(written.frames).toBeLessThan(10_000);
    const state = await backfilled(path);
    expect(state.backfilled).toBe(state.frames);
    // Nothing lost on the way: every event is read back through the store.
    let n = 0;
    for await (const page of store.workspace(ws).events.stream()) n += page.length;
    expect(n).toBe(25_000);
  } finally {
    await store.close();
  }
});

it("copies a large write of the change log (a start-up's first memberships) into the database file before any event comes", async () => {
  const path = join(dir, "log.db");
  const store = await openStore({ sqlitePath: path });
  try {
    const ws = (await store.createWorkspace({ name: "w" })).id;
    // What a first start logs: every contact's entry into its segments, in rounds of the
    // store's writer with no event batch.
    for (let k = 0; k < 5; k++) {
      const changes = Array.from({ length: 5_000 }, (_, i) => ({
        segment_id: `sg_${i % 20}`,
        contact_id: `ct_${k}_${i}`,
        change: "entered" as const,
        at: 1_000 + i,
      }));
      await store.commitEventRound(ws, { batches: [], log: { changes, deliveries: [], claim: null } });
    }
    const state = await backfilled(path);
    expect(state.frames).toBeGreaterThan(0);
    expect(state.frames).toBeLessThan(10_000);
    expect(state.backfilled).toBe(state.frames);
    expect((await store.workspace(ws).changes.list({ limit: 1000 })).data).toHaveLength(1000);
  } finally {
    await store.close();
  }
});

it("says once that the checkpoint thread failed, and still closes", async () => {
  const lines: string[] = [];
  // No such file: the thread's connection (fileMustExist) fails to open.
  const path = join(dir, "missing", "slice.db");
  const checkpointer = new WalCheckpointer(path, "normal", (line) => lines.push(line));
  checkpointer.start();
  const deadline = Date.now() + 30_000;
  while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await checkpointer.close();
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`${path}: the WAL checkpoint thread failed (`);
});
