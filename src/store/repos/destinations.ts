/**
 * Store tables of destinations (SPEC §4.2, docs/destinations.md): the destination with
 * its sync position, the members the remote audience holds (and how the provider knows
 * each, so a contact erased since can still be taken out), sync runs and per-contact
 * outcomes; one repository for the four tables, as a sync run writes them together.
 */
import type { Row } from "../executor.ts";
import { newId } from "../ids.ts";
import type {
  DestinationPatch,
  DestinationRecord,
  DestinationState,
  DestinationStats,
  NewDestination,
  OutcomeOp,
  OutcomeRecord,
  OutcomeStatus,
  RunKind,
  RunRecord,
  RunState,
} from "../model/destination.ts";
import { keyCursor, limitOf, page } from "../paging.ts";
import type { JsonObject, Page, PageRequest } from "../types.ts";
import { num, type Scope, str } from "./scope.ts";

const COUNTERS = ["added", "removed", "failed", "skipped"] as const;

/** Rows per statement in multi-row writes. */
const CHUNK = 200;

export class DestinationRepo {
  constructor(private readonly s: Scope) {}

  private toDestination(r: Row): DestinationRecord {
    return {
      id: String(r.id),
      workspace_id: String(r.workspace_id),
      name: String(r.name),
      kind: String(r.kind),
      segment_id: String(r.segment_id),
      config: this.s.d.parseJson(r.config),
      secrets: String(r.secrets),
      connector_state: this.s.d.parseJson(r.connector_state),
      state: String(r.state) as DestinationState,
      full_done: r.full_done === true || Number(r.full_done) === 1,
      full_seq: num(r.full_seq),
      full_cursor: str(r.full_cursor),
      cursor: Number(r.cursor),
      failures: Number(r.failures),
      next_attempt_at: num(r.next_attempt_at),
      last_sync_at: num(r.last_sync_at),
      last_error: str(r.last_error),
      stats: this.s.d.parseJson(r.stats),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
    };
  }

  async create(n: NewDestination, now: number): Promise<DestinationRecord> {
    const id = n.id ?? newId("dst", now);
    const stats: DestinationStats = { added: 0, removed: 0, failed: 0, skipped: 0 };
    await this.s.x.run(
      `INSERT INTO destinations (workspace_id, id, name, kind, segment_id, config, secrets, connector_state,
         state, full_done, full_seq, full_cursor, cursor, failures, next_attempt_at, last_sync_at, last_error,
         stats, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, 0, NULL, NULL, NULL, ?, ?, ?)`,
      [
        this.s.ws,
        id,
        n.name,
        n.kind,
        n.segment_id,
        JSON.stringify(n.config),
        n.secrets,
        "{}",
        n.state,
        false,
        JSON.stringify(stats),
        now,
        now,
      ],
    );
    return (await this.get(id))!;
  }

  async get(id: string): Promise<DestinationRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM destinations WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? this.toDestination(rows[0]) : null;
  }

  async list(): Promise<DestinationRecord[]> {
    const rows = await this.s.x.all("SELECT * FROM destinations WHERE workspace_id = ? ORDER BY id", [
      this.s.ws,
    ]);
    return rows.map((r) => this.toDestination(r));
  }

  async update(id: string, patch: DestinationPatch, now: number): Promise<DestinationRecord | null> {
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [key, value] of Object.entries(patch) as [keyof DestinationPatch, unknown][]) {
      if (value === undefined) continue;
      sets.push(`${key} = ?`);
      // A boolean (full_done) is bound as the database stores it (src/store/sqlite/connection.ts).
      if (key === "config" || key === "connector_state" || key === "stats")
        params.push(JSON.stringify(value));
      else params.push(value);
    }
    sets.push("updated_at = ?");
    params.push(now);
    await this.s.x.run(`UPDATE destinations SET ${sets.join(", ")} WHERE workspace_id = ? AND id = ?`, [
      ...params,
      this.s.ws,
      id,
    ]);
    return this.get(id);
  }

  /** Also its members, runs and outcomes. */
  async delete(id: string): Promise<boolean> {
    return this.s.x.atomic(async (tx) => {
      await tx.run(
        `DELETE FROM destination_outcomes WHERE workspace_id = ? AND run_id IN
           (SELECT id FROM destination_runs WHERE workspace_id = ? AND destination_id = ?)`,
        [this.s.ws, this.s.ws, id],
      );
      await tx.run("DELETE FROM destination_runs WHERE workspace_id = ? AND destination_id = ?", [
        this.s.ws,
        id,
      ]);
      await tx.run("DELETE FROM destination_members WHERE workspace_id = ? AND destination_id = ?", [
        this.s.ws,
        id,
      ]);
      return (
        (await tx.run("DELETE FROM destinations WHERE workspace_id = ? AND id = ?", [this.s.ws, id])) > 0
      );
    });
  }

  /** Destinations that sync this segment (what refers to a segment). */
  async ofSegment(segmentId: string): Promise<string[]> {
    const rows = await this.s.x.all("SELECT id FROM destinations WHERE workspace_id = ? AND segment_id = ?", [
      this.s.ws,
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
      await this.s.x.run(
        `INSERT INTO destination_members (workspace_id, destination_id, contact_id, remote_key, synced_at)
         VALUES ${part.map(() => "(?, ?, ?, ?, ?)").join(", ")}
         ON CONFLICT (workspace_id, destination_id, contact_id)
         DO UPDATE SET remote_key = excluded.remote_key, synced_at = excluded.synced_at`,
        part.flatMap((m) => [this.s.ws, destinationId, m.contact_id, m.remote_key, now]),
      );
    }
  }

  async deleteMembers(destinationId: string, contactIds: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < contactIds.length; i += CHUNK) {
      const part = contactIds.slice(i, i + CHUNK);
      n += await this.s.x.run(
        `DELETE FROM destination_members WHERE workspace_id = ? AND destination_id = ?
           AND contact_id IN (${part.map(() => "?").join(", ")})`,
        [this.s.ws, destinationId, ...part],
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
      const rows = await this.s.x.all(
        `SELECT contact_id, remote_key FROM destination_members WHERE workspace_id = ? AND destination_id = ?
           AND contact_id IN (${part.map(() => "?").join(", ")})`,
        [this.s.ws, destinationId, ...part],
      );
      for (const r of rows) out.push({ contact_id: String(r.contact_id), remote_key: String(r.remote_key) });
    }
    return out;
  }

  async countMembers(destinationId: string): Promise<number> {
    const rows = await this.s.x.all(
      "SELECT COUNT(*) AS n FROM destination_members WHERE workspace_id = ? AND destination_id = ?",
      [this.s.ws, destinationId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Remote members in contact id order (the full sync's removal of members that left meanwhile). */
  async listMembers(
    destinationId: string,
    req: PageRequest = {},
  ): Promise<Page<{ contact_id: string; remote_key: string }>> {
    const limit = limitOf(req);
    const rows = await this.s.x.all(
      `SELECT contact_id, remote_key FROM destination_members WHERE workspace_id = ? AND destination_id = ?
         AND contact_id > ? ORDER BY contact_id LIMIT ?`,
      [this.s.ws, destinationId, keyCursor(req.cursor), limit + 1],
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
      from_seq: num(r.from_seq),
      to_seq: num(r.to_seq),
      added: Number(r.added),
      removed: Number(r.removed),
      failed: Number(r.failed),
      skipped: Number(r.skipped),
      stats: this.s.d.parseJson(r.stats),
      error: str(r.error),
      started_at: Number(r.started_at),
      finished_at: num(r.finished_at),
    };
  }

  async createRun(
    destinationId: string,
    run: { kind: RunKind; from_seq?: number | null; stats?: JsonObject },
    now: number,
  ): Promise<RunRecord> {
    const id = newId("run", now);
    await this.s.x.run(
      `INSERT INTO destination_runs (workspace_id, id, destination_id, kind, state, from_seq, to_seq,
         added, removed, failed, skipped, stats, error, started_at, finished_at)
       VALUES (?, ?, ?, ?, 'running', ?, NULL, 0, 0, 0, 0, ?, NULL, ?, NULL)`,
      [this.s.ws, id, destinationId, run.kind, run.from_seq ?? null, JSON.stringify(run.stats ?? {}), now],
    );
    return (await this.getRun(id))!;
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM destination_runs WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? this.toRun(rows[0]) : null;
  }

  /** The destination's run still marked running (one left by a stopped process, or in progress). */
  async openRun(destinationId: string): Promise<RunRecord | null> {
    const rows = await this.s.x.all(
      `SELECT * FROM destination_runs WHERE workspace_id = ? AND destination_id = ? AND state = 'running'
         AND kind <> 'dry_run' ORDER BY started_at DESC, id DESC LIMIT 1`,
      [this.s.ws, destinationId],
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
    await this.s.x.run(`UPDATE destination_runs SET ${sets.join(", ")} WHERE workspace_id = ? AND id = ?`, [
      ...params,
      this.s.ws,
      id,
    ]);
  }

  /** Newest first. The cursor is the last run's `started_at:id`. */
  async listRuns(destinationId: string, req: PageRequest = {}): Promise<Page<RunRecord>> {
    const limit = limitOf(req);
    let cond = "";
    const params: unknown[] = [this.s.ws, destinationId];
    if (req.cursor) {
      const m = /^(\d{1,16}):(.{1,100})$/.exec(req.cursor);
      if (!m) throw new Error(`invalid cursor "${req.cursor}"`);
      cond = " AND (started_at < ? OR (started_at = ? AND id < ?))";
      params.push(Number(m[1]), Number(m[1]), m[2]);
    }
    const rows = await this.s.x.all(
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
    return this.s.x.run(
      "UPDATE destination_runs SET state = 'failed', error = ?, finished_at = ? WHERE workspace_id = ? AND state = 'running'",
      [error, now, this.s.ws],
    );
  }

  async addOutcomes(runId: string, outcomes: Omit<OutcomeRecord, "run_id">[]): Promise<void> {
    for (let i = 0; i < outcomes.length; i += CHUNK) {
      const part = outcomes.slice(i, i + CHUNK);
      await this.s.x.run(
        `INSERT INTO destination_outcomes (workspace_id, run_id, contact_id, op, status, error, at)
         VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ")}
         ON CONFLICT (workspace_id, run_id, contact_id, op)
         DO UPDATE SET status = excluded.status, error = excluded.error, at = excluded.at`,
        part.flatMap((o) => [this.s.ws, runId, o.contact_id, o.op, o.status, o.error, o.at]),
      );
    }
  }

  /** A run's outcomes in contact order; `status` filters (e.g. only `failed`). */
  async listOutcomes(
    runId: string,
    req: PageRequest & { status?: OutcomeStatus } = {},
  ): Promise<Page<OutcomeRecord>> {
    const limit = limitOf(req);
    const params: unknown[] = [this.s.ws, runId];
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
    const rows = await this.s.x.all(
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
        error: str(r.error),
        at: Number(r.at),
      })),
      limit,
      (o) => `${o.op}:${o.contact_id}`,
    );
  }

  /** Drops outcomes recorded before `before` (they are kept for a set time). */
  async purgeOutcomes(before: number): Promise<number> {
    return this.s.x.run("DELETE FROM destination_outcomes WHERE workspace_id = ? AND at < ?", [
      this.s.ws,
      before,
    ]);
  }

  /** Changes of the segment logged after `cursor`, by kind: what is still to be sent. */
  async pending(
    segmentId: string,
    cursor: number,
  ): Promise<{ entered: number; exited: number; oldest_at: number | null }> {
    const rows = await this.s.x.all(
      `SELECT change, COUNT(*) AS n, MIN(at) AS oldest FROM changes
         WHERE workspace_id = ? AND segment_id = ? AND seq > ? GROUP BY change`,
      [this.s.ws, segmentId, cursor],
    );
    let entered = 0;
    let exited = 0;
    let oldest: number | null = null;
    for (const r of rows) {
      if (r.change === "entered") entered = Number(r.n);
      else exited = Number(r.n);
      const o = num(r.oldest);
      if (o !== null && (oldest === null || o < oldest)) oldest = o;
    }
    return { entered, exited, oldest_at: oldest };
  }
}
