/**
 * Parsing of import files (docs/imports.md): a CSV of contacts, mapped column by column
 * onto the contact wire form, and NDJSON of events, one JSON object per line. Both are
 * streamed: rows come out one by one as the input is read, so a file is never held in
 * memory as a whole, and a consumer that stops reading stops the reading of the input.
 *
 * Neither parser validates contacts or events beyond what the file format says (a cell
 * that cannot be a number for a number field, a line that is not JSON); that is the
 * sink's work (src/service/imports.ts), which applies the same rules as the API.
 *
 * This file reads the CSV; the mapping of its columns is in import-mapping.ts, the
 * reading of its cells in import-cells.ts, NDJSON in import-ndjson.ts and the shared
 * shapes in import-types.ts. Everything is re-exported from here.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parse as csvParse, type Parser } from "csv-parse";
import { toContact } from "./import-cells.ts";
import { type ColumnTarget, columnsOf, resolveMapping } from "./import-mapping.ts";
import {
  type ContactImportOptions,
  type ContactImportRow,
  checkDateFormat,
  type ImportColumns,
  type ImportCustomField,
  ImportFileError,
  type ImportInput,
  type ImportRowFailure,
  MAX_IMPORT_ROW_BYTES,
} from "./import-types.ts";

export {
  type ColumnTarget,
  columnLabel,
  defaultTarget,
  errorWithColumn,
  resolveMapping,
  validateMapping,
} from "./import-mapping.ts";
export { parseEventsNdjson } from "./import-ndjson.ts";
export * from "./import-types.ts";

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
