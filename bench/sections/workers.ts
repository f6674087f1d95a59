/**
 * The engine split over worker threads (src/engine/partitioned/): the same data set
 * generated again and loaded through the coordinator, which checks each write and ships
 * it, encoded, to the worker of its contact's partition; then Q1–Q4, Q7 and Q8 timed as
 * the slice section times them, answered by every worker at once, with the ids checked
 * against the one-thread engine's. Q6 is a rank condition, which the workers do not
 * evaluate yet (docs/cluster.md).
 */
import { contactNumber, generateContacts, generateEvents, TIME_ZONE } from "../../src/demo/generate.ts";
import { PartitionedEngine } from "../../src/engine/partitioned/partitioned-engine.ts";
import type { Section } from "../context.ts";
import { QUERIES } from "../queries.ts";
import { fmtInt, log, round, table, timeRuns, withProgress } from "../util.ts";

function ratio(ms: number | null | undefined, duck: number | null): string {
  if (ms == null || duck === null) return "-";
  const r = duck / ms;
  return `${r < 1 ? r.toFixed(2) : r.toFixed(1)}×`;
}

export const workersSection: Section = {
  name: "workers",

  async run(ctx) {
    const { spec, warmup, runs, workers } = ctx.opts;
    const engine = await PartitionedEngine.start({
      timeZone: TIME_ZONE,
      fields: [
        { key: "plan", type: "string" },
        { key: "birthday", type: "date" },
      ],
      clock: { now: () => spec.now },
      defaultSegments: false,
      workers,
    });
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
        const t = await timeRuns(
          async () => (await engine.evaluate(q.rule, spec.now, { ids: false })).count,
          warmup,
          runs,
        );
        const expected = ctx.sliceRows.get(q.id);
        if (expected) {
          const rows = Int32Array.from((await engine.evaluate(q.rule, spec.now)).ids, contactNumber).sort();
          if (rows.length !== expected.length || rows.some((v, i) => v !== expected[i])) {
            throw new Error(
              `${q.id}: the workers' ${rows.length} ids differ from the one-thread engine's ${expected.length}`,
            );
          }
        }
        if (f) f.workers_ms = round(t.ms, 3);
        else
          ctx.queries[q.id] = {
            rows: t.value,
            slice_ms: Number.NaN,
            duckdb_ms: null,
            workers_ms: round(t.ms, 3),
          };
        log(
          `workers ${q.id}: ${fmtInt(t.value)} rows, median ${t.ms.toFixed(2)} ms (${t.samples.map((s) => s.toFixed(1)).join(", ")})`,
        );
      }
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
        f.duckdb_ms === null ? "-" : f.duckdb_ms.toFixed(2),
        Number.isNaN(f.slice_ms) ? "-" : ratio(f.slice_ms, f.duckdb_ms),
        ratio(f.workers_ms, f.duckdb_ms),
      ]);
    }
    return [
      `engine on ${ctx.json.workers} worker threads: load contacts ${w.contacts_s} s, events ${w.events_s} s, finish ${w.finish_s} s; shipping ${w.ship_contact_us} µs per contact, ${w.ship_event_us} µs per event (${fmtInt(w.event_batches)} batches)`,
      ...table(rows),
      "Q6 (a rank condition) is not evaluated by the workers yet.",
    ];
  },
};
