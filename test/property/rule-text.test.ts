/**
 * The text form round trip (SPEC §3.1): printing a rule and reading the text back
 * gives the same rule, over the rules the engine property tests use and over wilder
 * rules that the schema accepts but validation would refuse (odd names, values that
 * do not fit their operator), which the printer must still write.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CALENDAR_PERIODS } from "../../src/rules/calendar.ts";
import { defaultSegments } from "../../src/rules/defaults.ts";
import { ALL_OPS } from "../../src/rules/operators.ts";
import {
  MEASURE_FNS,
  type PropertyFilter,
  type RuleNode,
  RuleSchema,
  type Window,
} from "../../src/rules/schema.ts";
import { parseRuleText, printRule } from "../../src/rules/text/index.ts";
import { DEFAULT_IDS, nowArb, ruleArb, timeEnv } from "../reference/arbitraries.ts";
import { CPU_BOUND } from "../support/cpu-bound.ts";

function roundTrips(rule: RuleNode): void {
  const text = printRule(rule);
  const back = parseRuleText(text);
  // fast-check builds records without a prototype; the clone gives them Object's, as JSON.parse does.
  expect(back).toStrictEqual(structuredClone(rule));
  expect(RuleSchema.safeParse(back).success).toBe(true);
  expect(printRule(back)).toBe(text);
}

const referenceRuleArb = nowArb.chain(({ now, timeZone, focus, hotTypes }) =>
  ruleArb(timeEnv(now, timeZone, focus, hotTypes), [...DEFAULT_IDS, "s0", "seg-1"], 3, {
    field: 4,
    dateField: 2,
    profile: 1,
    event: 4,
    filtered: 1,
    sequence: 2,
    negativeSequence: 1,
    segment: 1,
    bucket: 1,
  }),
);

// ---------------------------------------------------------------- wild rules

const jsonLeafArb = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "30d",
    "1mo",
    "2026-01-01",
    "2026-01-01T10:00:00+02:00",
    "0d",
    "",
    ' \n\t"\\',
    "\u2028",
    "\ud800",
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(-0, 1e21, 5e-7, Number.MAX_SAFE_INTEGER + 2),
  fc.boolean(),
  fc.constant(null),
);
const jsonValueArb: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    jsonLeafArb,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), tie("v"), { maxKeys: 3 }),
  ),
})).v;

const nameArb = fc.oneof(
  fc.constantFrom(
    "country",
    "order.total",
    "and",
    "Or",
    "NOT",
    "in",
    "count",
    "all",
    "json",
    "did",
    "is",
    "a b",
    "é",
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const eventTypeArb = fc.oneof(
  fc.constantFrom("order_placed", "order.placed", "shop:cart-added", "123", "and", "count", "where", "then"),
  fc.stringMatching(/^[a-z0-9_.:-]{1,12}$/),
);
const durationArb = fc
  .tuple(fc.integer({ min: 1, max: 999_999 }), fc.constantFrom("m", "h", "d", "w", "mo", "y"))
  .map(([n, u]) => `${n}${u}`);
const instantArb = fc.oneof(
  fc.constantFrom(
    "2026-01-01",
    "2026-01-01T00:00:00Z",
    "2026-03-29T02:30",
    "2026-01-01T10+0230",
    "yesterday",
  ),
  fc.string(),
);
const windowArb: fc.Arbitrary<Window> = fc.oneof(
  durationArb.map((d) => ({ in_last: d })),
  fc.tuple(durationArb, durationArb).map((p) => ({ between_ago: p })),
  instantArb.map((t) => ({ after: t })),
  instantArb.map((t) => ({ before: t })),
  fc.tuple(instantArb, instantArb).map((p) => ({ between: p })),
  fc.constantFrom(...CALENDAR_PERIODS).map((p): Window => ({ during: p })),
);
const NO_VALUE_OPS = new Set(["is_set", "is_not_set", "is_empty", "is_not_empty"]);
/** Mostly an operator with a value of the shape it takes; sometimes one with a value that does not fit, or none. */
const opValueArb: fc.Arbitrary<{ op: string; value?: unknown }> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(...ALL_OPS).chain((op) =>
      NO_VALUE_OPS.has(op)
        ? fc.constant({ op })
        : (op === "between" ? fc.tuple(jsonValueArb, jsonValueArb) : jsonValueArb).map((value) => ({
            op,
            value,
          })),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constantFrom(...ALL_OPS), value: jsonValueArb }, { requiredKeys: ["op"] }),
  },
);
const filterArb = fc
  .tuple(
    nameArb.filter((n) => n.length <= 200),
    opValueArb,
  )
  .map(([property, ov]) => ({ property, ...ov }));
const whereArb: fc.Arbitrary<PropertyFilter[] | undefined> = fc.option(
  fc.oneof(
    { weight: 5, arbitrary: fc.array(filterArb, { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant<PropertyFilter[]>([]) },
  ),
  { nil: undefined },
);

const wildLeafArb: fc.Arbitrary<RuleNode> = fc.oneof(
  fc.tuple(nameArb, opValueArb).map(([field, ov]) => ({ type: "field" as const, field, ...ov })),
  fc.record({
    type: fc.constant("segment" as const),
    op: fc.constantFrom("in" as const, "not_in" as const),
    segment: nameArb,
  }),
  fc
    .record(
      {
        event: eventTypeArb,
        where: whereArb,
        window: windowArb,
        measure: fc.record(
          { fn: fc.constantFrom(...MEASURE_FNS), property: nameArb.filter((n) => n.length <= 200) },
          { requiredKeys: ["fn"] },
        ),
        ov: opValueArb,
      },
      { requiredKeys: ["event"] },
    )
    .map(({ ov, ...e }) => {
      const node: Record<string, unknown> = { type: "event" };
      for (const [k, v] of Object.entries({ ...e, ...ov })) if (v !== undefined) node[k] = v;
      return node as RuleNode;
    }),
  fc
    .record(
      {
        steps: fc.array(
          fc.tuple(eventTypeArb, whereArb, fc.boolean()).map(([event, where, not]) => {
            const step = where ? { event, where } : { event };
            // The schema takes a negative step anywhere; validation places them.
            return not ? { ...step, not: true as const } : step;
          }),
          { minLength: 2, maxLength: 4 },
        ),
        within: durationArb,
        window: windowArb,
      },
      { requiredKeys: ["steps", "within"] },
    )
    .map((s) => ({ type: "sequence" as const, ...s })),
  fc
    .tuple(
      nameArb.filter((n) => n.length <= 200 && !n.includes("\u0000")),
      opValueArb,
    )
    .map(([seed, ov]) => ({ type: "bucket" as const, seed, ...ov })),
);

const wildRuleArb: fc.Arbitrary<RuleNode> = fc.letrec<{ r: RuleNode }>((tie) => ({
  r: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    wildLeafArb,
    fc
      .tuple(
        fc.constantFrom("and" as const, "or" as const),
        fc.array(tie("r"), { minLength: 1, maxLength: 4 }),
      )
      .map(([type, conditions]) => ({ type, conditions })),
    tie("r").map((condition) => ({ type: "not" as const, condition })),
  ),
})).r;

describe("rule text round trip", CPU_BOUND, () => {
  it("the default segments print and read back", () => {
    for (const s of defaultSegments()) roundTrips(s.rule);
  });

  it("rules of the reference arbitraries print and read back unchanged", () => {
    fc.assert(fc.property(referenceRuleArb, roundTrips), { seed: 20260517, numRuns: 1000 });
  });

  it("any rule the schema accepts prints and reads back unchanged", () => {
    const valid = wildRuleArb.filter((r) => RuleSchema.safeParse(r).success);
    fc.assert(fc.property(valid, roundTrips), { seed: 7310, numRuns: 1000 });
  });
});
