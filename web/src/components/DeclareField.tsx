import { Button } from "@mantine/core";
import { createContext, useContext } from "react";
import { Link } from "react-router";
import type { FieldType, Rule } from "../api.ts";
import { declareFieldPath } from "../fields-api.ts";

/**
 * What the page showing a rule knows about a field it reads but the workspace lacks:
 * the type the rule needs (from a template's `requires`, or guessed from the operator),
 * and the page to come back to once the field is declared.
 */
export interface DeclareFieldCtx {
  typeOf?: (key: string) => FieldType | undefined;
  back?: string;
}

export const DeclareFieldContext = createContext<DeclareFieldCtx>({});

const DATE_OPS = new Set([
  "in_last",
  "more_than_ago",
  "in_next",
  "before",
  "after",
  "on",
  "anniversary_in_next",
]);
const NUMBER_OPS = new Set(["gt", "gte", "lt", "lte"]);
const LIST_OPS = new Set(["contains_any", "contains_all", "contains_none", "is_empty", "is_not_empty"]);
const STRING_OPS = new Set(["in", "not_in", "starts_with", "ends_with", "not_contains"]);

/** The type a field condition's operator and value call for; undefined when several fit. */
function typeOfCondition(op: string, value: unknown): FieldType | undefined {
  if (DATE_OPS.has(op)) return "date";
  if (NUMBER_OPS.has(op)) return "number";
  if (LIST_OPS.has(op)) return "string_list";
  if (STRING_OPS.has(op)) return "string";
  if (op === "between" && Array.isArray(value))
    return typeof value[0] === "number" ? "number" : typeof value[0] === "string" ? "date" : undefined;
  if (op === "eq" || op === "neq") {
    if (typeof value === "boolean") return "boolean";
    if (typeof value === "number") return "number";
    if (typeof value === "string") return "string";
  }
  return undefined;
}

/** The type the first condition on `key` in `rule` needs, when its operator tells. */
export function inferFieldType(rule: Rule, key: string): FieldType | undefined {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) {
        const t = inferFieldType(c, key);
        if (t) return t;
      }
      return undefined;
    case "not":
      return inferFieldType(rule.condition, key);
    case "field":
      return rule.field === key ? typeOfCondition(rule.op, rule.value) : undefined;
    default:
      return undefined;
  }
}

/** A way out of an `unknown field` error: the fields page with the key (and type) filled in. */
export function DeclareFieldLink({ fieldKey }: { fieldKey: string }) {
  const { typeOf, back } = useContext(DeclareFieldContext);
  return (
    <Button
      component={Link}
      to={declareFieldPath(fieldKey, typeOf?.(fieldKey), back)}
      size="compact-xs"
      variant="light"
      mt={4}
      data-testid="declare-field"
    >
      Declare field {fieldKey}
    </Button>
  );
}
