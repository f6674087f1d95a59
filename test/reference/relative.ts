/**
 * Rank conditions and quintile scores in the reference evaluator, read from
 * docs/rules.md ("Rank conditions", "Quintile scores") word for word: every contact
 * of the workspace measured, the population counted, no index and no cut.
 */
import type { EventInput } from "../../src/engine/types.ts";
import type { EventNode } from "../../src/rules/schema.ts";
import { measure, type ReferenceContext } from "./evaluate.ts";

const NEGATIVE: Record<string, string> = { neq: "eq", is_not_set: "is_set" };

/** "The condition's measure, at now" for one member of the workspace; null is missing. */
function measured(n: EventNode, events: EventInput[], ctx: ReferenceContext): number | null {
  const m = measure({ ...n, rank: undefined, score: undefined }, events, ctx);
  return typeof m === "number" ? m : null;
}

/** The values of the population: every contact with a value, or, for a score, with a counted event. */
function populationValues(n: EventNode, ctx: ReferenceContext): Map<string, number> {
  const pop = ctx.population;
  if (pop === undefined) throw new Error("reference: a rank or quintile condition needs ctx.population");
  const out = new Map<string, number>();
  pop.forEach((p) => {
    const v = measured(n, p.events, ctx);
    if (v === null) return;
    if (n.score !== undefined) {
      const counted = measure(
        { type: "event", event: n.event, where: n.where, window: n.window },
        p.events,
        ctx,
      );
      if (counted === 0) return;
    }
    out.set(p.contact.id, v);
  });
  return out;
}

/**
 * "A contact is in the top p % when the contacts whose value is at least its own make
 * up at most p % of the population" (bottom: at most its own); p read to hundredths.
 */
function rankHolds(n: EventNode, id: string, ctx: ReferenceContext): boolean {
  const values = populationValues(n, ctx);
  const v = values.get(id);
  if (v === undefined) return false;
  const hundredths = Math.round(n.rank!.percent * 100);
  let beside = 0;
  for (const u of values.values()) if (n.rank!.direction === "top" ? u >= v : u <= v) beside++;
  return beside * 10_000 <= values.size * hundredths;
}

/** "1 + floor(5 × (the population's values strictly below the contact's) / (its size))". */
export function referenceScore(n: EventNode, id: string, ctx: ReferenceContext): number | null {
  const values = populationValues(n, ctx);
  const v = values.get(id);
  if (v === undefined) return null;
  let below = 0;
  for (const u of values.values()) if (u < v) below++;
  return 1 + Math.floor((5 * below) / values.size);
}

function compare(score: number, op: string, value: unknown): boolean {
  switch (op) {
    case "eq":
      return score === value;
    case "gt":
      return score > (value as number);
    case "gte":
      return score >= (value as number);
    case "lt":
      return score < (value as number);
    case "lte":
      return score <= (value as number);
    case "between": {
      const [a, b] = value as [number, number];
      return score >= a && score <= b;
    }
    case "is_set":
      return true;
    default:
      throw new Error(`reference: operator ${op} on a score`);
  }
}

/** Whether contact `id` satisfies a rank or quintile condition at `ctx.now`. */
export function relativeHolds(n: EventNode, id: string, ctx: ReferenceContext): boolean {
  if (n.rank !== undefined) return rankHolds(n, id, ctx);
  const op = n.op ?? "gte";
  // A missing score satisfies the negative operators, as a missing value does (SPEC §3.2).
  const positive = NEGATIVE[op];
  if (positive !== undefined) return !relativeHolds({ ...n, op: positive }, id, ctx);
  const score = referenceScore(n, id, ctx);
  return score !== null && compare(score, op, n.value);
}
