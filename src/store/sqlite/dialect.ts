/**
 * SQLite's side of `SqlDialect`: batch writes run one cached prepared statement per row,
 * synchronously, inside the transaction (`Executor.runEach`), which on an embedded
 * database is faster than any multi-row statement.
 */
import { CONTACT_COLUMNS } from "../contact-row.ts";
import {
  CHANGE_INSERT,
  CONTACT_UPSERT,
  chunks,
  DELIVERY_QUEUE,
  EVENT_INSERT,
  IN_CHUNK,
  MEMBER_COLUMNS,
  MEMBER_UPSERT,
  type SqlDialect,
} from "../dialect.ts";
import type { Executor } from "../executor.ts";
import type { InsertStatus } from "../types.ts";

const CONTACT_INSERT = `INSERT INTO contacts (${CONTACT_COLUMNS.join(", ")}) VALUES (${CONTACT_COLUMNS.map(() => "?").join(", ")})
          ${CONTACT_UPSERT}`;

function runEach(tx: Executor, sql: string, rows: readonly (readonly unknown[])[]) {
  if (!tx.runEach) throw new Error("a SQLite batch write needs a SQLite transaction");
  return tx.runEach(sql, rows);
}

function inList(column: string, values: readonly unknown[]): { sql: string; params: unknown[] } {
  return { sql: `${column} IN (${values.map(() => "?").join(", ")})`, params: [...values] };
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  inList,

  parseJson<T>(v: unknown): T {
    return (typeof v === "string" ? JSON.parse(v) : v) as T;
  },

  forUpdate(): string {
    return "";
  },

  async upsertContacts(tx, ws, rows) {
    runEach(tx, CONTACT_INSERT, rows);
    // Only rows that already existed can have another created_at than the one written.
    const created = new Map<string, number>();
    const ids = [...new Set(rows.map((r) => r[1] as string))];
    for (const part of chunks(ids, IN_CHUNK)) {
      const inl = inList("id", part);
      for (const r of await tx.all(
        `SELECT id, created_at FROM contacts WHERE workspace_id = ? AND ${inl.sql}`,
        [ws, ...inl.params],
      )) {
        created.set(String(r.id), Number(r.created_at));
      }
    }
    return created;
  },

  async insertEvents(tx, rows) {
    // A duplicate key, stored before or earlier in this batch, inserts nothing.
    const res = runEach(tx, `${EVENT_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, rows);
    return res.map((r): InsertStatus => (r.changes > 0 ? "accepted" : "duplicate"));
  },

  async upsertMembers(tx, rows) {
    runEach(
      tx,
      `INSERT INTO segment_members (${MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ${MEMBER_UPSERT}`,
      rows,
    );
    return rows.length;
  },

  async appendChanges(tx, _ws, rows) {
    return runEach(tx, `${CHANGE_INSERT} VALUES (?, ?, ?, ?, ?)`, rows).map((r) => r.rowid);
  },

  async enqueueDeliveries(tx, rows) {
    const res = runEach(
      tx,
      `${DELIVERY_QUEUE} VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING`,
      rows,
    );
    return res.reduce((n, r) => n + r.changes, 0);
  },
};
