/**
 * Batches of events inserted and committed by a worker thread with its own connection
 * on the SQLite file (`Store.insertEventBatches`).
 *
 * better-sqlite3 is synchronous: on the main connection an insert of 1,000 events and
 * its commit (an fsync with synchronous=FULL) block the thread that also runs the
 * engine, so a durable ingest costs the sum of the two. Here the main thread hands the
 * rows over and is free until the commit is done, so the engine applies one batch while
 * the next one is being written (src/service/live-workspace.ts), on the second core.
 *
 * The request runs while holding the file's process-wide mutex (src/store/sqlite.ts),
 * like any transaction of the main connection, so the two connections never wait on
 * each other through SQLite's busy handler.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import type { Worker } from "node:worker_threads";
import type { Mutex } from "./executor.ts";
import { startWorker } from "./worker-thread.ts";

/** One batch's rows as columns (one structured clone of a few arrays, not of 1,000 rows). */
export interface EventBatchColumns {
  idem: (string | null)[];
  type: string[];
  contact: string[];
  ts: Float64Array;
  /** JSON text. */
  properties: string[];
  received: Float64Array;
}

export interface WriterRequest {
  id: number;
  ws: string;
  batches: EventBatchColumns[];
}

export interface WorkerError {
  message: string;
  code?: string;
}

export type WriterOutcome = { ok: true; inserted: Uint8Array } | { ok: false; error: WorkerError };

export interface WriterReply {
  id: number;
  outcomes: WriterOutcome[];
  /** Set when the transaction as a whole failed (nothing of it is stored). */
  error?: WorkerError;
}

/** A worker's error as an Error with the driver's code, for `translateError`. */
export function workerError(e: WorkerError): Error {
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

interface Pending {
  resolve: (outcomes: WriterOutcome[]) => void;
  reject: (e: unknown) => void;
}

export class SqliteEventWriter {
  private worker: Worker | null = null;
  private started: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly synchronous: "full" | "normal",
    private readonly lock: { mutex: Mutex; inside: AsyncLocalStorage<true> },
  ) {}

  /**
   * Inserts the batches in one transaction on the worker. Resolves with one outcome per
   * batch once the transaction committed; rejects when it failed as a whole.
   */
  insert(ws: string, batches: EventBatchColumns[]): Promise<WriterOutcome[]> {
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    if (this.lock.inside.getStore()) {
      return Promise.reject(
        new Error("the store was used inside a transaction on the same database: use the transaction's `tx`"),
      );
    }
    return this.lock.mutex.run(async () => {
      const worker = await this.start();
      const id = this.nextId++;
      return new Promise<WriterOutcome[]>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        const req: WriterRequest = { id, ws, batches };
        worker.ref();
        worker.postMessage(req);
      });
    });
  }

  /**
   * Starts the thread ahead of the first insert (loading its module takes a few hundred
   * milliseconds), once the schema exists. A failure here is not reported: the first
   * insert tries again and reports it.
   */
  warm(): void {
    if (this.closed) return;
    this.start().catch(() => {});
  }

  private start(): Promise<Worker> {
    this.started ??= new Promise<Worker>((resolve, reject) => {
      const worker = startWorker(new URL("./sqlite-event-writer-worker.ts", import.meta.url), {
        path: this.path,
        synchronous: this.synchronous,
      });
      // A worker waiting for work must not keep the process alive (`close` ends it); one
      // with a request in flight must.
      worker.unref();
      let ready = false;
      worker.on("message", (m: WriterReply | { ready: true }) => {
        if ("ready" in m) {
          ready = true;
          this.worker = worker;
          resolve(worker);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) worker.unref();
        if (m.error) p.reject(workerError(m.error));
        else p.resolve(m.outcomes);
      });
      const fail = (e: unknown) => {
        // The next insert starts a new worker. A request in flight is reported as failed:
        // its transaction was rolled back, or never began, when the thread died.
        this.worker = null;
        this.started = null;
        if (!ready) reject(e);
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      };
      worker.on("error", fail);
      worker.on("exit", (code) => {
        if (this.worker === worker || !ready)
          fail(new Error(`the SQLite writer thread stopped (exit code ${code})`));
      });
    });
    return this.started;
  }

  /** Closes the worker's connection. Call while no insert is in flight (under the file's mutex). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.started = null;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    // Referenced until it has exited, or a process whose last work is closing the store
    // would end before the connection is closed.
    worker.ref();
    worker.postMessage({ close: true });
    await exited;
  }
}
