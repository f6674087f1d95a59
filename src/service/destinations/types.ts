/**
 * The contract between the destination syncer (syncer.ts) and the connectors, one per
 * provider (SPEC §4.2, docs/destinations.md). A connector turns "add these contacts"
 * and "remove these members" into its provider's calls and reports an outcome per
 * contact; the syncer owns everything else: reading the change log, batching to
 * `limits`, running batches concurrently, splitting a rejected batch, the cursor, runs
 * and outcomes in the store.
 */
import type { JsonObject } from "../../store/types.ts";
import type { WireContact } from "../wire-contact.ts";
import type { HttpCaller } from "./http-call.ts";

export const DESTINATION_KINDS = ["http", "mailchimp", "brevo", "kit", "meta", "google"] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** A contact as connectors see it: the wire form, with the effective status and email_status. */
export type SyncContact = WireContact;

/** A contact the remote audience holds, and how the provider knows it (returned by `add`). */
export interface RemoteMember {
  contact_id: string;
  /** e.g. the email address, a SHA-256 digest, a subscriber id. */
  remote_key: string;
}

export type RowStatus = "ok" | "failed" | "skipped";

export interface RowOutcome {
  contact_id: string;
  status: RowStatus;
  /** The provider's words for a failure, or why a row was skipped (`no email`, …). */
  error?: string;
  /** After an `ok` add: what `remove` will need to take the contact out again. */
  remote_key?: string;
}

/** What a call reported beyond rows, e.g. Meta's `num_received` / `num_matched` / `num_invalid_entries`. */
export type CallStats = Record<string, number>;

export interface BatchResult {
  /** One per input row, any order. A row missing from the list counts as `ok`. */
  rows: RowOutcome[];
  stats?: CallStats;
}

/**
 * A request as a dry run shows it: what would be sent, without credentials
 * (`Authorization` and the like are replaced by `"<redacted>"`).
 */
export interface PlannedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** How many contacts the request carries. */
  rows: number;
}

/**
 * The provider refused a whole batch for its content (a 400 naming no row): the syncer
 * splits the batch in halves and retries them, down to single rows, so that the bad
 * rows fail alone. Not for rate limits or outages: those are retried by HttpCaller.
 */
export class BatchRejected extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "BatchRejected";
  }
}

/** A destination's configuration refused at creation; `path` is relative to `config` (`list_id`). */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface ParsedConfig {
  /** Shown by reads (`GET /v1/destinations/{id}`). */
  config: JsonObject;
  /** Encrypted at rest, never returned or logged (API keys, tokens, signing secrets). */
  secrets: Record<string, string>;
}

export interface ConnectorContext {
  destinationId: string;
  config: JsonObject;
  secrets: Record<string, string>;
  /** HTTP with retries on 429 / 5xx (Retry-After honoured) and a per-call timeout. */
  http: HttpCaller;
  /**
   * Connector-owned state kept with the destination (e.g. a tag id found or created at
   * the first sync). `saveState` persists the whole object.
   */
  state: JsonObject;
  saveState(state: JsonObject): Promise<void>;
}

export interface Connector {
  readonly kind: DestinationKind;
  /** Provider limits the syncer obeys: contacts per call, and calls in flight at once. */
  readonly limits: { batchSize: number; concurrency: number };
  /** Validates `config` of `POST /v1/destinations` and separates the secrets out. */
  parseConfig(input: unknown): ParsedConfig;
  /** Checks that need the network (the http kind's address rules), at creation: an error or null. */
  checkConfig?(config: JsonObject): Promise<ConfigError | null>;
  /** Puts contacts into the remote audience (idempotent: adding a member again is harmless). */
  add(ctx: ConnectorContext, contacts: SyncContact[]): Promise<BatchResult>;
  /** Takes members out (idempotent: removing an absent member is harmless). */
  remove(ctx: ConnectorContext, members: RemoteMember[]): Promise<BatchResult>;
  /** The requests `add` would send for these contacts, sending nothing (dry run). */
  planAdd(ctx: ConnectorContext, contacts: SyncContact[]): PlannedRequest[];
  /** The requests `remove` would send for these members, sending nothing (dry run). */
  planRemove(ctx: ConnectorContext, members: RemoteMember[]): PlannedRequest[];
  /** The remote audience's size where the provider tells it, else null. */
  remoteSize?(ctx: ConnectorContext): Promise<number | null>;
}
