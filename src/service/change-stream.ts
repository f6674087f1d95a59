/**
 * Clients of the change stream (`GET /v1/stream`, SPEC §4, docs/api.md): server-sent
 * events with the change's log position as `id:` (an opaque token), resumed from `Last-Event-ID` by
 * replaying the workspace's change log, with a bounded queue per client so that a
 * client that does not read cannot grow the server's memory, and a cap per API key.
 */
import type { ChangeRecord, Store } from "../store/types.ts";
import { ApiError } from "./errors.ts";
import { wireChange } from "./workspace.ts";

export interface StreamLimits {
  /** Messages a client may have waiting for its socket; over this it is dropped. */
  maxQueuedMessages: number;
  /** Bytes a client may have waiting for its socket; over this it is dropped. */
  maxQueuedBytes: number;
  /** Open streams per API key; one more answers 429. */
  maxPerKey: number;
  /** Changes read from the log per page while replaying. */
  replayPage: number;
  pingMs: number;
  /**
   * After the final event, how long a client that does not read keeps its socket
   * before it is destroyed: the final event then never arrives, but the memory is freed.
   */
  closeGraceMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxQueuedMessages: 10_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  maxPerKey: 10,
  replayPage: 1000,
  pingMs: 15_000,
  closeGraceMs: 30_000,
};

/** What a client writes to: a `ServerResponse` whose head was sent. */
export interface StreamSink {
  /** false: the socket is full, wait for `drain` (Node's back-pressure signal). */
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  on(event: "drain" | "close" | "finish", listener: () => void): unknown;
}

export interface StreamStats {
  clients: number;
  /** Messages waiting in the server for their clients' sockets, over all clients. */
  queuedMessages: number;
  queuedBytes: number;
  /** The most one client ever had waiting, since start: stays within the limits. */
  peakQueuedMessages: number;
  peakQueuedBytes: number;
  /** Clients dropped for not reading (or for a failed replay), since start. */
  dropped: number;
}

export interface OpenStream {
  workspace: string;
  keyId: string;
  sink: StreamSink;
  /** Replay the log after this sequence number first (`Last-Event-ID`). */
  after?: number;
  /** Called once the stream is admitted, before anything is written: send the head. */
  start(): void;
}

/** How a change's sequence number is shown as an event id (opaque tokens: src/service/log-position.ts). */
export type EventIdOf = (workspace: string, seq: number) => string;

const changeEvent = (c: ChangeRecord, id: string) =>
  `id: ${id}\nevent: change\ndata: ${JSON.stringify(wireChange(c))}\n\n`;

interface Queued {
  chunk: string;
  bytes: number;
  seq: number | null;
}

class Client {
  private queue: Queued[] = [];
  private head = 0;
  queuedBytes = 0;
  /** The socket refused more (`write` returned false) and `drain` has not come yet. */
  private blocked = false;
  closed = false;
  /** While replaying, live changes wait here, in arrival order. */
  private pending: ChangeRecord[] | null = null;
  /** Live changes were let go during the replay: read the log again at its end. */
  private resync = false;
  /** Changes up to this sequence number were sent by the replay: live copies are skipped. */
  private floor = 0;
  /** The last change handed to the socket: where a dropped client resumes from. */
  lastWritten: number;
  private waiters: (() => void)[] = [];
  private ping: NodeJS.Timeout | null = null;

  constructor(
    private readonly hub: ChangeStreams,
    readonly workspace: string,
    readonly keyId: string,
    private readonly sink: StreamSink,
    after: number | undefined,
  ) {
    this.lastWritten = after ?? 0;
    sink.on("drain", () => this.flush());
    sink.on("close", () => this.close());
  }

  get queued(): number {
    return this.queue.length - this.head + (this.pending?.length ?? 0);
  }

  begin(after: number | undefined): void {
    this.sink.write(": connected\n\n");
    const ms = this.hub.limits.pingMs;
    this.ping = setInterval(() => {
      // A ping is only for idle connections; one waiting behind data is useless.
      if (!this.blocked && this.queued === 0) this.sink.write(": ping\n\n");
    }, ms);
    this.ping.unref();
    if (after !== undefined) {
      this.pending = [];
      void this.replay(after);
    }
  }

  /** A change of the workspace, as it is logged. */
  live(c: ChangeRecord): void {
    if (this.closed) return;
    if (this.pending) {
      if (this.queued >= this.hub.limits.maxQueuedMessages) {
        // Every change is in the log before it is published: rather than keep them all,
        // the replay reads the log once more after it reaches the end.
        this.pending = [];
        this.resync = true;
        return;
      }
      this.pending.push(c);
      this.hub.observe(this);
      return;
    }
    if (c.seq <= this.floor) return;
    this.send(changeEvent(c, this.hub.idOf(this.workspace, c.seq)), c.seq);
  }

  private async replay(after: number): Promise<void> {
    this.floor = after;
    let cursor = String(after);
    try {
      for (;;) {
        // The log is read at the client's pace: a page more only once the last one left.
        await this.drained();
        if (this.closed) return;
        const page = await this.hub.store.workspace(this.workspace).changes.list({
          cursor,
          limit: this.hub.replayPage(),
        });
        if (this.closed) return;
        for (const c of page.data) {
          this.send(changeEvent(c, this.hub.idOf(this.workspace, c.seq)), c.seq);
          if (c.seq > this.floor) this.floor = c.seq;
        }
        if (page.next_cursor && page.data.length > 0) {
          cursor = page.next_cursor;
          continue;
        }
        // The end of the log; the waiting live changes fit in an empty queue.
        await this.drained();
        if (this.closed) return;
        if (!this.resync) break;
        // Changes let go were published, so committed, before this pass starts: it reads them.
        this.resync = false;
        cursor = String(this.floor);
      }
    } catch {
      this.drop("replay_failed", "the change log could not be read; reconnect with the same Last-Event-ID");
      return;
    }
    const pending = this.pending ?? [];
    this.pending = null;
    // Logged before the last page was read (so already sent), or after it: only the later.
    for (const c of pending)
      if (c.seq > this.floor) this.send(changeEvent(c, this.hub.idOf(this.workspace, c.seq)), c.seq);
  }

  private drained(): Promise<void> {
    if (this.closed || (!this.blocked && this.queue.length === this.head)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private send(chunk: string, seq: number | null): void {
    if (this.closed) return;
    if (!this.blocked && this.queue.length === this.head) {
      if (seq !== null) this.lastWritten = seq;
      if (!this.sink.write(chunk)) this.blocked = true;
      return;
    }
    const limits = this.hub.limits;
    const bytes = Buffer.byteLength(chunk);
    if (this.queue.length - this.head >= limits.maxQueuedMessages) {
      this.drop("too_slow", `the client did not read ${limits.maxQueuedMessages} queued messages`);
      return;
    }
    if (this.queuedBytes + bytes > limits.maxQueuedBytes) {
      this.drop("too_slow", `the client did not read ${limits.maxQueuedBytes} queued bytes`);
      return;
    }
    this.queue.push({ chunk, bytes, seq });
    this.queuedBytes += bytes;
    this.hub.observe(this);
  }

  private flush(): void {
    if (this.closed) return;
    this.blocked = false;
    while (this.head < this.queue.length) {
      const q = this.queue[this.head++]!;
      this.queuedBytes -= q.bytes;
      if (q.seq !== null) this.lastWritten = q.seq;
      if (!this.sink.write(q.chunk)) {
        this.blocked = true;
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (!this.blocked) this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * The final event, then the end of the response. Written past the socket's limit on
   * purpose: it is one short message, and the queue it replaces is freed at once.
   */
  drop(reason: string, message: string, counted = true): void {
    if (this.closed) return;
    const data = { reason, message, last_event_id: this.hub.idOf(this.workspace, this.lastWritten) };
    this.release();
    if (counted) this.hub.countDrop();
    this.sink.write(`event: dropped\ndata: ${JSON.stringify(data)}\n\n`);
    this.sink.end();
    const grace = setTimeout(() => this.sink.destroy(), this.hub.limits.closeGraceMs);
    grace.unref();
    this.sink.on("close", () => clearTimeout(grace));
    this.sink.on("finish", () => clearTimeout(grace));
  }

  close(): void {
    if (this.closed) return;
    this.release();
  }

  private release(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.pending = null;
    if (this.ping) clearInterval(this.ping);
    this.hub.remove(this);
    this.wake();
  }
}

/** Every stream client of the process, by workspace. */
export class ChangeStreams {
  limits: StreamLimits;
  private readonly byWorkspace = new Map<string, Set<Client>>();
  private readonly perKey = new Map<string, number>();
  private peakMessages = 0;
  private peakBytes = 0;
  private drops = 0;

  constructor(
    readonly store: Store,
    limits: Partial<StreamLimits>,
    readonly idOf: EventIdOf,
  ) {
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...limits };
  }

  /** Changes the limits of clients connected from now on (and of queues from now on). */
  configure(limits: Partial<StreamLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  /**
   * Admits a client (429 over the key's cap, before anything is written), calls
   * `start`, writes `: connected`, then replays the log after `after` if given, then
   * streams live changes. Live changes are received from admission on, so none logged
   * during the replay is missed, and those the replay sent are not sent twice.
   */
  open(o: OpenStream): void {
    const n = this.perKey.get(o.keyId) ?? 0;
    if (n >= this.limits.maxPerKey) {
      throw new ApiError(
        "rate_limited",
        `this API key already has ${n} open streams (at most ${this.limits.maxPerKey}); close one first`,
        { limit: this.limits.maxPerKey },
      );
    }
    o.start();
    const client = new Client(this, o.workspace, o.keyId, o.sink, o.after);
    this.perKey.set(o.keyId, n + 1);
    let set = this.byWorkspace.get(o.workspace);
    if (!set) {
      set = new Set();
      this.byWorkspace.set(o.workspace, set);
    }
    set.add(client);
    client.begin(o.after);
  }

  /**
   * Ends every stream of a workspace this node no longer serves (a cluster moved it):
   * each client gets `event: dropped` with reason `moved` and the last event id it was
   * sent, and reconnects with it, through any node, to the workspace's new holder.
   */
  endWorkspace(workspace: string): void {
    for (const client of [...(this.byWorkspace.get(workspace) ?? [])]) {
      client.drop(
        "moved",
        "the workspace moved to another node of the cluster; reconnect with the same Last-Event-ID",
        false,
      );
    }
  }

  /** Changes just logged (and committed) in a workspace, in sequence order. */
  publish(workspace: string, logged: readonly ChangeRecord[]): void {
    const set = this.byWorkspace.get(workspace);
    if (!set || set.size === 0) return;
    for (const c of logged) for (const client of [...set]) client.live(c);
  }

  clients(): number {
    let n = 0;
    for (const set of this.byWorkspace.values()) n += set.size;
    return n;
  }

  stats(): StreamStats {
    let queuedMessages = 0;
    let queuedBytes = 0;
    for (const set of this.byWorkspace.values()) {
      for (const c of set) {
        queuedMessages += c.queued;
        queuedBytes += c.queuedBytes;
      }
    }
    return {
      clients: this.clients(),
      queuedMessages,
      queuedBytes,
      peakQueuedMessages: this.peakMessages,
      peakQueuedBytes: this.peakBytes,
      dropped: this.drops,
    };
  }

  /** A page of the replay fits twice in a client's queue, so a replay never drops it. */
  replayPage(): number {
    const l = this.limits;
    return Math.max(1, Math.min(l.replayPage, Math.floor(l.maxQueuedMessages / 2)));
  }

  /** @internal */
  observe(c: Client): void {
    if (c.queued > this.peakMessages) this.peakMessages = c.queued;
    if (c.queuedBytes > this.peakBytes) this.peakBytes = c.queuedBytes;
  }

  /** @internal */
  countDrop(): void {
    this.drops++;
  }

  /** @internal */
  remove(c: Client): void {
    const set = this.byWorkspace.get(c.workspace);
    if (set?.delete(c) && set.size === 0) this.byWorkspace.delete(c.workspace);
    const n = (this.perKey.get(c.keyId) ?? 1) - 1;
    if (n <= 0) this.perKey.delete(c.keyId);
    else this.perKey.set(c.keyId, n);
  }
}
