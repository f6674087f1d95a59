/**
 * Live membership: 100 segments of mixed kinds (every rule form) maintained while new events
 * stream in and the clock moves, then one simulated day of clock with no new data.
 *
 * - events_per_s: events applied through the engine (validation, storage, dependency
 *   lookup, re-evaluation of the affected segments, rescheduling, plus the timers the
 *   moving clock makes due), over the whole stream.
 * - p99_apply_ms: per event, from the call to the returned membership changes.
 * - advance_day_ms: `advanceTo(now + 1 day)` right after the stream.
 */

import { COUNTRIES, DAY, type DatasetSpec, generateEvents } from "../../src/demo/generate.ts";
import type { EventInput } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/index.ts";
import type { Section } from "../context.ts";
import { Q1, Q2, Q3, Q4, Q6, Q7, Q8 } from "../queries.ts";
import { fmtInt, gc, log, percentile, round, table } from "../util.ts";

const WINDOWS = ["1h", "1d", "7d", "14d", "30d", "60d", "90d", "180d"];

/** 100 segment definitions of mixed kinds over the bench data set. */
export function liveSegments(): { id: string; rule: RuleNode }[] {
  const out: { id: string; rule: RuleNode }[] = [];
  const add = (rule: RuleNode) => out.push({ id: `seg_${String(out.length).padStart(3, "0")}`, rule });
  for (const q of [Q1, Q2, Q3, Q4]) add(q.rule);
  // Profile fields.
  for (let i = 0; i < 16; i++) {
    add({
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "in", value: COUNTRIES.slice(i, i + 3) as string[] },
        { type: "field", field: "status", op: "eq", value: "subscribed" },
        ...(i % 2 === 0 ? [{ type: "field" as const, field: "plan", op: "neq", value: "free" }] : []),
      ],
    });
  }
  // Windowed counts of every event type.
  const types = ["email_opened", "email_clicked", "page_viewed", "cart_added", "email_sent", "order_placed"];
  for (let i = 0; i < 30; i++) {
    add({
      type: "event",
      event: types[i % types.length],
      window: { in_last: WINDOWS[i % WINDOWS.length] },
      op: i % 3 === 0 ? "eq" : "gte",
      value: i % 3 === 0 ? 0 : 1 + (i % 4),
    });
  }
  // Sums and averages of order amounts.
  for (let i = 0; i < 14; i++) {
    add({
      type: "event",
      event: "order_placed",
      window: { in_last: WINDOWS[(i + 3) % WINDOWS.length] },
      measure: { fn: i % 2 === 0 ? "sum" : "avg", property: "amount" },
      op: "gt",
      value: 50 + i * 25,
    });
  }
  // Recency: last open / first order.
  for (let i = 0; i < 10; i++) {
    add({
      type: "event",
      event: i % 2 === 0 ? "email_opened" : "order_placed",
      measure: { fn: i % 2 === 0 ? "last_at" : "first_at" },
      op: i % 4 < 2 ? "in_last" : "more_than_ago",
      value: WINDOWS[i % WINDOWS.length],
    });
  }
  // Filters on properties, and "between N and M ago".
  for (let i = 0; i < 10; i++) {
    add({
      type: "event",
      event: i % 2 === 0 ? "email_clicked" : "order_placed",
      where:
        i % 2 === 0
          ? [{ property: "campaign_id", op: "lt", value: 20 * (i + 1) }]
          : [{ property: "currency", op: "eq", value: "EUR" }],
      window: { between_ago: ["90d", WINDOWS[i % 5]] },
      op: "gte",
      value: 1,
    });
  }
  // Sequences: cart then order.
  for (let i = 0; i < 5; i++) {
    add({
      type: "sequence",
      steps: [{ event: "cart_added" }, { event: "order_placed" }],
      within: ["1h", "1d", "7d", "1d", "30d"][i],
      window: { in_last: ["30d", "90d", "180d", "7d", "60d"][i] },
    });
  }
  // The second edition's forms: top 10 % spenders (Q6), cart abandoned (Q7), birthday
  // this month (Q8), a random holdout and a calendar window.
  add(Q6.rule);
  add(Q7.rule);
  add(Q8.rule);
  add({ type: "bucket", seed: "holdout", op: "lt", value: 10 });
  add({ type: "event", event: "email_opened", window: { during: "this_month" }, op: "gte", value: 1 });
  // References to the segments above.
  while (out.length < 100) {
    const k = out.length;
    add({
      type: "and",
      conditions: [
        { type: "segment", op: "in", segment: out[k % 20].id },
        { type: "segment", op: "not_in", segment: out[20 + (k % 40)].id },
      ],
    });
  }
  return out;
}

/** The live stream's new events come over the hour after `now`. */
export const LIVE_SPAN_MS = 3_600_000;

/** New events over the hour after `now`, in time order, drawn like the data set's. */
export function liveStream(spec: DatasetSpec): (EventInput & { timestamp: number })[] {
  const n = Math.min(200_000, Math.max(1_000, Math.floor(spec.events / 50)));
  return [...generateEvents({ ...spec, seed: spec.seed + 1, events: n })].map((e, k) => ({
    ...e,
    timestamp: spec.now + Math.floor(((k + 1) * LIVE_SPAN_MS) / n),
  }));
}

export const liveSection: Section = {
  name: "live",

  async run(ctx) {
    const engine = ctx.engine;
    if (!engine) throw new Error("the load section must run first");
    const { spec } = ctx.opts;
    const defs = liveSegments();

    let t0 = performance.now();
    engine.loadSegments(defs);
    engine.advanceTo(spec.now); // builds every segment's membership and every contact's timer
    const buildS = (performance.now() - t0) / 1000;
    log(`live: ${defs.length} segments built in ${buildS.toFixed(1)} s`);

    const span = LIVE_SPAN_MS;
    const events = liveStream(spec);
    const n = events.length;
    gc();
    const lat = new Float64Array(n);
    let changes = 0;
    let timersMs = 0;
    t0 = performance.now();
    for (let k = 0; k < n; k++) {
      const e = events[k];
      const b = performance.now();
      changes += engine.advanceTo(e.timestamp as number).length;
      timersMs += performance.now() - b;
      const a = process.hrtime.bigint();
      changes += engine.addEvent(e).length;
      lat[k] = Number(process.hrtime.bigint() - a) / 1e6;
    }
    const streamS = (performance.now() - t0) / 1000;
    let applyMs = 0;
    for (const x of lat) applyMs += x;
    lat.sort();

    t0 = performance.now();
    const dayChanges = engine.advanceTo(spec.now + span + DAY).length;
    const dayMs = performance.now() - t0;

    ctx.json.live = {
      segments: defs.length,
      build_s: round(buildS, 2),
      events: n,
      events_per_s: Math.round(n / streamS),
      p50_apply_ms: round(percentile(lat, 50), 4),
      p99_apply_ms: round(percentile(lat, 99), 4),
      max_apply_ms: round(lat[lat.length - 1], 3),
      mean_apply_ms: round(applyMs / n, 4),
      changes,
      stream_timers_ms: round(timersMs, 1),
      advance_day_ms: round(dayMs, 1),
      advance_day_changes: dayChanges,
    };
    log(
      `live: ${fmtInt(n)} events in ${streamS.toFixed(2)} s, ${fmtInt(changes)} changes; one day: ${dayMs.toFixed(0)} ms`,
    );
  },

  report(ctx) {
    const l = ctx.json.live as Record<string, number> | undefined;
    if (!l) return [];
    return [
      `Live membership: ${l.segments} segments (built from the loaded data in ${l.build_s} s)`,
      ...table([
        ["measure", "value"],
        ["events applied", fmtInt(l.events)],
        ["events/s (incl. timers)", fmtInt(l.events_per_s)],
        ["apply p50", `${l.p50_apply_ms} ms`],
        ["apply p99", `${l.p99_apply_ms} ms`],
        ["apply mean / max", `${l.mean_apply_ms} / ${l.max_apply_ms} ms`],
        ["membership changes", fmtInt(l.changes)],
        ["of which timers (clock moving)", `${l.stream_timers_ms} ms`],
        ["advanceTo(+1 day)", `${l.advance_day_ms} ms (${fmtInt(l.advance_day_changes)} changes)`],
      ]),
    ];
  },
};
