/**
 * The embedded database as the store takes it: one SQLite file (or `:memory:`), whose
 * event batches are written by a worker thread and whose start-up reads run in worker
 * threads, each on its own connection (a file only).
 */
import type { Clock } from "../repos/index.ts";
import type { StoreAdapter } from "../sql-store.ts";
import { readSqliteWorkspace } from "./bulk-read.ts";
import { openSqliteConnection } from "./connection.ts";
import { sqliteDialect } from "./dialect.ts";
import { writeEventBatches } from "./event-batches.ts";

export function openSqliteAdapter(path: string, synchronous: "full" | "normal", clock: Clock): StoreAdapter {
  const handle = openSqliteConnection(path, synchronous);
  const { eventWriter: writer, file } = handle;
  return {
    executor: handle.executor,
    dialect: sqliteDialect,
    close: handle.close,
    ...(writer && {
      eventBatches: (ws, batches, check, log) => writeEventBatches(writer, clock, ws, batches, check, log),
    }),
    ...(file && { startupRead: (ws) => readSqliteWorkspace(file.path, file.mutex, ws) }),
    warm: () => writer?.warm(),
  };
}
