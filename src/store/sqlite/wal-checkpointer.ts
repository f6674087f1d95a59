/**
 * Checkpoints of a SQLite file's WAL on a thread of their own.
 *
 * SQLite checkpoints automatically on the commit that takes the WAL past
 * `wal_autocheckpoint` pages: that commit copies thousands of pages into the database
 * file and syncs it before it returns. Under a steady stream of event batches that was
 * one commit in a few dozen taking 50–100 ms, and every write and change-log flush
 * queued behind it waited as long (the freshness probe's slowest webhooks,
 * docs/performance.md). Checkpointed every `EVERY_MS` by this thread, the WAL never
 * reaches that size, and a commit only appends its own pages. The automatic checkpoint
 * stays as the bound should this thread fall behind or fail.
 */
import type { Worker } from "node:worker_threads";
import { startWorker } from "../../worker-thread.ts";

export class WalCheckpointer {
  /** How often the WAL is copied back: a few hundred pages each time under full ingest. */
  static readonly EVERY_MS = 100;

  private started: Promise<Worker | null> | null = null;
  private exited: Promise<void> = Promise.resolve();
  private closed = false;
  private warned = false;

  /**
   * `warn` hears, once, that the thread failed: nothing is lost (the writers' automatic
   * checkpoints carry on), but commits may stall again, and an operator should know why.
   */
  constructor(
    private readonly path: string,
    private readonly synchronous: "full" | "normal",
    private readonly warn: (line: string) => void = (line) => process.emitWarning(line),
  ) {}

  private failed(why: string): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    this.warn(`${this.path}: the WAL checkpoint thread failed (${why}); commits checkpoint on their own`);
  }

  /** Starts the thread once; it runs until `close`. A thread that fails to start is not retried. */
  start(): void {
    if (this.closed || this.started) return;
    this.started = new Promise<Worker | null>((resolve) => {
      const worker = startWorker(new URL("./wal-checkpoint-worker.ts", import.meta.url), {
        path: this.path,
        synchronous: this.synchronous,
        everyMs: WalCheckpointer.EVERY_MS,
      });
      // Never what keeps a process alive: `close` ends it.
      worker.unref();
      this.exited = new Promise<void>((done) => worker.once("exit", () => done()));
      worker.on("message", (m: { ready: true } | { error: string }) => {
        if ("ready" in m) resolve(worker);
        else this.failed(m.error);
      });
      worker.on("error", (e) => {
        this.failed(e.message);
        resolve(null);
      });
      worker.on("exit", (code) => {
        if (code !== 0) this.failed(`exit code ${code}`);
        resolve(null);
      });
    });
  }

  /** Stops the thread and closes its connection (before the store's last checkpoint). */
  async close(): Promise<void> {
    this.closed = true;
    const started = this.started;
    this.started = null;
    const worker = started ? await started : null;
    if (!worker) return;
    worker.ref();
    worker.postMessage({ close: true });
    await this.exited;
  }
}
