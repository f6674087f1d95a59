/**
 * The store (issue 4), on an embedded SQLite file in a temporary directory:
 *
 * - startup_s: opening the store and rebuilding a workspace's engine from it (contacts
 *   and events read by worker threads, segments, memberships, timers) plus reconciling
 *   the change log, with the whole data set stored. Measured on a second start, when
 *   the log already matches, in a new process (bench/store-restart.ts), as after a
 *   restart; the first start, which also writes the initial log, is reported as
 *   first_start_s.
 * - ingest_events_per_s: in that new process, events committed through the store and
 *   then applied to the engine (default segments) with their changes logged, in
 *   batches of 1,000 sent one after the other (each waits for the previous one's
 *   acknowledgement).
 * - snapshot_write_s, snapshot_mb: that process then writes the workspace's snapshot
 *   file (docs/operations.md, "Snapshots"); snapshot_startup_s: a third process starts
 *   from it.
 *
 * With `--live-segments`, the workspace also has the live section's 100 segments and
 * the date field they read, defined before the first start.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateContacts, generateEvents } from "../../src/demo/generate.ts";
import { LiveWorkspace } from "../../src/service/live-workspace.ts";
import { openStore } from "../../src/store/index.ts";
import type { ContactWrite, EventWrite, JsonValue } from "../../src/store/types.ts";
import type { Section } from "../context.ts";
import type { RestartFigures } from "../store-restart.ts";
import { fmtInt, gc, log, round, table, withProgress } from "../util.ts";
import { liveSegments } from "./live.ts";

async function* batches<T, U>(items: Iterable<T>, size: number, map: (t: T) => U): AsyncGenerator<U[]> {
  let batch: U[] = [];
  for (const it of items) {
    batch.push(map(it));
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export const storeSection: Section = {
  name: "store",

  async run(ctx) {
    const { spec } = ctx.opts;
    const dir = mkdtempSync(join(tmpdir(), "slice-bench-"));
    const path = join(dir, "slice.db");
    const clock = { now: () => spec.now };
    try {
      const store = await openStore({ sqlitePath: path, clock });
      const ws = (await store.createWorkspace({ name: "bench" })).id;
      await store.workspace(ws).fields.create({ key: "plan", type: "string" });
      const live = ctx.opts.storeLiveSegments;
      if (live) await store.workspace(ws).fields.create({ key: "birthday", type: "date" });
      let t0 = performance.now();
      for await (const b of batches(
        withProgress(generateContacts(spec, { birthday: live }), "contacts → SQLite", spec.contacts),
        10_000,
        (c) => c as ContactWrite,
      )) {
        await store.workspace(ws).contacts.put(b);
      }
      const contactsS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      for await (const b of batches(
        withProgress(generateEvents(spec), "events → SQLite", spec.events),
        10_000,
        (e) => e as EventWrite,
      )) {
        await store.workspace(ws).events.insert(b);
      }
      const eventsS = (performance.now() - t0) / 1000;
      if (live) {
        for (const [k, seg] of liveSegments().entries()) {
          await store
            .workspace(ws)
            .segments.create({ id: seg.id, kind: "dynamic", name: `live ${k}`, rule: seg.rule as JsonValue });
        }
      }
      await store.close();
      gc();

      const t1 = performance.now();
      const first = await LiveWorkspace.open(await openStore({ sqlitePath: path, clock }), ws, { clock });
      const firstS = (performance.now() - t1) / 1000;
      await first.store.close();
      log(`store: first start ${firstS.toFixed(1)} s (writes the initial change log)`);

      // The second start and the ingest run in a new process, as after a restart (one
      // engine in a fresh heap, not a second one beside the first's garbage).
      // A million events at the default size: five seconds or more, so that what is
      // measured is the rate a client keeps up, not the first batches after a start
      // (JIT, first growth of the WAL file and of the engine's blocks).
      const n = Math.min(1_000_000, Math.max(10_000, Math.floor(spec.events / 10)));
      const snapshots = join(dir, "snapshots");
      const restartChild = (...extra: string[]) => {
        const child = spawnSync(
          process.execPath,
          [
            "--max-old-space-size=8192",
            "--import",
            "tsx",
            fileURLToPath(new URL("../store-restart.ts", import.meta.url)),
            path,
            ws,
            JSON.stringify(spec),
            String(n),
            snapshots,
            ...extra,
          ],
          { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 1 << 20 },
        );
        if (child.status !== 0) throw new Error(`store: the restart process failed (exit ${child.status})`);
        return JSON.parse(child.stdout.trim().split("\n").pop()!) as unknown;
      };
      const restart = restartChild() as RestartFigures;
      const fromSnapshot = restartChild("--from-snapshot") as { startup_s: number };
      const ingestS = restart.ingest_s;
      const changes = restart.changes;

      ctx.json.store = {
        ingest_events_per_s: Math.round(n / ingestS),
        startup_s: round(restart.startup_s, 2),
        snapshot_startup_s: round(fromSnapshot.startup_s, 2),
        snapshot_write_s: round(restart.snapshot_write_s, 2),
        snapshot_held_s: round(restart.snapshot_held_s, 2),
        snapshot_mb: round(restart.snapshot_mb, 1),
        first_start_s: round(firstS, 2),
        load_contacts_per_s: Math.round(spec.contacts / contactsS),
        load_events_per_s: Math.round(spec.events / eventsS),
        file_mb: round(statSync(path).size / 2 ** 20, 1),
        ingest_changes: changes,
        live_segments: live,
      };
      log(`store: ${fmtInt(n)} events ingested durably in ${ingestS.toFixed(2)} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  report(ctx) {
    const s = ctx.json.store as Record<string, number> | undefined;
    if (!s) return [];
    return [
      "Store (SQLite file, WAL, synchronous=FULL)",
      ...table([
        ["measure", "value"],
        [
          "durable ingest, batches of 1,000 (store + engine + log)",
          `${fmtInt(s.ingest_events_per_s)} events/s`,
        ],
        ["start-up from the store (second start)", `${s.startup_s} s`],
        ["start-up from a snapshot file", `${s.snapshot_startup_s} s`],
        [
          "snapshot file written (of which writes wait)",
          `${s.snapshot_write_s} s (${s.snapshot_held_s} s), ${s.snapshot_mb} MB`,
        ],
        ["first start (also writes the initial log)", `${s.first_start_s} s`],
        [
          "bulk load into SQLite",
          `${fmtInt(s.load_contacts_per_s)} contacts/s, ${fmtInt(s.load_events_per_s)} events/s`,
        ],
        ["database file", `${s.file_mb} MB`],
      ]),
    ];
  },
};
