/**
 * The engine split over worker threads (src/engine/partitioned/): the same data set
 * generated again and loaded through the coordinator, which checks each write and ships
 * it, encoded, to the worker of its contact's partition; then Q1–Q8 timed as the slice
 * section times them, answered by every worker at once (Q6, a rank condition, in two
 * rounds: every worker's values, then the cut found over all of them), with the ids
 * checked against the one-thread engine's; then the live stream, and a restart from the
 * workers' snapshot files (docs/cluster.md).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contactNumber, DAY, generateContacts, generateEvents } from "../../src/demo/generate.ts";
import { PartitionedEngine } from "../../src/engine/partitioned/partitioned-engine.ts";
import type { BenchContext, Section } from "../context.ts";
import { Q6, QUERIES } from "../queries.ts";
import { fmtInt, gc, log, median, percentile, round, table, timeRuns, withProgress } from "../util.ts";
import { LIVE_SPAN_MS, liveSegments, liveStream } from "./live.ts";
import { benchEngineOptions } from "./load.ts";

function ratio(ms: number | null | undefined, duck: number | null): string {
  if (ms == null || duck === null) return "-";
  const r = duck / ms;
  return `${r < 1 ? r.toFixed(2) : r.toFixed(1)}×`;
}

/** Events per `ingest` call of the live stream, and calls in flight at once. */
const LIVE_CHUNK = 2_000;
const LIVE_IN_FLIGHT = 2;

/**
 * The live section's segments (but the rank one: a segment's rank is not maintained
 * across workers yet) and stream, on the workers: each
 * chunk checked and shipped by the coordinator, applied event by event in the worker
 * of its contact with the clock moved to each event first, its changes shipped back.
 */
async function liveOnWorkers(ctx: BenchContext, engine: PartitionedEngine): Promise<void> {
  const { spec } = ctx.opts;
  const defs = liveSegments().filter((d) => d.rule !== Q6.rule);
  let t0 = performance.now();
  await engine.loadSegments(defs);
  await engine.advanceTo(spec.now);
  const buildS = (performance.now() - t0) / 1000;
  log(`workers live: ${defs.length} segments built in ${buildS.toFixed(1)} s`);

  const events = liveStream(spec);
  const n = events.length;
  const chunks = Math.ceil(n / LIVE_CHUNK);
  const lat = new Float64Array(chunks);
  let changes = 0;
  /** Time the workers' engines spent applying the stream, summed over workers. */
  let applyMs = 0;
  const shipBefore = engine.shipping.eventMs;
  gc();
  t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let k = 0; k < chunks; k++) {
    const chunk = events.slice(k * LIVE_CHUNK, (k + 1) * LIVE_CHUNK);
    const sent = performance.now();
    inFlight.push(
      engine.ingest(chunk, { advance: true }).then((c) => {
        changes += c.count;
        for (const ms of c.workerMs) applyMs += ms;
        lat[k] = performance.now() - sent;
      }),
    );
    if (inFlight.length === LIVE_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const streamS = (performance.now() - t0) / 1000;
  const shipMs = engine.shipping.eventMs - shipBefore;
  lat.sort();
  t0 = performance.now();
  const day = await engine.advanceTo(spec.now + LIVE_SPAN_MS + DAY);
  const dayMs = performance.now() - t0;
  ctx.json.workers_live = {
    segments: defs.length,
    build_s: round(buildS, 2),
    events: n,
    events_per_s: Math.round(n / streamS),
    chunk: LIVE_CHUNK,
    in_flight: LIVE_IN_FLIGHT,
    p50_chunk_ms: round(percentile(lat, 50), 2),
    p99_chunk_ms: round(percentile(lat, 99), 2),
    ship_event_us: round((shipMs * 1000) / n, 3),
    worker_apply_us: round((applyMs * 1000) / n, 2),
    changes,
    advance_day_ms: round(dayMs, 1),
    advance_day_changes: day.count,
  };
  log(
    `workers live: ${fmtInt(n)} events in ${streamS.toFixed(2)} s (${fmtInt(Math.round(n / streamS))}/s), ${fmtInt(changes)} changes; one day: ${dayMs.toFixed(0)} ms`,
  );
}

/**
 * Fast restart on the workers: every worker writes its engine to its own file at once
 * (src/engine/partitioned/snapshot.ts), then a new engine of the same layout is started,
 * loaded from the files, given the segments again and takes the files' memberships;
 * its segments' counts are checked against the engine that wrote them.
 */
async function snapshotOnWorkers(ctx: BenchContext, engine: PartitionedEngine): Promise<void> {
  const { spec, workers } = ctx.opts;
  const defs = liveSegments().filter((d) => d.rule !== Q6.rule);
  const dir = mkdtempSync(join(tmpdir(), "slice-bench-workers-"));
  try {
    let t0 = performance.now();
    const bytes = await engine.saveSnapshot(dir);
    const saveS = (performance.now() - t0) / 1000;
    const counts = await Promise.all(
      defs.map(async (d) => (await engine.members(d.id, { ids: false })).count),
    );
    // The files hold memberships at the live stream's end and a day after: the clock of the restart.
    const at = spec.now + LIVE_SPAN_MS + DAY;
    gc();
    t0 = performance.now();
    const restored = await PartitionedEngine.start({
      ...benchEngineOptions(spec),
      clock: { now: () => at },
      workers,
    });
    try {
      await restored.restoreSnapshot(dir);
      await restored.loadSegments(defs);
      const maintained = await restored.restoreMaintained();
      const restoreS = (performance.now() - t0) / 1000;
      const again = await Promise.all(
        defs.map(async (d) => (await restored.members(d.id, { ids: false })).count),
      );
      const differs = defs.findIndex((_, k) => again[k] !== counts[k]);
      if (differs >= 0) {
        throw new Error(
          `restored from the workers' files, ${defs[differs].id} has ${again[differs]} members, not ${counts[differs]}`,
        );
      }
      ctx.json.workers_snapshot = {
        mb: round(bytes / 1e6, 1),
        save_s: round(saveS, 2),
        restore_s: round(restoreS, 2),
        maintained_taken: maintained,
      };
      log(
        `workers snapshot: ${(bytes / 1e6).toFixed(0)} MB written in ${saveS.toFixed(2)} s; restored (workers started, files read, ${defs.length} segments, memberships taken: ${maintained}) in ${restoreS.toFixed(2)} s`,
      );
    } finally {
      await restored.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const workersSection: Section = {
  name: "workers",

  async run(ctx) {
    const { spec, warmup, runs, workers } = ctx.opts;
    const engine = await PartitionedEngine.start({ ...benchEngineOptions(spec), workers });
    try {
      let t0 = performance.now();
      await engine.loadContacts(
        withProgress(generateContacts(spec, { birthday: true }), "contacts → workers", spec.contacts),
      );
      const contactsS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      await engine.loadEvents(withProgress(generateEvents(spec), "events → workers", spec.events));
      const eventsS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      await engine.finishLoad();
      const finishS = (performance.now() - t0) / 1000;
      const held = await engine.contactCount();
      if (held !== spec.contacts)
        throw new Error(`the workers hold ${held} contacts, ${spec.contacts} were generated`);
      const ship = engine.shipping;
      ctx.json.workers = workers;
      ctx.json.workers_load = {
        contacts_s: round(contactsS, 2),
        events_s: round(eventsS, 2),
        finish_s: round(finishS, 2),
        ship_contact_us: round((ship.contactMs * 1000) / Math.max(1, ship.contacts), 3),
        ship_event_us: round((ship.eventMs * 1000) / Math.max(1, ship.events), 3),
        event_batches: ship.eventBatches,
      };
      log(
        `workers loaded: ${workers} workers, ${engine.partitions} partitions; contacts ${contactsS.toFixed(1)} s, events ${eventsS.toFixed(1)} s, finish ${finishS.toFixed(1)} s`,
      );

      for (const q of QUERIES) {
        const f = ctx.queries[q.id];
        try {
          engine.validate(q.rule);
        } catch (e) {
          log(`workers ${q.id}: not evaluated (${(e as Error).message})`);
          if (f) f.workers_ms = null;
          continue;
        }
        // The slowest worker's time in its engine, per call: the rest of a call's time is
        // the coordinator's (checking the rule, the messages, other rounds of a rank query).
        const inEngine: number[] = [];
        const t = await timeRuns(
          async () => {
            const m = await engine.evaluate(q.rule, spec.now, { ids: false });
            inEngine.push(Math.max(...m.workerMs));
            return m.count;
          },
          warmup,
          runs,
        );
        const engineMs = median(inEngine.slice(warmup));
        const expected = ctx.sliceRows.get(q.id);
        if (expected) {
          const rows = Int32Array.from((await engine.evaluate(q.rule, spec.now)).ids, contactNumber).sort();
          if (rows.length !== expected.length || rows.some((v, i) => v !== expected[i])) {
            throw new Error(
              `${q.id}: the workers' ${rows.length} ids differ from the one-thread engine's ${expected.length}`,
            );
          }
        }
        if (f) {
          f.workers_ms = round(t.ms, 3);
          f.workers_engine_ms = round(engineMs, 3);
        } else
          ctx.queries[q.id] = {
            rows: t.value,
            slice_ms: Number.NaN,
            duckdb_ms: null,
            workers_ms: round(t.ms, 3),
            workers_engine_ms: round(engineMs, 3),
          };
        log(
          `workers ${q.id}: ${fmtInt(t.value)} rows, median ${t.ms.toFixed(2)} ms (${t.samples.map((s) => s.toFixed(1)).join(", ")}); slowest worker's engine ${engineMs.toFixed(2)} ms`,
        );
      }
      await liveOnWorkers(ctx, engine);
      await snapshotOnWorkers(ctx, engine);
    } finally {
      await engine.close();
    }
  },

  report(ctx) {
    const w = ctx.json.workers_load as Record<string, number> | undefined;
    if (!w) return [];
    const rows: string[][] = [
      [
        "query",
        "one thread ms",
        `${ctx.json.workers} workers ms`,
        "in engines ms",
        "duckdb ms",
        "duckdb/one",
        "duckdb/workers",
      ],
    ];
    for (const q of QUERIES) {
      const f = ctx.queries[q.id];
      if (!f) continue;
      rows.push([
        q.id,
        Number.isNaN(f.slice_ms) ? "-" : f.slice_ms.toFixed(2),
        f.workers_ms == null ? "-" : f.workers_ms.toFixed(2),
        f.workers_engine_ms === undefined ? "-" : f.workers_engine_ms.toFixed(2),
        f.duckdb_ms === null ? "-" : f.duckdb_ms.toFixed(2),
        Number.isNaN(f.slice_ms) ? "-" : ratio(f.slice_ms, f.duckdb_ms),
        ratio(f.workers_ms, f.duckdb_ms),
      ]);
    }
    const l = ctx.json.workers_live as Record<string, number> | undefined;
    const one = ctx.json.live as Record<string, number> | undefined;
    const live = l
      ? [
          `live on ${ctx.json.workers} workers: ${l.segments} segments (the rank one left out), ${fmtInt(l.events)} events in chunks of ${fmtInt(l.chunk)} (${l.in_flight} in flight): ${fmtInt(l.events_per_s)} events/s${one ? ` (one thread, 100 segments: ${fmtInt(one.events_per_s)})` : ""}; chunk p50 ${l.p50_chunk_ms} ms, p99 ${l.p99_chunk_ms} ms; coordinator ${l.ship_event_us} µs per event, a worker's engine ${l.worker_apply_us} µs; ${fmtInt(l.changes)} changes; advanceTo(+1 day) ${l.advance_day_ms} ms`,
        ]
      : [];
    const snap = ctx.json.workers_snapshot as Record<string, number | boolean> | undefined;
    const restart = snap
      ? [
          `restart on ${ctx.json.workers} workers from their snapshot files: ${snap.mb} MB written in ${snap.save_s} s, read back with the segments' memberships taken (${snap.maintained_taken}) in ${snap.restore_s} s`,
        ]
      : [];
    return [
      `engine on ${ctx.json.workers} worker threads: load contacts ${w.contacts_s} s, events ${w.events_s} s, finish ${w.finish_s} s; shipping ${w.ship_contact_us} µs per contact, ${w.ship_event_us} µs per event (${fmtInt(w.event_batches)} batches)`,
      ...table(rows),
      ...live,
      ...restart,
    ];
  },
};
