/**
 * What every repository is built over: a connection (the store's, or a transaction's),
 * the database's dialect, the store's clock and the one workspace it reads and writes.
 */
import type { SqlDialect } from "../dialect.ts";
import type { Executor } from "../executor.ts";

export interface Clock {
  now(): number;
}

export interface Scope {
  readonly x: Executor;
  readonly d: SqlDialect;
  readonly clock: Clock;
  /** The workspace: every statement of a repository is restricted to its rows. */
  readonly ws: string;
}

/** Rows per page of the `stream…` reads. */
export const DEFAULT_PAGE = 10_000;

export const json = (v: unknown): string => JSON.stringify(v);
export const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
