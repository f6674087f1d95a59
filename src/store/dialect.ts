/**
 * What differs between SQLite and PostgreSQL for the repositories (src/store/repos/):
 * the form of an `IN` list, how JSON columns read back, row locks, and every batch
 * write, which takes each database's fast path (one prepared statement per row inside
 * the transaction on SQLite, one `unnest` statement per batch on PostgreSQL). The two
 * implementations are src/store/sqlite/dialect.ts and src/store/postgres/dialect.ts;
 * the rest of the SQL is common, written with `?` placeholders (the PostgreSQL executor
 * numbers them).
 */
import { CONTACT_COLUMNS } from "./contact-row.ts";
import type { Executor } from "./executor.ts";
import type { Dialect, InsertStatus } from "./types.ts";

export interface SqlDialect {
  readonly name: Dialect;

  /** `column IN (?, …)` with one parameter per value, or `column = ANY(?)` with one array. */
  inList(column: string, values: readonly unknown[]): { sql: string; params: unknown[] };

  /** A JSON column as read back: SQLite's TEXT is parsed, PostgreSQL's JSONB arrives parsed. */
  parseJson<T>(v: unknown): T;

  /**
   * The row lock a SELECT inside a transaction takes before updating what it read
   * (`of`: the table alias locked; `skipLocked`: rows another transaction holds are
   * passed over). Empty on SQLite, whose write transaction holds the whole file.
   */
  forUpdate(opts?: { of?: string; skipLocked?: boolean }): string;

  // Batch writes, inside a transaction (`tx`).

  /**
   * Creates or replaces contacts, rows in CONTACT_COLUMNS order (`created_at` is kept on
   * update, CONTACT_UPSERT); the last row of an id wins. Answers each id's stored `created_at`.
   */
  upsertContacts(tx: Executor, ws: string, rows: unknown[][]): Promise<Map<string, number>>;

  /**
   * Inserts events (rows of EVENT_INSERT_COLUMNS); per row, `duplicate` when its key was
   * stored before or earlier in the batch.
   */
  insertEvents(tx: Executor, rows: unknown[][]): Promise<InsertStatus[]>;

  /** Adds or replaces members (rows of MEMBER_COLUMNS, one per contact); answers how many were written. */
  upsertMembers(tx: Executor, rows: unknown[][]): Promise<number>;

  /**
   * Appends to a workspace's change log (rows of CHANGE_INSERT_COLUMNS); answers their
   * sequence numbers in row order, which is also their commit order in the workspace.
   */
  appendChanges(tx: Executor, ws: string, rows: unknown[][]): Promise<number[]>;

  /**
   * Queues deliveries (rows of DELIVERY_QUEUE_COLUMNS), leaving an existing (webhook,
   * change) pair as it is; answers how many were new.
   */
  enqueueDeliveries(tx: Executor, rows: unknown[][]): Promise<number>;
}

// The batch writes' tables, shared by both implementations.

/** created_at is kept from creation (SPEC §1): the update leaves it out. */
export const CONTACT_UPSERT = `ON CONFLICT (workspace_id, id) DO UPDATE SET ${CONTACT_COLUMNS.filter(
  (c) => c !== "workspace_id" && c !== "id" && c !== "created_at",
)
  .map((c) => `${c} = excluded.${c}`)
  .join(", ")}`;

export const EVENT_INSERT =
  "INSERT INTO events (workspace_id, idem_key, type, contact_id, ts, properties, received_at)";

export const MEMBER_COLUMNS = "workspace_id, segment_id, contact_id, action, expires_at, created_at";
export const MEMBER_UPSERT =
  "ON CONFLICT (workspace_id, segment_id, contact_id) DO UPDATE SET action = excluded.action, expires_at = excluded.expires_at, created_at = excluded.created_at";

export const CHANGE_INSERT = "INSERT INTO changes (workspace_id, segment_id, contact_id, change, at)";

/** Rows: [ws, webhook_id, change_seq, next_attempt_at, created_at, updated_at]. */
export const DELIVERY_QUEUE =
  "INSERT INTO deliveries (workspace_id, webhook_id, change_seq, status, attempts, next_attempt_at, created_at, updated_at)";

/** SQLite allows 32,766 parameters per statement; IN lists stay well below. */
export const IN_CHUNK = 500;

export function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** The columns of `rows` (rows of `width` values), as PostgreSQL's `unnest` takes them. */
export function columnsOf(rows: readonly unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((r) => r[i]));
}
