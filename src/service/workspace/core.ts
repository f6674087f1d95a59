/**
 * What every use case of a workspace works with (its store, its live engine, its clock
 * and log positions) and the error translations they share. Each resource's module
 * (contacts, events, fields, segments, members) takes a `WorkspaceCore` as its first
 * argument; `WorkspaceService` (../workspace.ts) composes them.
 */
import type { Clock } from "../../engine/types.ts";
import { DEFAULT_SEGMENT_IDS } from "../../rules/defaults.ts";
import { RuleValidationError } from "../../rules/errors.ts";
import type { FieldRegistry } from "../../rules/fields.ts";
import { clampedInstant } from "../../store/contact-row.ts";
import {
  type ChangeInput,
  type ChangeRecord,
  type ContactRecord,
  type DeliveryJob,
  type JsonValue,
  type Store,
  StoreError,
} from "../../store/types.ts";
import type { WorkspaceEngine } from "../engine-port/port.ts";
import { ApiError, notFound } from "../errors.ts";
import type { LogPlan } from "../live/pending-log.ts";
import type { LiveWorkspace } from "../live-workspace.ts";
import type { WorkspacePositions } from "../log-position.ts";

export interface BatchResult {
  accepted: number;
  duplicates: number;
  errors: { index: number; error: string }[];
}

export interface WireSegment {
  id: string;
  name: string;
  description: string;
  kind: "dynamic" | "static";
  rule: JsonValue | null;
  /** The rule's text form (SPEC §3.1); null for a static segment. */
  rule_text: string | null;
  default: boolean;
  version: number;
  size: number;
  created_at: string | null;
  updated_at: string | null;
}

export interface WorkspaceHooks {
  /** What must be written with changes about to be logged (the webhook outbox, `LogHooks.planLog`). */
  planLog?: (ws: string, changes: readonly ChangeInput[]) => Promise<LogPlan>;
  /** After changes were logged, with the deliveries leased in that transaction. */
  afterLog?: (ws: string, logged: ChangeRecord[], claimed: DeliveryJob[]) => void;
  /** What else refers to a segment (webhooks), for `uses` and the delete guard. */
  segmentUsers?: (ws: string, segmentId: string) => Promise<{ type: string; id: string }[]>;
}

export interface WorkspaceCore {
  readonly id: string;
  readonly timeZone: string;
  readonly live: LiveWorkspace;
  /** The live engine, on this thread or on worker threads (engine-port/port.ts). */
  readonly engine: WorkspaceEngine;
  readonly registry: FieldRegistry;
  readonly store: Store;
  readonly clock: Clock;
  readonly hooks: WorkspaceHooks;
  /** Log positions (cursors) as the client sees them: opaque tokens. */
  readonly positions: WorkspacePositions;
}

export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** A unique key taken (email, external_id, key…) as a 409 naming it under `path`. */
export function storeError(e: unknown, path: string): never {
  if (e instanceof StoreError && e.code === "conflict") {
    throw new ApiError("conflict", `${e.field ? `${path}${e.field}` : path}: ${e.message}`, {
      ...(e.field ? { field: e.field } : {}),
    });
  }
  throw e;
}

/** A rule refused by the engine's checks as a 400 naming its first issue under `root`. */
export function ruleError(e: unknown, root: string): never {
  if (e instanceof RuleValidationError) {
    const first = e.issues[0]!;
    const path = first.path.startsWith("rule") || root === "" ? first.path : `${root}.${first.path}`;
    throw new ApiError("invalid_request", `${path}: ${first.message}`, {
      path,
      issues: e.issues.map((i) => ({ path: i.path, message: i.message })),
      issue_count: e.issueCount,
    });
  }
  throw e;
}

/**
 * Records a contacts write answered: the store keeps a contact's first created_at, which
 * may be one stored out of range before writes were checked; it is answered repaired
 * as every read answers it (contact-row.ts), not as a 500 after the commit.
 */
export function keptInRange(recs: ContactRecord[]): ContactRecord[] {
  for (const r of recs) r.created_at = clampedInstant(r.created_at);
  return recs;
}

export function isDefault(id: string): boolean {
  return (DEFAULT_SEGMENT_IDS as readonly string[]).includes(id);
}

export function requireSegment(ws: WorkspaceCore, id: string): void {
  if (!ws.engine.segment(id)) throw notFound("segment", id);
}

/** A default segment is read-only (403). */
export function requireCustom(id: string): void {
  if (isDefault(id)) throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
}
