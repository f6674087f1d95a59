/**
 * Batches of events, and the change log written with them, inserted and committed by a
 * worker thread with its own connection on the SQLite file (`Store.commitEventRound`).
 *
 * better-sqlite3 is synchronous: on the main connection an insert of 1,000 events and
 * its commit (an fsync with synchronous=FULL) block the thread that also runs the
 * engine, so a durable ingest costs the sum of the two. Here the main thread hands the
 * rows over and is free until the commit is done, so the engine applies one batch while
 * the next one is being written (src/service/live-workspace.ts), on the second core.
 *
 * The request runs while holding the file's process-wide mutex (src/store/sqlite/connection.ts),
 * like any transaction of the main connection, so the two connections never wait on
 * each other through SQLite's busy handler.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import type { Worker } from "node:worker_threads";
import { startWorker } from "../../worker-thread.ts";
import type { Mutex } from "../executor.ts";
import type { LogWrite, LogWritten } from "../types.ts";
import type { WalCheckpointer } from "./wal-checkpointer.ts";

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

/**
 * A `LogWrite` as columns, like the batches: a start-up's reconciliation can log millions
 * of changes, and a structured clone copies strings one by one (about 0.9 µs per change
 * for two ids each way, measured on 500,000), so the segment ids go as a dictionary and
 * the contact ids as one string with their lengths.
 */
export interface LogColumns {
  /** The store's clock, for the rows' times. */
  now: number;
  /** The distinct segment ids; `segment` indexes them. */
  segments: string[];
  segment: Int32Array;
  /** Every change's contact id, one after the other; `contactLength` cuts them apart. */
  contacts: string;
  contactLength: Int32Array;
  /** 1 for `entered`, 0 for `exited`. */
  entered: Uint8Array;
  at: Float64Array;
  /** The deliveries: for change `deliveryChange[i]`, to webhook `deliveryWebhook[i]`. */
  deliveryChange: Int32Array;
  deliveryWebhook: string[];
  claim: LogWrite["claim"];
}

export function logColumns(w: LogWrite, now: number): LogColumns {
  const n = w.changes.length;
  const codes = new Map<string, number>();
  const segments: string[] = [];
  const segment = new Int32Array(n);
  const contacts: string[] = new Array(n);
  const contactLength = new Int32Array(n);
  const entered = new Uint8Array(n);
  const at = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ch = w.changes[i]!;
    let code = codes.get(ch.segment_id);
    if (code === undefined) {
      code = segments.length;
      codes.set(ch.segment_id, code);
      segments.push(ch.segment_id);
    }
    segment[i] = code;
    contacts[i] = ch.contact_id;
    contactLength[i] = ch.contact_id.length;
    entered[i] = ch.change === "entered" ? 1 : 0;
    at[i] = ch.at;
  }
  const deliveryChange = new Int32Array(w.deliveries.length);
  const deliveryWebhook: string[] = new Array(w.deliveries.length);
  for (let i = 0; i < w.deliveries.length; i++) {
    deliveryChange[i] = w.deliveries[i]!.change;
    deliveryWebhook[i] = w.deliveries[i]!.webhook_id;
  }
  return {
    now,
    segments,
    segment,
    contacts: contacts.join(""),
    contactLength,
    entered,
    at,
    deliveryChange,
    deliveryWebhook,
    claim: w.claim,
  };
}

export function logOfColumns(c: LogColumns): LogWrite {
  const changes: LogWrite["changes"] = new Array(c.segment.length);
  let offset = 0;
  for (let i = 0; i < changes.length; i++) {
    const end = offset + c.contactLength[i]!;
    changes[i] = {
      segment_id: c.segments[c.segment[i]!]!,
      contact_id: c.contacts.slice(offset, end),
      change: c.entered[i] === 1 ? "entered" : "exited",
      at: c.at[i]!,
    };
    offset = end;
  }
  const deliveries: LogWrite["deliveries"] = new Array(c.deliveryChange.length);
  for (let i = 0; i < deliveries.length; i++) {
    deliveries[i] = { change: c.deliveryChange[i]!, webhook_id: c.deliveryWebhook[i]! };
  }
  return { changes, deliveries, claim: c.claim };
}

/** The log written, as the worker answers it: the changes' sequence numbers in order. */
export interface LogReply {
  seqs: Float64Array;
  queued: number;
  claimed: LogWritten["claimed"];
}

export interface WriterRequest {
  id: number;
  ws: string;
  batches: EventBatchColumns[];
  /** Written after the batches, in their transaction (`writeLog`). */
  log?: LogColumns;
  /** Wait for the caller's verdict (the gate) before committing. */
  gated: boolean;
}

/**
 * The gate: a shared [request id, verdict] pair. The caller's check runs while the
 * worker inserts; before COMMIT the worker waits (Atomics.wait) until the pair names its
 * request, then commits on COMMIT_VERDICT and rolls back otherwise.
 */
export const GATE_ID = 0;
export const GATE_VERDICT = 1;
export const COMMIT_VERDICT = 1;
export const ABORT_VERDICT = 2;

export interface WorkerError {
  message: string;
  code?: string;
}

export type WriterOutcome = { ok: true; inserted: Uint8Array } | { ok: false; error: WorkerError };

export interface WriterReply {
  id: number;
  outcomes: WriterOutcome[];
  /** The request's log, written and committed. */
  log?: LogReply;
  /** Set when the transaction as a whole failed (nothing of it is stored). */
  error?: WorkerError;
}

/** The changes of `w` with the sequence numbers the worker gave them. */
function logWritten(w: LogWrite, reply: LogReply): LogWritten {
  const logged = w.changes.map((c, i) => ({
    seq: reply.seqs[i]!,
    segment_id: c.segment_id,
    contact_id: c.contact_id,
    change: c.change,
    at: c.at,
  }));
  return { logged, queued: reply.queued, claimed: reply.claimed };
}

/** A worker's error as an Error with the driver's code, for `translateError`. */
export function workerError(e: WorkerError): Error {
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

interface Written {
  outcomes: WriterOutcome[];
  log: LogWritten | null;
}

interface Pending {
  resolve: (reply: WriterReply) => void;
  reject: (e: unknown) => void;
}

export class SqliteEventWriter {
  private worker: Worker | null = null;
  private started: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly gate = new Int32Array(new SharedArrayBuffer(8));

  constructor(
    private readonly path: string,
    private readonly synchronous: "full" | "normal",
    private readonly lock: { mutex: Mutex; inside: AsyncLocalStorage<true> },
    /** Started once `CHECKPOINT_AFTER_ROWS` rows came through: the WAL they grow is checkpointed off their commits. */
    private readonly checkpointer: WalCheckpointer | null = null,
  ) {}

  /**
   * Rows (events and logged changes) written before the checkpoint thread starts: about
   * 1,200 WAL pages of events, far below the commits' own checkpoint at 10,000. A store
   * that takes a few batches (a small import, a test) does not start a thread for it; a
   * stream of them does, early. The changes count because a start-up that logs its
   * workspaces' first memberships writes thousands of pages of them at once: left to the
   * commits, that WAL was copied back by the commit of the first events' burst after it,
   * which then held every write and webhook for 150–200 ms (docs/performance.md).
   */
  static readonly CHECKPOINT_AFTER_ROWS = 20_000;
  /** Rows still to come before the checkpoint thread starts (counted down once, then 0). */
  private rowsBeforeCheckpoints = SqliteEventWriter.CHECKPOINT_AFTER_ROWS;

  /**
   * Inserts the batches, then writes `log`, in one transaction on the worker. Resolves
   * with one outcome per batch and the log written once the transaction committed;
   * rejects when it failed as a whole. `check` runs on this thread while the worker
   * inserts; if it throws, the worker rolls back and the call rejects with that error.
   */
  insert(
    ws: string,
    batches: EventBatchColumns[],
    check?: () => void,
    log?: { write: LogWrite; now: number },
  ): Promise<Written> {
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    if (this.lock.inside.getStore()) {
      return Promise.reject(
        new Error("the store was used inside a transaction on the same database: use the transaction's `tx`"),
      );
    }
    if (this.rowsBeforeCheckpoints > 0) {
      for (const b of batches) this.rowsBeforeCheckpoints -= b.type.length;
      this.rowsBeforeCheckpoints -= log?.write.changes.length ?? 0;
      if (this.rowsBeforeCheckpoints <= 0) {
        this.rowsBeforeCheckpoints = 0;
        this.checkpointer?.start();
      }
    }
    return this.lock.mutex.run(async () => {
      const worker = await this.start();
      const id = this.nextId++;
      let refused: { error: unknown } | null = null;
      const reply = new Promise<WriterReply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        const req: WriterRequest = {
          id,
          ws,
          batches,
          gated: check !== undefined,
          ...(log && { log: logColumns(log.write, log.now) }),
        };
        worker.ref();
        worker.postMessage(req);
      });
      if (check) {
        let verdict = COMMIT_VERDICT;
        try {
          check();
        } catch (error) {
          verdict = ABORT_VERDICT;
          refused = { error };
        }
        Atomics.store(this.gate, GATE_VERDICT, verdict);
        Atomics.store(this.gate, GATE_ID, id);
        Atomics.notify(this.gate, GATE_ID);
      }
      const answer = await reply.catch((e: unknown) => {
        throw refused ? refused.error : e;
      });
      if (refused) throw (refused as { error: unknown }).error;
      return { outcomes: answer.outcomes, log: log && answer.log ? logWritten(log.write, answer.log) : null };
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
      const worker = startWorker(new URL("./event-writer-worker.ts", import.meta.url), {
        path: this.path,
        synchronous: this.synchronous,
        gate: this.gate.buffer,
      });
      // A worker waiting for work must not keep the process alive (`close` ends it); one
      // with a request in flight must.
      worker.unref();
      let ready = false;
      worker.on("message", (m: WriterReply | { ready: true }) => {
        if ("ready" in m) {
          ready = true;
          if (!this.closed) this.worker = worker;
          resolve(worker);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) worker.unref();
        if (m.error) p.reject(workerError(m.error));
        else p.resolve(m);
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

  /**
   * Closes the worker's connection. Call while no insert is in flight (under the file's
   * mutex). A worker still starting (`warm`) is waited for and closed too: left alone, it
   * would open its connection after the store closed and keep the process alive.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.checkpointer?.close();
    const started = this.started;
    this.worker = null;
    this.started = null;
    if (!started) return;
    let worker: Worker;
    try {
      worker = await started;
    } catch {
      return;
    }
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    // Referenced until it has exited, or a process whose last work is closing the store
    // would end before the connection is closed.
    worker.ref();
    worker.postMessage({ close: true });
    await exited;
  }
}
