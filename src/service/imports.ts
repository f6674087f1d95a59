/**
 * The import job runner (SPEC §4 `POST /v1/imports`, docs/imports.md). A job reads a
 * CSV of contacts or an NDJSON file of events in the background, batch by batch, and
 * hands each batch to an ImportSink, which validates and applies it with the same rules
 * as the API. After every batch the job's counters and row errors are recorded in the
 * store, so progress can be read while the file is being processed.
 *
 * Bad rows never stop the good ones: a row the parser cannot read, or the sink rejects,
 * is counted as rejected and listed with its row number and the reason. Only a failure
 * of the file as a whole (bad options or mapping, no header, an unreadable input, a
 * quote never closed, a sink or store failure) ends the job as `failed`, with the
 * reason; the batches before it stay applied.
 *
 * The runner knows neither HTTP nor the engine: the service implements the sink.
 */

import type { ImportJob, ImportKind, ImportRowError, JsonObject, Store } from "../store/types.ts";
import { StoreError } from "../store/types.ts";
import {
  type ContactImportOptions,
  type ContactImportRow,
  checkDateFormat,
  type EventImportRow,
  errorWithColumn,
  type ImportColumns,
  type ImportCustomField,
  ImportFileError,
  type ImportInput,
  type ImportRowFailure,
  parseContactsCsv,
  parseEventsNdjson,
} from "./import-parse.ts";

export {
  type ColumnTarget,
  type ContactImportOptions,
  type ContactImportRow,
  DATE_FORMATS,
  type DateFormat,
  defaultTarget,
  type EventImportRow,
  type ImportCustomField,
  ImportFileError,
  type ImportInput,
  type ImportRowFailure,
  MAX_IMPORT_ROW_BYTES,
  parseContactsCsv,
  parseEventsNdjson,
  resolveMapping,
  validateMapping,
} from "./import-parse.ts";

/** What the runner needs from the service: validate and apply batches. */
export interface ImportSink {
  /**
   * Validates and applies one batch of wire-form contact inputs; returns per-item errors
   * (index into the batch, message naming the bad part, e.g. `email: expected a string`).
   * Items not listed were applied. Also returns the ids of the contacts written (for
   * adding them to a static segment).
   */
  upsertContacts(
    batch: Record<string, unknown>[],
  ): Promise<{ errors: { index: number; error: string }[]; contactIds: string[] }>;
  /** Validates and ingests one batch of wire-form events; per-item errors as above. */
  ingestEvents(batch: Record<string, unknown>[]): Promise<{ errors: { index: number; error: string }[] }>;
  /** Adds contacts to a static segment (already written; repeated ids are harmless). */
  addToSegment(segmentId: string, contactIds: string[]): Promise<void>;
}

export interface ImportRunnerOptions {
  /** Default rows per sink call when a job's options give none (default 1,000). */
  batchSize?: number;
}

export const DEFAULT_IMPORT_BATCH_SIZE = 1000;
export const MAX_IMPORT_BATCH_SIZE = 10_000;

const IMPORT_KINDS: readonly ImportKind[] = ["contacts", "events"];

type Row = ContactImportRow | EventImportRow;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isBatchSize(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= MAX_IMPORT_BATCH_SIZE;
}

/** The options as stored with the job (JSON only, keys as given). */
function jobOptions(options: ContactImportOptions): JsonObject {
  const out: Record<string, unknown> = {};
  for (const key of ["mapping", "segment_id", "batchSize", "delimiter", "date_format"] as const) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  try {
    return JSON.parse(JSON.stringify(out)) as JsonObject;
  } catch {
    return {};
  }
}

/**
 * Runs import jobs of any workspace. One runner per process: `wait` knows only the
 * jobs started here, and `failInterrupted` (at start-up) ends the jobs that a previous
 * process left unfinished.
 */
export class ImportRunner {
  private readonly running = new Map<string, Promise<ImportJob>>();
  private readonly batchSize: number;

  constructor(
    private readonly store: Store,
    private readonly sink: ImportSink,
    opts: ImportRunnerOptions = {},
  ) {
    const size = opts.batchSize ?? DEFAULT_IMPORT_BATCH_SIZE;
    if (!isBatchSize(size))
      throw new RangeError(`batchSize must be an integer from 1 to ${MAX_IMPORT_BATCH_SIZE}`);
    this.batchSize = size;
  }

  /**
   * Creates the job (`pending`) and returns it at once; the file is read in the
   * background, progress being recorded after every batch. The runner consumes the
   * input and destroys it when it stops reading. `customFields` are the workspace's
   * custom fields (key and type): CSV cells of number and boolean fields are converted,
   * the others passed as text.
   */
  async start(
    ws: string,
    kind: ImportKind,
    input: ImportInput,
    options: ContactImportOptions = {},
    customFields: readonly ImportCustomField[] = [],
  ): Promise<ImportJob> {
    if (!IMPORT_KINDS.includes(kind)) throw new TypeError(`kind must be "contacts" or "events"`);
    // An input stream that fails before it is read must not crash the process; the
    // error is still seen by the reader, as the stream stays errored.
    const emitter = input as { on?: unknown };
    if (typeof emitter.on === "function") (input as NodeJS.ReadableStream).on("error", () => {});
    const opts = options ?? {};
    const job = await this.store.workspace(ws).imports.create({ kind, options: jobOptions(opts) });
    const key = this.key(ws, job.id);
    const run = this.run(ws, job.id, kind, input, opts, customFields).finally(() => this.running.delete(key));
    run.catch(() => {}); // `wait` reports it; nobody waiting is no crash
    this.running.set(key, run);
    return job;
  }

  /** Resolves with the job once it is finished (`done` or `failed`). */
  async wait(ws: string, id: string): Promise<ImportJob> {
    const run = this.running.get(this.key(ws, id));
    if (run) return run;
    const job = await this.store.workspace(ws).imports.get(id);
    if (!job) throw new StoreError("not_found", `import "${id}" not found`);
    if (job.status === "done" || job.status === "failed") return job;
    throw new Error(`import "${id}" is ${job.status} but not running in this process`);
  }

  /** Resolves when every job started by this runner has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Ends as `failed` the workspace's jobs left `pending` or `running` that this runner
   * is not running (a previous process stopped during them); returns how many. Call it
   * at start-up, before starting jobs.
   */
  async failInterrupted(ws: string): Promise<number> {
    const jobs = this.store.workspace(ws).imports;
    const stale: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await jobs.list({ cursor, limit: 1000 });
      for (const j of page.data) {
        const open = j.status === "pending" || j.status === "running";
        if (open && !this.running.has(this.key(ws, j.id))) stale.push(j.id);
      }
      cursor = page.next_cursor;
    } while (cursor !== null);
    for (const id of stale) {
      await jobs.finish(id, "failed", "the server stopped before the import finished");
    }
    return stale.length;
  }

  private key(ws: string, id: string): string {
    return `${ws}\u0000${id}`;
  }

  /** Why the options cannot be used, as an ImportFileError; the batch size otherwise. */
  private async checkOptions(ws: string, kind: ImportKind, o: ContactImportOptions): Promise<number> {
    if (typeof o !== "object" || Array.isArray(o)) throw new ImportFileError("options: expected an object");
    const size = o.batchSize ?? this.batchSize;
    if (!isBatchSize(size)) {
      throw new ImportFileError(`batchSize: expected an integer from 1 to ${MAX_IMPORT_BATCH_SIZE}`);
    }
    if (kind === "events") {
      for (const key of ["mapping", "delimiter", "segment_id", "date_format"] as const) {
        if (o[key] !== undefined) throw new ImportFileError(`${key}: applies to contact imports only`);
      }
    }
    checkDateFormat(o.date_format);
    if (o.segment_id !== undefined) {
      if (typeof o.segment_id !== "string" || o.segment_id === "") {
        throw new ImportFileError("segment_id: expected a segment id");
      }
      const seg = await this.store.workspace(ws).segments.get(o.segment_id);
      if (!seg) throw new ImportFileError(`segment_id: segment "${o.segment_id}" not found`);
      if (seg.kind !== "static") {
        throw new ImportFileError(
          `segment_id: segment "${o.segment_id}" is ${seg.kind}; an import adds contacts to a static segment`,
        );
      }
    }
    return size;
  }

  private async run(
    ws: string,
    id: string,
    kind: ImportKind,
    input: ImportInput,
    options: ContactImportOptions,
    customFields: readonly ImportCustomField[],
  ): Promise<ImportJob> {
    const jobs = this.store.workspace(ws).imports;
    let rows: AsyncIterator<Row | ImportRowFailure> | null = null;
    let processed = 0;
    let columns: ImportColumns | undefined;
    try {
      await jobs.recordProgress(id, {}); // pending → running
      const batchSize = await this.checkOptions(ws, kind, options);
      const segmentId = kind === "contacts" ? (options.segment_id ?? null) : null;
      rows = (
        kind === "contacts"
          ? parseContactsCsv(input, options, customFields, (c) => {
              columns = c;
            })
          : parseEventsNdjson(input)
      )[Symbol.asyncIterator]();

      let good: Row[] = [];
      let bad: ImportRowFailure[] = [];
      let readError: unknown = null;
      for (;;) {
        let next: IteratorResult<Row | ImportRowFailure>;
        try {
          next = await rows.next();
        } catch (e) {
          readError = e;
          break;
        }
        if (next.done) break;
        if ("error" in next.value) bad.push(next.value);
        else good.push(next.value);
        if (good.length + bad.length >= batchSize) {
          processed += await this.flush(ws, id, kind, good, bad, segmentId, columns);
          good = [];
          bad = [];
        }
      }
      // The rows read before a failure of the file are still imported.
      processed += await this.flush(ws, id, kind, good, bad, segmentId, columns);
      if (readError !== null) throw readError;
      await jobs.recordProgress(id, { total: processed });
      return await jobs.finish(id, "done");
    } catch (e) {
      const reason = e instanceof ImportFileError ? e.message : `the import stopped: ${message(e)}`;
      try {
        return await jobs.finish(id, "failed", reason);
      } catch {
        throw e;
      }
    } finally {
      if (rows?.return) await rows.return(undefined).catch(() => undefined);
      // A stream that was never read (bad options) is released too.
      const stream = input as { destroyed?: boolean; destroy?: () => void };
      if (typeof stream.destroy === "function" && stream.destroyed === false) stream.destroy();
    }
  }

  /**
   * Applies one batch through the sink and records it: processed, accepted, rejected,
   * and the row errors of the parser and the sink, in row order. Returns the rows
   * processed. A sink failure throws, naming the rows of the batch.
   */
  private async flush(
    ws: string,
    id: string,
    kind: ImportKind,
    good: Row[],
    bad: ImportRowFailure[],
    segmentId: string | null,
    columns: ImportColumns | undefined,
  ): Promise<number> {
    const count = good.length + bad.length;
    if (count === 0) return 0;
    const errors: ImportRowError[] = bad.map((b) => ({ row: b.row, error: b.error }));
    let accepted = 0;
    if (good.length > 0) {
      try {
        const rejected = new Map<number, string>();
        const addError = (e: { index: number; error: string }) => {
          if (Number.isInteger(e?.index) && e.index >= 0 && e.index < good.length && !rejected.has(e.index)) {
            rejected.set(e.index, String(e.error));
          }
        };
        if (kind === "contacts") {
          const batch = (good as ContactImportRow[]).map((r) => r.contact);
          const res = await this.sink.upsertContacts(batch);
          // The sink names the contact's wire path; the user knows the file's columns.
          for (const e of res?.errors ?? []) {
            addError(e ? { index: e.index, error: errorWithColumn(String(e.error), columns) } : e);
          }
          const ids = [...new Set(res?.contactIds ?? [])];
          if (segmentId !== null && ids.length > 0) await this.sink.addToSegment(segmentId, ids);
        } else {
          const batch = (good as EventImportRow[]).map((r) => r.event);
          const res = await this.sink.ingestEvents(batch);
          for (const e of res?.errors ?? []) addError(e);
        }
        for (const [i, error] of rejected) errors.push({ row: good[i].row, error });
        accepted = good.length - rejected.size;
      } catch (e) {
        const first = good[0].row;
        const last = good[good.length - 1].row;
        const rowsText = first === last ? `row ${first}` : `rows ${first}–${last}`;
        throw new ImportFileError(`the import stopped at ${rowsText}: ${message(e)}`);
      }
    }
    errors.sort((a, b) => a.row - b.row);
    await this.store.workspace(ws).imports.recordProgress(id, {
      processed: count,
      accepted,
      rejected: errors.length,
      errors,
    });
    return count;
  }
}
