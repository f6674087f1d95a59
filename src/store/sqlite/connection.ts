/**
 * The embedded adapter: one SQLite file through better-sqlite3, in WAL mode.
 *
 * better-sqlite3 is synchronous and a connection has one transaction at a time, while
 * the store's transactions are async (their callbacks await). So every use of the
 * connection goes through one mutex: a transaction holds it from BEGIN to COMMIT, and a
 * single statement outside a transaction waits for it, so it never runs inside somebody
 * else's open transaction.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdirSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { type Executor, Mutex, type Row, translateError } from "../executor.ts";
import { SqliteEventWriter } from "./event-writer.ts";
import { WalCheckpointer } from "./wal-checkpointer.ts";

type Statement = Database.Statement<unknown[], unknown>;

const MAX_CACHED_STATEMENTS = 512;

/**
 * Per file, shared by every connection of this process to it: two stores on one file
 * must not wait on each other through SQLite's busy handler, which sleeps the whole
 * thread while the other connection's transaction, on the same thread, cannot finish.
 */
interface FileLock {
  mutex: Mutex;
  /** Set while a transaction runs, to catch a store used inside a transaction on the same file. */
  inside: AsyncLocalStorage<true>;
  refs: number;
}

const fileLocks = new Map<string, FileLock>();

function acquireFileLock(key: string | null): FileLock {
  if (key === null) return { mutex: new Mutex(), inside: new AsyncLocalStorage<true>(), refs: 1 };
  let lock = fileLocks.get(key);
  if (!lock) {
    lock = { mutex: new Mutex(), inside: new AsyncLocalStorage<true>(), refs: 0 };
    fileLocks.set(key, lock);
  }
  lock.refs++;
  return lock;
}

function releaseFileLock(key: string | null, lock: FileLock): void {
  if (key !== null && --lock.refs === 0) fileLocks.delete(key);
}

class Connection {
  private readonly statements = new Map<string, Statement>();
  private readonly rawStatements = new Map<string, Statement>();
  readonly mutex: Mutex;
  readonly inside: AsyncLocalStorage<true>;

  constructor(
    readonly db: Database.Database,
    lock: FileLock,
  ) {
    this.mutex = lock.mutex;
    this.inside = lock.inside;
  }

  prepare(sql: string, raw = false): Statement {
    const cache = raw ? this.rawStatements : this.statements;
    let s = cache.get(sql);
    if (!s) {
      // Statements with IN lists vary in size; don't keep them all.
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      s = this.db.prepare(sql);
      if (raw) s.raw(true);
      cache.set(sql, s);
    }
    return s;
  }
}

function bind(params: readonly unknown[]): unknown[] {
  const out = new Array(params.length);
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    out[i] = v === undefined ? null : typeof v === "boolean" ? (v ? 1 : 0) : v;
  }
  return out;
}

export class SqliteExecutor implements Executor {
  readonly dialect = "sqlite" as const;
  private tx: SqliteExecutor | null = null;

  constructor(
    private readonly conn: Connection,
    /** True for the executor handed to a transaction's callback: the mutex is already held. */
    readonly inTransaction: boolean,
  ) {}

  private locked<T>(fn: () => T): Promise<T> {
    if (this.inTransaction) {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(translateError(e));
      }
    }
    if (this.conn.inside.getStore()) {
      return Promise.reject(
        new Error("the store was used inside a transaction on the same database: use the transaction's `tx`"),
      );
    }
    return this.conn.mutex.run(() => {
      try {
        return fn();
      } catch (e) {
        throw translateError(e);
      }
    });
  }

  all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return this.locked(() => {
      const s = this.conn.prepare(sql);
      if (s.reader) return s.all(...bind(params)) as Row[];
      s.run(...bind(params));
      return [];
    });
  }

  arrays(sql: string, params: readonly unknown[] = []): Promise<unknown[][]> {
    return this.locked(() => this.conn.prepare(sql, true).all(...bind(params)) as unknown[][]);
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.locked(() => this.conn.prepare(sql).run(...bind(params)).changes);
  }

  exec(sql: string): Promise<void> {
    return this.locked(() => {
      this.conn.db.exec(sql);
    });
  }

  runEach(sql: string, rows: readonly (readonly unknown[])[]): { changes: number; rowid: number }[] {
    if (!this.inTransaction) throw new Error("runEach needs a transaction");
    const s = this.conn.prepare(sql);
    const out: { changes: number; rowid: number }[] = new Array(rows.length);
    try {
      for (let i = 0; i < rows.length; i++) {
        const r = s.run(...bind(rows[i]));
        out[i] = { changes: r.changes, rowid: Number(r.lastInsertRowid) };
      }
    } catch (e) {
      throw translateError(e);
    }
    return out;
  }

  atomic<T>(fn: (x: Executor) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    if (this.conn.inside.getStore()) {
      return Promise.reject(
        new Error("the store was used inside a transaction on the same database: use the transaction's `tx`"),
      );
    }
    this.tx ??= new SqliteExecutor(this.conn, true);
    const tx = this.tx;
    const db = this.conn.db;
    return this.conn.mutex.run(() =>
      this.conn.inside.run(true, async () => {
        // IMMEDIATE takes the write lock at once, so another process's writer makes this
        // wait (busy_timeout) at BEGIN rather than fail halfway through.
        db.exec("BEGIN IMMEDIATE");
        try {
          const result = await fn(tx);
          db.exec("COMMIT");
          return result;
        } catch (e) {
          if (db.inTransaction) db.exec("ROLLBACK");
          throw translateError(e);
        }
      }),
    );
  }
}

/**
 * Statements inside a transaction that the caller opened on `db` and will end itself
 * (the writer thread's): the repositories run on it as on the main connection.
 */
export function transactionExecutor(db: Database.Database): Executor {
  return new SqliteExecutor(new Connection(db, acquireFileLock(null)), true);
}

/**
 * The file behind a connection and the mutex every use of it in this process takes.
 * Readers on their own connection (start-up bulk reads in a worker thread) take their
 * snapshot under this mutex, so it never falls inside an open transaction of this
 * process.
 */
export interface SqliteFile {
  path: string;
  mutex: Mutex;
}

export interface SqliteHandle {
  executor: SqliteExecutor;
  /** Null for `:memory:`. */
  file: SqliteFile | null;
  /** Event batches written by a worker thread; a file only (not `:memory:`). */
  eventWriter: SqliteEventWriter | null;
  close(): Promise<void>;
}

export function openSqliteConnection(path: string, synchronous: "full" | "normal"): SqliteHandle {
  const memory = path === ":memory:";
  if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
  const db = new Database(path);
  const key = memory ? null : realpathSync(resolve(path));
  const lock = acquireFileLock(key);
  if (!memory) db.pragma("journal_mode = WAL");
  // FULL: every COMMIT fsyncs the WAL, so an acknowledged write survives power loss too,
  // not only a killed process (docs/storage.md).
  db.pragma(`synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 10000");
  db.pragma("cache_size = -65536");
  db.pragma("temp_store = MEMORY");
  db.pragma("wal_autocheckpoint = 10000");
  const conn = new Connection(db, lock);
  const executor = new SqliteExecutor(conn, false);
  const eventWriter = memory
    ? null
    : new SqliteEventWriter(
        resolve(path),
        synchronous,
        lock,
        new WalCheckpointer(resolve(path), synchronous),
      );
  return {
    executor,
    file: key === null ? null : { path: key, mutex: lock.mutex },
    eventWriter,
    close: () =>
      conn.mutex.run(async () => {
        await eventWriter?.close();
        if (db.open) {
          // Fold the WAL back into the database file, so a closed store is one file.
          if (!memory) db.pragma("wal_checkpoint(TRUNCATE)");
          db.close();
          releaseFileLock(key, lock);
        }
      }),
  };
}
