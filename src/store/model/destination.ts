/**
 * Destinations (SPEC §4.2, docs/destinations.md): the destination with its sync
 * position, sync runs and per-contact outcomes. Not gathered into types.ts: a schedule's
 * run (model/schedule.ts) shares the names `RunRecord` and `RunState`.
 */
import type { JsonObject } from "./common.ts";

export type DestinationState = "active" | "paused";
export type RunKind = "full" | "incremental" | "dry_run";
export type RunState = "running" | "succeeded" | "partial" | "failed";
export type OutcomeOp = "add" | "remove";
export type OutcomeStatus = "ok" | "failed" | "skipped";

export interface DestinationStats {
  /** Rows the provider accepted, ever. */
  added: number;
  removed: number;
  failed: number;
  skipped: number;
  /** Provider figures of the last call that reported them (Meta's match counts…). */
  provider?: Record<string, number>;
  /** The remote audience's size as the provider last told it (providers that tell it). */
  provider_size?: number;
}

export interface DestinationRecord {
  id: string;
  workspace_id: string;
  name: string;
  kind: string;
  segment_id: string;
  /** What reads show: no secrets. */
  config: JsonObject;
  /** Credentials, sealed (src/service/secret-box.ts). */
  secrets: string;
  connector_state: JsonObject;
  state: DestinationState;
  /** The first full sync is done; from then on only changes after `cursor` are sent. */
  full_done: boolean;
  /** During the full sync: the change-log position it started from … */
  full_seq: number | null;
  /** … and the last contact id sent (members are sent in id order). */
  full_cursor: string | null;
  /** The last change-log sequence number applied. */
  cursor: number;
  /** Failed passes in a row (backoff). */
  failures: number;
  next_attempt_at: number | null;
  last_sync_at: number | null;
  last_error: string | null;
  stats: DestinationStats;
  created_at: number;
  updated_at: number;
}

export type NewDestination = Pick<
  DestinationRecord,
  "name" | "kind" | "segment_id" | "config" | "secrets" | "state"
> & { id?: string };

export type DestinationPatch = Partial<
  Omit<DestinationRecord, "id" | "workspace_id" | "kind" | "created_at" | "updated_at">
>;

export interface RunRecord {
  id: string;
  destination_id: string;
  kind: RunKind;
  state: RunState;
  from_seq: number | null;
  to_seq: number | null;
  added: number;
  removed: number;
  failed: number;
  skipped: number;
  /** Dry runs: `{would_add, would_remove, requests}`; Meta: match counts. */
  stats: JsonObject;
  error: string | null;
  started_at: number;
  finished_at: number | null;
}

export interface OutcomeRecord {
  run_id: string;
  contact_id: string;
  op: OutcomeOp;
  status: OutcomeStatus;
  error: string | null;
  at: number;
}
