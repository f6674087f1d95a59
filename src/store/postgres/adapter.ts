/** PostgreSQL as the store takes it: a connection pool and its dialect. */
import type { StoreAdapter } from "../sql-store.ts";
import { openPgPool } from "./connection.ts";
import { postgresDialect } from "./dialect.ts";

export function openPostgresAdapter(url: string, poolSize: number): StoreAdapter {
  const { executor, close } = openPgPool(url, poolSize);
  return { executor, dialect: postgresDialect, close };
}
