/**
 * Request shapes of `/v1/export-schedules` (zod, also read by the OpenAPI document), the
 * cron reading (croner, 5-field expressions, in the workspace's time zone) and the
 * object-name template with its `{date}` `{time}` `{segment_id}` `{schedule_id}`
 * placeholders.
 */
import { Cron } from "croner";
import { DateTime } from "luxon";
import { z } from "zod";
import { invalid } from "../errors.ts";
import { EXPORT_FORMATS } from "../exports.ts";

/** "required" for a missing key, zod's own message otherwise. */
const required = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? "required" : `expected ${what}`),
});

const text = (max: number) => z.string(required("a string")).trim().min(1, "must not be empty").max(max);

export const S3TargetInput = z.strictObject({
  kind: z.literal("s3"),
  bucket: text(63),
  key: text(1024),
  region: text(64).optional(),
  /** An S3-compatible service (MinIO, R2, …): its absolute http(s) address. */
  endpoint: text(2048).optional(),
  force_path_style: z.boolean().optional(),
  access_key_id: text(256).optional(),
  secret_access_key: text(1024).optional(),
});

export const HttpTargetInput = z.strictObject({
  kind: z.literal("http"),
  url: text(4096),
  headers: z.record(z.string(), z.string()).optional(),
});

export const TargetInput = z.discriminatedUnion("kind", [S3TargetInput, HttpTargetInput], {
  error: (iss) => (iss.input === undefined ? "required" : 'expected "s3" or "http"'),
});
export type TargetInput = z.infer<typeof TargetInput>;

const columns = z.array(z.string(), required("an array of column names")).min(1, "must not be empty");

export const ScheduleInput = z.strictObject({
  name: text(200).optional(),
  segment_id: text(200),
  format: z.enum(EXPORT_FORMATS, required(`one of ${EXPORT_FORMATS.join(", ")}`)).optional(),
  columns: columns.optional(),
  exclude_suppressed: z.boolean(required("true or false")).optional(),
  cron: text(200),
  target: TargetInput,
});
export type ScheduleInput = z.infer<typeof ScheduleInput>;

export const SchedulePatch = z.strictObject({
  name: text(200).optional(),
  cron: text(200).optional(),
  columns: columns.nullable().optional(),
  exclude_suppressed: z.boolean(required("true or false")).optional(),
  /** The whole target; credentials left out keep the stored ones when the kind is the same. */
  target: TargetInput.optional(),
  state: z.enum(["active", "paused"], required('"active" or "paused"')).optional(),
});
export type SchedulePatch = z.infer<typeof SchedulePatch>;

// ---------------------------------------------------------------- cron

function cronOf(expr: string, timeZone: string): Cron {
  // Five fields (minute resolution); `@daily` and the like are read as their five fields.
  return new Cron(expr, { timezone: timeZone, mode: "5-part", paused: true });
}

/** Throws a 400 on `cron` when the expression does not parse or never runs. */
export function checkCron(expr: string, timeZone: string, now: number): void {
  let next: Date | null;
  try {
    next = cronOf(expr, timeZone).nextRun(new Date(now));
  } catch (e) {
    const why = (e as Error).message.replace(/^CronPattern:\s*/, "");
    throw invalid("cron", `invalid cron expression ${JSON.stringify(expr)}: ${why}`);
  }
  if (next === null) throw invalid("cron", `invalid cron expression ${JSON.stringify(expr)}: it never runs`);
}

/**
 * The first slot strictly after `after`, in `timeZone`: a time skipped by a DST change
 * runs at the first valid time after the gap, a repeated one runs once (croner's rule
 * for fixed-time expressions). Null when there is none.
 */
export function nextSlot(expr: string, timeZone: string, after: number): number | null {
  return cronOf(expr, timeZone).nextRun(new Date(after))?.getTime() ?? null;
}

// ---------------------------------------------------------------- templates

export const PLACEHOLDERS = ["date", "time", "segment_id", "schedule_id"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Throws a 400 on `path` for a `{name}` that is not a placeholder. */
export function checkTemplate(template: string, path: string): void {
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      throw invalid(
        path,
        `unknown placeholder {${m[1]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(" ")})`,
      );
    }
  }
}

/**
 * The template with the slot's date (`2026-03-29`) and time (`020000`, no colons: they
 * need escaping in URLs and some file systems) in the workspace's zone. `encode`
 * escapes the values (a URL's path).
 */
export function renderTemplate(
  template: string,
  v: { slot: number; timeZone: string; segmentId: string; scheduleId: string },
  encode: (s: string) => string = (s) => s,
): string {
  const at = DateTime.fromMillis(v.slot, { zone: v.timeZone });
  const values: Record<Placeholder, string> = {
    date: at.toFormat("yyyy-MM-dd"),
    time: at.toFormat("HHmmss"),
    segment_id: v.segmentId,
    schedule_id: v.scheduleId,
  };
  return template.replace(/\{(date|time|segment_id|schedule_id)\}/g, (_, p: Placeholder) =>
    encode(values[p]),
  );
}
