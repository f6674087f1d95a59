/**
 * The field operators of the rule language (SPEC §3.2) and which exist per field type:
 * data only, shared by the validator, both evaluators and the web app's rule editor.
 */
import type { FieldType } from "./fields.ts";

/** Operators that take no `value`. */
export const PRESENCE_OPS = ["is_set", "is_not_set"] as const;
export const STRING_OPS = [
  "eq",
  "neq",
  "in",
  "not_in",
  "contains",
  "not_contains",
  "starts_with",
  "ends_with",
] as const;
export const NUMBER_OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "between"] as const;
export const BOOLEAN_OPS = ["eq"] as const;
/**
 * Date operators whose answer moves with time: they compare the value with now (or its
 * calendar period), so a condition on one can turn true or false with no new data and
 * the live engine keeps timers for it.
 */
export const MOVING_OPS = [
  "in_last",
  "more_than_ago",
  "in_next",
  "anniversary_in_next",
  "during",
  "anniversary_during",
] as const;
export const DATE_OPS = ["before", "after", "on", "between", ...MOVING_OPS, "weekday_in"] as const;
export const LIST_OPS = [
  "contains",
  "not_contains",
  "contains_any",
  "contains_all",
  "contains_none",
  "is_empty",
  "is_not_empty",
] as const;

export const ALL_OPS = [
  ...new Set<string>([
    ...PRESENCE_OPS,
    ...STRING_OPS,
    ...NUMBER_OPS,
    ...BOOLEAN_OPS,
    ...DATE_OPS,
    ...LIST_OPS,
  ]),
] as [string, ...string[]];

export type Op =
  | (typeof PRESENCE_OPS)[number]
  | (typeof STRING_OPS)[number]
  | (typeof NUMBER_OPS)[number]
  | (typeof BOOLEAN_OPS)[number]
  | (typeof DATE_OPS)[number]
  | (typeof LIST_OPS)[number];

const FIELD_OPS = {
  string: [...PRESENCE_OPS, ...STRING_OPS],
  number: [...PRESENCE_OPS, ...NUMBER_OPS],
  boolean: [...PRESENCE_OPS, ...BOOLEAN_OPS],
  date: [...PRESENCE_OPS, ...DATE_OPS],
  string_list: [...PRESENCE_OPS, ...LIST_OPS],
} as const satisfies Record<FieldType, readonly Op[]>;

export const OPS_BY_TYPE: Record<FieldType, readonly Op[]> = FIELD_OPS;

/** The operators a field of type `T` takes, as a type (the web app's editor lists exactly these). */
export type OpOf<T extends FieldType> = (typeof FIELD_OPS)[T][number];

/**
 * Negative operators hold on a missing value (SPEC §3.2). Each is the exact
 * negation of a positive operator, which is how both evaluators implement them.
 */
export const NEGATION_OF: Partial<Record<Op, Op>> = {
  neq: "eq",
  not_in: "in",
  not_contains: "contains",
  contains_none: "contains_any",
  is_not_set: "is_set",
  is_empty: "is_not_empty",
};

export function isNoValueOp(op: Op): boolean {
  return op === "is_set" || op === "is_not_set" || op === "is_empty" || op === "is_not_empty";
}
