/**
 * Values left empty in the rule editor. An emptied input keeps its emptiness in the rule
 * (`""` for text, `null` for a number) instead of a stand-in such as 0 that would change
 * what the rule means; the input shows why beside it and the editor will not save.
 */
import type { Rule, Where } from "../api.ts";

export const EMPTY_TEXT = "enter a value";
export const EMPTY_NUMBER = "enter a number";
export const EMPTY_DATE = "pick a date";

function isEmpty(v: unknown): boolean {
  if (v === "" || v === null) return true;
  return Array.isArray(v) && v.length > 0 && v.some((x) => x === "" || x === null);
}

function whereEmpty(where: Where[] | undefined, path: string, out: string[]): void {
  where?.forEach((w, i) => {
    if (isEmpty(w.value)) out.push(`${path}.where[${i}].value`);
  });
}

/** The paths (`rule.conditions[1].where[0].value`) of the values left empty in `rule`. */
export function emptyValues(rule: Rule, path = "rule", out: string[] = []): string[] {
  switch (rule.type) {
    case "and":
    case "or":
      rule.conditions.forEach((c, i) => {
        emptyValues(c, `${path}.conditions[${i}]`, out);
      });
      break;
    case "not":
      emptyValues(rule.condition, `${path}.condition`, out);
      break;
    case "field":
    case "bucket":
      if (isEmpty(rule.value)) out.push(`${path}.value`);
      break;
    case "event":
      if (rule.op !== undefined && isEmpty(rule.value)) out.push(`${path}.value`);
      whereEmpty(rule.where, path, out);
      break;
    case "sequence":
      rule.steps.forEach((s, i) => {
        whereEmpty(s.where, `${path}.steps[${i}]`, out);
      });
      break;
    case "segment":
      break;
  }
  return out;
}
