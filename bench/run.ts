/**
 * `npm run bench`: Slice against DuckDB on a generated data set (docs/performance.md).
 * Progress on stderr; the report on stdout, and with `--json` one JSON object as its
 * last line.
 */
import { parseArgs, USAGE, UsageError } from "./args.ts";
import type { BenchContext, Section } from "./context.ts";
import { duckdbSection } from "./sections/duckdb.ts";
import { ingestSection } from "./sections/ingest.ts";
import { liveSection } from "./sections/live.ts";
import { loadSection } from "./sections/load.ts";
import { sliceSection } from "./sections/slice.ts";
import { storeSection } from "./sections/store.ts";
import { syncSection } from "./sections/sync.ts";
import { workersSection } from "./sections/workers.ts";
import { fmtInt, log } from "./util.ts";

// In order: each may use what the ones before it left in the context.
// The live section goes last: it changes the engine's data and clock.
const SECTIONS: readonly Section[] = [
  loadSection,
  sliceSection,
  duckdbSection,
  workersSection,
  liveSection,
  storeSection,
  ingestSection,
  syncSection,
];

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { spec } = opts;
  const queries: BenchContext["queries"] = {};
  const ctx: BenchContext = {
    opts,
    engine: null,
    queries,
    sliceRows: new Map(),
    loadSeconds: new Map(),
    json: { contacts: spec.contacts, events: spec.events, queries },
  };
  const sections = SECTIONS.filter((s) => opts.only === null || opts.only.includes(s.name));
  for (const s of sections) {
    log(`section ${s.name}`);
    await s.run(ctx);
  }

  const out = [
    `Slice benchmark: ${fmtInt(spec.contacts)} contacts, ${fmtInt(spec.events)} events, seed ${spec.seed}, now ${new Date(spec.now).toISOString()}`,
    `node ${process.version}; medians of ${opts.runs} runs after ${opts.warmup} warm-up runs`,
    "",
  ];
  for (const s of sections) {
    const lines = s.report?.(ctx) ?? [];
    if (lines.length > 0) out.push(...lines, "");
  }
  if (opts.json) out.push(JSON.stringify(ctx.json));
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
