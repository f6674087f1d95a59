import type { Dialect } from "./types.ts";

export type Row = Record<string, unknown>;

/**
 * What the shared SQL code needs from a database connection. SQL is written with `?`
 * placeholders; the PostgreSQL executor numbers them.
 */
export interface Executor {
  readonly dialect: Dialect;
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
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
  /** SQLite only: one statement, row by row as arrays, for hot read loops. */
  allRaw?(sql: string, params?: readonly unknown[]): Promise<unknown[][]>;
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
