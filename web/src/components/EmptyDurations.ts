/**
 * Durations left without their amount in the rule editor (DurationInput keeps the unit
 * alone): like the empty values of PolishValues.ts, the editor counts them and will not save.
 */
import type { Rule, Where, Window } from "../api.ts";
import { isEmptyDuration } from "./DurationInput.tsx";

/** Operators whose value is a duration. */
const DURATION_OPS = new Set(["in_last", "more_than_ago", "in_next", "anniversary_in_next"]);

const emptyValue = (op: string | undefined, v: unknown) =>
  op !== undefined && DURATION_OPS.has(op) && isEmptyDuration(v);

function windowEmpty(w: Window | undefined, path: string, out: string[]): void {
  if (!w) return;
  if ("in_last" in w && isEmptyDuration(w.in_last)) out.push(`${path}.window.in_last`);
  if ("between_ago" in w)
    w.between_ago.forEach((d, i) => {
      if (isEmptyDuration(d)) out.push(`${path}.window.between_ago[${i}]`);
    });
}

function whereEmpty(where: Where[] | undefined, path: string, out: string[]): void {
  where?.forEach((w, i) => {
    if (emptyValue(w.op, w.value)) out.push(`${path}.where[${i}].value`);
  });
}

/** The paths of the durations left without an amount in `rule`. */
export function emptyDurations(rule: Rule, path = "rule", out: string[] = []): string[] {
  switch (rule.type) {
    case "and":
    case "or":
      rule.conditions.forEach((c, i) => {
        emptyDurations(c, `${path}.conditions[${i}]`, out);
      });
      break;
    case "not":
      emptyDurations(rule.condition, `${path}.condition`, out);
      break;
    case "field":
      if (emptyValue(rule.op, rule.value)) out.push(`${path}.value`);
      break;
    case "event":
      if (emptyValue(rule.op, rule.value)) out.push(`${path}.value`);
      whereEmpty(rule.where, path, out);
      windowEmpty(rule.window, path, out);
      break;
    case "sequence":
      if (isEmptyDuration(rule.within)) out.push(`${path}.within`);
      rule.steps.forEach((s, i) => {
        whereEmpty(s.where, `${path}.steps[${i}]`, out);
      });
      windowEmpty(rule.window, path, out);
      break;
    case "segment":
    case "bucket":
      break;
  }
  return out;
}
