/** Import jobs: their options, counters and row errors, until they finish. */
import type { Executor, Row } from "../executor.ts";
import { newId } from "../ids.ts";
import { limitOf, page } from "../paging.ts";
import {
  type ImportJob,
  type ImportKind,
  type ImportProgress,
  type ImportRowError,
  type ImportStatus,
  type JsonObject,
  MAX_IMPORT_ERRORS,
  type NewImport,
  type Page,
  type PageRequest,
  StoreError,
} from "../types.ts";
import { json, num, type Scope, str } from "./scope.ts";

export class ImportRepo {
  constructor(private readonly s: Scope) {}

  private toImport(r: Row): ImportJob {
    return {
      id: String(r.id),
      kind: r.kind as ImportKind,
      status: r.status as ImportStatus,
      options: this.s.d.parseJson<JsonObject>(r.options),
      total: num(r.total),
      processed: Number(r.processed),
      accepted: Number(r.accepted),
      rejected: Number(r.rejected),
      errors: this.s.d.parseJson<ImportRowError[]>(r.errors),
      errors_dropped: Number(r.errors_dropped),
      failure: str(r.failure),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
      finished_at: num(r.finished_at),
    };
  }

  async create(job: NewImport): Promise<ImportJob> {
    const now = this.s.clock.now();
    const rec: ImportJob = {
      id: newId("imp", now),
      kind: job.kind,
      status: "pending",
      options: job.options ?? {},
      total: job.total ?? null,
      processed: 0,
      accepted: 0,
      rejected: 0,
      errors: [],
      errors_dropped: 0,
      failure: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
    };
    await this.s.x.run(
      `INSERT INTO imports (workspace_id, id, kind, status, options, total, processed, accepted, rejected, errors,
         errors_dropped, failure, created_at, updated_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?, 0, NULL, ?, ?, NULL)`,
      [this.s.ws, rec.id, rec.kind, rec.status, json(rec.options), rec.total, json([]), now, now],
    );
    return rec;
  }

  async get(id: string): Promise<ImportJob | null> {
    const rows = await this.s.x.all("SELECT * FROM imports WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? this.toImport(rows[0]) : null;
  }

  async list(req: PageRequest = {}): Promise<Page<ImportJob>> {
    const { x, ws } = this.s;
    const limit = limitOf(req);
    // Newest first; ids sort by creation time, so the id is the cursor.
    const rows = req.cursor
      ? await x.all("SELECT * FROM imports WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?", [
          ws,
          req.cursor,
          limit + 1,
        ])
      : await x.all("SELECT * FROM imports WHERE workspace_id = ? ORDER BY id DESC LIMIT ?", [ws, limit + 1]);
    return page(
      rows.map((r) => this.toImport(r)),
      limit,
      (j) => j.id,
    );
  }

  private async open(tx: Executor, id: string): Promise<ImportJob> {
    const rows = await tx.all(
      `SELECT * FROM imports WHERE workspace_id = ? AND id = ?${this.s.d.forUpdate()}`,
      [this.s.ws, id],
    );
    if (rows.length === 0) throw new StoreError("not_found", `import "${id}" not found`);
    const job = this.toImport(rows[0]);
    if (job.status === "done" || job.status === "failed") {
      throw new StoreError("invalid", `import "${id}" is finished (${job.status})`);
    }
    return job;
  }

  /** Adds to the counters and appends row errors; sets status `running` if it was `pending`. */
  async recordProgress(id: string, p: ImportProgress): Promise<ImportJob> {
    return this.s.x.atomic(async (tx) => {
      const job = await this.open(tx, id);
      const errors = [...job.errors];
      let dropped = job.errors_dropped;
      for (const e of p.errors ?? []) {
        if (errors.length < MAX_IMPORT_ERRORS) errors.push({ row: e.row, error: e.error });
        else dropped++;
      }
      const next: ImportJob = {
        ...job,
        status: "running",
        total: p.total === undefined ? job.total : p.total,
        processed: job.processed + (p.processed ?? 0),
        accepted: job.accepted + (p.accepted ?? 0),
        rejected: job.rejected + (p.rejected ?? 0),
        errors,
        errors_dropped: dropped,
        updated_at: this.s.clock.now(),
      };
      await tx.run(
        `UPDATE imports SET status = ?, total = ?, processed = ?, accepted = ?, rejected = ?, errors = ?, errors_dropped = ?,
           updated_at = ? WHERE workspace_id = ? AND id = ?`,
        [
          next.status,
          next.total,
          next.processed,
          next.accepted,
          next.rejected,
          json(next.errors),
          next.errors_dropped,
          next.updated_at,
          this.s.ws,
          id,
        ],
      );
      return next;
    });
  }

  /** Ends a job (`done` or `failed`); a finished job cannot change any more. */
  async finish(id: string, status: "done" | "failed", failure: string | null = null): Promise<ImportJob> {
    if (status !== "done" && status !== "failed")
      throw new StoreError("invalid", `an import ends "done" or "failed"`);
    return this.s.x.atomic(async (tx) => {
      const job = await this.open(tx, id);
      const now = this.s.clock.now();
      const next: ImportJob = { ...job, status, failure, finished_at: now, updated_at: now };
      await tx.run(
        "UPDATE imports SET status = ?, failure = ?, finished_at = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
        [status, failure, now, now, this.s.ws, id],
      );
      return next;
    });
  }
}
