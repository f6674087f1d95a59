/**
 * Negative sequences maintained live: after every random event (some stamped in the
 * past, some at the deadline) and every clock move, the maintained membership equals
 * the reference evaluator's answer at that instant, and every change made by time
 * alone is stamped with the exact instant the rule flipped (the reference differs at
 * that instant and one millisecond before it).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine, type EventInput } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { parseDuration, shift } from "../../src/rules/time.ts";
import { FIELDS } from "../reference/arbitraries.ts";
import { type ReferenceContext, referenceMatches } from "../reference/evaluate.ts";

/** Near each of Paris's DST changes (a missing hour, a repeated one) and a month end. */
const STARTS = [Date.parse("2026-03-28T22:00:00Z"), Date.parse("2026-10-24T22:00:00Z")];
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const CONTACTS = ["c1", "c2"];
const WITHIN = ["5m", "30m", "1h", "1d"];

const ruleArb: fc.Arbitrary<RuleNode> = fc
  .record({
    middle: fc.boolean(),
    filtered: fc.boolean(),
    second: fc.boolean(),
    within: fc.constantFrom(...WITHIN),
    window: fc.constantFrom(null, "1h", "1d", "2d"),
  })
  .map(({ middle, filtered, second, within, window }) => ({
    type: "sequence" as const,
    steps: [
      { event: "cart_added" },
      ...(middle ? [{ event: "page_viewed" }] : []),
      filtered
        ? { event: "order_placed", where: [{ property: "amount", op: "gt", value: 50 }], not: true as const }
        : { event: "order_placed", not: true as const },
      ...(second ? [{ event: "cart_removed", not: true as const }] : []),
    ],
    within,
    ...(window === null ? {} : { window: { in_last: window } }),
  }));

type Step =
  /** `dt`: ms from now, or "<within>:<ms>" for that many ms from one `within` back. */
  | { kind: "event"; id: string; type: string; dt: number | string; amount: number }
  | { kind: "clock"; dt: number };

/** Offsets from now, many of them exactly one `within` back so that deadlines fall on now. */
const offset: fc.Arbitrary<number | string> = fc.oneof(
  fc.integer({ min: -2 * DAY, max: 10 * MIN }),
  fc.constantFrom(0, -1, 1, ...WITHIN.flatMap((w) => [-1, 0, 1].map((d) => `${w}:${d}`))),
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("event" as const),
      id: fc.constantFrom(...CONTACTS),
      type: fc.constantFrom("cart_added", "cart_added", "order_placed", "page_viewed", "cart_removed"),
      dt: offset,
      amount: fc.constantFrom(10, 50, 51, 100),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("clock" as const),
      dt: fc.oneof(fc.integer({ min: 1, max: 2 * HOUR }), fc.constantFrom(1, 5 * MIN, 30 * MIN, HOUR, DAY)),
    }),
  },
);

function run(t0: number, tz: string, rule: RuleNode, steps: Step[]): void {
  let now = t0;
  const engine = new Engine({ timeZone: tz, clock: { now: () => now }, defaultSegments: false });
  for (const id of CONTACTS) engine.upsertContact({ id });
  engine.defineSegment({ id: "s", rule });
  const events: EventInput[] = [];
  const reference = (id: string, at: number): boolean => {
    const ctx: ReferenceContext = { now: at, timeZone: tz, fields: FIELDS, segments: new Map() };
    return referenceMatches(
      rule,
      { id },
      events.filter((e) => e.contact_id === id),
      ctx,
    );
  };
  const check = (label: string) => {
    for (const id of CONTACTS) {
      expect(engine.members("s").has(id), `${label}: ${id} at ${new Date(now).toISOString()}`).toBe(
        reference(id, now),
      );
    }
  };
  steps.forEach((s, n) => {
    const label = `step ${n} ${JSON.stringify(s)}`;
    if (s.kind === "event") {
      let t: number;
      if (typeof s.dt === "string") {
        const [w, d] = s.dt.split(":");
        t = shift(now, parseDuration(w), -1, tz) + Number(d);
      } else t = now + s.dt;
      const e: EventInput = {
        type: s.type,
        contact_id: s.id,
        timestamp: t,
        properties: { amount: s.amount },
      };
      events.push(e);
      for (const ch of engine.addEvent(e)) {
        expect(ch.at, `${label}: a write's change is stamped with now`).toBe(now);
      }
    } else {
      now += s.dt;
      // Every change on the way, checked against the reference at its own instant.
      for (const ch of engine.advanceTo(now)) {
        const at = ch.at;
        const entered = ch.change === "entered";
        expect(reference(ch.contact_id, at), `${label}: ${JSON.stringify(ch)} at its instant`).toBe(entered);
        expect(reference(ch.contact_id, at - 1), `${label}: ${JSON.stringify(ch)} 1 ms before`).toBe(
          !entered,
        );
      }
    }
    check(label);
  });
}

describe("negative sequences, maintained live", () => {
  it("agree with the reference after every event and clock move, changes at their exact instants", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STARTS),
        fc.constantFrom("UTC", "Europe/Paris"),
        ruleArb,
        fc.array(stepArb, { minLength: 1, maxLength: 30 }),
        run,
      ),
      { numRuns: 300 },
    );
  });
});
