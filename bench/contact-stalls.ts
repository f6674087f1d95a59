/**
 * The longest one new contact waits when the contact count crosses a power of two.
 * An engine holds `--loaded` generated contacts (just under 2^20 by default), their
 * events and the `live` section's 100 segments, built; then `--added` contacts are
 * upserted one at a time, each timed, and the slowest are listed with the count they
 * took the engine to. Every structure sized per contact grows at such a crossing.
 *
 *   npm run bench:contact-stalls -- [--loaded 1040000] [--events 4000000] [--added 20000]
 */
import { type DatasetSpec, generateContacts, generateEvents, NOW } from "../src/demo/generate.ts";
import { Engine } from "../src/engine/index.ts";
import { liveSegments } from "./sections/live.ts";
import { benchEngineOptions } from "./sections/load.ts";
import { flag } from "./util.ts";

const loaded = flag("--loaded", 1_040_000);
const events = flag("--events", 4_000_000);
const added = flag("--added", 20_000);

const spec: DatasetSpec = { seed: 1, contacts: loaded, events, now: NOW };
const engine = new Engine(benchEngineOptions(spec));
let t0 = performance.now();
engine.loadContacts(generateContacts(spec, { birthday: true }));
engine.loadEvents(generateEvents(spec));
engine.loadSegments(liveSegments());
engine.advanceTo(spec.now);
console.log(
  `${loaded.toLocaleString("en")} contacts, ${events.toLocaleString("en")} events and 100 segments loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

const ms = new Float64Array(added);
t0 = performance.now();
for (let k = 0; k < added; k++) {
  const s = performance.now();
  engine.upsertContact({
    id: `added-${k}`,
    email: `added-${k}@example.com`,
    status: "subscribed",
    country: "FR",
    fields: { plan: "pro" },
  });
  ms[k] = performance.now() - s;
}
const total = performance.now() - t0;
const sorted = Float64Array.from(ms).sort();
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(3);
console.log(
  `${added.toLocaleString("en")} upserts in ${(total / 1000).toFixed(2)} s; p50 ${q(0.5)} / p99 ${q(0.99)} / p99.9 ${q(0.999)} / max ${sorted[sorted.length - 1].toFixed(1)} ms`,
);
const slowest = [...ms.keys()].sort((a, b) => ms[b] - ms[a]).slice(0, 8);
console.log(
  `slowest: ${slowest.map((k) => `${ms[k].toFixed(1)} ms at contact ${(loaded + k + 1).toLocaleString("en")}`).join(", ")}`,
);
