/**
 * The store's interface: `StoreOps`, the workspace-scoped operations (on the store and
 * inside a transaction), each taking the workspace id first and delegating to the
 * repositories `workspace(ws)` binds; and `Store`, which adds transactions, batch event
 * writes, workspace administration and the start-up bulk read.
 */
import type { Executor } from "../executor.ts";
import type { WorkspaceRepos } from "../repos/index.ts";
import type { StartupRead } from "../startup-read.ts";
import type { ChangeInput, ChangeRecord, ListChangesRequest } from "./change.ts";
import type { Dialect, JsonObject, Page, PageRequest, StreamOptions } from "./common.ts";
import type {
  ContactRecord,
  ContactRef,
  ContactWrite,
  CustomField,
  ListContactsRequest,
  NewField,
} from "./contact.ts";
import type { BatchOutcome, EventInsertResult, EventRecord, EventWrite } from "./event.ts";
import type { ImportJob, ImportProgress, NewImport } from "./import.ts";
import type { NewReceiver, ReceiverRecord } from "./ingest.ts";
import type {
  MemberAction,
  MemberRecord,
  MemberWrite,
  NewSegment,
  SegmentPatch,
  SegmentRecord,
  SegmentVersion,
} from "./segment.ts";
import type {
  DeliveryFailure,
  DeliveryJob,
  DeliveryRecord,
  NewPayloadDelivery,
  NewWebhook,
  WebhookRecord,
} from "./webhook.ts";
import type {
  ApiKey,
  CreatedApiKey,
  NewApiKey,
  NewWorkspace,
  Workspace,
  WorkspacePatch,
} from "./workspace.ts";

/** The workspace-scoped operations; available on the store and inside a transaction. */
export interface StoreOps {
  /**
   * The repositories of workspace `ws`, bound to it (and inside a transaction, to the
   * transaction): the methods below that take `ws` first delegate to them.
   */
  workspace(ws: string): WorkspaceRepos;

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
  executorFor(ws: string): Executor;

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
  startupRead?(ws: string): StartupRead | null;
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
