/**
 * Streamed segment exports (SPEC §4, `GET /v1/segments/{id}/export`): CSV, NDJSON,
 * and the hashed customer-list files of Meta and Google Ads. Pages of contacts in,
 * text chunks out, one chunk per page (after the header), so memory does not grow
 * with the segment. Formats and normalisation choices: docs/exports.md.
 */
import { stringify } from "csv-stringify/sync";
import { BUILTIN_CONTACT_FIELDS, type BuiltinFieldSpec, builtinKeys } from "../contract/fields.ts";
import type { ContactRecord, ContactValue } from "../store/types.ts";
import { GOOGLE_HEADER, googleRow } from "./export-google.ts";
import { META_HEADER, metaRow } from "./export-meta.ts";
import { isoInstant } from "./iso-instant.ts";
import { type ComputedValues, toWireContact } from "./wire-contact.ts";

export {
  GOOGLE_FIELDS,
  GOOGLE_HEADER,
  type GoogleField,
  googleHash,
  googleNormalize,
  googleRow,
} from "./export-google.ts";
export {
  isSha256Hex,
  META_FIELDS,
  META_HEADER,
  type MetaField,
  metaHash,
  metaNormalize,
  metaRow,
  type NormalizeContext,
  sha256Hex,
  toE164,
} from "./export-meta.ts";
export { toWireContact, type WireContact } from "./wire-contact.ts";

export const EXPORT_FORMATS = ["csv", "ndjson", "meta", "google"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  /**
   * csv only: the columns, in order. Names: `id`, the built-in fields, and custom
   * field keys, either bare (`plan`) or as `fields.plan`; the header repeats the
   * names as given. Default: `DEFAULT_CSV_COLUMNS` then every custom field key (bare,
   * or `fields.<key>` for a key that equals a built-in column name such as `id`).
   * An unknown or repeated column throws an ExportOptionError naming it.
   */
  columns?: string[];
  /** Custom field keys of the workspace (default csv columns, validation of `columns`). */
  customFields: string[];
  /**
   * Computed field keys (docs/rules.md): csv columns after the custom fields, named
   * bare or as `computed.<key>`, read from each record's `computed`.
   */
  computedFields?: string[];
  /**
   * Leave out contacts with status `unsubscribed` or email_status `hard_bounced` or
   * `complained` (default true). Applies to every format.
   */
  excludeSuppressed?: boolean;
  /**
   * csv, meta, google: `escape` (default) neutralises cells a spreadsheet would run as
   * a formula (`neutralizeFormula`); `raw` writes every cell as it is. ndjson is never
   * altered.
   */
  formulas?: FormulaMode;
}

export const FORMULA_MODES = ["escape", "raw"] as const;
export type FormulaMode = (typeof FORMULA_MODES)[number];

/** Invalid export options; `path` names the bad part (`format`, `columns[2]`, …). */
export class ExportOptionError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "ExportOptionError";
  }
}

/** The built-in csv columns of a table of built-in fields, in their default order. */
export function csvColumns<const T extends readonly BuiltinFieldSpec[]>(
  table: T,
): ["id", ...{ [I in keyof T]: T[I]["key"] }] {
  return ["id", ...builtinKeys(table)];
}

/** The built-in csv columns, in their default order. */
export const DEFAULT_CSV_COLUMNS = csvColumns(BUILTIN_CONTACT_FIELDS);

type BuiltinColumn = (typeof DEFAULT_CSV_COLUMNS)[number];
const BUILTIN_COLUMNS: ReadonlySet<string> = new Set(DEFAULT_CSV_COLUMNS);
const BUILTIN_BY_KEY: ReadonlyMap<string, BuiltinFieldSpec> = new Map(
  BUILTIN_CONTACT_FIELDS.map((f) => [f.key, f]),
);

/** Separator of list values (tags, string_list custom fields) inside one csv cell. */
export const LIST_SEPARATOR = ";";

/** RFC 4180: CRLF line ends; a cell is quoted when it holds `,`, `"`, CR or LF. */
const CSV_OPTIONS = { record_delimiter: "windows", quoted_match: /[\r\n]/ } as const;

function csvLines(rows: string[][]): string {
  return rows.length === 0 ? "" : stringify(rows, CSV_OPTIONS);
}

// ---------------------------------------------------------------- formula cells

/**
 * Spreadsheets (Excel, LibreOffice, Google Sheets) read a csv cell starting with one of
 * these as a formula, which can call functions (HYPERLINK, WEBSERVICE) or DDE: the
 * OWASP "CSV injection" list.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell a spreadsheet will read as text: a single quote is put before a cell
 * starting with `=`, `+`, `-`, `@`, tab or CR (OWASP's rule; the quote is the
 * spreadsheet's "this is text" mark and is not displayed). Other cells are unchanged.
 */
export function neutralizeFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/**
 * A phone number as people write it: `+`, then digits with spaces, dots, dashes and
 * parentheses (`+1 (415) 555-2671`, E.164 `+14155552671`). With no letter, `=`, `@`,
 * `!`, `|` or quote it can neither call a function nor reference a cell, so the phone
 * column keeps it as it is; quoting every international number would break imports of
 * the file. `+1+2` (a second `+`) is not one.
 */
const PLAIN_PHONE = /^\+\d[\d ().-]*$/;

function phoneCell(text: string): string {
  return PLAIN_PHONE.test(text) ? text : neutralizeFormula(text);
}

// ---------------------------------------------------------------- options

export function validateExportOptions(o: ExportOptions): void {
  if (typeof o !== "object" || o === null) throw new ExportOptionError("", "expected export options");
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) {
    throw new ExportOptionError("format", `format must be one of ${EXPORT_FORMATS.join(", ")}`);
  }
  if (!Array.isArray(o.customFields) || o.customFields.some((k) => typeof k !== "string")) {
    throw new ExportOptionError("customFields", "customFields must be an array of field keys");
  }
  if (o.excludeSuppressed !== undefined && typeof o.excludeSuppressed !== "boolean") {
    throw new ExportOptionError("excludeSuppressed", "excludeSuppressed must be a boolean");
  }
  if (o.formulas !== undefined && !(FORMULA_MODES as readonly string[]).includes(o.formulas)) {
    throw new ExportOptionError("formulas", `formulas must be one of ${FORMULA_MODES.join(", ")}`);
  }
  if (o.columns === undefined) return;
  if (o.format !== "csv") {
    throw new ExportOptionError("columns", `columns apply only to the csv format, not ${o.format}`);
  }
  if (!Array.isArray(o.columns) || o.columns.length === 0) {
    throw new ExportOptionError("columns", "columns must be a non-empty array of column names");
  }
  resolveColumns(o.columns, o.customFields, false, o.computedFields ?? []);
}

/** A contact to export: the stored record, with its computed values when the workspace has computed fields. */
export type ExportRecord = ContactRecord & { computed?: ComputedValues };

type Getter = (r: ExportRecord) => string;

/** The cell text of a stored value: lists joined with `;`, booleans and numbers as JSON. */
function cell(v: ContactValue | undefined): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.join(LIST_SEPARATOR);
  return String(v);
}

function builtinGetter(c: BuiltinColumn, neutralize: boolean): Getter {
  if (!neutralize) return rawBuiltinGetter(c);
  if (c === "phone") return (r) => phoneCell(r.phone ?? "");
  const raw = rawBuiltinGetter(c);
  return (r) => neutralizeFormula(raw(r));
}

/**
 * A custom field's cell. A number value is written as a JSON number and left as it is
 * (`-12.5` stays a negative number in a spreadsheet): it was stored as a number, so it
 * cannot hold a formula. Text and lists are neutralised, `-5` stored as text included.
 */
function customGetter(key: string, neutralize: boolean): Getter {
  if (!neutralize) return (r) => cell(r.fields[key]);
  return (r) => {
    const v = r.fields[key];
    return typeof v === "number" ? String(v) : neutralizeFormula(cell(v));
  };
}

/** A computed field's cell: numbers as they are, instants and strings neutralised as text. */
function computedGetter(key: string, neutralize: boolean): Getter {
  return (r) => {
    const v = r.computed?.[key];
    if (v === null || v === undefined) return "";
    return typeof v === "number" || !neutralize ? String(v) : neutralizeFormula(v);
  };
}

function rawBuiltinGetter(c: BuiltinColumn): Getter {
  const f = BUILTIN_BY_KEY.get(c);
  const value = (r: ExportRecord) => (r as unknown as Record<string, unknown>)[c];
  switch (f?.wire) {
    case "list":
      return (r) => (value(r) as string[]).join(LIST_SEPARATOR);
    case "instant":
      return (r) => {
        const t = value(r) as number | null | undefined;
        return t == null ? "" : isoInstant(t);
      };
    default:
      return (r) => (value(r) as string | null | undefined) ?? "";
  }
}

/** Column names to cell getters; throws ExportOptionError on an unknown or repeated one. */
function resolveColumns(
  columns: readonly string[],
  customFields: readonly string[],
  neutralize = false,
  computedFields: readonly string[] = [],
): Getter[] {
  const custom = new Set(customFields);
  const computed = new Set(computedFields);
  const seen = new Map<string, number>();
  return columns.map((name, i) => {
    const path = `columns[${i}]`;
    if (typeof name !== "string") throw new ExportOptionError(path, "a column name must be a string");
    let getter: Getter;
    let id: string;
    if (BUILTIN_COLUMNS.has(name)) {
      getter = builtinGetter(name as BuiltinColumn, neutralize);
      id = name;
    } else if (
      name.startsWith("computed.")
        ? computed.has(name.slice("computed.".length))
        : computed.has(name) && !custom.has(name)
    ) {
      const key = name.startsWith("computed.") ? name.slice("computed.".length) : name;
      getter = computedGetter(key, neutralize);
      id = `computed.${key}`;
    } else {
      const key = name.startsWith("fields.") ? name.slice("fields.".length) : name;
      if (!custom.has(key)) {
        const known = [...DEFAULT_CSV_COLUMNS, ...customFields, ...computedFields].join(", ");
        throw new ExportOptionError(path, `unknown column "${name}" (known: ${known})`);
      }
      getter = customGetter(key, neutralize);
      id = `fields.${key}`;
    }
    const before = seen.get(id);
    if (before !== undefined) {
      throw new ExportOptionError(path, `column "${name}" is listed twice (also columns[${before}])`);
    }
    seen.set(id, i);
    return getter;
  });
}

/** The default csv columns for a workspace's custom fields, then its computed fields. */
export function defaultCsvColumns(
  customFields: readonly string[],
  computedFields: readonly string[] = [],
): string[] {
  return [
    ...DEFAULT_CSV_COLUMNS,
    ...customFields.map((k) => (BUILTIN_COLUMNS.has(k) ? `fields.${k}` : k)),
    ...computedFields.map((k) => (BUILTIN_COLUMNS.has(k) ? `computed.${k}` : k)),
  ];
}

// ---------------------------------------------------------------- HTTP helpers

export function contentType(format: ExportFormat): string {
  return format === "ndjson" ? "application/x-ndjson" : "text/csv; charset=utf-8";
}

/** e.g. `seg_123.csv`, `seg_123.ndjson`, `seg_123-meta.csv`, `seg_123-google.csv`. */
export function fileName(segmentId: string, format: ExportFormat): string {
  const base = segmentId.replace(/[^A-Za-z0-9_.-]/g, "_") || "segment";
  switch (format) {
    case "csv":
      return `${base}.csv`;
    case "ndjson":
      return `${base}.ndjson`;
    case "meta":
      return `${base}-meta.csv`;
    case "google":
      return `${base}-google.csv`;
  }
}

// ---------------------------------------------------------------- streaming

/** Unsubscribed, hard-bounced or complained: left out of exports by default. */
export function isSuppressed(r: ContactRecord): boolean {
  return r.status === "unsubscribed" || r.email_status === "hard_bounced" || r.email_status === "complained";
}

interface Writer {
  header: string;
  page(records: readonly ExportRecord[]): string;
}

/**
 * Meta and Google files: hashed cells are hex and cannot start a formula, so escaping
 * every cell only ever changes the plain-text ones (`extern_id`, Zip).
 */
function rowsWriter(
  header: readonly string[],
  row: (r: ContactRecord) => string[],
  neutralize: boolean,
): Writer {
  return {
    header: csvLines([[...header]]),
    page(records) {
      const rows: string[][] = [];
      for (const r of records) {
        const cells = neutralize ? row(r).map(neutralizeFormula) : row(r);
        // A row with nothing to match on is left out rather than written as ",,,".
        if (cells.some((c) => c !== "")) rows.push(cells);
      }
      return csvLines(rows);
    },
  };
}

function writerFor(opts: ExportOptions): Writer {
  const neutralize = (opts.formulas ?? "escape") === "escape";
  switch (opts.format) {
    case "ndjson":
      return {
        header: "",
        page(records) {
          let out = "";
          for (const r of records) {
            const wire =
              r.computed === undefined ? toWireContact(r) : { ...toWireContact(r), computed: r.computed };
            out += `${JSON.stringify(wire)}\n`;
          }
          return out;
        },
      };
    case "csv": {
      const computed = opts.computedFields ?? [];
      const names = opts.columns ?? defaultCsvColumns(opts.customFields, computed);
      const getters = resolveColumns(names, opts.customFields, neutralize, computed);
      return {
        header: csvLines([neutralize ? names.map(neutralizeFormula) : [...names]]),
        page(records) {
          return csvLines(records.map((r) => getters.map((g) => g(r))));
        },
      };
    }
    case "meta":
      return rowsWriter(META_HEADER, metaRow, neutralize);
    case "google":
      return rowsWriter(GOOGLE_HEADER, googleRow, neutralize);
  }
}

/**
 * Streams the export as text chunks with constant memory: pages in, chunks out (the
 * header first, for the csv-based formats; then at most one chunk per page, none for
 * a page left empty by suppression). Validates the options at once, before anything
 * is read: an invalid option throws ExportOptionError from this call.
 */
export function exportChunks(
  pages: AsyncIterable<ExportRecord[]>,
  opts: ExportOptions,
): AsyncIterable<string> {
  validateExportOptions(opts);
  const writer = writerFor(opts);
  const exclude = opts.excludeSuppressed ?? true;
  return (async function* () {
    if (writer.header !== "") yield writer.header;
    for await (const page of pages) {
      const kept = exclude ? page.filter((r) => !isSuppressed(r)) : page;
      const chunk = writer.page(kept);
      if (chunk !== "") yield chunk;
    }
  })();
}
