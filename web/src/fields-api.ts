/**
 * The typed client of fields (`/v1/fields`): the built-in contact fields and the custom
 * ones a workspace declares (key, type, label), which rules and imports can then use.
 */
import { call, type FieldType } from "./api.ts";

export const FIELD_TYPES = [
  "string",
  "number",
  "boolean",
  "date",
  "string_list",
] as const satisfies readonly FieldType[];

export interface FieldInfo {
  key: string;
  type: FieldType;
  label: string;
  builtin: boolean;
  /** null for a built-in field. */
  created_at: string | null;
}

export interface NewField {
  key: string;
  type: FieldType;
  label?: string;
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
