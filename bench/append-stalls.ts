/**
 * The longest a batch of 1,000 live appends waits on the event table's slab growing.
 * One event table is loaded in bulk (`--loaded` events, then laid out as at the end of
 * a load), then takes `--events` live appends, timed per batch; contacts are drawn
 * skewed (a few busy, many quiet: the square of a uniform draw), one numeric property
 * each. Run twice on the same draws: the slab grown ahead of need (the engine's default,
 * src/engine/slab-growth.ts) and grown all at once when full.
 *
 *   npm run bench:append-stalls -- [--contacts 100000] [--loaded 2000000] [--events 8000000] [--whole-first]
 */
import { Dictionary } from "../src/engine/dictionary.ts";
import { EventTable } from "../src/engine/events.ts";
import { flag } from "./util.ts";

const contacts = flag("--contacts", 100_000);
const loaded = flag("--loaded", 2_000_000);
const events = flag("--events", 8_000_000);
const BATCH = 1_000;

function run(label: string, growAheadFrom: number): void {
  EventTable.growAheadFrom = growAheadFrom;
  const table = new EventTable("t", contacts, new Dictionary());
  // The same pseudo-random contacts for both runs.
  let seed = 20261206;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const u = seed / 2 ** 32;
    return Math.floor(u * u * contacts);
  };
  for (let i = 0; i < loaded; i++) table.append(next(), i, { n: i }, false);
  table.compact(true);
  const batches = new Float64Array(Math.ceil(events / BATCH));
  const t0 = performance.now();
  for (let b = 0; b < batches.length; b++) {
    const s = performance.now();
    for (let i = b * BATCH; i < Math.min(events, (b + 1) * BATCH); i++) {
      table.append(next(), loaded + i, { n: i }, true);
    }
    batches[b] = performance.now() - s;
  }
  const total = performance.now() - t0;
  const sorted = Float64Array.from(batches).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2);
  const slow = batches.filter((ms) => ms > 20).length;
  console.log(
    `${label}: ${events.toLocaleString("en")} appends in ${(total / 1000).toFixed(2)} s; per ${BATCH} appends p50 ${q(0.5)} / p99 ${q(0.99)} / p99.9 ${q(0.999)} / max ${sorted[sorted.length - 1].toFixed(2)} ms; ${slow} batches over 20 ms; slab ${table.times.length.toLocaleString("en")} slots`,
  );
}

const order = process.argv.includes("--whole-first") ? ["whole", "ahead"] : ["ahead", "whole"];
for (const which of order) {
  if (which === "ahead") run("grown ahead of need", 1 << 16);
  else run("grown when full     ", Number.POSITIVE_INFINITY);
}
