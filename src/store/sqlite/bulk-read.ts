/**
 * Start-up bulk reads of a SQLite file in worker threads (`bulk-worker.ts`), so that
 * stepping SQLite and decoding rows run on other cores while the main thread loads the
 * engine. Each worker opens its own read-only connection on the file (WAL lets it read
 * while this process's connection writes) and reads in one read transaction. The workers
 * begin those transactions while this thread holds the file's mutex, so their snapshots
 * never fall inside an open transaction of this process, and, taken under the same hold,
 * are the same snapshot (unless another process writes the file meanwhile).
 *
 * With two workers, the first reads the contacts and the even ranges of event `seq`
 * numbers, the second the change log and then the odd ranges; their pages are merged
 * back into `seq` order here.
 *
 * Flow control: a worker stays at most `AHEAD` messages ahead of the consumer (a shared
 * counter of messages consumed, waited on with `Atomics.wait`), so a slow consumer does
 * not make it buffer the whole table.
 */
import type { Worker } from "node:worker_threads";
import { startWorker } from "../../worker-thread.ts";
import type { Mutex } from "../executor.ts";
import {
  BulkReadError,
  type EventsMessage,
  type LoggedMessage,
  type StartupMessage,
  type StartupRead,
  StartupReadUnavailable,
} from "../startup-read.ts";
import type { BulkWorkerData, WorkerSignal } from "./bulk-worker.ts";

/**
 * Generous: while this thread loads contacts (the slow part of the start), the readers go
 * on with events instead of waiting (a page of events is ~1 MB).
 */
const AHEAD = 32;
/** `seq` numbers per events range; contacts and change-log rows per page. */
const PAGE = 20_000;

type Incoming = StartupMessage | WorkerSignal;

/** One worker and the messages it posted that were not taken yet. */
class Channel {
  private readonly queue: Incoming[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private exited = false;
  readonly ctl: Int32Array;

  constructor(
    readonly worker: Worker,
    control: SharedArrayBuffer,
  ) {
    this.ctl = new Int32Array(control);
    worker.on("message", (m: Incoming) => {
      this.queue.push(m);
      this.notify();
    });
    worker.on("error", (e) => {
      this.failure = e;
      this.notify();
    });
    worker.on("exit", () => {
      this.exited = true;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The next message; counted as consumed, so the worker may read one more page meanwhile. */
  async next(): Promise<Incoming> {
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        Atomics.add(this.ctl, 0, 1);
        Atomics.notify(this.ctl, 0);
        if (m.kind === "error") throw new BulkReadError(m.message, m.path);
        return m;
      }
      if (this.failure) throw this.failure;
      if (this.exited) throw new Error("a start-up reader stopped unexpectedly");
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  async stop(): Promise<void> {
    Atomics.store(this.ctl, 1, 1);
    Atomics.notify(this.ctl, 0);
    if (!this.exited) await this.worker.terminate();
  }
}

async function expect(ch: Channel, kind: string): Promise<void> {
  const m = await ch.next();
  if (m.kind !== kind) throw new Error(`start-up reader: expected ${kind}, got ${m.kind}`);
}

/**
 * Reads workspace `ws` of the SQLite file `path` in `workers` worker threads (1 or 2).
 * The iteration throws StartupReadUnavailable before the first message when a worker
 * cannot start or open the file.
 */
export function readSqliteWorkspace(
  path: string,
  mutex: Mutex,
  ws: string,
  opts: { workers?: number; pageSize?: number } = {},
): StartupRead {
  const channels: Channel[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    closed = true;
    await Promise.all(channels.map((ch) => ch.stop()));
  };
  const messages = async function* (): AsyncGenerator<StartupMessage> {
    const n = Math.max(1, Math.min(2, opts.workers ?? 2));
    const pageSize = opts.pageSize ?? PAGE;
    try {
      for (let k = 0; k < n && !closed; k++) {
        const control = new SharedArrayBuffer(8);
        const data: BulkWorkerData = {
          file: path,
          ws,
          source: k,
          control,
          ahead: AHEAD,
          contacts: k === 0,
          events: { offset: k, stride: n },
          changes: k === n - 1,
          pageSize,
        };
        const worker = startWorker(new URL("./bulk-worker.ts", import.meta.url), { ...data });
        channels.push(new Channel(worker, control));
      }
      for (const ch of channels) {
        try {
          await expect(ch, "ready");
        } catch (e) {
          throw new StartupReadUnavailable((e as Error).message);
        }
      }
      // Every snapshot is taken while this process writes nothing to the file.
      await mutex.run(async () => {
        for (const ch of channels) ch.worker.postMessage("go");
        for (const ch of channels) await expect(ch, "snapshot");
      });

      const first = channels[0];
      for (;;) {
        const m = await first.next();
        if (m.kind === "contacts-end") break;
        if (m.kind !== "contacts") throw new Error(`start-up reader: unexpected ${m.kind}`);
        yield m;
      }

      // Events: each worker's pages come in range order; the smallest range goes first.
      // The change log's pages, read before the events, are held until after them.
      const logged: LoggedMessage[] = [];
      const heads: (EventsMessage | null)[] = [];
      for (const ch of channels) heads.push(await nextEvents(ch, logged));
      for (;;) {
        let best = -1;
        for (let k = 0; k < heads.length; k++) {
          const h = heads[k];
          if (h && (best < 0 || h.range < heads[best]!.range)) best = k;
        }
        if (best < 0) break;
        const page = heads[best]!;
        heads[best] = null; // not kept alive while the next one is awaited
        yield page;
        heads[best] = await nextEvents(channels[best], logged);
      }
      yield { kind: "events-done" };

      yield* logged;
      for (const ch of channels) await expect(ch, "done");
    } finally {
      await close();
    }
  };
  return { [Symbol.asyncIterator]: messages, close };
}

async function nextEvents(ch: Channel, logged: LoggedMessage[]): Promise<EventsMessage | null> {
  for (;;) {
    const m = await ch.next();
    if (m.kind === "events-end") return null;
    if (m.kind === "events") return m;
    if (m.kind === "logged") logged.push(m);
    else if (m.kind !== "logged-end") throw new Error(`start-up reader: unexpected ${m.kind}`);
  }
}
