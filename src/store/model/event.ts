/** Events and their insertion. */
import type { JsonObject } from "./common.ts";

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

/** One batch's outcome in `Store.insertEventBatches` and `Store.commitEventRound`. */
export type BatchOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
