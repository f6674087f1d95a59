/** Generates the data set into a fresh engine and measures the memory it then holds. */

import { type DatasetSpec, generateContacts, generateEvents, TIME_ZONE } from "../../src/demo/generate.ts";
import { Engine, type EngineOptions } from "../../src/engine/index.ts";
import type { Section } from "../context.ts";
import { fmtInt, gc, log, round, withProgress } from "../util.ts";

/** The engine the query sections load the data set into: its fields, zone and fixed clock. */
export function benchEngineOptions(spec: DatasetSpec): EngineOptions {
  return {
    timeZone: TIME_ZONE,
    fields: [
      { key: "plan", type: "string" },
      { key: "birthday", type: "date" },
    ],
    clock: { now: () => spec.now },
    defaultSegments: false,
  };
}

export const loadSection: Section = {
  name: "load",

  async run(ctx) {
    const { spec } = ctx.opts;
    const engine = new Engine(benchEngineOptions(spec));

    let t0 = performance.now();
    engine.loadContacts(
      withProgress(generateContacts(spec, { birthday: true }), "contacts → Slice", spec.contacts),
    );
    ctx.loadSeconds.set("Slice contacts", (performance.now() - t0) / 1000);

    t0 = performance.now();
    engine.loadEvents(
      withProgress(generateEvents(spec), "events → Slice (then sorting and packing)", spec.events),
    );
    ctx.loadSeconds.set("Slice events", (performance.now() - t0) / 1000);
    if (engine.contactCount !== spec.contacts) {
      throw new Error(`the engine holds ${engine.contactCount} contacts, ${spec.contacts} were generated`);
    }
    ctx.engine = engine;

    // Before anything else (DuckDB above all) is loaded, and without garbage the load left behind.
    gc();
    const rss = process.memoryUsage().rss / 2 ** 20;
    ctx.json.rss_mb = round(rss, 1);
    log(
      `engine loaded: ${fmtInt(spec.contacts)} contacts, ${fmtInt(spec.events)} events, rss ${rss.toFixed(0)} MB`,
    );
  },

  report(ctx) {
    const lines = [...ctx.loadSeconds].map(([label, s]) => `load ${label}: ${s.toFixed(1)} s`);
    const gcNote = (globalThis as { gc?: unknown }).gc ? "after gc" : "no --expose-gc, so before gc";
    lines.push(`rss with the engine loaded (${gcNote}): ${ctx.json.rss_mb} MB`);
    return lines;
  },
};
