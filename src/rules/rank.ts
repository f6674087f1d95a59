/**
 * The arithmetic of population-relative conditions (docs/rules.md, "Rank conditions"
 * and "Quintile scores"), in integers so that every implementation — the engine, the
 * reference evaluator, SQL — agrees exactly:
 *
 * - top p %: a contact with value v is in when the contacts of the population whose
 *   value is ≥ v number at most floor(N · p / 100), N the population's size; bottom
 *   p %: the same with ≤. Ties are all in or all out, and the set never exceeds p %.
 * - quintile score: 1 + floor(5 · B / N), B the number of the population's values
 *   strictly below v: 1 to 5, equal values sharing the lower score.
 */
import type { MeasureFn } from "./schema.ts";

/** Measures a rank or quintile condition reads: numbers and instants. */
export const RELATIVE_MEASURES = [
  "count",
  "distinct",
  "sum",
  "avg",
  "min",
  "max",
  "first_at",
  "last_at",
] as const satisfies readonly MeasureFn[];

/** A percentage with at most two decimals as a whole number of hundredths of a percent. */
export function basisPoints(percent: number): number {
  return Math.round(percent * 100);
}

/** How many contacts may be at or beyond a member's value: floor(N · p / 100). */
export function rankRoom(population: number, basis: number): number {
  return Math.floor((population * basis) / 10_000);
}

/** The quintile score of a value with `below` values of the population strictly below it. */
export function quintileScore(below: number, population: number): number {
  return 1 + Math.floor((5 * below) / population);
}

/**
 * Whether a contact without matching events has the value 0 (count, distinct, sum) and
 * so is ranked, rather than having no value and being left out of the population.
 */
export function zeroWhenEmpty(fn: MeasureFn): boolean {
  return fn === "count" || fn === "distinct" || fn === "sum";
}
