/** The shapes an import's parsers read and answer, their options and their errors. */
import type { Readable } from "node:stream";
import type { FieldType } from "../rules/fields.ts";

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
