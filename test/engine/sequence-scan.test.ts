/**
 * The whole-population loop of sequences (`src/engine/sequence-scan.ts`) against the
 * per-contact test: on random contacts and events, many of them exactly on a deadline
 * (start + within), on a window's ends or one millisecond either side, `evaluate` must
 * give, for every contact, what `matches` gives. Sequences with and without negative
 * steps; some contacts removed and some rules an `or` of two sequences, so that the
 * loop also sees masks with holes. Events are appended one by one, bulk loaded, or
 * loaded as one columnar batch (as at start-up).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventColumns, type PropBatch } from "../../src/engine/events.ts";
import { Engine, type EventInput } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { parseDuration, shift } from "../../src/rules/time.ts";

const NOW = Date.parse("2026-03-29T12:00:00Z"); // the Paris DST switch was this morning
const CONTACTS = 70; // more than two words of a bitset, the last one partial
const WITHIN = ["5m", "1h", "1d"] as const;
const WINDOWS = [
  null,
  { in_last: "1h" },
  { in_last: "1d" },
  { in_last: "30d" },
  { between_ago: ["2d", "1h"] },
];
const TYPES = ["cart_added", "cart_added", "order_placed", "page_viewed", "cart_removed"];

type Within = (typeof WITHIN)[number];
type Window = (typeof WINDOWS)[number];

interface SeqShape {
  middle: boolean;
  filtered: boolean;
  negative: boolean;
  second: boolean;
  within: Within;
  window: Window;
}

const shapeArb: fc.Arbitrary<SeqShape> = fc.record({
  middle: fc.boolean(),
  filtered: fc.boolean(),
  negative: fc.boolean(),
  second: fc.boolean(),
  within: fc.constantFrom(...WITHIN),
  window: fc.constantFrom(...WINDOWS),
});

function sequence(s: SeqShape): RuleNode {
  const last = s.negative
    ? { event: "order_placed", not: true as const }
    : {
        event: "order_placed",
        ...(s.filtered ? { where: [{ property: "amount", op: "gt" as const, value: 50 }] } : {}),
      };
  return {
    type: "sequence",
    steps: [
      s.filtered
        ? { event: "cart_added", where: [{ property: "amount", op: "gt", value: 50 }] }
        : { event: "cart_added" },
      ...(s.middle ? [{ event: "page_viewed" }] : []),
      last,
      ...(s.negative && s.second ? [{ event: "cart_removed", not: true as const }] : []),
    ],
    within: s.within,
    ...(s.window === null ? {} : { window: s.window }),
  } as RuleNode;
}

/** Instants where answers turn: now, the window's ends, deadlines landing on them. */
function anchors(tz: string): number[] {
  const back = (t: number, d: string) => shift(t, parseDuration(d), -1, tz);
  const out = new Set<number>([NOW]);
  for (const w of ["1h", "1d", "2d", "30d"]) out.add(back(NOW, w));
  for (const a of [...out]) for (const d of WITHIN) out.add(back(a, d));
  return [...out];
}

interface EventSpec {
  contact: number;
  type: string;
  anchor: number;
  /** ms from the anchor; mostly -1, 0 or 1 */
  delta: number;
  amount: number;
}

const eventArb = (n: number): fc.Arbitrary<EventSpec> =>
  fc.record({
    contact: fc.integer({ min: 0, max: CONTACTS - 1 }),
    type: fc.constantFrom(...TYPES),
    anchor: fc.integer({ min: 0, max: n - 1 }),
    delta: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(-1, 0, 1) },
      { weight: 1, arbitrary: fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 }) },
    ),
    amount: fc.constantFrom(10, 50, 51),
  });

const caseArb = fc.constantFrom("UTC", "Europe/Paris").chain((tz) => {
  const at = anchors(tz);
  return fc.record({
    tz: fc.constant(tz),
    events: fc.array(eventArb(at.length), { minLength: 100, maxLength: 400 }),
    anchors: fc.constant(at),
    load: fc.constantFrom("append", "bulk", "columns"),
    removed: fc.uniqueArray(fc.integer({ min: 0, max: CONTACTS - 1 }), { maxLength: 8 }),
    rules: fc.array(fc.tuple(shapeArb, fc.option(shapeArb, { nil: null })), { minLength: 1, maxLength: 4 }),
  });
});

/** The events as one columnar batch, as a start-up from a store loads them. */
function asColumns(engine: Engine, events: EventInput[]): EventColumns {
  const types = [...new Set(events.map((e) => e.type))];
  const n = events.length;
  const type = Int32Array.from(events, (e) => types.indexOf(e.type));
  const contact = Int32Array.from(events, (e) => engine.contacts.index(e.contact_id as string) ?? -1);
  const time = Float64Array.from(events, (e) => e.timestamp as number);
  const props: PropBatch[] = types.map((_, t) => ({
    type: t,
    path: "amount",
    num: Float64Array.from(events, (e, i) => (type[i] === t ? (e.properties?.amount as number) : Number.NaN)),
    str: null,
    other: null,
  }));
  return new EventColumns(n, types, type, contact, time, props);
}

describe("sequences over the whole population", () => {
  it("evaluate gives every contact what matches gives", () => {
    let members = 0;
    let others = 0;
    fc.assert(
      fc.property(caseArb, (k) => {
        const engine = new Engine({ timeZone: k.tz, clock: { now: () => NOW }, defaultSegments: false });
        const ids = Array.from({ length: CONTACTS }, (_, i) => `c${i}`);
        for (const id of ids) engine.upsertContact({ id });
        const events: EventInput[] = k.events.map((e) => ({
          contact_id: ids[e.contact],
          type: e.type,
          timestamp: k.anchors[e.anchor] + e.delta,
          properties: { amount: e.amount },
        }));
        if (k.load === "bulk") engine.loadEvents(events);
        else if (k.load === "columns") engine.loadEvents(asColumns(engine, events));
        else for (const e of events) engine.addEvent(e);
        for (const c of k.removed) engine.removeContact(ids[c]);
        const alive = ids.filter((_, i) => !k.removed.includes(i));
        for (const [a, b] of k.rules) {
          const rule: RuleNode =
            b === null ? sequence(a) : { type: "or", conditions: [sequence(a), sequence(b)] };
          const q = engine.compile(rule, NOW);
          const all = q.evaluate();
          for (const id of alive) {
            const m = q.matches(id);
            expect(all.has(id), `${id}: ${JSON.stringify(rule)}`).toBe(m);
            if (m) members++;
            else others++;
          }
          for (const id of k.removed) expect(all.has(ids[id])).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
    // The cases must hold both answers often, or the comparison proves little.
    expect(members).toBeGreaterThan(1000);
    expect(others).toBeGreaterThan(members);
  });

  it("finds the abandoned carts of a mixed population, deadline and window edges included", () => {
    const engine = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
    const H = 3_600_000;
    const D = 24 * H;
    const carts: [string, number, number | null][] = [
      // contact, cart at, order at (null: none)
      ["due", NOW - H, null], // deadline exactly now
      ["not-due", NOW - H + 1, null], // deadline 1 ms ahead
      ["ordered-at-deadline", NOW - 2 * H, NOW - H],
      ["ordered-after-deadline", NOW - 2 * H, NOW - H + 1],
      ["window-start", NOW - 30 * D + 1, null], // first instant inside the 30 days
      ["window-out", NOW - 30 * D, null], // just outside
      ["no-cart", Number.NaN, NOW - H],
    ];
    for (const [id, cart, order] of carts) {
      engine.upsertContact({ id });
      if (!Number.isNaN(cart)) engine.addEvent({ contact_id: id, type: "cart_added", timestamp: cart });
      if (order !== null) engine.addEvent({ contact_id: id, type: "order_placed", timestamp: order });
    }
    const rule = {
      type: "sequence",
      steps: [{ event: "cart_added" }, { event: "order_placed", not: true }],
      within: "1h",
      window: { in_last: "30d" },
    };
    const got = engine.evaluate(rule, NOW).ids().sort();
    expect(got).toEqual(["due", "ordered-after-deadline", "window-start"]);
    for (const [id] of carts) expect(engine.matches(id, engine.validate(rule), NOW)).toBe(got.includes(id));
  });
});
