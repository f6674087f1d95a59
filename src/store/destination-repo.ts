/**
 * Store tables of destinations (SPEC §4.2, docs/destinations.md): the destination with
 * its sync position, the members the remote audience holds (and how the provider knows
 * each, so a contact erased since can still be taken out), sync runs and per-contact
 * outcomes. Bound to one workspace over an executor (`store.executorFor(ws)`), inside
 * a transaction too. One module for the four tables, slightly over 500 lines: a sync
 * run writes them together, and their row mappings share the destination's columns.
 */
import type { Executor, Row } from "./executor.ts";
import { newId } from "./ids.ts";
import { keyCursor, limitOf, page } from "./paging.ts";
import type { Dialect, JsonObject, Page, PageRequest } from "./types.ts";

export type DestinationState = "active" | "paused";
export type RunKind = "full" | "incremental" | "dry_run";
export type RunState = "running" | "succeeded" | "partial" | "failed";
export type OutcomeOp = "add" | "remove";
export type OutcomeStatus = "ok" | "failed" | "skipped";

export interface DestinationStats {
  /** Rows the provider accepted, ever. */
  added: number;
  removed: number;
  failed: number;
  skipped: number;
  /** Provider figures of the last call that reported them (Meta's match counts…). */
  provider?: Record<string, number>;
  /** The remote audience's size as the provider last told it (providers that tell it). */
  provider_size?: number;
}

export interface DestinationRecord {
  id: string;
  workspace_id: string;
  name: string;
  kind: string;
  segment_id: string;
  /** What reads show: no secrets. */
  config: JsonObject;
  /** Credentials, sealed (src/service/secret-box.ts). */
  secrets: string;
  connector_state: JsonObject;
  state: DestinationState;
  /** The first full sync is done; from then on only changes after `cursor` are sent. */
  full_done: boolean;
  /** During the full sync: the change-log position it started from … */
  full_seq: number | null;
  /** … and the last contact id sent (members are sent in id order). */
  full_cursor: string | null;
  /** The last change-log sequence number applied. */
  cursor: number;
  /** Failed passes in a row (backoff). */
  failures: number;
  next_attempt_at: number | null;
  last_sync_at: number | null;
  last_error: string | null;
  stats: DestinationStats;
  created_at: number;
  updated_at: number;
}

export type NewDestination = Pick<
  DestinationRecord,
  "name" | "kind" | "segment_id" | "config" | "secrets" | "state"
> & { id?: string };

export type DestinationPatch = Partial<
  Omit<DestinationRecord, "id" | "workspace_id" | "kind" | "created_at" | "updated_at">
>;

export interface RunRecord {
  id: string;
  destination_id: string;
  kind: RunKind;
  state: RunState;
  from_seq: number | null;
  to_seq: number | null;
  added: number;
  removed: number;
  failed: number;
  skipped: number;
  /** Dry runs: `{would_add, would_remove, requests}`; Meta: match counts. */
  stats: JsonObject;
  error: string | null;
  started_at: number;
  finished_at: number | null;
}

export interface OutcomeRecord {
  run_id: string;
  contact_id: string;
  op: OutcomeOp;
  status: OutcomeStatus;
  error: string | null;
  at: number;
}

const COUNTERS = ["added", "removed", "failed", "skipped"] as const;

function json<T>(d: Dialect, v: unknown): T {
  return (d === "sqlite" && typeof v === "string" ? JSON.parse(v) : v) as T;
}
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Rows per statement in multi-row writes. */
const CHUNK = 200;

export class DestinationRepo {
  private readonly d: Dialect;

  constructor(
    private readonly x: Executor,
    private readonly ws: string,
  ) {
    this.d = x.dialect;
  }

  /** The same repository over another executor (a transaction's). */
  on(x: Executor): DestinationRepo {
    return new DestinationRepo(x, this.ws);
  }

  private toDestination(r: Row): DestinationRecord {
    return {
      id: String(r.id),
      workspace_id: String(r.workspace_id),
      name: String(r.name),
      kind: String(r.kind),
      segment_id: String(r.segment_id),
      config: json(this.d, r.config),
      secrets: String(r.secrets),
      connector_state: json(this.d, r.connector_state),
      state: String(r.state) as DestinationState,
      full_done: r.full_done === true || Number(r.full_done) === 1,
      full_seq: numOrNull(r.full_seq),
      full_cursor: strOrNull(r.full_cursor),
      cursor: Number(r.cursor),
      failures: Number(r.failures),
      next_attempt_at: numOrNull(r.next_attempt_at),
      last_sync_at: numOrNull(r.last_sync_at),
      last_error: strOrNull(r.last_error),
      stats: json(this.d, r.stats),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
    };
  }

  private bool(v: boolean): boolean | number {
    return this.d === "sqlite" ? (v ? 1 : 0) : v;
  }

  async create(n: NewDestination, now: number): Promise<DestinationRecord> {
    const id = n.id ?? newId("dst", now);
    const stats: DestinationStats = { added: 0, removed: 0, failed: 0, skipped: 0 };
    await this.x.run(
      `INSERT INTO destinations (workspace_id, id, name, kind, segment_id, config, secrets, connector_state,
         state, full_done, full_seq, full_cursor, cursor, failures, next_attempt_at, last_sync_at, last_error,
         stats, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, 0, NULL, NULL, NULL, ?, ?, ?)`,
      [
        this.ws,
        id,
        n.name,
        n.kind,
        n.segment_id,
        JSON.stringify(n.config),
        n.secrets,
        "{}",
        n.state,
        this.bool(false),
        JSON.stringify(stats),
        now,
        now,
      ],
    );
    return (await this.get(id))!;
  }

  async get(id: string): Promise<DestinationRecord | null> {
    const rows = await this.x.all("SELECT * FROM destinations WHERE workspace_id = ? AND id = ?", [
      this.ws,
      id,
    ]);
    return rows.length > 0 ? this.toDestination(rows[0]) : null;
  }

  async list(): Promise<DestinationRecord[]> {
    const rows = await this.x.all("SELECT * FROM destinations WHERE workspace_id = ? ORDER BY id", [this.ws]);
    return rows.map((r) => this.toDestination(r));
  }

  async update(id: string, patch: DestinationPatch, now: number): Promise<DestinationRecord | null> {
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [key, value] of Object.entries(patch) as [keyof DestinationPatch, unknown][]) {
      if (value === undefined) continue;
      sets.push(`${key} = ?`);
      if (key === "config" || key === "connector_state" || key === "stats")
        params.push(JSON.stringify(value));
      else if (key === "full_done") params.push(this.bool(value as boolean));
      else params.push(value);
    }
    sets.push("updated_at = ?");
    params.push(now);
    await this.x.run(`UPDATE destinations SET ${sets.join(", ")} WHERE workspace_id = ? AND id = ?`, [
      ...params,
      this.ws,
      id,
    ]);
    return this.get(id);
  }

  /** Also its members, runs and outcomes. */
  async delete(id: string): Promise<boolean> {
    return this.x.atomic(async (tx) => {
      await tx.run(
        `DELETE FROM destination_outcomes WHERE workspace_id = ? AND run_id IN
           (SELECT id FROM destination_runs WHERE workspace_id = ? AND destination_id = ?)`,
        [this.ws, this.ws, id],
      );
      await tx.run("DELETE FROM destination_runs WHERE workspace_id = ? AND destination_id = ?", [
        this.ws,
        id,
      ]);
      await tx.run("DELETE FROM destination_members WHERE workspace_id = ? AND destination_id = ?", [
        this.ws,
        id,
      ]);
      return (await tx.run("DELETE FROM destinations WHERE workspace_id = ? AND id = ?", [this.ws, id])) > 0;
    });
  }

  /** Destinations that sync this segment (what refers to a segment). */
  async ofSegment(segmentId: string): Promise<string[]> {
    const rows = await this.x.all("SELECT id FROM destinations WHERE workspace_id = ? AND segment_id = ?", [
      this.ws,
      segmentId,
    ]);
    return rows.map((r) => String(r.id));
  }

  // ---------------------------------------------------------------- remote members

  async putMembers(
    destinationId: string,
    members: { contact_id: string; remote_key: string }[],
    now: number,
  ) {
    for (let i = 0; i < members.length; i += CHUNK) {
      const part = members.slice(i, i + CHUNK);
      await this.x.run(
        `INSERT INTO destination_members (workspace_id, destination_id, contact_id, remote_key, synced_at)
         VALUES ${part.map(() => "(?, ?, ?, ?, ?)").join(", ")}
         ON CONFLICT (workspace_id, destination_id, contact_id)
         DO UPDATE SET remote_key = excluded.remote_key, synced_at = excluded.synced_at`,
        part.flatMap((m) => [this.ws, destinationId, m.contact_id, m.remote_key, now]),
      );
    }
  }

  async deleteMembers(destinationId: string, contactIds: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < contactIds.length; i += CHUNK) {
      const part = contactIds.slice(i, i + CHUNK);
      n += await this.x.run(
        `DELETE FROM destination_members WHERE workspace_id = ? AND destination_id = ?
           AND contact_id IN (${part.map(() => "?").join(", ")})`,
        [this.ws, destinationId, ...part],
      );
    }
    return n;
  }

  /** The remote members among these contacts (absent ones are not in the remote audience). */
  async getMembers(
    destinationId: string,
    contactIds: string[],
  ): Promise<{ contact_id: string; remote_key: string }[]> {
    const out: { contact_id: string; remote_key: string }[] = [];
    for (let i = 0; i < contactIds.length; i += CHUNK) {
      const part = contactIds.slice(i, i + CHUNK);
      const rows = await this.x.all(
        `SELECT contact_id, remote_key FROM destination_members WHERE workspace_id = ? AND destination_id = ?
           AND contact_id IN (${part.map(() => "?").join(", ")})`,
        [this.ws, destinationId, ...part],
      );
      for (const r of rows) out.push({ contact_id: String(r.contact_id), remote_key: String(r.remote_key) });
    }
    return out;
  }

  async countMembers(destinationId: string): Promise<number> {
    const rows = await this.x.all(
      "SELECT COUNT(*) AS n FROM destination_members WHERE workspace_id = ? AND destination_id = ?",
      [this.ws, destinationId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Remote members in contact id order (the full sync's removal of members that left meanwhile). */
  async listMembers(
    destinationId: string,
    req: PageRequest = {},
  ): Promise<Page<{ contact_id: string; remote_key: string }>> {
    const limit = limitOf(req);
    const rows = await this.x.all(
      `SELECT contact_id, remote_key FROM destination_members WHERE workspace_id = ? AND destination_id = ?
         AND contact_id > ? ORDER BY contact_id LIMIT ?`,
      [this.ws, destinationId, keyCursor(req.cursor), limit + 1],
    );
    return page(
      rows.map((r) => ({ contact_id: String(r.contact_id), remote_key: String(r.remote_key) })),
      limit,
      (m) => m.contact_id,
    );
  }

  // ---------------------------------------------------------------- runs and outcomes

  private toRun(r: Row): RunRecord {
    return {
      id: String(r.id),
      destination_id: String(r.destination_id),
      kind: String(r.kind) as RunKind,
      state: String(r.state) as RunState,
      from_seq: numOrNull(r.from_seq),
      to_seq: numOrNull(r.to_seq),
      added: Number(r.added),
      removed: Number(r.removed),
      failed: Number(r.failed),
      skipped: Number(r.skipped),
      stats: json(this.d, r.stats),
      error: strOrNull(r.error),
      started_at: Number(r.started_at),
      finished_at: numOrNull(r.finished_at),
    };
  }

  async createRun(
    destinationId: string,
    run: { kind: RunKind; from_seq?: number | null; stats?: JsonObject },
    now: number,
  ): Promise<RunRecord> {
    const id = newId("run", now);
    await this.x.run(
      `INSERT INTO destination_runs (workspace_id, id, destination_id, kind, state, from_seq, to_seq,
         added, removed, failed, skipped, stats, error, started_at, finished_at)
       VALUES (?, ?, ?, ?, 'running', ?, NULL, 0, 0, 0, 0, ?, NULL, ?, NULL)`,
      [this.ws, id, destinationId, run.kind, run.from_seq ?? null, JSON.stringify(run.stats ?? {}), now],
    );
    return (await this.getRun(id))!;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const rows = await this.x.all("SELECT * FROM destination_runs WHERE workspace_id = ? AND id = ?", [
      this.ws,
      id,
    ]);
    return rows.length > 0 ? this.toRun(rows[0]) : null;
  }

  /** The destination's run still marked running (one left by a stopped process, or in progress). */
  async openRun(destinationId: string): Promise<RunRecord | null> {
    const rows = await this.x.all(
      `SELECT * FROM destination_runs WHERE workspace_id = ? AND destination_id = ? AND state = 'running'
         AND kind <> 'dry_run' ORDER BY started_at DESC, id DESC LIMIT 1`,
      [this.ws, destinationId],
    );
    return rows.length > 0 ? this.toRun(rows[0]) : null;
  }

  /** Adds to the counters and sets the other fields given. */
  async updateRun(
    id: string,
    patch: {
      add?: Partial<Record<(typeof COUNTERS)[number], number>>;
      state?: RunState;
      to_seq?: number | null;
      stats?: JsonObject;
      error?: string | null;
      finished_at?: number | null;
    },
  ): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const c of COUNTERS) {
      const v = patch.add?.[c];
      if (v) {
        sets.push(`${c} = ${c} + ?`);
        params.push(v);
      }
    }
    const plain: [string, unknown][] = [
      ["state", patch.state],
      ["to_seq", patch.to_seq],
      ["stats", patch.stats === undefined ? undefined : JSON.stringify(patch.stats)],
      ["error", patch.error],
      ["finished_at", patch.finished_at],
    ];
    for (const [column, value] of plain) {
      if (value === undefined) continue;
      sets.push(`${column} = ?`);
      params.push(value);
    }
    if (sets.length === 0) return;
    await this.x.run(`UPDATE destination_runs SET ${sets.join(", ")} WHERE workspace_id = ? AND id = ?`, [
      ...params,
      this.ws,
      id,
    ]);
  }

  /** Newest first. The cursor is the last run's `started_at:id`. */
  async listRuns(destinationId: string, req: PageRequest = {}): Promise<Page<RunRecord>> {
    const limit = limitOf(req);
    let cond = "";
    const params: unknown[] = [this.ws, destinationId];
    if (req.cursor) {
      const m = /^(\d{1,16}):(.{1,100})$/.exec(req.cursor);
      if (!m) throw new Error(`invalid cursor "${req.cursor}"`);
      cond = " AND (started_at < ? OR (started_at = ? AND id < ?))";
      params.push(Number(m[1]), Number(m[1]), m[2]);
    }
    const rows = await this.x.all(
      `SELECT * FROM destination_runs WHERE workspace_id = ? AND destination_id = ?${cond}
         ORDER BY started_at DESC, id DESC LIMIT ?`,
      [...params, limit + 1],
    );
    return page(
      rows.map((r) => this.toRun(r)),
      limit,
      (r) => `${r.started_at}:${r.id}`,
    );
  }

  /** Marks runs left running by a stopped process as failed (at start-up). */
  async failOpenRuns(error: string, now: number): Promise<number> {
    return this.x.run(
      "UPDATE destination_runs SET state = 'failed', error = ?, finished_at = ? WHERE workspace_id = ? AND state = 'running'",
      [error, now, this.ws],
    );
  }

  async addOutcomes(runId: string, outcomes: Omit<OutcomeRecord, "run_id">[]): Promise<void> {
    for (let i = 0; i < outcomes.length; i += CHUNK) {
      const part = outcomes.slice(i, i + CHUNK);
      await this.x.run(
        `INSERT INTO destination_outcomes (workspace_id, run_id, contact_id, op, status, error, at)
         VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ")}
         ON CONFLICT (workspace_id, run_id, contact_id, op)
         DO UPDATE SET status = excluded.status, error = excluded.error, at = excluded.at`,
        part.flatMap((o) => [this.ws, runId, o.contact_id, o.op, o.status, o.error, o.at]),
      );
    }
  }

  /** A run's outcomes in contact order; `status` filters (e.g. only `failed`). */
  async listOutcomes(
    runId: string,
    req: PageRequest & { status?: OutcomeStatus } = {},
  ): Promise<Page<OutcomeRecord>> {
    const limit = limitOf(req);
    const params: unknown[] = [this.ws, runId];
    let cond = "";
    if (req.status) {
      cond += " AND status = ?";
      params.push(req.status);
    }
    if (req.cursor) {
      const m = /^(add|remove):(.{1,200})$/.exec(req.cursor);
      if (!m) throw new Error(`invalid cursor "${req.cursor}"`);
      cond += " AND (contact_id > ? OR (contact_id = ? AND op > ?))";
      params.push(m[2], m[2], m[1]);
    }
    const rows = await this.x.all(
      `SELECT * FROM destination_outcomes WHERE workspace_id = ? AND run_id = ?${cond}
         ORDER BY contact_id, op LIMIT ?`,
      [...params, limit + 1],
    );
    return page(
      rows.map((r) => ({
        run_id: String(r.run_id),
        contact_id: String(r.contact_id),
        op: String(r.op) as OutcomeOp,
        status: String(r.status) as OutcomeStatus,
        error: strOrNull(r.error),
        at: Number(r.at),
      })),
      limit,
      (o) => `${o.op}:${o.contact_id}`,
    );
  }

  /** Drops outcomes recorded before `before` (they are kept for a set time). */
  async purgeOutcomes(before: number): Promise<number> {
    return this.x.run("DELETE FROM destination_outcomes WHERE workspace_id = ? AND at < ?", [
      this.ws,
      before,
    ]);
  }

  /** Changes of the segment logged after `cursor`, by kind: what is still to be sent. */
  async pending(
    segmentId: string,
    cursor: number,
  ): Promise<{ entered: number; exited: number; oldest_at: number | null }> {
    const rows = await this.x.all(
      `SELECT change, COUNT(*) AS n, MIN(at) AS oldest FROM changes
         WHERE workspace_id = ? AND segment_id = ? AND seq > ? GROUP BY change`,
      [this.ws, segmentId, cursor],
    );
    let entered = 0;
    let exited = 0;
    let oldest: number | null = null;
    for (const r of rows) {
      if (r.change === "entered") entered = Number(r.n);
      else exited = Number(r.n);
      const o = numOrNull(r.oldest);
      if (o !== null && (oldest === null || o < oldest)) oldest = o;
    }
    return { entered, exited, oldest_at: oldest };
  }
}
