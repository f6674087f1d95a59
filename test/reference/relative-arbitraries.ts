/**
 * Rank conditions and quintile scores for the property tests: every measure they
 * take, percentages at and between the cut-off points of small populations (a
 * population of 3 to 12 contacts puts 10 %, 25 %, 33.33 % and 50 % on either side of
 * a contact), and score comparisons at every score.
 */
import fc from "fast-check";
import type { MeasureFn, RuleNode } from "../../src/rules/schema.ts";
import { EVENT_TYPES, propertyFilterArb, type TimeEnv, windowArb } from "./arbitraries.ts";

const RELATIVE_FNS: MeasureFn[] = [
  "count",
  "count",
  "sum",
  "sum",
  "avg",
  "min",
  "max",
  "distinct",
  "first_at",
  "last_at",
];

export const PERCENTS = [0.01, 5, 10, 12.5, 20, 25, 33.33, 40, 50, 66.67, 75, 90, 99.99, 100] as const;

const SCORE_OPS = ["gte", "gte", "lte", "eq", "gt", "lt", "neq", "between", "is_set", "is_not_set"] as const;

/** The event, filter, window and measure of a rank or quintile condition. */
function measuredArb(env: TimeEnv) {
  return fc
    .record({
      event: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...env.hotTypes) },
        { weight: 1, arbitrary: fc.constantFrom(...EVENT_TYPES) },
      ),
      where: fc.option(fc.array(propertyFilterArb(env), { minLength: 1, maxLength: 1 }), { freq: 4 }),
      window: fc.option(windowArb(env), { freq: 2 }),
      fn: fc.constantFrom(...RELATIVE_FNS),
      property: fc.constantFrom("amount", "amount", "amount", "currency", "order.total"),
    })
    .map(({ event, where, window, fn, property }) => ({
      type: "event" as const,
      event,
      ...(where === null ? {} : { where }),
      ...(window === null ? {} : { window }),
      ...(fn === "count"
        ? {}
        : fn === "first_at" || fn === "last_at"
          ? { measure: { fn } }
          : { measure: { fn, property: fn === "distinct" ? property : "amount" } }),
    }));
}

export function rankNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  return fc
    .tuple(measuredArb(env), fc.constantFrom("top" as const, "bottom" as const), fc.constantFrom(...PERCENTS))
    .map(([node, direction, percent]) => ({ ...node, rank: { direction, percent } }));
}

export function quintileNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  return fc
    .tuple(
      measuredArb(env),
      fc.constantFrom(...SCORE_OPS),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
    )
    .map(([node, op, a, b]): RuleNode => {
      const value =
        op === "between" ? [Math.min(a, b), Math.max(a, b)] : op.startsWith("is_") ? undefined : a;
      return { ...node, score: "quintile", op, ...(value === undefined ? {} : { value }) };
    });
}

/** Either form. */
export function relativeNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  return fc.oneof(rankNodeArb(env), quintileNodeArb(env));
}
