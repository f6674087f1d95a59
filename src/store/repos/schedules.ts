/**
 * Scheduled exports (`export_schedules`) and their runs (`export_runs`). A run is
 * claimed by inserting its row: the unique index on (workspace, schedule,
 * scheduled_for) lets one process, and one start of it, run a slot, whoever else tries.
 */
import type { Row } from "../executor.ts";
import { newId } from "../ids.ts";
import type {
  NewSchedule,
  RunOutcome,
  RunRecord,
  RunState,
  SchedulePatch,
  ScheduleRecord,
  ScheduleState,
} from "../model/schedule.ts";
import { num, type Scope } from "./scope.ts";

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    schedule_id: String(r.schedule_id),
    state: String(r.state) as RunState,
    scheduled_for: Number(r.scheduled_for),
    started_at: Number(r.started_at),
    finished_at: num(r.finished_at),
    rows_written: Number(r.rows_written),
    bytes_written: Number(r.bytes_written),
    location: r.location == null ? null : String(r.location),
    error: r.error == null ? null : String(r.error),
  };
}

const COLUMNS: Record<keyof NewSchedule, (v: unknown) => unknown> = {
  name: (v) => v,
  segment_id: (v) => v,
  format: (v) => v,
  options: (v) => JSON.stringify(v),
  cron: (v) => v,
  target: (v) => JSON.stringify(v),
  secrets: (v) => v,
  state: (v) => v,
  next_run_at: (v) => v,
};

export class ScheduleRepo {
  constructor(private readonly s: Scope) {}

  private toSchedule(r: Row): ScheduleRecord {
    return {
      id: String(r.id),
      workspace_id: String(r.workspace_id),
      name: String(r.name),
      segment_id: String(r.segment_id),
      format: String(r.format),
      options: this.s.d.parseJson(r.options),
      cron: String(r.cron),
      target: this.s.d.parseJson(r.target),
      secrets: String(r.secrets),
      state: String(r.state) as ScheduleState,
      next_run_at: num(r.next_run_at),
      last_run_at: num(r.last_run_at),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
    };
  }

  async create(s: NewSchedule, now: number): Promise<ScheduleRecord> {
    const rec: ScheduleRecord = {
      id: newId("exs", now),
      workspace_id: this.s.ws,
      ...s,
      last_run_at: null,
      created_at: now,
      updated_at: now,
    };
    await this.s.x.run(
      `INSERT INTO export_schedules (workspace_id, id, name, segment_id, format, options, cron, target, secrets,
         state, next_run_at, last_run_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        this.s.ws,
        rec.id,
        rec.name,
        rec.segment_id,
        rec.format,
        JSON.stringify(rec.options),
        rec.cron,
        JSON.stringify(rec.target),
        rec.secrets,
        rec.state,
        rec.next_run_at,
        null,
        now,
        now,
      ],
    );
    return rec;
  }

  async get(id: string): Promise<ScheduleRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM export_schedules WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? this.toSchedule(rows[0]!) : null;
  }

  async list(): Promise<ScheduleRecord[]> {
    const rows = await this.s.x.all("SELECT * FROM export_schedules WHERE workspace_id = ? ORDER BY id", [
      this.s.ws,
    ]);
    return rows.map((r) => this.toSchedule(r));
  }

  /** Active schedules whose next slot is at or before `now`, oldest slot first. */
  async due(now: number): Promise<ScheduleRecord[]> {
    const rows = await this.s.x.all(
      `SELECT * FROM export_schedules
       WHERE workspace_id = ? AND state = 'active' AND next_run_at IS NOT NULL AND next_run_at <= ?
       ORDER BY next_run_at, id`,
      [this.s.ws, now],
    );
    return rows.map((r) => this.toSchedule(r));
  }

  async update(id: string, patch: SchedulePatch, now: number): Promise<ScheduleRecord | null> {
    const sets: string[] = ["updated_at = ?"];
    const params: unknown[] = [now];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      const encode = COLUMNS[k as keyof NewSchedule];
      if (!encode) continue;
      sets.push(`${k} = ?`);
      params.push(encode(v));
    }
    const n = await this.s.x.run(
      `UPDATE export_schedules SET ${sets.join(", ")} WHERE workspace_id = ? AND id = ?`,
      [...params, this.s.ws, id],
    );
    return n > 0 ? this.get(id) : null;
  }

  async delete(id: string): Promise<boolean> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      // The foreign key cascades on PostgreSQL; SQLite's depends on the connection's setting.
      await tx.run("DELETE FROM export_runs WHERE workspace_id = ? AND schedule_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM export_schedules WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }

  /**
   * Claims slot `slot` of a schedule: inserts its run (state running) and, for a
   * scheduled slot (`advanceTo` given), moves `next_run_at` from `slot` to `advanceTo`.
   * Null when the slot is taken: run already, or claimed by another process.
   */
  async claimRun(
    scheduleId: string,
    slot: number,
    now: number,
    advanceTo?: { from: number; to: number | null },
  ): Promise<RunRecord | null> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      if (advanceTo) {
        const moved = await tx.run(
          `UPDATE export_schedules SET next_run_at = ?, last_run_at = ?
           WHERE workspace_id = ? AND id = ? AND state = 'active' AND next_run_at = ?`,
          [advanceTo.to, slot, ws, scheduleId, advanceTo.from],
        );
        if (moved === 0) return null;
      } else {
        const exists = await tx.run(
          "UPDATE export_schedules SET last_run_at = ? WHERE workspace_id = ? AND id = ?",
          [slot, ws, scheduleId],
        );
        if (exists === 0) return null;
      }
      const run: RunRecord = {
        id: newId("exr", now),
        workspace_id: ws,
        schedule_id: scheduleId,
        state: "running",
        scheduled_for: slot,
        started_at: now,
        finished_at: null,
        rows_written: 0,
        bytes_written: 0,
        location: null,
        error: null,
      };
      const inserted = await tx.run(
        `INSERT INTO export_runs (workspace_id, id, schedule_id, state, scheduled_for, started_at, finished_at,
           rows_written, bytes_written, location, error)
         VALUES (?, ?, ?, ?, ?, ?, NULL, 0, 0, NULL, NULL)
         ON CONFLICT (workspace_id, schedule_id, scheduled_for) DO NOTHING`,
        [ws, run.id, scheduleId, run.state, slot, now],
      );
      return inserted > 0 ? run : null;
    });
  }

  async finishRun(runId: string, o: RunOutcome): Promise<void> {
    await this.s.x.run(
      `UPDATE export_runs SET state = ?, rows_written = ?, bytes_written = ?, location = ?, error = ?, finished_at = ?
       WHERE workspace_id = ? AND id = ?`,
      [o.state, o.rows_written, o.bytes_written, o.location, o.error, o.finished_at, this.s.ws, runId],
    );
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM export_runs WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      runId,
    ]);
    return rows.length > 0 ? toRun(rows[0]!) : null;
  }

  /** Runs of a schedule, newest slot first; the cursor is the last slot of the page. */
  async listRuns(
    scheduleId: string,
    req: { limit: number; before?: number },
  ): Promise<{ data: RunRecord[]; next_cursor: string | null }> {
    const rows = await this.s.x.all(
      `SELECT * FROM export_runs WHERE workspace_id = ? AND schedule_id = ?${req.before !== undefined ? " AND scheduled_for < ?" : ""}
       ORDER BY scheduled_for DESC LIMIT ?`,
      [this.s.ws, scheduleId, ...(req.before !== undefined ? [req.before] : []), req.limit + 1],
    );
    const runs = rows.map(toRun);
    if (runs.length <= req.limit) return { data: runs, next_cursor: null };
    const data = runs.slice(0, req.limit);
    return { data, next_cursor: String(data[data.length - 1]!.scheduled_for) };
  }

  /**
   * Runs still `running` that started before `startedBefore`: their process stopped
   * during the run. Marked failed so that the history does not show them running forever.
   */
  async failStaleRuns(startedBefore: number, now: number, error: string): Promise<number> {
    return this.s.x.run(
      `UPDATE export_runs SET state = 'failed', error = ?, finished_at = ?
       WHERE workspace_id = ? AND state = 'running' AND started_at < ?`,
      [error, now, this.s.ws, startedBefore],
    );
  }
}
