/**
 * `openStore` picks the adapter: PostgreSQL when `databaseUrl` is non-empty (SPEC §5:
 * `DATABASE_URL` wins), else the embedded SQLite file. Migrations are applied before
 * the store is returned.
 */
import { SqlStore } from "./sql-store.ts";
import { openSqliteAdapter } from "./sqlite/adapter.ts";
import type { OpenStoreOptions, Store } from "./types.ts";

export * from "./types.ts";

export const DEFAULT_SQLITE_PATH = "./data/slice.db";

export async function openStore(opts: OpenStoreOptions = {}): Promise<Store> {
  const clock = opts.clock ?? { now: () => Date.now() };
  const url = opts.databaseUrl?.trim() ?? "";
  // The PostgreSQL driver is loaded only by a process that uses it.
  const adapter =
    url !== ""
      ? (await import("./postgres/adapter.ts")).openPostgresAdapter(url, opts.poolSize ?? 10)
      : openSqliteAdapter(opts.sqlitePath || DEFAULT_SQLITE_PATH, opts.sqliteSynchronous ?? "full", clock);
  const store = new SqlStore(adapter, clock);
  try {
    await store.init();
  } catch (e) {
    await store.close();
    throw e;
  }
  adapter.warm?.();
  return store;
}

/** The store settings of SPEC §5 from the environment (`SLICE_DB`, `DATABASE_URL`). */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenStoreOptions {
  const opts: OpenStoreOptions = {};
  if (env.SLICE_DB) opts.sqlitePath = env.SLICE_DB;
  if (env.DATABASE_URL?.trim()) opts.databaseUrl = env.DATABASE_URL.trim();
  return opts;
}
