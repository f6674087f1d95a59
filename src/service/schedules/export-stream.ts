/**
 * The bytes of a segment's export, as `GET /v1/segments/{id}/export` makes them (pages
 * of members in, from `exportPages`; chunks out, memory flat in the segment's size),
 * counted on the way: the data rows and the bytes handed to the upload.
 */
import { type ExportOptions, type ExportRecord, exportChunks } from "../exports.ts";

export interface ExportCount {
  /** Data rows (records of csv-based formats after the header, lines of ndjson). */
  rows: number;
  bytes: number;
}

/**
 * Counts records in export text. The csv writer quotes every cell holding CR or LF
 * and doubles quotes inside quoted cells, so a CRLF outside quotes ends a record; a
 * doubled quote flips the state twice. Chunks end on record boundaries, but the state
 * is carried over anyway.
 */
class RecordCounter {
  private inQuotes = false;
  records = 0;

  constructor(private readonly csv: boolean) {}

  add(chunk: string): void {
    if (!this.csv) {
      // JSON.stringify escapes line breaks inside strings: one line per record.
      for (let i = chunk.indexOf("\n"); i !== -1; i = chunk.indexOf("\n", i + 1)) this.records++;
      return;
    }
    let q = this.inQuotes;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 34) q = !q;
      else if (c === 10 && !q) this.records++;
    }
    this.inQuotes = q;
  }
}

/**
 * The export as UTF-8 buffers. `count` is updated as chunks are taken, so after a
 * failure it tells how far the upload got. Invalid options throw ExportOptionError
 * from this call, before anything is read.
 */
export function exportBytes(
  pages: AsyncIterable<ExportRecord[]>,
  opts: ExportOptions,
  count: ExportCount,
): AsyncIterable<Buffer> {
  const chunks = exportChunks(pages, opts);
  const csv = opts.format !== "ndjson";
  const counter = new RecordCounter(csv);
  return (async function* () {
    for await (const chunk of chunks) {
      counter.add(chunk);
      const buf = Buffer.from(chunk, "utf8");
      count.bytes += buf.length;
      // The header is one record of the csv-based formats.
      count.rows = csv ? Math.max(0, counter.records - 1) : counter.records;
      yield buf;
    }
  })();
}
