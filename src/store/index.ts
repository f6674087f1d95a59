/**
 * `openStore` picks the adapter: PostgreSQL when `databaseUrl` is non-empty (SPEC §5:
 * `DATABASE_URL` wins), else the embedded SQLite file. Migrations are applied before
 * the store is returned.
 */
import { openPgPool } from "./postgres.ts";
import { SqlStore } from "./sql-store.ts";
import { openSqliteConnection } from "./sqlite.ts";
import type { OpenStoreOptions, Store } from "./types.ts";

export * from "./types.ts";

export const DEFAULT_SQLITE_PATH = "./data/slice.db";

export async function openStore(opts: OpenStoreOptions = {}): Promise<Store> {
  const clock = opts.clock ?? { now: () => Date.now() };
  const url = opts.databaseUrl?.trim() ?? "";
  const handle =
    url !== ""
      ? { ...openPgPool(url, opts.poolSize ?? 10), eventWriter: null }
      : openSqliteConnection(opts.sqlitePath || DEFAULT_SQLITE_PATH, opts.sqliteSynchronous ?? "full");
  const store = new SqlStore(handle.executor, clock, handle.close, handle.eventWriter);
  try {
    await store.init();
  } catch (e) {
    await store.close();
    throw e;
  }
  handle.eventWriter?.warm();
  return store;
}

/** The store settings of SPEC §5 from the environment (`SLICE_DB`, `DATABASE_URL`). */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenStoreOptions {
  const opts: OpenStoreOptions = {};
  if (env.SLICE_DB) opts.sqlitePath = env.SLICE_DB;
  if (env.DATABASE_URL?.trim()) opts.databaseUrl = env.DATABASE_URL.trim();
  return opts;
}
