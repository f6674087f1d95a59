/**
 * HTTP load test (issue 5): events posted to a real Slice server over HTTP in batches
 * of 1,000 at a target rate (default 50,000 events/s) for a duration (default 60 s),
 * on SQLite, with 100 live segments of mixed kinds (the bench's `live` mix) over a
 * generated data set. Reports achieved events/s, p50/p99/max request latency, and
 * checks that nothing was lost: every request answered 200 with all events accepted,
 * and the store holds exactly the preloaded plus the sent events afterwards. Beside the
 * load, a probe event every 0.5 s measures how long its acknowledged change takes to
 * reach a signed webhook receiver (bench/freshness.ts); the run fails if one is not
 * delivered within 30 s after the load.
 *
 *   npm run load -- [--rate 50000] [--seconds 60] [--contacts 100000] [--events 1000000]
 *                   [--segments 100] [--workers 1] [--json]
 *
 * `--segments N` below 100 takes N of the mix spread evenly over the 94 that do not
 * refer to other segments (every kind of rule; the references come last in the mix).
 * `--workers N` above 1 serves the workspace on N engine worker threads (SLICE_WORKERS),
 * without the mix's rank segment, which would keep it on one thread.
 *
 * The server runs in a child process (its own event loop, as in production); the data
 * set is written straight into the SQLite file first, so the server's start-up rebuild
 * loads it like any restart would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { NOW } from "../src/demo/generate.ts";
import { openStore } from "../src/store/index.ts";
import type { JsonValue } from "../src/store/types.ts";
import { writeDatasetFile } from "./dataset-file.ts";
import { setUpFreshnessProbe } from "./freshness.ts";
import { post, startServerProcess } from "./http-server.ts";
import { liveSegments } from "./sections/live.ts";
import { fmtInt, log, percentile, round, table } from "./util.ts";

const { values: args } = parseArgs({
  options: {
    rate: { type: "string", default: "50000" },
    seconds: { type: "string", default: "60" },
    contacts: { type: "string", default: "100000" },
    events: { type: "string", default: "1000000" },
    batch: { type: "string", default: "1000" },
    inflight: { type: "string", default: "8" },
    segments: { type: "string", default: "100" },
    workers: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});

const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CONTACTS = Number(args.contacts);
const EVENTS = Number(args.events);
const BATCH = Number(args.batch);
const INFLIGHT = Number(args.inflight);
const SEGMENTS = Number(args.segments);
if (!Number.isInteger(SEGMENTS) || SEGMENTS < 1 || SEGMENTS > 100) {
  throw new Error(`--segments: expected a whole number from 1 to 100, got ${args.segments}`);
}
const WORKERS = Number(args.workers);
if (!Number.isInteger(WORKERS) || WORKERS < 1)
  throw new Error(`--workers: expected a whole number ≥ 1, got ${args.workers}`);
const KEY = "sk_load_test_admin_0123456789";
const WS = "ws_default";
/** A probe every half second, each for a contact of its own. */
const PROBE_EVERY_MS = 500;
/** How long after the load a probe may still be delivered before the run fails. */
const PROBE_WAIT_MS = 30_000;

function prepare(path: string): Promise<void> {
  return writeDatasetFile(
    path,
    { seed: 7, contacts: CONTACTS, events: EVENTS, now: NOW },
    {
      ws: WS,
      label: "load",
      // The `live` segments include "birthday this month".
      birthday: true,
      segments: chosenSegments().map((s) => ({
        id: s.id,
        name: `live ${Number(s.id.slice(4))}`,
        rule: s.rule as unknown as JsonValue,
      })),
    },
  );
}

/** The mix's segments, or N of them spread over its kinds (the references to others come last in it). */
function chosenSegments(): ReturnType<typeof liveSegments> {
  // The engine workers do not maintain rank conditions: with them the workspace would stay on one thread.
  const all = liveSegments().filter((s) => WORKERS === 1 || !JSON.stringify(s.rule).includes('"rank"'));
  if (SEGMENTS >= all.length) return all;
  const own = all.filter((s) => !JSON.stringify(s.rule).includes('"type":"segment"'));
  if (SEGMENTS > own.length) return all.slice(0, SEGMENTS);
  return Array.from({ length: SEGMENTS }, (_, k) => own[Math.floor((k * own.length) / SEGMENTS)]!);
}

const TYPES = ["email_sent", "email_opened", "email_clicked", "page_viewed", "order_placed", "cart_added"];

function body(k: number, r: () => number): string {
  // Timestamps are the instant the request is due: the load replays live traffic.
  const now = new Date(Date.now() + (k * BATCH * 1000) / RATE).toISOString();
  const events = new Array(BATCH);
  for (let j = 0; j < BATCH; j++) {
    const type = TYPES[Math.floor(r() * r() * TYPES.length)]!;
    events[j] = {
      id: `load-${k}-${j}`,
      type,
      contact: { id: `c${Math.floor(r() * CONTACTS)}` },
      timestamp: now,
      properties:
        type === "order_placed"
          ? { amount: Math.round(r() * 40000) / 100, currency: "EUR" }
          : { campaign_id: Math.floor(r() * 200) },
    };
  }
  return JSON.stringify(events);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "slice-load-"));
  const path = join(dir, "slice.db");
  try {
    await prepare(path);
    let t0 = performance.now();
    const server = await startServerProcess(path, KEY, WORKERS);
    const startupS = (performance.now() - t0) / 1000;
    log(
      `load: server up at ${server.url} after ${startupS.toFixed(1)} s (rebuilt ${fmtInt(EVENTS)} events, ${SEGMENTS} segments)`,
    );

    const batches = Math.round((RATE * SECONDS) / BATCH);
    const interval = (BATCH / RATE) * 1000;
    const latencies = new Float64Array(batches);
    let seed = 12345;
    const r = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    // Bodies are made before the clock starts, so that the load generator (which shares
    // the machine with the server) spends its time sending, not serializing.
    const bodies: string[] = new Array(batches);
    for (let k = 0; k < batches; k++) bodies[k] = body(k, r);
    log(`load: ${fmtInt(batches)} request bodies prepared`);
    const probe = await setUpFreshnessProbe(
      server.url,
      KEY,
      Math.ceil((SECONDS * 1000) / PROBE_EVERY_MS) + 10,
    );
    let accepted = 0;
    let failures = 0;
    let next = 0;
    let behind = 0;
    server.mark();
    t0 = performance.now();
    const loadStart = Date.now();
    probe.start(PROBE_EVERY_MS);
    const worker = async () => {
      for (;;) {
        const k = next++;
        if (k >= batches) return;
        const due = t0 + k * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        else if (wait < -1000) behind++;
        const payload = bodies[k]!;
        bodies[k] = "";
        const s = performance.now();
        const res = await post(`${server.url}/v1/events`, `Bearer ${KEY}`, payload);
        const out = JSON.parse(res.body) as { accepted?: number };
        latencies[k] = performance.now() - s;
        if (res.status !== 200 || out.accepted !== BATCH) failures++;
        else accepted += out.accepted;
        if (k % Math.max(1, Math.round(batches / 10)) === 0) {
          log(`load: ${fmtInt(k * BATCH)} events sent, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        }
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    const freshness = await probe.finish(PROBE_WAIT_MS);
    const cpu = await server.stop();

    const store = await openStore({ sqlitePath: path });
    const stored = await store.workspace(WS).events.count();
    await store.close();
    const db = new Database(path, { readonly: true });
    const loggedChanges = (
      db.prepare("SELECT count(*) AS n FROM changes WHERE at >= ?").get(loadStart) as { n: number }
    ).n;
    db.close();
    const sorted = Float64Array.from(latencies).sort();
    const result = {
      target_events_per_s: RATE,
      events_per_s: Math.round((batches * BATCH) / elapsed),
      seconds: round(elapsed, 1),
      requests: batches,
      batch: BATCH,
      p50_ms: round(percentile(sorted, 50), 1),
      p99_ms: round(percentile(sorted, 99), 1),
      max_ms: round(sorted[sorted.length - 1] ?? 0, 1),
      failed_requests: failures,
      late_requests: behind,
      accepted,
      stored_events: stored,
      expected_events: EVENTS + batches * BATCH + freshness.acknowledged,
      lost: EVENTS + accepted + freshness.acknowledged - stored,
      contacts: CONTACTS,
      segments: chosenSegments().length,
      workers: WORKERS,
      startup_s: round(startupS, 1),
      logged_changes: loggedChanges,
      // The server's CPU per event sent, from the load's start to its stop (the probes'
      // wait for their last deliveries included): what a change in the server's cost
      // per event shows without the rate's run-to-run spread.
      server_main_us_per_event: cpu ? round((cpu.main_ms * 1000) / (batches * BATCH), 2) : null,
      server_cpu_us_per_event: cpu ? round((cpu.process_ms * 1000) / (batches * BATCH), 2) : null,
      server_loop_delay_p99_ms: cpu ? round(cpu.loop_delay_p99_ms, 1) : null,
      server_loop_delay_max_ms: cpu ? round(cpu.loop_delay_max_ms, 1) : null,
      freshness,
    };
    for (const line of table([
      ["", "value"],
      ["events/s (target)", `${fmtInt(result.events_per_s)} (${fmtInt(RATE)})`],
      ["duration", `${result.seconds} s, ${fmtInt(batches)} requests of ${BATCH}`],
      ["latency p50 / p99 / max", `${result.p50_ms} / ${result.p99_ms} / ${result.max_ms} ms`],
      ["failed requests", String(failures)],
      [
        "server CPU per event: main thread / every thread",
        `${result.server_main_us_per_event} / ${result.server_cpu_us_per_event} µs`,
      ],
      [
        "server event loop delay p99 / max",
        `${result.server_loop_delay_p99_ms} / ${result.server_loop_delay_max_ms} ms`,
      ],
      ["membership changes logged during the load", fmtInt(loggedChanges)],
      [
        "probe: acknowledged → webhook delivered",
        `${freshness.delivered} / ${freshness.probes} delivered, p50 ${freshness.p50_ms} / p99 ${freshness.p99_ms} / max ${freshness.max_ms} ms`,
      ],
      ["slowest probes (s into the load: ms)", freshness.slowest.map((p) => `${p.at_s}: ${p.ms}`).join(", ")],
      [
        "stored = preloaded + sent + probes",
        `${fmtInt(stored)} = ${fmtInt(EVENTS)} + ${fmtInt(accepted)} + ${freshness.acknowledged}`,
      ],
    ]))
      log(line);
    if (args.json) process.stdout.write(`${JSON.stringify({ http_load: result })}\n`);
    const undelivered = freshness.delivered < freshness.probes || freshness.bad_signatures > 0;
    if (failures > 0 || result.lost !== 0 || undelivered) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
