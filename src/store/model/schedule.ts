/**
 * Scheduled exports (`export_schedules`) and their runs (`export_runs`). Not gathered
 * into types.ts: a destination's run (model/destination.ts) shares the names
 * `RunRecord` and `RunState`.
 */
import type { JsonObject } from "./common.ts";

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
