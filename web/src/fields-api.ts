/**
 * The typed client of fields (`/v1/fields`): the built-in contact fields and the custom
 * ones a workspace declares (key, type, label), which rules and imports can then use.
 */
import { FIELD_TYPES } from "../../src/contract/fields.ts";
import { MEASURE_FNS, type MeasureFn } from "../../src/contract/measures.ts";
import { call, type FieldType } from "./api.ts";

export { FIELD_TYPES, MEASURE_FNS, type MeasureFn };

export interface FieldInfo {
  key: string;
  type: FieldType;
  label: string;
  builtin: boolean;
  /** null for a built-in field. */
  created_at: string | null;
  /** A computed field's definition; null for a stored (or built-in) field. */
  computed: ComputedDefinition | null;
  /** The definition in the rule text form, e.g. `sum(order_placed.amount)`. */
  computed_text: string | null;
}

/** A computed field's definition (docs/rules.md, Computed fields). */
export interface ComputedDefinition {
  event: string;
  where?: unknown[];
  window?: Record<string, unknown>;
  measure: { fn: MeasureFn; property?: string };
}

export const MEASURE_INFO: Record<MeasureFn, { label: string; type: FieldType; property: boolean }> = {
  count: { label: "Number of events", type: "number", property: false },
  distinct: { label: "Distinct values of a property", type: "number", property: true },
  sum: { label: "Sum of a property", type: "number", property: true },
  avg: { label: "Average of a property", type: "number", property: true },
  min: { label: "Smallest value of a property", type: "number", property: true },
  max: { label: "Largest value of a property", type: "number", property: true },
  first_at: { label: "Time of the first event", type: "date", property: false },
  last_at: { label: "Time of the latest event", type: "date", property: false },
  most_frequent: { label: "Most frequent value of a property", type: "string", property: true },
};

export interface NewField {
  key: string;
  type: FieldType;
  label?: string;
  computed?: ComputedDefinition;
}

export const TYPE_INFO: Record<FieldType, { label: string; example: string }> = {
  string: { label: "Text", example: "e.g. plan = “pro”" },
  number: { label: "Number", example: "e.g. score > 50" },
  boolean: { label: "Yes / no", example: "e.g. vip is true" },
  date: { label: "Date", example: "e.g. birthday in the next 7 days" },
  string_list: { label: "List of texts", example: "e.g. interests contains “running”" },
};

export const isFieldType = (t: string | null): t is FieldType =>
  t !== null && (FIELD_TYPES as readonly string[]).includes(t);

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export const fieldsApi = {
  list: () => call<Page<FieldInfo>>("GET", "/v1/fields").then((p) => p.data),
  create: (f: NewField) => call<FieldInfo>("POST", "/v1/fields", f),
  /** Deletes a computed field (409 while a segment's rule uses it). */
  remove: (key: string) => call<null>("DELETE", `/v1/fields/${encodeURIComponent(key)}`),
};

/** The key of an `unknown field "<key>"` error, or null for any other message. */
export function unknownFieldKey(message: string): string | null {
  return /unknown field "([^"]+)"/.exec(message)?.[1] ?? null;
}

/** Where to declare a field, pre-filled; `back` is the page to offer returning to once it exists. */
export function declareFieldPath(key: string, type?: FieldType, back?: string): string {
  const q = new URLSearchParams({ key, ...(type ? { type } : {}), ...(back ? { back } : {}) });
  return `/fields?${q}`;
}
