/**
 * Parsing of import files (docs/imports.md): a CSV of contacts, mapped column by column
 * onto the contact wire form, and NDJSON of events, one JSON object per line. Both are
 * streamed: rows come out one by one as the input is read, so a file is never held in
 * memory as a whole, and a consumer that stops reading stops the reading of the input.
 *
 * Neither parser validates contacts or events beyond what the file format says (a cell
 * that cannot be a number for a number field, a line that is not JSON); that is the
 * sink's work (src/service/imports.ts), which applies the same rules as the API.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import { parse as csvParse, type Parser } from "csv-parse";
import { BUILTIN_CONTACT_FIELDS, type WireKind } from "../contract/fields.ts";
import { BUILTIN_FIELD_KEYS, type FieldType } from "../rules/fields.ts";

/** What an import reads from: a byte or text stream, e.g. a request body or a file. */
export type ImportInput = Readable | AsyncIterable<Buffer | string>;

/** A custom field of the workspace: its key and type (the store's CustomField fits). */
export interface ImportCustomField {
  key: string;
  type: FieldType;
}

/** One contact of a CSV: `row` is its row number (the header is row 1). */
export interface ContactImportRow {
  row: number;
  /** Wire-form contact input: built-in keys, `tags` (string[]), `fields: {custom}`. */
  contact: Record<string, unknown>;
}

/**
 * Per wire path of a contact (`email`, `tags`, `fields.birthday`), the CSV columns it is
 * read from, so that an error about the path can name the column.
 */
export type ImportColumns = Readonly<Record<string, readonly string[]>>;

/** One event of an NDJSON file: `row` is its line number (1-based). */
export interface EventImportRow {
  row: number;
  /** Wire form: `{id?, type, contact: {id|email|external_id}, timestamp?, properties?}`. */
  event: Record<string, unknown>;
}

/** A row the parser rejected, with the reason. */
export interface ImportRowFailure {
  row: number;
  error: string;
}

export interface ContactImportOptions {
  /**
   * CSV column header → target: a built-in field name, `tags`, `fields.<custom key>` (or
   * the bare custom key), or null to ignore the column. When given, columns it does not
   * name are ignored. Default: every column whose header names a field (see
   * `defaultTarget`) maps to it, the others are ignored.
   */
  mapping?: Record<string, string | null>;
  /** Add the imported contacts to this static segment. */
  segment_id?: string;
  /** Rows per sink call (1 … 10,000); default 1,000. */
  batchSize?: number;
  /** One character; default `,`. */
  delimiter?: string;
  /** How the file writes dates (created_at, subscribed_at, date fields); default "ISO". */
  date_format?: DateFormat;
}

/**
 * Date formats of a CSV: ISO 8601 (`1990-12-13`, or an instant), or day, month and year
 * in one of two orders, separated by `/`, `.` or `-`, optionally followed by a time
 * (`13/12/1990 14:30`, read in the workspace time zone).
 */
export const DATE_FORMATS = ["ISO", "DD/MM/YYYY", "MM/DD/YYYY"] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

/** The option checked: the format, or an ImportFileError naming the choices. */
export function checkDateFormat(v: unknown): DateFormat {
  if (v === undefined) return "ISO";
  if (typeof v === "string") {
    const f = DATE_FORMATS.find((d) => d.toLowerCase() === v.trim().toLowerCase());
    if (f) return f;
  }
  throw new ImportFileError(
    `date_format: expected one of ${DATE_FORMATS.map((d) => `"${d}"`).join(", ")}, got ${JSON.stringify(v)}`,
  );
}

/** The file cannot be imported at all (bad mapping, no header, unreadable input). */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportFileError";
  }
}

/** Longest CSV row or NDJSON line accepted, in bytes (characters for NDJSON). */
export const MAX_IMPORT_ROW_BYTES = 1024 * 1024;

/** Separators of list values (tags, string_list fields) inside one cell. */
const LIST_SEPARATORS = /[;,]/;

/** Header spellings that map to a built-in field by default, after normalisation. */
const HEADER_ALIASES: Readonly<Record<string, string>> = Object.fromEntries(
  BUILTIN_CONTACT_FIELDS.flatMap((f) =>
    ("importAliases" in f ? f.importAliases : []).map((alias) => [alias, f.key]),
  ),
);

const BUILTIN_WIRE: ReadonlyMap<string, WireKind> = new Map(
  BUILTIN_CONTACT_FIELDS.map((f) => [f.key, f.wire]),
);

// ---------------------------------------------------------------- mapping

/** Where one column goes: a built-in key (`email`, `tags`, …) or a custom key. */
export type ColumnTarget =
  | { kind: "builtin"; key: string }
  | { kind: "custom"; key: string; type: FieldType };

function targetName(t: ColumnTarget): string {
  return t.kind === "builtin" ? t.key : `fields.${t.key}`;
}

function isListTarget(t: ColumnTarget): boolean {
  return t.kind === "builtin" ? BUILTIN_WIRE.get(t.key) === "list" : t.type === "string_list";
}

function isDateTarget(t: ColumnTarget): boolean {
  return t.kind === "builtin" ? BUILTIN_WIRE.get(t.key) === "instant" : t.type === "date";
}

/** Per wire path, the headers of the columns mapped to it. */
function columnsOf(
  headers: readonly string[],
  targets: readonly (ColumnTarget | null)[],
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  targets.forEach((t, i) => {
    if (t === null) return;
    const name = targetName(t);
    out[name] = [...(out[name] ?? []), headers[i].trim()];
  });
  return out;
}

/** `column "Birthday"`, or `columns "Tags" and "Labels"`. */
export function columnLabel(headers: readonly string[]): string {
  const q = headers.map((h) => JSON.stringify(h));
  if (q.length === 1) return `column ${q[0]}`;
  return `columns ${q.slice(0, -1).join(", ")} and ${q[q.length - 1]}`;
}

/**
 * A sink's error about a contact of the file, with the CSV column named instead of the
 * contact's wire path: `contacts[3].fields.birthday: expected …` (or `fields.birthday:
 * expected …`) becomes `column "Birthday": expected …`. An error about the contact as a
 * whole loses its `contacts[3]` prefix; one about a path no column maps to keeps it.
 */
export function errorWithColumn(error: string, columns: ImportColumns | undefined): string {
  const m = /^(?:contacts\[\d+\])?(?:\.?([A-Za-z_][\w.]*)(\[\d+\])*)?: ([\s\S]*)$/.exec(error);
  if (!m) return error;
  const [, path, , message] = m;
  if (path === undefined) return error.startsWith("contacts[") ? message : error;
  let p = path;
  for (;;) {
    const headers = columns?.[p];
    if (headers?.length) return `${columnLabel(headers)}: ${message}`;
    const dot = p.lastIndexOf(".");
    if (dot < 0) break;
    p = p.slice(0, dot);
  }
  return error.replace(/^contacts\[\d+\]\./, "");
}

/** Lower-case and trimmed, runs of spaces and hyphens as `_`. */
function normalizeHeader(h: string): string {
  return h
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
}

/**
 * The field a header maps to when no mapping is given: a built-in name or a custom key
 * (ignoring case and surrounding spaces, spaces and hyphens counting as `_`, so `First
 * Name` is `first_name`), `fields.<custom key>`, or one of a few common spellings
 * (`Email Address`, `Zip`, `Surname`, …). Null when it names none.
 */
export function defaultTarget(
  header: string,
  customFields: readonly ImportCustomField[],
): ColumnTarget | null {
  const h = normalizeHeader(header);
  if (h === "") return null;
  const custom = new Map(customFields.map((f) => [f.key, f]));
  if (BUILTIN_FIELD_KEYS.has(h)) return { kind: "builtin", key: h };
  const bare = h.startsWith("fields.") ? h.slice("fields.".length) : h;
  const field = custom.get(bare);
  if (field) return { kind: "custom", key: field.key, type: field.type };
  const alias = HEADER_ALIASES[h];
  return alias ? { kind: "builtin", key: alias } : null;
}

/** A mapping target as written by the user; an error message when it names nothing. */
function explicitTarget(
  target: string,
  customFields: readonly ImportCustomField[],
): ColumnTarget | { error: string } {
  if (BUILTIN_FIELD_KEYS.has(target)) return { kind: "builtin", key: target };
  const key = target.startsWith("fields.") ? target.slice("fields.".length) : target;
  const field = customFields.find((f) => f.key === key);
  if (field) return { kind: "custom", key: field.key, type: field.type };
  if (target.startsWith("fields.")) return { error: `custom field "${key}" is not declared` };
  return {
    error: `unknown target "${target}": expected a built-in field, tags, fields.<custom key>, or null`,
  };
}

/**
 * The target of every column of `headers` (null: ignored), or the reason the mapping
 * cannot be used: a mapped column missing from the header, an unknown target, two
 * columns on one field that is not a list, or no column for `email` or `external_id`.
 */
export function resolveMapping(
  mapping: Record<string, string | null> | undefined,
  headers: readonly string[],
  customFields: readonly ImportCustomField[],
): { targets: (ColumnTarget | null)[] } | { error: string } {
  const trimmed = headers.map((h) => h.trim());
  let targets: (ColumnTarget | null)[];
  if (mapping === undefined || mapping === null) {
    targets = trimmed.map((h) => defaultTarget(h, customFields));
  } else {
    if (typeof mapping !== "object" || Array.isArray(mapping)) {
      return { error: "mapping: expected an object of column header → field" };
    }
    targets = trimmed.map(() => null);
    for (const [column, target] of Object.entries(mapping)) {
      const path = `mapping[${JSON.stringify(column)}]`;
      if (target !== null && typeof target !== "string") {
        return { error: `${path}: expected a field name or null` };
      }
      const indexes = trimmed.flatMap((h, i) => (h === column.trim() ? [i] : []));
      if (indexes.length === 0) {
        const known = trimmed.filter((h) => h !== "").map((h) => JSON.stringify(h));
        return { error: `${path}: no column "${column}" in the header (columns: ${known.join(", ")})` };
      }
      if (target === null) continue;
      if (indexes.length > 1) return { error: `${path}: the header has ${indexes.length} columns named so` };
      const t = explicitTarget(target.trim(), customFields);
      if ("error" in t) return { error: `${path}: ${t.error}` };
      targets[indexes[0]] = t;
    }
  }
  const seen = new Map<string, number>();
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t === null) continue;
    const name = targetName(t);
    const before = seen.get(name);
    if (before !== undefined && !isListTarget(t)) {
      return {
        error: `columns "${trimmed[before]}" and "${trimmed[i]}" both map to ${name}; give a mapping that ignores one`,
      };
    }
    seen.set(name, i);
  }
  if (!seen.has("email") && !seen.has("external_id")) {
    if (mapping === undefined || mapping === null) {
      const known = trimmed.filter((h) => h !== "").map((h) => JSON.stringify(h));
      return {
        error: `no column maps to email or external_id, which identify a contact (columns: ${known.join(", ")}); give a mapping`,
      };
    }
    return { error: "mapping: no column maps to email or external_id, which identify a contact" };
  }
  return { targets };
}

/** Why `mapping` cannot import a file with these headers, or null when it can. */
export function validateMapping(
  mapping: Record<string, string | null> | undefined,
  headers: readonly string[],
  customFields: readonly ImportCustomField[],
): string | null {
  const r = resolveMapping(mapping, headers, customFields);
  return "error" in r ? r.error : null;
}

// ---------------------------------------------------------------- cell values

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
function toContact(
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

// ---------------------------------------------------------------- CSV

const SKIPPED = Symbol("skipped");
/** The parser is fed at most this many bytes at a time. */
const SLICE_BYTES = 64 * 1024;
type ParserOutput = string[] | { [SKIPPED]: Error };

function checkDelimiter(d: unknown): string {
  if (d === undefined) return ",";
  if (typeof d !== "string" || [...d].length !== 1 || /["\r\n]/.test(d)) {
    throw new ImportFileError(
      'delimiter: expected one character other than a quote or a line break, e.g. ";"',
    );
  }
  return d;
}

/**
 * The contacts of a CSV file, in order. The first row is the header: it names the
 * columns, which `opts.mapping` (or the default mapping) sends to contact fields. Rows
 * are numbered as a spreadsheet shows them: the header is row 1, the first data row is
 * row 2, and a row whose quoted cells hold line breaks is still one row. Blank rows are
 * skipped (their numbers are not reused). A row that cannot be read (a number field
 * that is not a number, more cells than columns) comes out as `{row, error}`.
 *
 * Date cells (created_at, subscribed_at, date fields) are read in `opts.date_format`
 * and passed on as ISO 8601 text; a cell not in that format is a row error.
 *
 * Throws ImportFileError when the file as a whole cannot be imported: no header, a
 * mapping that does not fit the header, a quote that is never closed, a row over
 * MAX_IMPORT_ROW_BYTES, or an input that fails to read.
 */
export async function* parseContactsCsv(
  input: ImportInput,
  opts: ContactImportOptions = {},
  customFields: readonly ImportCustomField[] = [],
  /** Called once the header is read, with the columns of each wire path. */
  onColumns?: (columns: ImportColumns) => void,
): AsyncGenerator<ContactImportRow | ImportRowFailure> {
  const delimiter = checkDelimiter(opts.delimiter);
  const dateFormat = checkDateFormat(opts.date_format);
  let parser: Parser | null = null;
  parser = csvParse({
    bom: true,
    delimiter,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: false,
    // The only error left with the relax options is a quote still open at the end of
    // the file; skipping makes it arrive in order, after the rows before it, instead of
    // destroying the stream with those rows still buffered.
    skip_records_with_error: true,
    on_skip: (err: Error | undefined) => {
      parser?.push({ [SKIPPED]: err ?? new Error("unreadable row") });
      return undefined;
    },
  });
  const csv = parser;

  // The input is fed to the parser in slices. A failure to read it, or a row growing
  // past the limit, ends the feeding (never the parser with an error, which would drop
  // the rows it holds): the rows before are still read, then the failure is thrown.
  // The parser's `info.bytes` moves on at every cell and row end, so what was fed
  // beyond it is the cell being read, plus what waits in the stream buffers (a few
  // slices at most); a cell must not grow without end (an unclosed quote).
  let stop: { tooLong: true } | { error: unknown } | null = null;
  let fed = 0;
  let lastByte = -1;
  async function* slices(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of input) {
        const buf =
          typeof chunk === "string"
            ? Buffer.from(chunk, "utf8")
            : Buffer.isBuffer(chunk)
              ? chunk
              : Buffer.from(chunk as Uint8Array);
        for (let at = 0; at < buf.length; at += SLICE_BYTES) {
          if (fed - csv.info.bytes > MAX_IMPORT_ROW_BYTES + 8 * SLICE_BYTES) {
            stop = { tooLong: true };
            return;
          }
          const slice = buf.subarray(at, at + SLICE_BYTES);
          fed += slice.length;
          lastByte = slice[slice.length - 1];
          yield slice;
        }
      }
    } catch (error) {
      stop = { error };
    }
  }
  const piping = pipeline(Readable.from(slices(), { objectMode: false }), csv);
  piping.catch(() => {}); // the parser is only destroyed by the consumer leaving

  let headers: string[] | null = null;
  let targets: (ColumnTarget | null)[] = [];
  const rowOf = (cells: string[], row: number): ContactImportRow | ImportRowFailure | null => {
    if (headers === null) {
      headers = cells;
      const r = resolveMapping(opts.mapping, headers, customFields);
      if ("error" in r) throw new ImportFileError(r.error);
      targets = r.targets;
      onColumns?.(columnsOf(headers, targets));
      return null;
    }
    if (cells.every((c) => c.trim() === "")) return null;
    const c = toContact(cells, headers, targets, dateFormat);
    return "error" in c ? { row, error: c.error } : { row, contact: c.contact };
  };

  let row = 0;
  // One row is held back: when the input fails, the last row may be cut short.
  let held: { cells: string[]; row: number } | null = null;
  let unclosed: number | null = null;
  try {
    for await (const out of csv as AsyncIterable<ParserOutput>) {
      if (!Array.isArray(out)) {
        unclosed = row + 1;
        break;
      }
      row++;
      if (held !== null) {
        const r = rowOf(held.cells, held.row);
        if (r !== null) yield r;
      }
      held = { cells: out, row };
    }
  } finally {
    csv.destroy();
  }
  const failed = stop as { tooLong: true } | { error: unknown } | null;
  // A row is complete when a later row or the end of its line followed it.
  const complete = failed === null || unclosed !== null || lastByte === 0x0a || lastByte === 0x0d;
  if (held !== null && complete) {
    const r = rowOf(held.cells, held.row);
    if (r !== null) yield r;
  }
  if (failed !== null && "tooLong" in failed) {
    const at = unclosed ?? (held !== null && !complete ? held.row : row + 1);
    throw new ImportFileError(
      `row ${at} is longer than ${MAX_IMPORT_ROW_BYTES} bytes (is a quote not closed?)`,
    );
  }
  if (failed !== null) {
    const e = failed.error;
    if (e instanceof ImportFileError) throw e;
    throw new ImportFileError(`the file could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (unclosed !== null) {
    throw new ImportFileError(
      `row ${unclosed}: a quoted cell is not closed before the end of the file, so the rest of the file from row ${unclosed} could not be read`,
    );
  }
  if (headers === null) throw new ImportFileError("the file is empty: expected a header row");
}

// ---------------------------------------------------------------- NDJSON

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/** Lines of a text stream, numbered from 1; a line longer than the limit is reported, not kept. */
async function* lines(input: ImportInput): AsyncGenerator<{ line: number; text: string | null }> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  let overflow = false;
  let n = 0;
  let first = true;
  const take = function* (s: string, end: boolean): Generator<{ line: number; text: string | null }> {
    if (first && s.length > 0) {
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      first = false;
    }
    let start = 0;
    for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", start)) {
      const long = overflow || pending.length + (i - start) > MAX_IMPORT_ROW_BYTES;
      const text = long ? null : pending + s.slice(start, i);
      pending = "";
      overflow = false;
      yield { line: ++n, text };
      start = i + 1;
    }
    if (!overflow) pending += s.slice(start);
    if (pending.length > MAX_IMPORT_ROW_BYTES) {
      overflow = true;
      pending = "";
    }
    if (end && (pending !== "" || overflow)) {
      yield { line: ++n, text: overflow ? null : pending };
      pending = "";
    }
  };
  for await (const chunk of input) {
    yield* take(typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer), false);
  }
  yield* take(decoder.end(), true);
}

/**
 * The events of an NDJSON file: one JSON object per line, numbered from 1. Blank lines
 * are skipped (their numbers are not reused); a line that is not JSON, or not an
 * object, comes out as `{row, error}`. Line ends may be `\n` or `\r\n`; a UTF-8 BOM is
 * ignored. Throws ImportFileError when the input fails to read.
 */
export async function* parseEventsNdjson(
  input: ImportInput,
): AsyncGenerator<EventImportRow | ImportRowFailure> {
  try {
    for await (const { line, text } of lines(input)) {
      if (text === null) {
        yield { row: line, error: `the line is longer than ${MAX_IMPORT_ROW_BYTES} characters` };
        continue;
      }
      const t = text.trim();
      if (t === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        yield { row: line, error: `invalid JSON: ${(e as Error).message}` };
        continue;
      }
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        yield { row: line, error: `expected a JSON object, got ${describe(v)}` };
        continue;
      }
      yield { row: line, event: v as Record<string, unknown> };
    }
  } catch (e) {
    if (e instanceof ImportFileError) throw e;
    throw new ImportFileError(`the file could not be read: ${(e as Error).message}`);
  }
}
