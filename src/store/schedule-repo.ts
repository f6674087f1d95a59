/**
 * Scheduled exports (`export_schedules`) and their runs (`export_runs`): functions over
 * an executor and a workspace id (`StoreOps.executorFor`). A run is claimed by inserting
 * its row: the unique index on (workspace, schedule, scheduled_for) lets one process,
 * and one start of it, run a slot, whoever else tries.
 */
import type { Executor, Row } from "./executor.ts";
import { newId } from "./ids.ts";
import type { Dialect, JsonObject } from "./types.ts";

export type ScheduleState = "active" | "paused";
export type RunState = "running" | "succeeded" | "failed";

export interface ScheduleRecord {
  id: string;
  workspace_id: string;
  name: string;
  segment_id: string;
  format: string;
  /** `{ columns?, exclude_suppressed }` */
  options: JsonObject;
  cron: string;
  /** Where to upload, without credentials (see `secrets`). */
  target: JsonObject;
  /** Sealed credentials (SecretBox), or "" when the target needs none. */
  secrets: string;
  state: ScheduleState;
  /** The next slot (ms); null while paused or when the expression has no further run. */
  next_run_at: number | null;
  /** The slot of the last run started (scheduled or manual). */
  last_run_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface NewSchedule {
  name: string;
  segment_id: string;
  format: string;
  options: JsonObject;
  cron: string;
  target: JsonObject;
  secrets: string;
  state: ScheduleState;
  next_run_at: number | null;
}

export type SchedulePatch = Partial<NewSchedule>;

export interface RunRecord {
  id: string;
  workspace_id: string;
  schedule_id: string;
  state: RunState;
  scheduled_for: number;
  started_at: number;
  finished_at: number | null;
  rows_written: number;
  bytes_written: number;
  location: string | null;
  error: string | null;
}

export interface RunOutcome {
  state: "succeeded" | "failed";
  rows_written: number;
  bytes_written: number;
  location: string | null;
  error: string | null;
  finished_at: number;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function json(d: Dialect, v: unknown): JsonObject {
  return (d === "sqlite" && typeof v === "string" ? JSON.parse(v) : v) as JsonObject;
}

function toSchedule(d: Dialect, r: Row): ScheduleRecord {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    name: String(r.name),
    segment_id: String(r.segment_id),
    format: String(r.format),
    options: json(d, r.options),
    cron: String(r.cron),
    target: json(d, r.target),
    secrets: String(r.secrets),
    state: String(r.state) as ScheduleState,
    next_run_at: num(r.next_run_at),
    last_run_at: num(r.last_run_at),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

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

export async function createSchedule(
  x: Executor,
  ws: string,
  s: NewSchedule,
  now: number,
): Promise<ScheduleRecord> {
  const rec: ScheduleRecord = {
    id: newId("exs", now),
    workspace_id: ws,
    ...s,
    last_run_at: null,
    created_at: now,
    updated_at: now,
  };
  await x.run(
    `INSERT INTO export_schedules (workspace_id, id, name, segment_id, format, options, cron, target, secrets,
       state, next_run_at, last_run_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      ws,
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

export async function getSchedule(x: Executor, ws: string, id: string): Promise<ScheduleRecord | null> {
  const rows = await x.all("SELECT * FROM export_schedules WHERE workspace_id = ? AND id = ?", [ws, id]);
  return rows.length > 0 ? toSchedule(x.dialect, rows[0]!) : null;
}

export async function listSchedules(x: Executor, ws: string): Promise<ScheduleRecord[]> {
  const rows = await x.all("SELECT * FROM export_schedules WHERE workspace_id = ? ORDER BY id", [ws]);
  return rows.map((r) => toSchedule(x.dialect, r));
}

/** Active schedules whose next slot is at or before `now`, oldest slot first. */
export async function dueSchedules(x: Executor, ws: string, now: number): Promise<ScheduleRecord[]> {
  const rows = await x.all(
    `SELECT * FROM export_schedules
     WHERE workspace_id = ? AND state = 'active' AND next_run_at IS NOT NULL AND next_run_at <= ?
     ORDER BY next_run_at, id`,
    [ws, now],
  );
  return rows.map((r) => toSchedule(x.dialect, r));
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

export async function updateSchedule(
  x: Executor,
  ws: string,
  id: string,
  patch: SchedulePatch,
  now: number,
): Promise<ScheduleRecord | null> {
  const sets: string[] = ["updated_at = ?"];
  const params: unknown[] = [now];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const encode = COLUMNS[k as keyof NewSchedule];
    if (!encode) continue;
    sets.push(`${k} = ?`);
    params.push(encode(v));
  }
  const n = await x.run(`UPDATE export_schedules SET ${sets.join(", ")} WHERE workspace_id = ? AND id = ?`, [
    ...params,
    ws,
    id,
  ]);
  return n > 0 ? getSchedule(x, ws, id) : null;
}

export async function deleteSchedule(x: Executor, ws: string, id: string): Promise<boolean> {
  return x.atomic(async (tx) => {
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
export async function claimRun(
  x: Executor,
  ws: string,
  scheduleId: string,
  slot: number,
  now: number,
  advanceTo?: { from: number; to: number | null },
): Promise<RunRecord | null> {
  return x.atomic(async (tx) => {
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

export async function finishRun(x: Executor, ws: string, runId: string, o: RunOutcome): Promise<void> {
  await x.run(
    `UPDATE export_runs SET state = ?, rows_written = ?, bytes_written = ?, location = ?, error = ?, finished_at = ?
     WHERE workspace_id = ? AND id = ?`,
    [o.state, o.rows_written, o.bytes_written, o.location, o.error, o.finished_at, ws, runId],
  );
}

export async function getRun(x: Executor, ws: string, runId: string): Promise<RunRecord | null> {
  const rows = await x.all("SELECT * FROM export_runs WHERE workspace_id = ? AND id = ?", [ws, runId]);
  return rows.length > 0 ? toRun(rows[0]!) : null;
}

/** Runs of a schedule, newest slot first; the cursor is the last slot of the page. */
export async function listRuns(
  x: Executor,
  ws: string,
  scheduleId: string,
  req: { limit: number; before?: number },
): Promise<{ data: RunRecord[]; next_cursor: string | null }> {
  const rows = await x.all(
    `SELECT * FROM export_runs WHERE workspace_id = ? AND schedule_id = ?${req.before !== undefined ? " AND scheduled_for < ?" : ""}
     ORDER BY scheduled_for DESC LIMIT ?`,
    [ws, scheduleId, ...(req.before !== undefined ? [req.before] : []), req.limit + 1],
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
export async function failStaleRuns(
  x: Executor,
  ws: string,
  startedBefore: number,
  now: number,
  error: string,
): Promise<number> {
  return x.run(
    `UPDATE export_runs SET state = 'failed', error = ?, finished_at = ?
     WHERE workspace_id = ? AND state = 'running' AND started_at < ?`,
    [error, now, ws, startedBefore],
  );
}
