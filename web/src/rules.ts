/** What the editor knows about the rule language (docs/rules.md): operators by type, defaults. */
import { BUILTIN_CONTACT_FIELDS } from "../../src/contract/fields.ts";
import type { OpOf } from "../../src/contract/operators.ts";
import type { CalendarPeriod, FieldType, Rule, Where, Window } from "./api.ts";

export type ValueKind =
  | "none"
  | "string"
  | "strings"
  | "number"
  | "range"
  | "boolean"
  | "date"
  | "dates"
  | "duration"
  | "period"
  | "weekdays"
  | "scalar";

/** Calendar periods in the order a marketer scans them, with how they read. */
export const CALENDAR_PERIODS: { value: CalendarPeriod; label: string }[] = [
  { value: "today", label: "today" },
  { value: "yesterday", label: "yesterday" },
  { value: "tomorrow", label: "tomorrow" },
  { value: "this_week", label: "this week" },
  { value: "last_week", label: "last week" },
  { value: "next_week", label: "next week" },
  { value: "this_month", label: "this month" },
  { value: "last_month", label: "last month" },
  { value: "next_month", label: "next month" },
  { value: "this_quarter", label: "this quarter" },
  { value: "last_quarter", label: "last quarter" },
  { value: "next_quarter", label: "next quarter" },
  { value: "this_year", label: "this year" },
  { value: "last_year", label: "last year" },
  { value: "next_year", label: "next year" },
];

export const WEEKDAYS: { value: string; label: string }[] = [
  { value: "monday", label: "Monday" },
  { value: "tuesday", label: "Tuesday" },
  { value: "wednesday", label: "Wednesday" },
  { value: "thursday", label: "Thursday" },
  { value: "friday", label: "Friday" },
  { value: "saturday", label: "Saturday" },
  { value: "sunday", label: "Sunday" },
];

/** How a calendar period reads ("this month"); an unknown value is shown as written. */
export function periodLabel(p: unknown): string {
  return CALENDAR_PERIODS.find((x) => x.value === p)?.label ?? String(p);
}

/** An operator as the editor offers it: the operator, how it reads, what value it takes. */
export type OpEntry = [string, string, ValueKind];

/**
 * Per field type, how each operator the server takes for that type (src/contract/
 * operators.ts) reads in the editor, in the order offered; null: not offered. Keyed by
 * the server's table, so an operator added there or taken away fails the build here.
 * Lists offer `is_empty` / `is_not_empty`, which say what `is_set` / `is_not_set` say
 * of a list (a list that is not set is empty).
 */
const FIELD_OP_LABELS: { [T in FieldType]: { [O in OpOf<T>]: [string, ValueKind] | null } } = {
  string: {
    eq: ["is", "string"],
    neq: ["is not", "string"],
    in: ["is one of", "strings"],
    not_in: ["is none of", "strings"],
    contains: ["contains", "string"],
    not_contains: ["does not contain", "string"],
    starts_with: ["starts with", "string"],
    ends_with: ["ends with", "string"],
    is_set: ["is set", "none"],
    is_not_set: ["is not set", "none"],
  },
  number: {
    eq: ["=", "number"],
    neq: ["≠", "number"],
    gt: [">", "number"],
    gte: ["≥", "number"],
    lt: ["<", "number"],
    lte: ["≤", "number"],
    between: ["between", "range"],
    is_set: ["is set", "none"],
    is_not_set: ["is not set", "none"],
  },
  boolean: {
    eq: ["is", "boolean"],
    is_set: ["is set", "none"],
    is_not_set: ["is not set", "none"],
  },
  date: {
    in_last: ["in the last", "duration"],
    more_than_ago: ["more than … ago", "duration"],
    in_next: ["in the next", "duration"],
    before: ["before", "date"],
    after: ["after", "date"],
    on: ["on", "date"],
    between: ["between", "dates"],
    anniversary_in_next: ["anniversary in the next", "duration"],
    during: ["during", "period"],
    anniversary_during: ["anniversary during", "period"],
    weekday_in: ["weekday in", "weekdays"],
    is_set: ["is set", "none"],
    is_not_set: ["is not set", "none"],
  },
  string_list: {
    contains: ["contains", "string"],
    not_contains: ["does not contain", "string"],
    contains_any: ["contains any of", "strings"],
    contains_all: ["contains all of", "strings"],
    contains_none: ["contains none of", "strings"],
    is_empty: ["is empty", "none"],
    is_not_empty: ["is not empty", "none"],
    is_set: null,
    is_not_set: null,
  },
};

function fieldOps(type: FieldType): OpEntry[] {
  const labels: Record<string, [string, ValueKind] | null> = FIELD_OP_LABELS[type];
  return Object.entries(labels).flatMap(([op, l]) => (l === null ? [] : [[op, l[0], l[1]] as OpEntry]));
}

export const OPS: Record<FieldType | "measure_number" | "measure_date" | "where" | "bucket", OpEntry[]> = {
  string: fieldOps("string"),
  number: fieldOps("number"),
  boolean: fieldOps("boolean"),
  date: fieldOps("date"),
  string_list: fieldOps("string_list"),
  measure_number: [
    ["gte", "≥", "number"],
    ["gt", ">", "number"],
    ["eq", "=", "number"],
    ["neq", "≠", "number"],
    ["lt", "<", "number"],
    ["lte", "≤", "number"],
    ["between", "between", "range"],
  ],
  measure_date: [
    ["in_last", "in the last", "duration"],
    ["more_than_ago", "more than … ago", "duration"],
    ["before", "before", "date"],
    ["after", "after", "date"],
    ["on", "on", "date"],
    ["between", "between", "dates"],
    ["during", "during", "period"],
    ["anniversary_during", "anniversary during", "period"],
    ["weekday_in", "weekday in", "weekdays"],
    ["is_set", "is set", "none"],
    ["is_not_set", "is not set", "none"],
  ],
  /** A bucket condition's value is a number from 0 to 100 (a range for between). */
  bucket: [
    ["lt", "<", "number"],
    ["lte", "≤", "number"],
    ["gte", "≥", "number"],
    ["gt", ">", "number"],
    ["between", "between", "range"],
    ["eq", "=", "number"],
    ["neq", "≠", "number"],
  ],
  where: [
    ["eq", "is", "scalar"],
    ["neq", "is not", "scalar"],
    ["in", "is one of", "strings"],
    ["contains", "contains", "string"],
    ["starts_with", "starts with", "string"],
    ["gt", ">", "number"],
    ["gte", "≥", "number"],
    ["lt", "<", "number"],
    ["lte", "≤", "number"],
    ["between", "between", "range"],
    ["in_last", "in the last", "duration"],
    ["is_set", "is set", "none"],
    ["is_not_set", "is not set", "none"],
  ],
};

export function valueKind(list: keyof typeof OPS, op: string | undefined): ValueKind {
  return OPS[list].find((o) => o[0] === op)?.[2] ?? "none";
}

export function defaultValue(kind: ValueKind): unknown {
  switch (kind) {
    case "none":
      return undefined;
    case "string":
    case "scalar":
      return "";
    case "strings":
      return [];
    case "number":
      return 1;
    case "range":
      return [0, 10];
    case "boolean":
      return true;
    case "date":
      return new Date().toISOString().slice(0, 10);
    case "dates":
      return [
        new Date(Date.now() - 30 * 86400_000).toISOString().slice(0, 10),
        new Date().toISOString().slice(0, 10),
      ];
    case "duration":
      return "30d";
    case "period":
      return "this_month";
    case "weekdays":
      return ["monday"];
  }
}

export const KNOWN_EVENTS = [
  "email_sent",
  "email_opened",
  "email_clicked",
  "email_bounced",
  "email_unsubscribed",
  "email_complained",
  "order_placed",
  "cart_added",
  "page_viewed",
  "offer_granted",
];

/** The values of the built-in coded fields (`status`, `email_status`), from the server's table. */
export const KNOWN_VALUES: Record<string, string[]> = Object.fromEntries(
  BUILTIN_CONTACT_FIELDS.flatMap((f) => ("values" in f ? [[f.key, [...f.values]]] : [])),
);

export const MEASURES: [string, string][] = [
  ["count", "count"],
  ["sum", "sum of"],
  ["avg", "average of"],
  ["min", "min of"],
  ["max", "max of"],
  ["distinct", "distinct values of"],
  ["first_at", "first time"],
  ["last_at", "last time"],
];

export type NewKind = "and" | "or" | "not" | "field" | "event" | "sequence" | "segment" | "bucket" | "rank";

export function newNode(kind: NewKind): Rule {
  switch (kind) {
    case "and":
    case "or":
      return { type: kind, conditions: [{ type: "field", field: "status", op: "eq", value: "subscribed" }] };
    case "not":
      return { type: "not", condition: { type: "event", event: "email_opened", window: { in_last: "30d" } } };
    case "field":
      return { type: "field", field: "country", op: "eq", value: "" };
    case "event":
      return { type: "event", event: "email_opened", window: { in_last: "30d" } };
    case "sequence":
      return { type: "sequence", steps: [{ event: "cart_added" }, { event: "order_placed" }], within: "1d" };
    case "segment":
      return { type: "segment", op: "in", segment: "subscribed" };
    case "bucket":
      return { type: "bucket", seed: "holdout", op: "lt", value: 10 };
    case "rank":
      // docs/rules.md, "Rank conditions": the rule type of api.ts does not list `rank`.
      return {
        type: "event",
        event: "order_placed",
        window: { in_last: "365d" },
        measure: { fn: "sum", property: "amount" },
        rank: { direction: "top", percent: 10 },
      } as Rule;
  }
}

export const newWhere = (): Where => ({ property: "", op: "eq", value: "" });

export function windowKind(w: Window | undefined): string {
  return w ? Object.keys(w)[0]! : "all";
}

export type SequenceStep = Extract<Rule, { type: "sequence" }>["steps"][number];

/**
 * Why step `i` cannot switch between "did" and "did not", or null when it can: steps the
 * contact did not do come last, after at least one it did (docs/rules.md, "Negative steps").
 */
export function stepToggleBlocked(steps: SequenceStep[], i: number): string | null {
  if (i === 0) return "The first step is one the contact did.";
  if (steps[i]?.not) {
    if (steps.slice(0, i).some((s) => s.not))
      return "A step the contact did cannot follow one they did not do: switch the earlier step first.";
  } else if (steps.slice(i + 1).some((s) => !s.not)) {
    return "Only the last steps can be ones the contact did not do: switch or remove the later steps first.";
  }
  return null;
}

/** Whether step `i` can go and still leave a step the contact did first. */
export function stepRemovable(steps: SequenceStep[], i: number): boolean {
  const rest = steps.filter((_, j) => j !== i);
  return rest.length >= 2 && rest[0]?.not !== true;
}

/** A new step the contact did: before the steps they did not do, which stay last. */
export function withNewStep(steps: SequenceStep[], step: SequenceStep): SequenceStep[] {
  const at = steps.findIndex((s) => s.not);
  return at < 0 ? [...steps, step] : [...steps.slice(0, at), step, ...steps.slice(at)];
}
