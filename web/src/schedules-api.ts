/**
 * The typed client of scheduled exports (`/v1/export-schedules`): a segment exported on
 * a cron, in the workspace's time zone, to an S3-compatible bucket or an HTTPS URL.
 */
import { call } from "./api.ts";

export const FORMATS = ["csv", "ndjson", "meta", "google"] as const;
export type Format = (typeof FORMATS)[number];

export const FORMAT_LABEL: Record<Format, string> = {
  csv: "CSV",
  ndjson: "NDJSON",
  meta: "Meta customer list (CSV)",
  google: "Google Customer Match (CSV)",
};

export interface S3Target {
  kind: "s3";
  bucket: string;
  key: string;
  region: string | null;
  endpoint: string | null;
  force_path_style: boolean | null;
  /** Masked: enough to tell which key it is. */
  access_key_id: string;
}

export interface HttpTarget {
  kind: "http";
  url: string;
  /** Header names, values masked. */
  headers: Record<string, string>;
}

export interface Schedule {
  id: string;
  name: string;
  segment_id: string;
  format: Format;
  columns: string[] | null;
  exclude_suppressed: boolean;
  cron: string;
  time_zone: string;
  state: "active" | "paused";
  target: S3Target | HttpTarget;
  next_run_at: string | null;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ScheduleRun {
  id: string;
  schedule_id: string;
  state: "running" | "succeeded" | "failed";
  scheduled_for: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  rows: number;
  bytes: number;
  location: string | null;
  error: string | null;
}

export type TargetInput =
  | {
      kind: "s3";
      bucket: string;
      key: string;
      region?: string;
      endpoint?: string;
      force_path_style?: boolean;
      access_key_id?: string;
      secret_access_key?: string;
    }
  | { kind: "http"; url: string; headers?: Record<string, string> };

export interface NewSchedule {
  name?: string;
  segment_id: string;
  format?: Format;
  cron: string;
  target: TargetInput;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const at = (id: string) => encodeURIComponent(id);

export const schedulesApi = {
  list: () => call<Page<Schedule>>("GET", "/v1/export-schedules").then((p) => p.data),
  get: (id: string) => call<Schedule>("GET", `/v1/export-schedules/${at(id)}`),
  create: (s: NewSchedule) => call<Schedule>("POST", "/v1/export-schedules", s),
  setState: (id: string, state: Schedule["state"]) =>
    call<Schedule>("PATCH", `/v1/export-schedules/${at(id)}`, { state }),
  delete: (id: string) => call<null>("DELETE", `/v1/export-schedules/${at(id)}`),
  runNow: (id: string) => call<ScheduleRun>("POST", `/v1/export-schedules/${at(id)}/run`),
  runs: (id: string, cursor?: string) =>
    call<Page<ScheduleRun>>(
      "GET",
      `/v1/export-schedules/${at(id)}/runs?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    ),
};

/** Where a schedule writes, in one line. */
export function targetSummary(t: Schedule["target"]): string {
  if (t.kind === "http") return `PUT ${t.url}`;
  const where = t.endpoint ? ` at ${t.endpoint}` : t.region ? ` (${t.region})` : "";
  return `s3://${t.bucket}/${t.key}${where}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
