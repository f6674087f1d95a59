/**
 * The store's interface: `StoreOps`, what the store and a transaction both offer (the
 * repositories `workspace(ws)` binds to one workspace, and savepoints); and `Store`,
 * which adds transactions, batch event writes, workspace administration and the
 * start-up bulk read.
 */
import type { WorkspaceRepos } from "../repos/index.ts";
import type { StartupRead } from "../startup-read.ts";
import type { LogWrite, LogWritten } from "./change.ts";
import type { Dialect } from "./common.ts";
import type { BatchOutcome, EventInsertResult, EventWrite } from "./event.ts";
import type { ReceiverRecord } from "./ingest.ts";
import type { ApiKey, NewWorkspace, Workspace, WorkspacePatch } from "./workspace.ts";

/** Available on the store and inside a transaction. */
export interface StoreOps {
  /**
   * The repositories of workspace `ws`, bound to it (and inside a transaction, to the
   * transaction): every read and write of a workspace's data goes through them.
   */
  workspace(ws: string): WorkspaceRepos;

  /**
   * Inside a transaction only: runs `fn` under a savepoint; if it throws, its writes are
   * undone and the transaction continues.
   */
  savepoint<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
}

export interface Store extends StoreOps {
  readonly dialect: Dialect;

  /**
   * Runs `fn` in one database transaction: it commits when `fn` resolves, and rolls
   * back when it throws. `tx` only accepts `ws`. Use `tx`, not the store, inside `fn`.
   */
  transaction<T>(ws: string, fn: (tx: StoreOps) => Promise<T>): Promise<T>;

  /**
   * Inserts several batches of events in one transaction, each under its own savepoint
   * (a failing batch fails alone, as with `transaction` and `savepoint`; a lone batch
   * that fails rolls back the transaction), as `insertEvents` would one by one, with one
   * commit. On a SQLite file the statements and the commit run on a worker thread with
   * its own connection, so the calling thread is free while they do (docs/storage.md).
   * `check` runs while the batches are being written (on a SQLite file, on the calling
   * thread while the writer thread inserts; elsewhere before): if it throws, nothing is
   * committed and the call rejects with its error.
   */
  insertEventBatches(
    ws: string,
    batches: EventWrite[][],
    opts?: { check?: () => void },
  ): Promise<BatchOutcome<EventInsertResult>[]>;

  /**
   * `insertEventBatches`, with `log` (changes and their deliveries, `writeLog`) written
   * in the same transaction, also when there are no batches: on a SQLite file the change
   * log's inserts and commit leave the calling thread too. A failing batch leaves the
   * log's write in place; anything that rolls back the transaction rolls it back too.
   */
  commitEventRound(
    ws: string,
    round: { batches: EventWrite[][]; check?: () => void; log?: LogWrite },
  ): Promise<{ outcomes: BatchOutcome<EventInsertResult>[]; log: LogWritten | null }>;

  /**
   * Cluster fencing (docs/cluster.md): records that lease `epoch` now holds `ws`, unless
   * that or a later epoch already does (false). It waits for the transactions in flight
   * that checked the previous epoch, so a load after it sees all they wrote.
   */
  claimEpoch(ws: string, epoch: number): Promise<boolean>;
  /** The epoch recorded for `ws` (0: none yet). */
  heldEpoch(ws: string): Promise<number>;
  /**
   * From now on every `transaction(ws)` (and `insertEventBatches`) first checks, holding
   * the row until it ends, that `epochOf(ws)` is the epoch recorded for `ws`, and fails
   * with StoreError `fenced` otherwise; `epochOf` null: not checked.
   */
  fence(epochOf: (ws: string) => number | null): void;

  // not scoped by workspace, by nature
  createWorkspace(ws: NewWorkspace): Promise<Workspace>;
  getWorkspace(id: string): Promise<Workspace | null>;
  listWorkspaces(): Promise<Workspace[]>;
  /** A 32-byte random key the server keeps with its data, made at its first use (src/store/server-secret-repo.ts). */
  serverSecret(name: string): Promise<Buffer>;
  updateWorkspace(id: string, patch: WorkspacePatch): Promise<Workspace | null>;
  /** A receiver by id alone: the public `/hooks/{id}` path names no workspace. */
  findReceiver(id: string): Promise<ReceiverRecord | null>;
  /** The key with this secret and its workspace, or null. */
  authenticate(secret: string): Promise<{ workspace: Workspace; key: ApiKey } | null>;

  /** Applied migration versions, oldest first. */
  migrations(): Promise<{ version: number; name: string; applied_at: number }[]>;
  close(): Promise<void>;

  // start-up bulk reads
  /**
   * Contacts, events (as columns) and the logged membership of a workspace, from one
   * snapshot, read off the calling thread (src/store/startup-read.ts), for rebuilding its
   * engine; null (or absent) where the store cannot, and the caller then streams pages.
   */
  startupRead?(ws: string): StartupRead | null;
}

export interface OpenStoreOptions {
  /** SQLite file (default `./data/slice.db`); its directory is created if missing. */
  sqlitePath?: string;
  /** `postgres://…`: use PostgreSQL instead; an empty string counts as unset. */
  databaseUrl?: string;
  /** SQLite `synchronous` with WAL: FULL (default) survives power loss, NORMAL a process kill. */
  sqliteSynchronous?: "full" | "normal";
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** The store's clock for created/updated/received times (default: system time). */
  clock?: { now(): number };
}
