/**
 * `npm start` until the server exists: the engine on generated data (the benchmark's
 * generator), a few segments with their sizes and timings, one contact explained, and
 * a simulated day of live membership.
 */
import { parseArgs } from "node:util";
import { DAY, generateContacts, generateEvents, NOW } from "../src/demo/generate.ts";
import { Engine, type ExplainNode } from "../src/engine/index.ts";

const { values } = parseArgs({
  options: {
    contacts: { type: "string", default: "100000" },
    events: { type: "string", default: "1000000" },
  },
});
const spec = { seed: 7, contacts: Number(values.contacts), events: Number(values.events), now: NOW };
if (
  !Number.isSafeInteger(spec.contacts) ||
  spec.contacts < 1 ||
  !Number.isSafeInteger(spec.events) ||
  spec.events < 0
) {
  console.error("usage: npm start -- [--contacts N] [--events N]");
  process.exit(2);
}

let now = NOW;
const engine = new Engine({ fields: [{ key: "plan", type: "string" }], clock: { now: () => now } });
let t = performance.now();
engine.loadContacts(generateContacts(spec));
engine.loadEvents(generateEvents(spec));
console.log(
  `Loaded ${spec.contacts.toLocaleString("en")} contacts and ${spec.events.toLocaleString("en")} events in ${((performance.now() - t) / 1000).toFixed(1)} s (now = ${new Date(now).toISOString()})\n`,
);

const segments = [
  {
    id: "seg_engaged_na",
    name: "Engaged in North America",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "in", value: ["US", "CA"] },
        { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 2 },
      ],
    },
  },
  {
    id: "seg_big_spenders",
    name: "Ordered over 200 in the last 6 months but nothing in the last 30 days",
    rule: {
      type: "and",
      conditions: [
        {
          type: "event",
          event: "order_placed",
          window: { in_last: "180d" },
          measure: { fn: "sum", property: "amount" },
          op: "gt",
          value: 200,
        },
        { type: "event", event: "order_placed", window: { in_last: "30d" }, op: "eq", value: 0 },
      ],
    },
  },
  {
    id: "seg_cart_abandoners",
    name: "Added to cart in the last 7 days, no order since",
    rule: {
      type: "and",
      conditions: [
        { type: "event", event: "cart_added", window: { in_last: "7d" }, op: "gte", value: 1 },
        { type: "event", event: "order_placed", window: { in_last: "7d" }, op: "eq", value: 0 },
      ],
    },
  },
];
for (const s of segments) engine.defineSegment({ id: s.id, rule: s.rule });

console.log("segment".padEnd(74), "members".padStart(9), "  evaluated in");
for (const id of engine.segmentIds()) {
  const name = segments.find((s) => s.id === id)?.name ?? id;
  t = performance.now();
  const m = engine.evaluate(engine.segment(id)!.rule ?? id, now);
  const ms = performance.now() - t;
  console.log(name.padEnd(74), m.count.toLocaleString("en").padStart(9), `  ${ms.toFixed(1)} ms`);
}

const someone = engine.members("seg_big_spenders").ids()[0] ?? engine.contactIds()[0];
console.log(`\nWhy is ${someone} in "${segments[1].name}"?`);
const show = (n: ExplainNode, depth: number): void => {
  const pad = "  ".repeat(depth);
  const mark = n.result ? "✔" : "✘";
  if (n.type === "and" || n.type === "or") {
    console.log(`${pad}${mark} ${n.type}`);
    for (const c of n.conditions) show(c, depth + 1);
  } else if (n.type === "not") {
    console.log(`${pad}${mark} not`);
    show(n.condition, depth + 1);
  } else if (n.type === "event") {
    const m = n.measure.property ? `${n.measure.fn}(${n.measure.property})` : n.measure.fn;
    console.log(
      `${pad}${mark} ${n.event} ${m} = ${JSON.stringify(n.measured)}, needed ${n.needed.op} ${JSON.stringify(n.needed.value)}`,
    );
  } else console.log(`${pad}${mark} ${JSON.stringify(n)}`);
};
show(engine.explain(someone, "seg_big_spenders"), 1);

console.log("\nOne day passes with no new data:");
t = performance.now();
const changes = engine.advanceTo(now + DAY);
now += DAY;
const per = new Map<string, { entered: number; exited: number }>();
for (const c of changes) {
  const p = per.get(c.segment_id) ?? { entered: 0, exited: 0 };
  p[c.change]++;
  per.set(c.segment_id, p);
}
for (const [id, p] of per) console.log(`  ${id}: +${p.entered} −${p.exited}`);
console.log(`  ${changes.length.toLocaleString("en")} changes in ${(performance.now() - t).toFixed(0)} ms`);
