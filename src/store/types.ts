/**
 * The persistence interface of Slice (docs/storage.md). Two adapters implement it:
 * SQLite (embedded default) and PostgreSQL. Everything is async because PostgreSQL is.
 *
 * Isolation: every data method takes the workspace id as its first argument and only
 * ever reads or writes rows of that workspace. The only methods that are not scoped
 * are the ones that cannot be: workspace administration and `authenticate`, which
 * finds the workspace a key belongs to.
 *
 * Times are epoch milliseconds throughout.
 */
import type { FieldType } from "../rules/fields.ts";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Dialect = "sqlite" | "postgres";

/** A page of a cursor-paginated list; `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface PageRequest {
  /** Opaque cursor from a previous page's `next_cursor`. */
  cursor?: string | null;
  /** 1 … 10,000 (clamped); default 100. */
  limit?: number;
}

export interface StreamOptions {
  /** Rows per page (default 10,000). */
  pageSize?: number;
}

// ---------------------------------------------------------------- workspaces and keys

export interface Workspace {
  id: string;
  name: string;
  time_zone: string;
  settings: JsonObject;
  created_at: number;
}

export interface NewWorkspace {
  /** Default: a new `ws_…` id. */
  id?: string;
  name: string;
  time_zone?: string;
  settings?: JsonObject;
}

export interface WorkspacePatch {
  name?: string;
  time_zone?: string;
  settings?: JsonObject;
}

/** SPEC §4: what a key may do. `admin` is the key of `SLICE_API_KEY` or the first start. */
export const KEY_ROLES = ["admin", "read_write", "read_only", "ingest"] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

export interface ApiKey {
  id: string;
  workspace_id: string;
  name: string;
  /** The first characters of the secret, to recognise a key in a list. */
  prefix: string;
  /** Same as `role === "admin"`. */
  admin: boolean;
  role: KeyRole;
  created_at: number;
}

export interface NewApiKey {
  name?: string;
  /** Same as `role: "admin"`. */
  admin?: boolean;
  role?: KeyRole;
  /** A given secret (e.g. `SLICE_API_KEY`); default: a new random one. */
  secret?: string;
}

/** The secret is returned once, here; the store keeps only its SHA-256. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

// ---------------------------------------------------------------- fields and contacts

export interface CustomField {
  key: string;
  type: FieldType;
  label: string;
  created_at: number;
  /** A computed field's definition (`ComputedDefinition`, checked by the service); null for a stored field. */
  computed: unknown | null;
}

export interface NewField {
  key: string;
  type: FieldType;
  label?: string;
  computed?: unknown;
}

/** A sending platform's event webhook, received at `/hooks/{id}` (docs/ingest.md). */
export interface ReceiverRecord {
  id: string;
  workspace_id: string;
  provider: string;
  name: string;
  /** The provider's settings, secrets included: never answered as they are. */
  config: JsonObject;
  created_at: number;
}

export interface NewReceiver {
  provider: string;
  name: string;
  config: JsonObject;
}

export type ContactValue = string | number | boolean | string[] | null;

/**
 * A contact as stored. `status` and `email_status` hold the values last written
 * explicitly (or given as defaults at creation); the effects of events on them
 * (SPEC §2) are derived by the engine from the events, using `status_written_at` and
 * `email_status_written_at`: when the explicit write was received, null when the value
 * is a creation default that never blocks an effect.
 */
export interface ContactRecord {
  id: string;
  /** Trimmed and lower-cased by the store. */
  email: string | null;
  external_id: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  postal_code: string | null;
  timezone: string | null;
  language: string | null;
  status: string | null;
  email_status: string | null;
  tags: string[];
  /** Custom fields. */
  fields: Record<string, ContactValue>;
  created_at: number;
  subscribed_at: number | null;
  status_written_at: number | null;
  email_status_written_at: number | null;
  updated_at: number;
}

/**
 * A full replacement of a contact. Without `id` (or with an id not stored yet) the
 * contact is created; with a stored id it is replaced, except `created_at`, which is
 * kept from creation. Keys left out are stored as not set.
 */
export type ContactWrite = Partial<Omit<ContactRecord, "updated_at">>;

/** A contact reference (SPEC §4): exactly one key. */
export type ContactRef = { id: string } | { email: string } | { external_id: string };

export interface ListContactsRequest extends PageRequest {
  /**
   * Only contacts in this set, e.g. a segment's membership from the engine. The store
   * scans its own order and skips the others, so this suits large segments; for a small
   * one, page the engine's ids and call `getContacts`.
   */
  segmentMembers?: { has(contactId: string): boolean };
}

// ---------------------------------------------------------------- events

export interface EventWrite {
  /** Idempotency key, unique per workspace. */
  id?: string | null;
  type: string;
  contact_id: string;
  timestamp: number;
  properties?: JsonObject;
  /** Default: the store clock's now. */
  received_at?: number;
}

export interface EventRecord {
  /** Store order: increases with every insert. */
  seq: number;
  /** The idempotency key given with the event, if any. */
  id: string | null;
  type: string;
  contact_id: string;
  timestamp: number;
  properties: JsonObject;
  received_at: number;
}

export type InsertStatus = "accepted" | "duplicate";

export interface EventInsertResult {
  accepted: number;
  /** Items whose key was stored before, or seen earlier in the same batch. */
  duplicates: number;
  /** Per input item, in order. */
  items: InsertStatus[];
}

/** One batch's outcome in `Store.insertEventBatches`. */
export type BatchOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

// ---------------------------------------------------------------- segments

export type SegmentKind = "dynamic" | "static";

export interface SegmentRecord {
  id: string;
  kind: SegmentKind;
  name: string;
  description: string;
  rule: JsonValue | null;
  /** 1 at creation, +1 on every edit. */
  version: number;
  created_at: number;
  updated_at: number;
}

export interface NewSegment {
  /** Default: a new `seg_…` id. */
  id?: string;
  kind: SegmentKind;
  name: string;
  description?: string;
  rule?: JsonValue | null;
}

export interface SegmentPatch {
  name?: string;
  description?: string;
  rule?: JsonValue | null;
}

export interface SegmentVersion {
  segment_id: string;
  version: number;
  name: string;
  description: string;
  rule: JsonValue | null;
  created_at: number;
}

export type MemberAction = "added" | "removed";

/** A static membership (always `added`) or a manual override of a dynamic segment. */
export interface MemberRecord {
  segment_id: string;
  contact_id: string;
  action: MemberAction;
  expires_at: number | null;
  created_at: number;
}

export interface MemberWrite {
  contact_id: string;
  action: MemberAction;
  expires_at?: number | null;
}

// ---------------------------------------------------------------- change log

export type ChangeKind = "entered" | "exited";

export interface ChangeInput {
  segment_id: string;
  contact_id: string;
  change: ChangeKind;
  /** When the change became true. */
  at: number;
}

export interface ChangeRecord extends ChangeInput {
  /** Increases in append (and, per workspace, commit) order. */
  seq: number;
}

export interface ListChangesRequest extends PageRequest {
  /** One segment, or all of the workspace's. */
  segmentId?: string;
  /** Only changes with `at >= since`. */
  since?: number;
  /** Only changes with `at <= until`. */
  until?: number;
}

// ---------------------------------------------------------------- webhooks

export interface WebhookRecord {
  id: string;
  url: string;
  /** e.g. `segment.entered`, `segment.exited`. */
  events: string[];
  segment_id: string | null;
  secret: string;
  /** The secret replaced by the last rotation, still signing until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  created_at: number;
}

export interface NewWebhook {
  url: string;
  events: string[];
  segment_id?: string | null;
  /** Default: a new random secret. */
  secret?: string;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  id: number;
  webhook_id: string;
  /** The change it reports; null for a delivery that is not about a change (`webhook.test`). */
  change_seq: number | null;
  /** For a redelivery: the delivery whose payload it sends again. */
  redelivery_of: number | null;
  status: DeliveryStatus;
  attempts: number;
  /** When a pending delivery is next due; null once delivered or failed. */
  next_attempt_at: number | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** A claimed delivery with what is needed to send it. */
export interface DeliveryJob extends DeliveryRecord {
  /** Null when the change is no longer in the log, or for a delivery with its own `payload`. */
  change: ChangeRecord | null;
  /** The exact body to send, when it was fixed at queueing (tests, redeliveries); else built from `change`. */
  payload: string | null;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: number | null;
}

/** A delivery queued with its body fixed: a `webhook.test` event or a redelivery. */
export interface NewPayloadDelivery {
  webhook_id: string;
  change_seq?: number | null;
  redelivery_of?: number | null;
  /** The body, or how to build it from the new delivery's id. */
  payload: string | ((deliveryId: number) => string);
  /** When it is due (a time in the future keeps the dispatcher off it, as a lease does). */
  next_attempt_at: number;
}

export interface DeliveryFailure {
  error: string;
  status_code?: number | null;
  /** When to try again, or null to give up (status `failed`). */
  retry_at: number | null;
}

// ---------------------------------------------------------------- imports

export type ImportKind = "contacts" | "events";
export type ImportStatus = "pending" | "running" | "done" | "failed";

export interface ImportRowError {
  /** 1-based row (or line) number in the uploaded file. */
  row: number;
  error: string;
}

export interface ImportJob {
  id: string;
  kind: ImportKind;
  status: ImportStatus;
  options: JsonObject;
  /** Rows in the file, when known. */
  total: number | null;
  processed: number;
  accepted: number;
  rejected: number;
  /** At most MAX_IMPORT_ERRORS; `errors_dropped` counts the rest. */
  errors: ImportRowError[];
  errors_dropped: number;
  /** Why the job failed as a whole. */
  failure: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface NewImport {
  kind: ImportKind;
  options?: JsonObject;
  total?: number | null;
}

export interface ImportProgress {
  processed?: number;
  accepted?: number;
  rejected?: number;
  errors?: ImportRowError[];
  total?: number | null;
}

// ---------------------------------------------------------------- the interface

/** The workspace-scoped operations; available on the store and inside a transaction. */
export interface StoreOps {
  /**
   * Inside a transaction only: runs `fn` under a savepoint; if it throws, its writes are
   * undone and the transaction continues.
   */
  savepoint<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;

  // fields
  createField(ws: string, field: NewField): Promise<CustomField>;
  listFields(ws: string): Promise<CustomField[]>;
  deleteField(ws: string, key: string): Promise<boolean>;

  // keys
  createApiKey(ws: string, key?: NewApiKey): Promise<CreatedApiKey>;
  listApiKeys(ws: string): Promise<ApiKey[]>;
  deleteApiKey(ws: string, id: string): Promise<boolean>;

  // anonymous identities (Segment `anonymousId` → contact)
  /** Contact ids of anonymous ids, in input order; null where unknown. */
  findIdentities(ws: string, anonymousIds: string[]): Promise<(string | null)[]>;
  /** Adds or repoints anonymous id → contact id pairs. */
  putIdentities(ws: string, pairs: { anonymous_id: string; contact_id: string }[]): Promise<void>;
  /**
   * Moves every event and anonymous identity of contact `from` to contact `to` (a merge);
   * `from` itself stays. Returns how many events moved.
   */
  moveContactData(ws: string, from: string, to: string): Promise<{ events: number }>;

  // sending-platform receivers
  createReceiver(ws: string, r: NewReceiver): Promise<ReceiverRecord>;
  getReceiver(ws: string, id: string): Promise<ReceiverRecord | null>;
  listReceivers(ws: string): Promise<ReceiverRecord[]>;
  /** Replaces name and config; null when the receiver is unknown. */
  updateReceiver(
    ws: string,
    id: string,
    patch: { name: string; config: JsonObject },
  ): Promise<ReceiverRecord | null>;
  deleteReceiver(ws: string, id: string): Promise<boolean>;

  /**
   * The connection (or the transaction) for the repositories that take one and a
   * workspace id (src/store/destination-repo.ts, schedule-repo.ts); checks `ws` as every
   * other operation does.
   */
  executorFor(ws: string): import("./executor.ts").Executor;

  // contacts
  /** Creates or replaces contacts atomically; returns the stored records in input order. */
  putContacts(ws: string, contacts: ContactWrite[]): Promise<ContactRecord[]>;
  getContact(ws: string, id: string): Promise<ContactRecord | null>;
  /** Records in input order; null where an id is unknown. */
  getContacts(ws: string, ids: string[]): Promise<(ContactRecord | null)[]>;
  /** Resolves references (id, email case-insensitively, external_id); null where none matches. */
  findContacts(ws: string, refs: ContactRef[]): Promise<(ContactRecord | null)[]>;
  /** Erasure: the profile, its events and its static memberships and overrides. */
  deleteContact(ws: string, id: string): Promise<boolean>;
  countContacts(ws: string): Promise<number>;
  listContacts(ws: string, req?: ListContactsRequest): Promise<Page<ContactRecord>>;
  /** Every contact, in pages (keyset pagination), for rebuilding the engine. */
  streamContacts(ws: string, opts?: StreamOptions): AsyncIterable<ContactRecord[]>;

  // events
  insertEvents(ws: string, events: EventWrite[]): Promise<EventInsertResult>;
  /** A contact's events, newest first. */
  listContactEvents(ws: string, contactId: string, req?: PageRequest): Promise<Page<EventRecord>>;
  countEvents(ws: string): Promise<number>;
  streamEvents(ws: string, opts?: StreamOptions): AsyncIterable<EventRecord[]>;

  // segments
  createSegment(ws: string, segment: NewSegment): Promise<SegmentRecord>;
  /** Applies the patch and increments the version; null when the segment is unknown. */
  updateSegment(ws: string, id: string, patch: SegmentPatch): Promise<SegmentRecord | null>;
  getSegment(ws: string, id: string): Promise<SegmentRecord | null>;
  listSegments(ws: string): Promise<SegmentRecord[]>;
  listSegmentVersions(ws: string, id: string): Promise<SegmentVersion[]>;
  /** Also removes its versions, memberships and overrides (not its change log). */
  deleteSegment(ws: string, id: string): Promise<boolean>;

  // static memberships and overrides
  /** Adds or replaces entries; returns how many were written. */
  putMembers(ws: string, segmentId: string, members: MemberWrite[]): Promise<number>;
  /** Removes entries (a static member, or a lifted override); returns how many existed. */
  deleteMembers(ws: string, segmentId: string, contactIds: string[]): Promise<number>;
  listMembers(
    ws: string,
    segmentId: string,
    req?: PageRequest & { action?: MemberAction },
  ): Promise<Page<MemberRecord>>;
  streamMembers(ws: string, opts?: StreamOptions): AsyncIterable<MemberRecord[]>;
  /** Deletes entries whose `expires_at <= now`; returns how many. */
  purgeExpiredMembers(ws: string, now: number): Promise<number>;

  // change log
  /** Appends in order; returns the entries with their sequence numbers. */
  appendChanges(ws: string, changes: ChangeInput[]): Promise<ChangeRecord[]>;
  /** Oldest first (by sequence). */
  listChanges(ws: string, req?: ListChangesRequest): Promise<Page<ChangeRecord>>;
  /** The highest sequence number logged in the workspace, 0 when none. */
  lastChangeSeq(ws: string): Promise<number>;
  /**
   * Who was in the segment at instant `at` according to the log: contacts whose last
   * change with `at' <= at` (ties broken by sequence) is `entered`. Ordered by contact id.
   */
  membersAt(ws: string, segmentId: string, at: number, req?: PageRequest): Promise<Page<string>>;
  countMembersAt(ws: string, segmentId: string, at: number): Promise<number>;
  /** Who is in the segment according to the log now: the last change appended is `entered`. */
  loggedMembers(ws: string, segmentId: string, req?: PageRequest): Promise<Page<string>>;

  // webhooks and their outbox
  createWebhook(ws: string, webhook: NewWebhook): Promise<WebhookRecord>;
  getWebhook(ws: string, id: string): Promise<WebhookRecord | null>;
  listWebhooks(ws: string): Promise<WebhookRecord[]>;
  /** Also removes its deliveries. */
  deleteWebhook(ws: string, id: string): Promise<boolean>;
  /**
   * Makes `secret` the signing secret and keeps the current one as `previous_secret`
   * until `previous_until` (a secret rotated out earlier is dropped). Null when not found.
   */
  rotateWebhookSecret(
    ws: string,
    id: string,
    r: { secret: string; previous_until: number },
  ): Promise<WebhookRecord | null>;
  /** Queues deliveries due now; an existing (webhook, change) pair is left as it is. Returns how many were new. */
  enqueueDeliveries(ws: string, items: { webhook_id: string; change_seq: number }[]): Promise<number>;
  /**
   * Takes up to `limit` pending deliveries due at `now`, oldest first, and pushes their
   * `next_attempt_at` to `now + leaseMs` so that another worker does not take them too.
   */
  claimDeliveries(ws: string, opts: { now: number; limit: number; leaseMs: number }): Promise<DeliveryJob[]>;
  /** pending → delivered. False when the delivery is not pending. */
  markDelivered(ws: string, id: number, opts: { at: number; status_code?: number | null }): Promise<boolean>;
  /** pending → pending (retry at `retry_at`) or failed (`retry_at` null); counts the attempt. */
  markFailed(ws: string, id: number, opts: DeliveryFailure & { at: number }): Promise<boolean>;
  getDelivery(ws: string, id: number): Promise<DeliveryRecord | null>;
  /** A subscription's delivery log, newest first. */
  listDeliveries(ws: string, webhookId: string, req?: PageRequest): Promise<Page<DeliveryRecord>>;
  /** Queues one delivery whose body is fixed now (not one per change: no deduplication). */
  addPayloadDelivery(ws: string, d: NewPayloadDelivery): Promise<DeliveryRecord>;
  /** A delivery with what is needed to send it (as `claimDeliveries` hands out), without leasing it. */
  getDeliveryJob(ws: string, id: number): Promise<DeliveryJob | null>;

  // imports
  createImport(ws: string, job: NewImport): Promise<ImportJob>;
  getImport(ws: string, id: string): Promise<ImportJob | null>;
  listImports(ws: string, req?: PageRequest): Promise<Page<ImportJob>>;
  /** Adds to the counters and appends row errors; sets status `running` if it was `pending`. */
  recordImportProgress(ws: string, id: string, progress: ImportProgress): Promise<ImportJob>;
  /** Ends a job (`done` or `failed`); a finished job cannot change any more. */
  finishImport(
    ws: string,
    id: string,
    status: "done" | "failed",
    failure?: string | null,
  ): Promise<ImportJob>;
}

export interface Store extends StoreOps {
  readonly dialect: Dialect;

  /** The webhook outbox of a workspace: deliveries waiting, and when the oldest was queued (metrics). */
  outboxStats?(ws: string): Promise<{ pending: number; oldest_created_at: number | null }>;

  /**
   * Runs `fn` in one database transaction: it commits when `fn` resolves, and rolls
   * back when it throws. `tx` only accepts `ws`. Use `tx`, not the store, inside `fn`.
   */
  transaction<T>(ws: string, fn: (tx: StoreOps) => Promise<T>): Promise<T>;

  /**
   * Inserts several batches of events in one transaction, each under its own savepoint
   * (a failing batch fails alone, as with `transaction` and `savepoint`; a lone batch
   * that fails rolls back the transaction), as `insertEvents` would one by one, with one
   * commit. On a SQLite file the statements and the commit run on a worker thread with
   * its own connection, so the calling thread is free while they do (docs/storage.md).
   * `check` runs while the batches are being written (on a SQLite file, on the calling
   * thread while the writer thread inserts; elsewhere before): if it throws, nothing is
   * committed and the call rejects with its error.
   */
  insertEventBatches(
    ws: string,
    batches: EventWrite[][],
    opts?: { check?: () => void },
  ): Promise<BatchOutcome<EventInsertResult>[]>;

  // not scoped by workspace, by nature
  createWorkspace(ws: NewWorkspace): Promise<Workspace>;
  getWorkspace(id: string): Promise<Workspace | null>;
  listWorkspaces(): Promise<Workspace[]>;
  /** A 32-byte random key the server keeps with its data, made at its first use (src/store/server-secret-repo.ts). */
  serverSecret(name: string): Promise<Buffer>;
  updateWorkspace(id: string, patch: WorkspacePatch): Promise<Workspace | null>;
  /** A receiver by id alone: the public `/hooks/{id}` path names no workspace. */
  findReceiver(id: string): Promise<ReceiverRecord | null>;
  /** The key with this secret and its workspace, or null. */
  authenticate(secret: string): Promise<{ workspace: Workspace; key: ApiKey } | null>;

  /** Applied migration versions, oldest first. */
  migrations(): Promise<{ version: number; name: string; applied_at: number }[]>;
  close(): Promise<void>;

  // start-up bulk reads
  /**
   * Contacts, events (as columns) and the logged membership of a workspace, from one
   * snapshot, read off the calling thread (src/store/startup-read.ts), for rebuilding its
   * engine; null (or absent) where the store cannot, and the caller then streams pages.
   */
  startupRead?(ws: string): import("./startup-read.ts").StartupRead | null;
}

export interface OpenStoreOptions {
  /** SQLite file (default `./data/slice.db`); its directory is created if missing. */
  sqlitePath?: string;
  /** `postgres://…`: use PostgreSQL instead; an empty string counts as unset. */
  databaseUrl?: string;
  /** SQLite `synchronous` with WAL: FULL (default) survives power loss, NORMAL a process kill. */
  sqliteSynchronous?: "full" | "normal";
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** The store's clock for created/updated/received times (default: system time). */
  clock?: { now(): number };
}

export type StoreErrorCode = "conflict" | "not_found" | "invalid" | "workspace_mismatch";

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** For a conflict: which unique key (`email`, `external_id`, `id`, `key`, …). */
    readonly field?: string,
  ) {
    super(message);
    this.name = "StoreError";
  }
}

export const MAX_IMPORT_ERRORS = 10_000;
