/**
 * The restart half of the store section, run in a child process of `npm run bench` so
 * that it starts as a restarted server does, with a fresh heap: rebuilds the workspace
 * from the SQLite file (timed), then ingests new events in batches of 1,000 sent one
 * after the other (timed until the last is applied and every change logged), writes the
 * workspace's snapshot file (timed), and prints its figures as one JSON line on stdout.
 * With `--from-snapshot` it only starts, from that snapshot file, and prints how long.
 *
 *   node --import tsx bench/store-restart.ts <file> <workspace> <spec as JSON> <events> <snapshot dir> [--from-snapshot]
 */

import { mkdirSync } from "node:fs";
import { type DatasetSpec, generateEvents } from "../src/demo/generate.ts";
import { LiveWorkspace } from "../src/service/live-workspace.ts";
import { snapshotOwner, snapshotPath } from "../src/service/snapshot/file.ts";
import { openStore } from "../src/store/index.ts";
import type { EventWrite } from "../src/store/types.ts";
import { log } from "./util.ts";

export interface RestartFigures {
  startup_s: number;
  ingest_s: number;
  ingested: number;
  changes: number;
  snapshot_write_s: number;
  snapshot_held_s: number;
  snapshot_mb: number;
}

const [path, ws, specJson, eventsArg, snapshotDir, mode] = process.argv.slice(2);
if (!path || !ws || !specJson || !eventsArg || !snapshotDir) {
  process.stderr.write(
    "usage: store-restart.ts <file> <workspace> <spec as JSON> <events> <snapshot dir> [--from-snapshot]\n",
  );
  process.exit(2);
}
const spec = JSON.parse(specJson) as DatasetSpec;
const n = Number(eventsArg);
const clock = { now: () => spec.now };
// Drawn before the clock starts, like the batches of a client that has them ready.
const fresh = [...generateEvents({ ...spec, seed: spec.seed + 2, events: n })] as EventWrite[];

const t = performance.now();
const store = await openStore({ sqlitePath: path, clock });
const info = await store.getWorkspace(ws);
if (!info) throw new Error(`no workspace ${ws} in ${path}`);
const snapshot = { path: snapshotPath(snapshotDir, ws), owner: snapshotOwner(info) };
const phases: string[] = [];
/** When each phase began, in ms since the start. */
const began: number[] = [];
const live = await LiveWorkspace.open(store, ws, {
  clock,
  onProgress: (phase) => {
    if (phases.includes(phase)) return;
    phases.push(phase);
    began.push(performance.now() - t);
  },
  ...(mode === "--from-snapshot" ? { snapshot } : {}),
});
const startupS = (performance.now() - t) / 1000;
const steps = phases.map(
  (p, k) => `${p} ${(((began[k + 1] ?? startupS * 1000) - began[k]!) / 1000).toFixed(2)} s`,
);
log(`store: start-up steps (from the first report of each): ${steps.join(", ")}`);
if (mode === "--from-snapshot") {
  if (!phases.includes("snapshot"))
    throw new Error(`the start did not use the snapshot (phases: ${phases.join(", ")})`);
  log(`store: start-up from the snapshot ${startupS.toFixed(1)} s (a new process)`);
  await store.close();
  process.stdout.write(`${JSON.stringify({ startup_s: startupS })}\n`);
  process.exit(0);
}
log(`store: start-up ${startupS.toFixed(1)} s (a new process)`);

let changes = 0;
live.engine.onChange(() => {
  changes++;
});
const before = await store.workspace(ws).events.count();
const t0 = performance.now();
for (let k = 0; k < n; k += 1000) await live.ingestEvents(fresh.slice(k, k + 1000));
await live.flush();
const ingestS = (performance.now() - t0) / 1000;
const stored = (await store.workspace(ws).events.count()) - before;
if (stored !== n) throw new Error(`durable ingest: ${n} events acknowledged, ${stored} stored`);
mkdirSync(snapshotDir, { recursive: true });
const t2 = performance.now();
const written = await live.snapshot(snapshot.path, snapshot.owner);
const snapshotWriteS = (performance.now() - t2) / 1000;
log(
  `store: snapshot written in ${snapshotWriteS.toFixed(1)} s (${(written.bytes / 2 ** 20).toFixed(0)} MB; ` +
    `writes waited ${(written.heldMs / 1000).toFixed(2)} s)`,
);
await store.close();
const figures: RestartFigures = {
  startup_s: startupS,
  ingest_s: ingestS,
  ingested: n,
  changes,
  snapshot_write_s: snapshotWriteS,
  snapshot_held_s: written.heldMs / 1000,
  snapshot_mb: written.bytes / 2 ** 20,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
