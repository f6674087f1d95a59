/**
 * Q1–Q4 and Q6–Q8: full evaluation, compiled from scratch every time (no cached membership).
 * Q5: Q2 re-evaluated for one contact at a time, as after an event for that contact.
 */

import { contactId, contactNumber, sampleContacts } from "../../src/demo/generate.ts";
import type { Section } from "../context.ts";
import { Q2, QUERIES } from "../queries.ts";
import { fmtInt, log, percentile, round, table, timeRuns } from "../util.ts";

function ratio(slice: number, duck: number | null): string {
  if (duck === null) return "-";
  const r = duck / slice;
  // Below 1 (DuckDB ahead) one decimal would round 0.05 and 0.14 alike.
  return `${r < 1 ? r.toFixed(2) : r.toFixed(1)}×`;
}

let q5Contacts = 0;

export const sliceSection: Section = {
  name: "slice",

  async run(ctx) {
    const engine = ctx.engine;
    if (!engine) throw new Error("the load section must run first");
    const { spec, warmup, runs } = ctx.opts;
    const now = spec.now;

    for (const q of QUERIES) {
      engine.validate(q.rule);
      const t = await timeRuns(() => engine.evaluate(q.rule, now).count, warmup, runs);
      const rows = Int32Array.from(engine.evaluate(q.rule, now).ids(), contactNumber).sort();
      if (rows.length !== t.value) throw new Error(`${q.id}: count ${t.value} but ${rows.length} ids`);
      ctx.sliceRows.set(q.id, rows);
      ctx.queries[q.id] = { rows: t.value, slice_ms: round(t.ms, 3), duckdb_ms: null };
      log(
        `Slice ${q.id}: ${fmtInt(t.value)} rows, median ${t.ms.toFixed(2)} ms (${t.samples.map((s) => s.toFixed(1)).join(", ")})`,
      );
    }

    // Q5: compiled once for the instant, like a server re-evaluating contacts as their events arrive.
    const q = engine.compile(Q2.rule, now);
    const ids = Array.from(sampleContacts(spec, ctx.opts.q5Samples), contactId);
    const q2 = engine.evaluate(Q2.rule, now);
    let agree = 0;
    for (const id of ids) if (q.matches(id) === q2.has(id)) agree++;
    if (agree !== ids.length) {
      throw new Error(
        `Q5: matches() disagrees with evaluate() for ${ids.length - agree} of ${ids.length} contacts`,
      );
    }
    const ns = new Float64Array(ids.length);
    let hits = 0;
    for (let i = 0; i < ids.length; i++) {
      const t0 = process.hrtime.bigint();
      const m = q.matches(ids[i]);
      ns[i] = Number(process.hrtime.bigint() - t0);
      if (m) hits++;
    }
    ns.sort();
    let total = 0;
    for (const x of ns) total += x;
    const q5 = {
      mean_us: round(total / Math.max(1, ns.length) / 1000, 3),
      p99_us: round(percentile(ns, 99) / 1000, 3),
    };
    ctx.json.Q5 = q5;
    q5Contacts = ids.length;
    log(
      `Slice Q5: ${fmtInt(ids.length)} contacts (${fmtInt(hits)} match), mean ${q5.mean_us} µs, p99 ${q5.p99_us} µs`,
    );
  },

  report(ctx) {
    const rows: string[][] = [["query", "rows", "slice ms", "duckdb ms", "duckdb/slice"]];
    for (const q of QUERIES) {
      const f = ctx.queries[q.id];
      if (!f) continue;
      rows.push([
        q.id,
        fmtInt(f.rows),
        f.slice_ms.toFixed(2),
        f.duckdb_ms === null ? "-" : f.duckdb_ms.toFixed(2),
        ratio(f.slice_ms, f.duckdb_ms),
      ]);
    }
    const q5 = ctx.json.Q5 as { mean_us: number; p99_us: number } | undefined;
    const lines = table(rows);
    if (q5) {
      lines.push(
        `Q5 (Q2 for one contact, ${fmtInt(q5Contacts)} contacts): mean ${q5.mean_us} µs, p99 ${q5.p99_us} µs`,
      );
    }
    const titles = [...QUERIES.map((q) => `${q.id}: ${q.title}`), "Q5: Q2 re-evaluated for one contact"];
    lines.push("", ...titles.sort());
    return lines;
  },
};
