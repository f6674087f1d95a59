/**
 * The restart half of the store section, run in a child process of `npm run bench` so
 * that it starts as a restarted server does, with a fresh heap: rebuilds the workspace
 * from the SQLite file (timed), then ingests new events in batches of 1,000 sent one
 * after the other (timed until the last is applied and every change logged), and prints
 * its figures as one JSON line on stdout.
 *
 *   node --import tsx bench/store-restart.ts <file> <workspace> <spec as JSON> <events>
 */

import { type DatasetSpec, generateEvents } from "../src/demo/generate.ts";
import { LiveWorkspace } from "../src/service/live-workspace.ts";
import { openStore } from "../src/store/index.ts";
import type { EventWrite } from "../src/store/types.ts";
import { log } from "./util.ts";

export interface RestartFigures {
  startup_s: number;
  ingest_s: number;
  ingested: number;
  changes: number;
}

const [path, ws, specJson, eventsArg] = process.argv.slice(2);
if (!path || !ws || !specJson || !eventsArg) {
  process.stderr.write("usage: store-restart.ts <file> <workspace> <spec as JSON> <events>\n");
  process.exit(2);
}
const spec = JSON.parse(specJson) as DatasetSpec;
const n = Number(eventsArg);
const clock = { now: () => spec.now };
// Drawn before the clock starts, like the batches of a client that has them ready.
const fresh = [...generateEvents({ ...spec, seed: spec.seed + 2, events: n })] as EventWrite[];

const t = performance.now();
const store = await openStore({ sqlitePath: path, clock });
const live = await LiveWorkspace.open(store, ws, { clock });
const startupS = (performance.now() - t) / 1000;
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
await store.close();
if (stored !== n) throw new Error(`durable ingest: ${n} events acknowledged, ${stored} stored`);
const figures: RestartFigures = { startup_s: startupS, ingest_s: ingestS, ingested: n, changes };
process.stdout.write(`${JSON.stringify(figures)}\n`);
