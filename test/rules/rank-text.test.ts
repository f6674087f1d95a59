/**
 * Rank conditions, quintile scores and the RFM shorthand in the text form and in
 * validation: each form both ways, the round trip over random nodes of the new forms
 * (including values validation would refuse), and the errors with their paths.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RuleValidationError } from "../../src/rules/errors.ts";
import { FieldRegistry } from "../../src/rules/fields.ts";
import { type RuleNode, RuleSchema } from "../../src/rules/schema.ts";
import { parseRuleText, printRule } from "../../src/rules/text/index.ts";
import { validateRule } from "../../src/rules/validate.ts";
import { DEFAULT_IDS, DEFAULT_LEAVES, nowArb, ruleArb, timeEnv } from "../reference/arbitraries.ts";
import { relativeNodeArb } from "../reference/relative-arbitraries.ts";

function roundTrips(rule: RuleNode): void {
  const text = printRule(rule);
  const back = parseRuleText(text);
  expect(back).toStrictEqual(structuredClone(rule));
  expect(RuleSchema.safeParse(back).success).toBe(true);
  expect(printRule(back)).toBe(text);
}

const ctx = { fields: new FieldRegistry([]), timeZone: "UTC", segments: new Map() };

function errors(rule: unknown): string[] {
  try {
    validateRule(rule, ctx);
    return [];
  } catch (e) {
    if (!(e instanceof RuleValidationError)) throw e;
    return e.issues.map((i) => `${i.path.replace(/^rule\./, "")}: ${i.message}`);
  }
}

describe("text form of rank and quintile conditions", () => {
  const cases: [string, RuleNode][] = [
    [
      "top 10% by sum(order_placed.amount, last 365d)",
      {
        type: "event",
        event: "order_placed",
        window: { in_last: "365d" },
        measure: { fn: "sum", property: "amount" },
        rank: { direction: "top", percent: 10 },
      },
    ],
    [
      "bottom 25% by count(email_opened)",
      { type: "event", event: "email_opened", rank: { direction: "bottom", percent: 25 } },
    ],
    [
      'top 33.33% by last_at(order_placed where currency = "EUR")',
      {
        type: "event",
        event: "order_placed",
        where: [{ property: "currency", op: "eq", value: "EUR" }],
        measure: { fn: "last_at" },
        rank: { direction: "top", percent: 33.33 },
      },
    ],
    [
      "quintile(sum(order_placed.amount)) >= 4",
      {
        type: "event",
        event: "order_placed",
        measure: { fn: "sum", property: "amount" },
        score: "quintile",
        op: "gte",
        value: 4,
      },
    ],
    [
      "quintile(count(order_placed, last 1y)) between 2 and 3",
      {
        type: "event",
        event: "order_placed",
        window: { in_last: "1y" },
        score: "quintile",
        op: "between",
        value: [2, 3],
      },
    ],
    [
      "quintile(last_at(order_placed)) is not set",
      {
        type: "event",
        event: "order_placed",
        measure: { fn: "last_at" },
        score: "quintile",
        op: "is_not_set",
      },
    ],
  ];
  for (const [text, json] of cases) {
    it(text, () => {
      expect(parseRuleText(text)).toStrictEqual(json);
      expect(printRule(json)).toBe(text);
      expect(errors(json)).toEqual([]);
    });
  }

  it("rfm_score reads into quintile scores of order_placed, and names another event", () => {
    expect(parseRuleText("rfm_score(recency) >= 4")).toStrictEqual({
      type: "event",
      event: "order_placed",
      measure: { fn: "last_at" },
      score: "quintile",
      op: "gte",
      value: 4,
    });
    expect(parseRuleText('rfm_score("frequency") <= 2')).toStrictEqual({
      type: "event",
      event: "order_placed",
      score: "quintile",
      op: "lte",
      value: 2,
    });
    expect(parseRuleText("RFM_SCORE(monetary) = 5")).toStrictEqual({
      type: "event",
      event: "order_placed",
      measure: { fn: "sum", property: "amount" },
      score: "quintile",
      op: "eq",
      value: 5,
    });
    expect(parseRuleText("rfm_score(monetary, purchase.total, last 2y) >= 4")).toStrictEqual({
      type: "event",
      event: "purchase",
      window: { in_last: "2y" },
      measure: { fn: "sum", property: "total" },
      score: "quintile",
      op: "gte",
      value: 4,
    });
    expect(printRule(parseRuleText("rfm_score(recency) >= 4"))).toBe("quintile(last_at(order_placed)) >= 4");
  });

  it("says what is wrong with an rfm_score or a quintile without a comparison", () => {
    expect(() => parseRuleText("rfm_score(loyalty) >= 4")).toThrow(/"loyalty" is not an RFM score/);
    expect(() => parseRuleText("rfm_score(recency, order_placed.amount) >= 4")).toThrow(
      /takes an event type without a property/,
    );
    expect(() => parseRuleText("quintile(sum(order_placed.amount))")).toThrow(
      /expected an operator: quintile/,
    );
  });

  it("top and bottom stay usable as field names", () => {
    expect(parseRuleText("top = 5")).toStrictEqual({ type: "field", field: "top", op: "eq", value: 5 });
    expect(parseRuleText("bottom is set")).toStrictEqual({ type: "field", field: "bottom", op: "is_set" });
  });

  it("random rank and quintile nodes, alone and in groups, print and read back unchanged", () => {
    const arb = nowArb.chain(({ now, timeZone, focus, hotTypes }) => {
      const leaf = relativeNodeArb(timeEnv(now, timeZone, focus, hotTypes));
      return fc.oneof(
        leaf,
        fc
          .array(leaf, { minLength: 2, maxLength: 3 })
          .map((conditions): RuleNode => ({ type: "or", conditions })),
        leaf.map((condition): RuleNode => ({ type: "not", condition })),
      );
    });
    fc.assert(fc.property(arb, roundTrips), { numRuns: 500 });
  });

  it("rules of the reference arbitraries with rank and quintile leaves among the others print and read back", () => {
    const arb = nowArb.chain(({ now, timeZone, focus, hotTypes }) =>
      ruleArb(timeEnv(now, timeZone, focus, hotTypes), [...DEFAULT_IDS, "s0"], 3, {
        ...DEFAULT_LEAVES,
        relative: 3,
      }),
    );
    fc.assert(fc.property(arb, roundTrips), { numRuns: 300 });
  });

  it("nodes the schema accepts but validation refuses still print and read back", () => {
    const wild = fc.record({
      percent: fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(-0, 0, 1e-7, 150),
      ),
      direction: fc.constantFrom("top" as const, "bottom" as const),
      fn: fc.constantFrom("count", "sum", "most_frequent", "first_at"),
      extra: fc.constantFrom("none", "op", "score", "count-measure"),
    });
    fc.assert(
      fc.property(wild, ({ percent, direction, fn, extra }) => {
        const base: RuleNode = {
          type: "event",
          event: "order_placed",
          ...(fn === "count"
            ? {}
            : { measure: { fn: fn as "sum", ...(fn === "first_at" ? {} : { property: "amount" }) } }),
          rank: { direction, percent },
          ...(extra === "op" ? { op: "gte", value: 3 } : {}),
          ...(extra === "score" ? { score: "quintile" as const, op: "eq", value: 1 } : {}),
        };
        const rule: RuleNode = extra === "count-measure" ? { ...base, measure: { fn: "count" } } : base;
        roundTrips(rule);
      }),
      { numRuns: 300 },
    );
  });
});

describe("validation of rank and quintile conditions", () => {
  const rank = (extra: object): unknown => ({
    type: "event",
    event: "order_placed",
    measure: { fn: "sum", property: "amount" },
    rank: { direction: "top", percent: 10 },
    ...extra,
  });

  it("refuses bad percentages, operators beside a rank, both forms at once and string measures", () => {
    expect(errors(rank({ rank: { direction: "top", percent: 0 } }))).toEqual([
      "rank.percent: expected a percentage above 0 and at most 100, with at most two decimals",
    ]);
    expect(errors(rank({ rank: { direction: "top", percent: 100.5 } }))).toHaveLength(1);
    expect(errors(rank({ rank: { direction: "top", percent: 12.345 } }))).toHaveLength(1);
    expect(errors(rank({ rank: { direction: "top", percent: 100 } }))).toEqual([]);
    expect(errors(rank({ rank: { direction: "up", percent: 10 } }))[0]).toMatch(
      /^rank\.direction: expected "top" or "bottom"/,
    );
    expect(errors(rank({ op: "gte", value: 3 }))).toEqual([
      "op: a rank condition takes no op or value: being in the top or bottom percent is the test",
    ]);
    expect(errors(rank({ score: "quintile", op: "gte", value: 3 }))).toEqual([
      'score: a condition has "rank" or "score", not both',
    ]);
    expect(errors(rank({ measure: { fn: "most_frequent", property: "currency" } }))).toEqual([
      'measure.fn: "most_frequent" cannot be ranked (use count, distinct, sum, avg, min, max, first_at, last_at)',
    ]);
    expect(errors(rank({ measure: { fn: "sum" } }))).toEqual(['measure.property: "sum" needs a property']);
  });

  it("refuses quintile scores without an operator or with one that does not fit a number", () => {
    const q = (extra: object) => ({ type: "event", event: "order_placed", score: "quintile", ...extra });
    expect(errors(q({}))).toEqual(["op: a quintile score needs an operator, as in >= 4"]);
    expect(errors(q({ op: "in_last", value: "3d" }))).toEqual([
      'op: "in_last" does not apply to a quintile score (a number from 1 to 5)',
    ]);
    expect(errors(q({ op: "gte", value: "4" }))).toHaveLength(1);
    expect(errors(q({ op: "between", value: [2, 4] }))).toEqual([]);
    expect(errors(q({ op: "is_set" }))).toEqual([]);
  });
});
