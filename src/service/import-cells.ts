/**
 * The cells of a CSV row as a wire-form contact: numbers, booleans, lists and dates read
 * as the column's field wants them (dates in the file's date format), errors naming the
 * column. The sink checks the contact as the API would.
 */
import { type ColumnTarget, columnLabel, isDateTarget, isListTarget } from "./import-mapping.ts";
import type { DateFormat } from "./import-types.ts";

/** Separators of list values (tags, string_list fields) inside one cell. */
const LIST_SEPARATORS = /[;,]/;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const TRUE = new Set(["true", "yes", "y", "1"]);
const FALSE = new Set(["false", "no", "n", "0"]);

function quote(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

function splitList(v: string): string[] {
  const out: string[] = [];
  for (const part of v.split(LIST_SEPARATORS)) {
    const s = part.trim();
    if (s !== "" && !out.includes(s)) out.push(s);
  }
  return out;
}

const DMY = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * A date cell in `format` as ISO 8601 text for the sink to parse (a time without an
 * offset is read in the workspace time zone, as the API reads one), or an error message.
 */
function dateValue(v: string, format: DateFormat): { value: string } | { error: string } {
  const m = DMY.exec(v);
  if (format === "ISO") {
    if (!m) return { value: v };
    return {
      error: `expected a date as YYYY-MM-DD, got ${quote(v)}; for day/month/year dates pick the file's date format (date_format "DD/MM/YYYY" or "MM/DD/YYYY")`,
    };
  }
  if (!m) return { error: `expected a date as ${format}, got ${quote(v)}` };
  const [a, b] = [Number(m[1]), Number(m[2])];
  const [day, month] = format === "DD/MM/YYYY" ? [a, b] : [b, a];
  const year = Number(m[3]);
  const dim = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > dim) {
    return { error: `expected a date as ${format}, got ${quote(v)}, which is no day of the calendar` };
  }
  let text = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (m[4] !== undefined) {
    const [h, min, sec] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
    if (h > 23 || min > 59 || sec > 59)
      return { error: `expected a time as HH:MM or HH:MM:SS, got ${quote(v)}` };
    text += `T${pad(h)}:${pad(min)}:${pad(sec)}`;
  }
  return { value: text };
}

/** A non-empty, trimmed cell as the value of `t`, or an error message. */
function cellValue(t: ColumnTarget, v: string, format: DateFormat): { value: unknown } | { error: string } {
  if (isDateTarget(t)) return dateValue(v, format);
  if (t.kind === "builtin") {
    if (isListTarget(t)) return { value: splitList(v) };
    return { value: v }; // strings, checked by the sink
  }
  switch (t.type) {
    case "number":
      return NUMBER.test(v) ? { value: Number(v) } : { error: `expected a number, got ${quote(v)}` };
    case "boolean": {
      const b = v.toLowerCase();
      if (TRUE.has(b)) return { value: true };
      if (FALSE.has(b)) return { value: false };
      return { error: `expected true or false, got ${quote(v)}` };
    }
    case "string_list":
      return { value: splitList(v) };
    default:
      return { value: v };
  }
}

/** A data row's cells as a wire-form contact, or the reason it cannot be one. */
export function toContact(
  cells: readonly string[],
  headers: readonly string[],
  targets: readonly (ColumnTarget | null)[],
  format: DateFormat,
): { contact: Record<string, unknown> } | { error: string } {
  for (let i = targets.length; i < cells.length; i++) {
    if (cells[i].trim() !== "") {
      return { error: `the row has ${cells.length} cells but the header has ${headers.length} columns` };
    }
  }
  const contact: Record<string, unknown> = {};
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const raw = cells[i];
    if (t === null || raw === undefined) continue;
    const v = raw.trim();
    if (v === "") continue; // an empty cell leaves the field out
    const r = cellValue(t, v, format);
    if ("error" in r) return { error: `${columnLabel([headers[i].trim()])}: ${r.error}` };
    const into = t.kind === "builtin" ? contact : fields;
    const before = into[t.key];
    into[t.key] = Array.isArray(before) ? [...new Set([...before, ...(r.value as string[])])] : r.value;
  }
  if (Object.keys(fields).length > 0) contact.fields = fields;
  return { contact };
}
