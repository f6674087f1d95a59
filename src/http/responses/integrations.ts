/**
 * The JSON answers of the routes that move data in and out of Slice: destinations,
 * export schedules, receivers and sources, webhooks, imports and Segment-compatible
 * ingest. `route()` checks each answer against its schema under `checkResponses`, and
 * the checks at the end of this file make `tsc` fail when a service's answer type and
 * its schema stop having the same keys or the schema stops fitting the type.
 */
import { z } from "zod";
import type { DestinationService } from "../../service/destinations/service.ts";
import { DESTINATION_KINDS, type PlannedRequest } from "../../service/destinations/types.ts";
import { EXPORT_FORMATS } from "../../service/exports.ts";
import type { WireReceiver } from "../../service/receiving.ts";
import type { WireHttpTarget, WireRun, WireS3Target, WireSchedule } from "../../service/schedules/service.ts";
import type { SegmentResult } from "../../service/segment/ingest.ts";
import type { RecentDelivery, SourceCounters } from "../../service/source-stats.ts";
import type { TestOutcome } from "../../service/webhooks.ts";
import type { DeliveryRecord, ImportJob, ImportRowError, JsonObject } from "../../store/types.ts";
import { Count, Instant, pageOf, wholeList } from "./common.ts";

const json = z.record(z.string(), z.json());

// ---------------------------------------------------------------- destinations

export const Destination = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: z.enum(DESTINATION_KINDS),
  segment_id: z.string(),
  config: json.meta({ description: "The settings, without credentials" }),
  state: z.enum(["live", "initial_sync", "paused", "failing"]),
  last_sync_at: Instant.nullable(),
  pending: z.strictObject({ adds: Count, removes: Count }),
  sync_lag_s: z.number().min(0).meta({ description: "Age of the oldest change not sent yet (0 when none)" }),
  remote_size: Count.meta({ description: "Contacts Slice has put in the remote audience" }),
  provider_size: z
    .number()
    .nullable()
    .meta({ description: "The size the provider reports, where its API tells it" }),
  last_error: z.string().nullable(),
  next_attempt_at: Instant.nullable(),
  counters: z.strictObject({
    added: Count,
    removed: Count,
    failed: Count,
    skipped: Count,
    provider: z.record(z.string(), z.number()).optional(),
  }),
  created_at: Instant,
  updated_at: Instant,
});

export const DestinationCreated = Destination.extend({
  secret: z
    .string()
    .optional()
    .meta({ description: "The signing secret Slice made for an http destination, shown only here" }),
});

export const DestinationList = wholeList(Destination);

export const DestinationRun = z.strictObject({
  id: z.string(),
  destination_id: z.string(),
  kind: z.enum(["full", "incremental", "dry_run"]),
  state: z.enum(["running", "succeeded", "partial", "failed"]),
  from_seq: z.string().nullable().meta({ description: "The change-log position the run started from" }),
  to_seq: z.string().nullable().meta({ description: "The change-log position the run reached" }),
  added: Count,
  removed: Count,
  failed: Count,
  skipped: Count,
  stats: json,
  error: z.string().nullable(),
  started_at: Instant,
  finished_at: Instant.nullable(),
});

export const DestinationRunPage = pageOf(DestinationRun);

export const DestinationOutcome = z.strictObject({
  contact_id: z.string(),
  op: z.enum(["add", "remove"]),
  status: z.enum(["ok", "failed", "skipped"]),
  error: z.string().nullable(),
  at: Instant,
});

export const DestinationOutcomePage = pageOf(DestinationOutcome);

export const PlannedRequestSchema = z.strictObject({
  method: z.string(),
  url: z.string(),
  headers: z.record(z.string(), z.string()).meta({ description: "Credentials replaced by `<redacted>`" }),
  body: z.unknown(),
  rows: Count.meta({ description: "Contacts the request carries" }),
});

export const DryRun = z.strictObject({
  run_id: z.string().meta({ description: "The `dry_run` run recorded" }),
  would_add: Count,
  would_remove: Count,
  requests: z.array(PlannedRequestSchema).meta({ description: "The first requests the sync would send" }),
});

// ---------------------------------------------------------------- export schedules

export const ScheduleTarget = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("s3"),
    bucket: z.string(),
    key: z.string(),
    region: z.string().nullable(),
    endpoint: z.string().nullable(),
    force_path_style: z.boolean().nullable(),
    access_key_id: z.string().meta({ description: "Masked" }),
  }),
  z.strictObject({
    kind: z.literal("http"),
    url: z.string(),
    headers: z.record(z.string(), z.string()).meta({ description: "Header names; values masked" }),
  }),
]);

export const Schedule = z.strictObject({
  id: z.string(),
  name: z.string(),
  segment_id: z.string(),
  format: z.enum(EXPORT_FORMATS),
  columns: z.array(z.string()).nullable(),
  exclude_suppressed: z.boolean(),
  cron: z.string(),
  time_zone: z.string(),
  state: z.enum(["active", "paused"]),
  target: ScheduleTarget,
  next_run_at: Instant.nullable(),
  last_run_at: Instant.nullable(),
  created_at: Instant,
  updated_at: Instant,
});

export const ScheduleList = wholeList(Schedule);

export const ScheduleRun = z.strictObject({
  id: z.string(),
  schedule_id: z.string(),
  state: z.enum(["running", "succeeded", "failed"]),
  scheduled_for: Instant,
  started_at: Instant,
  finished_at: Instant.nullable(),
  duration_ms: Count.nullable(),
  rows: Count,
  bytes: Count,
  location: z.string().nullable(),
  error: z.string().nullable(),
});

export const ScheduleRunPage = pageOf(ScheduleRun);

// ---------------------------------------------------------------- receivers and sources

export const SourceCountersSchema = z.strictObject({
  accepted: Count,
  rejected: Count,
  signature_failures: Count,
  last_seen_at: Instant.nullable(),
  last_error: z.string().nullable(),
});

export const RecentDeliverySchema = z.strictObject({
  at: Instant,
  outcome: z.enum(["accepted", "rejected", "signature_failed"]),
  events: Count,
  detail: z.string().nullable(),
});

const PROVIDERS = ["sendgrid", "mailgun", "ses", "postmark", "resend"] as const;

export const Receiver = z.strictObject({
  id: z.string(),
  provider: z.enum(PROVIDERS),
  name: z.string(),
  url: z.string().meta({ description: "Where the provider posts: the URL to paste into its dashboard" }),
  config: json.meta({ description: "The settings without their secrets" }),
  secrets_set: z.array(z.string()).meta({ description: "The secret settings that are set" }),
  created_at: Instant,
  stats: SourceCountersSchema,
  recent: z.array(RecentDeliverySchema).meta({ description: "The last deliveries, newest first" }),
});

export const ReceiverCreated = Receiver.extend({
  secrets: z
    .record(z.string(), z.string())
    .optional()
    .meta({ description: "Credentials Slice made (Postmark), shown only here" }),
});

export const ReceiverList = wholeList(Receiver);

export const Source = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("segment"),
    id: z.literal("segment"),
    name: z.string(),
    ...SourceCountersSchema.shape,
  }),
  z.strictObject({
    type: z.literal("receiver"),
    id: z.string(),
    provider: z.enum(PROVIDERS),
    name: z.string(),
    ...SourceCountersSchema.shape,
  }),
]);

export const SourceList = wholeList(Source);

// ---------------------------------------------------------------- webhooks

const WEBHOOK_EVENTS = z.array(z.enum(["segment.entered", "segment.exited"]));

export const Webhook = z.strictObject({
  id: z.string(),
  url: z.string(),
  events: WEBHOOK_EVENTS,
  segment_id: z.string().nullable(),
  created_at: Instant,
  previous_secret_expires_at: Instant.nullable().meta({
    description: "Until then deliveries are signed with the previous secret too",
  }),
});

export const WebhookCreated = z.strictObject({
  id: z.string(),
  url: z.string(),
  events: WEBHOOK_EVENTS,
  segment_id: z.string().nullable(),
  secret: z.string().meta({ description: "The signing secret, shown only here" }),
  created_at: Instant,
});

export const WebhookRotated = Webhook.extend({
  secret: z.string().meta({ description: "The new signing secret, shown only here" }),
});

export const WebhookList = wholeList(Webhook);

export const WebhookDelivery = z.strictObject({
  id: z.int(),
  webhook_id: z.string(),
  change_seq: z.int().nullable().meta({ description: "The change reported; null for a test event" }),
  redelivery_of: z.int().nullable(),
  status: z.enum(["pending", "delivered", "failed"]),
  attempts: Count,
  next_attempt_at: Instant.nullable(),
  last_error: z.string().nullable(),
  last_status_code: z.int().nullable(),
  created_at: Instant,
  updated_at: Instant,
  delivered_at: Instant.nullable(),
});

export const WebhookDeliveryPage = pageOf(WebhookDelivery);

export const WebhookTest = z.strictObject({
  ok: z.boolean(),
  status_code: z.int().nullable(),
  error: z.string().nullable(),
  delivery: WebhookDelivery,
});

// ---------------------------------------------------------------- imports

export const ImportJobSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(["contacts", "events"]),
  status: z.enum(["pending", "running", "done", "failed"]),
  options: json,
  total: Count.nullable().meta({ description: "Rows in the file, once known" }),
  processed: Count,
  accepted: Count,
  rejected: Count,
  errors: z
    .array(z.strictObject({ row: z.int().min(1), error: z.string() }))
    .meta({ description: "Rejected rows (1-based row or line numbers), the first ones" }),
  errors_dropped: Count.meta({ description: "Rejected rows beyond those listed in `errors`" }),
  failure: z.string().nullable().meta({ description: "Why the job failed as a whole" }),
  created_at: Instant,
  updated_at: Instant,
  finished_at: Instant.nullable(),
});

export const ImportPage = pageOf(ImportJobSchema);

// ---------------------------------------------------------------- Segment-compatible ingest

export const SegmentAnswer = z.strictObject({
  success: z.literal(true),
  accepted: Count.meta({ description: "Events newly stored" }),
  duplicates: Count.meta({ description: "Events whose messageId was stored before" }),
  errors: z
    .array(z.strictObject({ index: Count, error: z.string() }))
    .meta({ description: "Messages that did not apply, by index in the batch" }),
  warnings: z
    .array(z.strictObject({ index: Count, warning: z.string() }))
    .meta({ description: "Traits not applied (the rest of their message was)" }),
});

// ---------------------------------------------------------------- compile-time checks

/**
 * `true` when A and B have the same keys and A (the schema's output) fits B (the
 * service's type); `never` otherwise, so assigning `true` to it fails to compile.
 */
type Fits<A extends B, B> = [keyof A] extends [keyof B]
  ? [keyof B] extends [keyof A]
    ? true
    : never
  : never;
/** `true` when A fits B (for index signatures, whose keys Fits cannot compare). */
type Fitting<_A extends B, B> = true;
type Out<S extends z.ZodType> = z.output<S>;
type Wire<S extends keyof DestinationService> = DestinationService[S] extends (
  ...a: never[]
) => Promise<infer R> | infer R
  ? Awaited<R>
  : never;
type Of<T extends { data: unknown[] }> = T["data"][number];

export const SCHEMA_CHECKS = {
  destination: true satisfies Fits<Out<typeof Destination>, Wire<"wire">>,
  counters: true satisfies Fits<Out<typeof Destination>["counters"], Wire<"wire">["counters"]>,
  destinationCreated: true satisfies Fits<Out<typeof DestinationCreated>, Wire<"create">>,
  run: true satisfies Fits<Out<typeof DestinationRun>, Wire<"wireRun">>,
  outcome: true satisfies Fits<Out<typeof DestinationOutcome>, Of<Wire<"outcomes">>>,
  dryRun: true satisfies Fits<Out<typeof DryRun>, Wire<"dryRun">>,
  planned: true satisfies Fits<Out<typeof PlannedRequestSchema>, PlannedRequest>,
  schedule: true satisfies Fits<Out<typeof Schedule>, WireSchedule>,
  s3: true satisfies Fits<Extract<Out<typeof ScheduleTarget>, { kind: "s3" }>, WireS3Target>,
  http: true satisfies Fits<Extract<Out<typeof ScheduleTarget>, { kind: "http" }>, WireHttpTarget>,
  scheduleRun: true satisfies Fits<Out<typeof ScheduleRun>, WireRun>,
  receiver: true satisfies Fits<Out<typeof Receiver>, WireReceiver>,
  sourceCounters: true satisfies Fits<Out<typeof SourceCountersSchema>, SourceCounters>,
  recent: true satisfies Fits<Out<typeof RecentDeliverySchema>, RecentDelivery>,
  delivery: true satisfies Fits<
    Out<typeof WebhookDelivery>,
    { [K in keyof DeliveryRecord]: DeliveryRecord[K] | string | null }
  >,
  test: true satisfies Fits<Out<typeof WebhookTest>, Omit<TestOutcome, "delivery"> & { delivery: unknown }>,
  importJob: true satisfies Fits<
    Out<typeof ImportJobSchema>,
    { [K in keyof ImportJob]: ImportJob[K] | string | null }
  >,
  importError: true satisfies Fits<Out<typeof ImportJobSchema>["errors"][number], ImportRowError>,
  importOptions: true satisfies Fitting<Out<typeof ImportJobSchema>["options"], JsonObject>,
  segment: true satisfies Fits<Out<typeof SegmentAnswer>, SegmentResult>,
} as const;
