/**
 * Export schedules and their runs as the API answers them: credentials never leave,
 * an access key id shows masked and headers by name only.
 */

import type * as repo from "../../store/model/schedule.ts";
import type { RunRecord, ScheduleRecord } from "../../store/model/schedule.ts";
import type { ExportFormat } from "../exports.ts";

export interface WireS3Target {
  kind: "s3";
  bucket: string;
  key: string;
  region: string | null;
  endpoint: string | null;
  force_path_style: boolean | null;
  access_key_id: string;
}

export interface WireHttpTarget {
  kind: "http";
  url: string;
  headers: Record<string, string>;
}

export interface WireSchedule {
  id: string;
  name: string;
  segment_id: string;
  format: ExportFormat;
  columns: string[] | null;
  exclude_suppressed: boolean;
  cron: string;
  time_zone: string;
  state: repo.ScheduleState;
  target: WireS3Target | WireHttpTarget;
  next_run_at: string | null;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WireRun {
  id: string;
  schedule_id: string;
  state: repo.RunState;
  scheduled_for: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  rows: number;
  bytes: number;
  location: string | null;
  error: string | null;
}

export const MASK = "****";
export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** Enough of a key id to tell which one it is, never the whole. */
export function maskKeyId(id: string): string {
  return id.length >= 12 ? `${id.slice(0, 4)}${MASK}${id.slice(-4)}` : MASK;
}

export function wireRun(r: RunRecord): WireRun {
  return {
    id: r.id,
    schedule_id: r.schedule_id,
    state: r.state,
    scheduled_for: new Date(r.scheduled_for).toISOString(),
    started_at: new Date(r.started_at).toISOString(),
    finished_at: iso(r.finished_at),
    duration_ms: r.finished_at === null ? null : r.finished_at - r.started_at,
    rows: r.rows_written,
    bytes: r.bytes_written,
    location: r.location,
    error: r.error,
  };
}

export function wireSchedule(s: ScheduleRecord, timeZone: string): WireSchedule {
  const t = s.target;
  const target: WireS3Target | WireHttpTarget =
    t.kind === "s3"
      ? {
          kind: "s3",
          bucket: String(t.bucket),
          key: String(t.key),
          region: typeof t.region === "string" ? t.region : null,
          endpoint: typeof t.endpoint === "string" ? t.endpoint : null,
          force_path_style: typeof t.force_path_style === "boolean" ? t.force_path_style : null,
          access_key_id: String(t.access_key_id_masked ?? MASK),
        }
      : {
          kind: "http",
          url: String(t.url),
          headers: Object.fromEntries(
            (Array.isArray(t.header_names) ? t.header_names : []).map((n) => [String(n), MASK]),
          ),
        };
  const opts = s.options;
  return {
    id: s.id,
    name: s.name,
    segment_id: s.segment_id,
    format: s.format as ExportFormat,
    columns: Array.isArray(opts.columns) ? opts.columns.map(String) : null,
    exclude_suppressed: opts.exclude_suppressed !== false,
    cron: s.cron,
    time_zone: timeZone,
    state: s.state,
    target,
    next_run_at: iso(s.next_run_at),
    last_run_at: iso(s.last_run_at),
    created_at: new Date(s.created_at).toISOString(),
    updated_at: new Date(s.updated_at).toISOString(),
  };
}
