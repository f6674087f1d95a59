import { type Dialect, StoreError } from "./types.ts";

export type Row = Record<string, unknown>;

/**
 * What the shared SQL code needs from a database connection. SQL is written with `?`
 * placeholders; the PostgreSQL executor numbers them.
 */
export interface Executor {
  readonly dialect: Dialect;
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Rows as arrays in the order of the select list: several times faster to build than objects. */
  arrays(sql: string, params?: readonly unknown[]): Promise<unknown[][]>;
  /**
   * PostgreSQL only: the rows of one query in pages, through a server-side cursor (one
   * plan and one snapshot for the whole scan, instead of a keyset query per page).
   */
  cursor?(sql: string, params: readonly unknown[], pageSize: number): AsyncIterable<unknown[][]>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in a transaction, or in the current one when already inside one. */
  atomic<T>(fn: (x: Executor) => Promise<T>): Promise<T>;
  /** True inside a transaction. */
  readonly inTransaction: boolean;
  /**
   * SQLite only: runs one prepared statement per row, synchronously, and returns each
   * run's change count and last row id. The fast path for batch inserts.
   */
  runEach?(sql: string, rows: readonly (readonly unknown[])[]): { changes: number; rowid: number }[];
}

/** `?` → `$1, $2, …`; the SQL of this package never has a `?` inside a literal. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** A promise-chain mutex: one holder at a time, in arrival order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** Builds the error a database reported into a StoreError where it is the caller's doing. */
export function translateError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const err = e as Error & { code?: string; detail?: string; constraint?: string };
  const code = err.code ?? "";
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    // "UNIQUE constraint failed: contacts.workspace_id, contacts.email"
    const cols = err.message.split(":").pop() ?? "";
    const last = cols.split(",").pop()?.trim().split(".").pop() ?? "";
    return new StoreError("conflict", `already exists: ${uniqueName(last)}`, uniqueName(last));
  }
  if (code === "23505") {
    // detail: "Key (workspace_id, email)=(ws_1, a@b.c) already exists."
    const m = /^Key \(([^)]*)\)/.exec(err.detail ?? "");
    const last = m ? (m[1].split(",").pop()?.trim() ?? "") : "";
    return new StoreError("conflict", `already exists: ${uniqueName(last)}`, uniqueName(last));
  }
  if (code === "SQLITE_CONSTRAINT_FOREIGNKEY" || code === "23503") {
    return new StoreError("not_found", "a referenced row does not exist (contact, segment or webhook)");
  }
  if (
    code === "SQLITE_CONSTRAINT_CHECK" ||
    code === "SQLITE_CONSTRAINT_NOTNULL" ||
    code === "23514" ||
    code === "23502"
  ) {
    return new StoreError("invalid", err.message);
  }
  return e;
}

function uniqueName(column: string): string {
  if (column === "idem_key") return "id";
  if (column === "secret_hash") return "secret";
  if (column === "change_seq") return "change";
  return column;
}
