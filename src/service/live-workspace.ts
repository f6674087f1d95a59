/**
 * One workspace's engine, fed from its store. The store is the truth: every write is
 * committed before the engine sees it, and the engine is rebuilt from the store at
 * start (live/load.ts). Between the two sits the membership change log, which the
 * engine's changes are appended to after each commit; on start it is reconciled with a
 * from-scratch evaluation, so a crash between a commit and the append of its changes
 * loses nothing and invents nothing. An engine that fails to apply a committed write is
 * rebuilt from the store the same way (fail closed), rather than go on without it.
 */

import { Engine, type MembershipChange } from "../engine/index.ts";
import type { ChangeSet } from "../engine/partitioned/change-batch.ts";
import { NotOnWorkers, type PartitionedEngine } from "../engine/partitioned/partitioned-engine.ts";
import type { PendingSnapshot } from "../engine/snapshot-io.ts";
import type { Clock } from "../engine/types.ts";
import type {
  BatchOutcome,
  ChangeInput,
  EventInsertResult,
  EventWrite,
  LogWritten,
  Store,
  StoreOps,
  StorePosition,
} from "../store/types.ts";
import { LocalWorkspaceEngine } from "./engine-port/local.ts";
import type { WorkspaceEngine } from "./engine-port/port.ts";
import { WorkersWorkspaceEngine } from "./engine-port/workers.ts";
import { ApiError } from "./errors.ts";
import { ApplyQueue } from "./live/apply-queue.ts";
import { fromLog } from "./live/changes.ts";
import {
  acceptedEvents,
  type ContactKey,
  type ContactMatch,
  checkEventInputs,
  contactByKey,
  eventBatch,
} from "./live/event-batch.ts";
import { type LoadOptions, type LoadPhase, loadEngine } from "./live/load.ts";
import { type LoadedWorkers, loadOnWorkers } from "./live/load-workers.ts";
import { type LogHooks, type LogTimer, PendingLog } from "./live/pending-log.ts";
import {
  commitEventRound,
  inEventRound,
  logOnlyRequest,
  roundKind,
  settledOnce,
  type WriteRequest,
} from "./live/write-request.ts";
import { type SnapshotOwner, writeSnapshot } from "./snapshot/file.ts";

export type { ContactKey, ContactMatch } from "./live/event-batch.ts";
export { UnknownContactError } from "./live/event-batch.ts";
export { engineContact, type LoadPhase } from "./live/load.ts";
export type { LogTimer } from "./live/pending-log.ts";

export interface OpenOptions extends LogHooks {
  clock?: Clock;
  timeZone?: string;
  /** Progress of the start-up load, e.g. for a log line every page. */
  onProgress?: (phase: LoadPhase, rows: number) => void;
  /** Called as the engine is rebuilt from the store after it failed to apply a committed write. */
  onReload?: (reason: ReloadReason) => void;
  /** Where the load reports stored values it repaired, and failures after a commit (default: a warning on stderr). */
  warn?: (line: string) => void;
  /** The timer that has pending changes logged, at most `LOG_DELAY_MS` after the last round that logged some (default: setTimeout). */
  logTimer?: LogTimer;
  /** A snapshot file to start from (docs/operations.md, "Snapshots"); when it cannot serve, the store is read. */
  snapshot?: LoadOptions["snapshot"];
  /**
   * The engine split over this many worker threads and partitions (docs/cluster.md,
   * "Every core"). A workspace with a rank or quintile segment stays on this thread.
   */
  workers?: { count: number; partitions?: number };
}

/** Why a workspace's engine was rebuilt from its store while running. */
export type ReloadReason = "apply_failed" | "not_on_workers";

export interface IngestResult extends EventInsertResult {
  changes: MembershipChange[];
}

export class LiveWorkspace {
  /**
   * Every change the engine emits lands here (an `onChange` listener), including the
   * time-driven ones a read brings about, until a transaction logs it.
   */
  private readonly log: PendingLog;
  private readonly applies = new ApplyQueue();
  /** Set once another node serves the workspace: what every write gets from then on. */
  private retired: ApiError | null = null;

  /** How long pending changes wait before they are logged, and how many may wait (PendingLog). */
  static readonly LOG_DELAY_MS = PendingLog.DELAY_MS;
  static readonly LOG_MAX_PENDING = PendingLog.MAX_PENDING;

  /** The engine; replaced only by a reload. */
  private core!: Engine;
  private readonly reloadListeners: ((reason: ReloadReason) => void)[] = [];
  /** Set when a committed write failed to apply: the write queue reloads before its next round. */
  private reloadReason: ReloadReason | null = null;

  private constructor(
    readonly store: Store,
    readonly ws: string,
    engine: Engine,
    private readonly clock: Clock,
    private readonly opts: OpenOptions,
    split: PartitionedEngine | null = null,
  ) {
    this.log = new PendingLog(
      store,
      ws,
      clock,
      opts,
      (line) => this.warn(line),
      () => this.logPending(),
      opts.logTimer,
    );
    this.attach(engine, split);
    if (opts.onReload) this.reloadListeners.push(opts.onReload);
  }

  private attach(engine: Engine, split: PartitionedEngine | null): void {
    this.core = engine;
    this.split = split;
    if (split) {
      this.currentPort = new WorkersWorkspaceEngine(
        split,
        (changes) => {
          if (split === this.split) for (const c of changes) this.log.add(c);
        },
        engine,
      );
      return;
    }
    this.currentPort = this.localPort;
    engine.onChange((c) => {
      // An engine replaced by a reload may still be held by a reader: its changes are not the log's.
      if (engine === this.core) this.log.add(c);
    });
  }

  /**
   * The engine workers, when the workspace runs on them: `core` is then only the
   * directory of contacts' ids, emails and external ids (no segments, no events).
   */
  private split: PartitionedEngine | null = null;
  /** Writes sent to the workers, until their changes are in the log. */
  private inflight: Promise<void> = Promise.resolve();

  /** True when the workspace's engine runs on worker threads. */
  get onWorkers(): boolean {
    return this.split !== null;
  }

  /** Hands a workers' write's changes to the log once they come back; the write queue waits for them (`settled`). */
  private track(set: Promise<ChangeSet>): Promise<MembershipChange[]> {
    const split = this.split;
    const done = set.then((cs) => {
      const changes = cs.toArray();
      if (split === this.split) for (const c of changes) this.log.add(c);
      return changes;
    });
    // The chain never rejects: whoever sent the write handles its failure.
    this.inflight = this.inflight.then(
      () => done.then(noop, noop),
      () => done.then(noop, noop),
    );
    return done;
  }

  /** Every applied write's changes are in the log (the workers' too). */
  private async settled(): Promise<void> {
    this.settle();
    if (this.split) await this.inflight;
  }

  /** Moves membership to `t`; its changes reach the log. */
  private async advance(t: number): Promise<void> {
    if (this.split) await this.track(this.split.advanceTo(t));
    else this.core.advanceTo(t);
  }

  /** Membership changes computed and not appended to the change log yet. */
  get pendingChanges(): number {
    return this.log.size;
  }

  private readonly localPort: WorkspaceEngine = new LocalWorkspaceEngine(() => this.engine);
  private currentPort!: WorkspaceEngine;

  /** What the use cases ask of the engine (engine-port/port.ts), on this thread or on the workers. */
  get port(): WorkspaceEngine {
    return this.currentPort;
  }

  /** The workspace's engine on this thread, with every committed write applied (with workers: the directory). */
  get engine(): Engine {
    this.settle();
    return this.core;
  }

  /** Applies the committed event batches still waiting (live/apply-queue.ts). */
  settle(): void {
    this.applies.settle();
  }

  /** Rebuilds the engine from the store in bulk (streamed page by page), then reconciles the change log. */
  static async open(store: Store, ws: string, opts: OpenOptions = {}): Promise<LiveWorkspace> {
    const clock = opts.clock ?? { now: () => Date.now() };
    if (opts.workers) {
      const loaded = await LiveWorkspace.loadSplit(store, ws, clock, opts);
      if (loaded) {
        const live = new LiveWorkspace(store, ws, loaded.directory, clock, opts, loaded.engine);
        await live.log.reconcileWith(loaded.missing);
        live.log.clear();
        live.indexContactKeys();
        return live;
      }
    }
    const { engine, logged } = await loadEngine(store, ws, { ...opts, clock });
    const live = new LiveWorkspace(store, ws, engine, clock, opts);
    await live.log.reconcile(engine, logged);
    // What reading the membership brought about is in the reconciled log already.
    live.log.clear();
    live.indexContactKeys();
    return live;
  }

  /**
   * The workspace loaded into engine workers with its directory, or null when it has a
   * segment the workers cannot maintain (a rank or quintile condition): it then runs
   * on this thread.
   */
  private static async loadSplit(
    store: Store,
    ws: string,
    clock: Clock,
    opts: OpenOptions,
  ): Promise<(LoadedWorkers & { directory: Engine }) | null> {
    const directory = new Engine({
      clock,
      ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      defaultSegments: false,
    });
    try {
      const loaded = await loadOnWorkers(store, ws, {
        clock,
        ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        workers: opts.workers!.count,
        ...(opts.workers!.partitions !== undefined ? { partitions: opts.workers!.partitions } : {}),
        directory,
      });
      return { ...loaded, directory };
    } catch (e) {
      if (!(e instanceof NotOnWorkers)) throw e;
      (opts.warn ?? ((l: string) => process.emitWarning(l)))(
        `workspace ${ws}: runs on one thread, not on the engine workers: ${e.message}`,
      );
      return null;
    }
  }

  /** Stops the engine workers, if any (the process is leaving). */
  async close(): Promise<void> {
    const split = this.split;
    if (!split) return;
    await this.inflight;
    await split.close();
  }

  /** Tells `listener` each time the engine is rebuilt from the store while running. */
  onReload(listener: (reason: ReloadReason) => void): void {
    this.reloadListeners.push(listener);
  }

  private warn(line: string): void {
    (this.opts.warn ?? ((l: string) => process.emitWarning(l)))(line);
  }

  /**
   * A committed write the engine failed to apply: the engine misses what the store has.
   * Only a bug gets here (every write checks first what the engine checks), and rather
   * than answer from a diverged engine until the next start, the workspace is rebuilt
   * from the store before the write queue's next round. Reads meanwhile see the engine
   * as it was.
   */
  private failedApply(what: string, e: unknown): void {
    this.warn(
      `workspace ${this.ws}: ${what} committed but not applied to the engine: ${String(e)}; reloading it from the store`,
    );
    if (this.reloadReason !== null) return;
    this.reloadReason = "apply_failed";
    if (!this.draining) void this.drain();
  }

  /**
   * Rebuilds the engine from the store and reconciles the log with it, in the write
   * queue's turn (no write commits meanwhile). Committed batches not applied yet are
   * dropped: the store has them. A reload that fails leaves the engine as it was.
   */
  private async reload(): Promise<void> {
    const reason = this.reloadReason!;
    for (const l of this.reloadListeners) {
      try {
        l(reason);
      } catch {
        // a listener (a metric) must not stop the reload
      }
    }
    try {
      this.applies.drop();
      if (this.split) {
        const old = this.split;
        await this.inflight.catch(() => undefined);
        const loaded = await LiveWorkspace.loadSplit(this.store, this.ws, this.clock, this.opts);
        if (loaded) {
          this.attach(loaded.directory, loaded.engine);
          await this.log.reconcileWith(loaded.missing);
          this.log.clear();
          this.generation++;
          this.indexContactKeys();
          await old.close().catch(() => undefined);
          return;
        }
        await old.close().catch(() => undefined);
      }
      const { engine, logged } = await loadEngine(this.store, this.ws, {
        clock: this.clock,
        ...(this.opts.timeZone ? { timeZone: this.opts.timeZone } : {}),
        ...(this.opts.warn ? { warn: this.opts.warn } : {}),
      });
      // Reconciled before it is attached: no reader moves it meanwhile.
      await this.log.reconcile(engine, logged);
      this.attach(engine, null);
      // The replaced engine's changes: the reconciled log supersedes them.
      this.log.clear();
      this.generation++;
      this.indexContactKeys();
    } catch (e) {
      this.warn(`workspace ${this.ws}: reloading the engine from the store failed: ${String(e)}`);
    } finally {
      this.reloadReason = null;
    }
  }

  /**
   * Group commit: writes asked for while a commit is in flight wait here, and the next
   * round commits all of them in one transaction (each under its own savepoint, so one
   * failing write fails alone). One fsync then acknowledges many writes, which is what
   * lets concurrent clients exceed one commit per fsync.
   */
  private waiting: WriteRequest[] = [];
  private draining = false;

  /** Writes per group commit at most (bounds the latency of the first in a round). */
  static readonly GROUP_MAX = 64;

  /**
   * One write: `commit` runs in a store transaction (with the changes not logged yet),
   * then, once committed, `apply` brings the engine along. The returned promise
   * resolves after the commit, so what it acknowledges is durable. If `commit` throws,
   * nothing of it is stored and the engine is left alone. Writes are committed and
   * applied in the order they were asked for.
   */
  write<T>(
    commit: (tx: StoreOps) => Promise<T>,
    apply: (result: T) => void | Promise<void>,
    opts: { flush?: boolean } = {},
  ): Promise<{ result: T; changes: MembershipChange[] }> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        flush: opts.flush ?? false,
        events: null,
        commit,
        apply: apply as (r: unknown) => void | Promise<void>,
        resolve: resolve as (v: { result: unknown; changes: MembershipChange[] }) => void,
        reject,
      });
    });
  }

  /**
   * This process no longer serves the workspace (another node of the cluster holds it):
   * waiting and later writes are refused, and changes not yet logged are dropped, since
   * the next holder's load logs whatever the log lacks (docs/cluster.md).
   */
  retire(reason: string): void {
    this.retired = new ApiError("unavailable", reason);
    this.log.clear();
    for (const req of this.waiting.splice(0)) req.reject(this.retired);
  }

  private enqueue(req: WriteRequest): void {
    if (this.retired) {
      req.reject(this.retired);
      return;
    }
    this.waiting.push(settledOnce(req));
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0 || this.reloadReason !== null) {
        if (this.reloadReason !== null) {
          await this.reload();
          continue;
        }
        // Event batches and other writes go in separate rounds, so that a round of event
        // batches sees every contact written before it applied (their contact check).
        // The timer's flush goes alone (PendingLog.full says why).
        const kind = roundKind(this.waiting[0]!);
        let n = 1;
        while (n < this.waiting.length && n < LiveWorkspace.GROUP_MAX && roundKind(this.waiting[n]!) === kind)
          n++;
        const group = this.waiting.splice(0, n);
        try {
          await this.commitGroup(group);
        } catch (e) {
          // Whatever threw, no write of the round is left waiting, and the next round runs.
          for (const req of group) req.reject(e);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async commitGroup(group: WriteRequest[]): Promise<void> {
    const now = this.clock.now();
    if (group.every(inEventRound)) {
      await this.commitRound(group, now);
      return;
    }
    // A throw from here to the commit fails the round with nothing committed (drain).
    await this.settled();
    await this.advance(now);
    const pending = group.some((r) => r.flush) || this.log.due(now) ? this.log.take() : [];
    let written: LogWritten | null = null;
    const outcomes: BatchOutcome<unknown>[] = [];
    try {
      const log = await this.log.prepare(pending);
      await this.store.transaction(this.ws, async (tx) => {
        written = await this.log.write(tx, log);
        for (const req of group) {
          this.current = outcomes.length === 0;
          try {
            const value =
              group.length === 1 ? await req.commit(tx) : await tx.savepoint((sp) => req.commit(sp));
            outcomes.push({ ok: true, value });
          } catch (error) {
            outcomes.push({ ok: false, error });
          } finally {
            this.current = true;
          }
        }
        // A lone write that failed rolls back as a whole (nothing else to keep).
        if (group.length === 1 && !outcomes[0]!.ok) throw (outcomes[0] as { error: unknown }).error;
      });
    } catch (e) {
      this.log.putBack(pending);
      for (const req of group) req.reject(e);
      return;
    }
    // Committed: from here on every write is durable, whatever the engine or a hook does.
    this.log.announce(written);
    for (let k = 0; k < group.length; k++) await this.finish(group[k]!, outcomes[k]!);
  }

  /**
   * A round of event batches, or of flushes (live/write-request.ts), through the store's
   * round: on a SQLite file the writer thread commits it, off this thread. A flush
   * first applies and advances the engine, so that it logs every change up to now; a
   * round of batches takes the pending changes only when there are too many.
   */
  private async commitRound(group: WriteRequest[], now: number): Promise<void> {
    const flush = group.some((r) => r.flush);
    if (flush) {
      await this.settled();
      await this.advance(now);
    }
    const pending = flush || this.log.full ? this.log.take() : [];
    const advance = () => {
      try {
        // The workers' move is waited for by the next round that logs (`settled`).
        if (this.split) {
          this.track(this.split.advanceTo(now)).catch((e: unknown) =>
            this.warn(`workspace ${this.ws}: moving the engine workers to now failed: ${String(e)}`),
          );
        } else this.core.advanceTo(now);
      } catch (e) {
        // The round is in the store's hands and commits regardless; the next round advances again.
        this.warn(`workspace ${this.ws}: moving the engine to now failed: ${String(e)}`);
      }
    };
    let written: LogWritten | null;
    try {
      const log = pending.length > 0 ? await this.log.prepare(pending) : undefined;
      written = await commitEventRound(
        this.store,
        this.ws,
        group,
        log,
        advance,
        (req, o) => void this.finish(req, o),
      );
    } catch (e) {
      this.log.putBack(pending);
      throw e;
    }
    this.log.announce(written);
  }

  /**
   * After the commit: resolves the write and applies it, at once or (event batches)
   * deferred. The writes of a round are applied one after the other, each finished
   * before the next begins, so the log gets their changes in commit order.
   */
  private async finish(req: WriteRequest, o: BatchOutcome<unknown>): Promise<void> {
    if (!o.ok) {
      req.reject(o.error);
      return;
    }
    const live = this;
    if (req.events !== null && this.split) {
      // Sent to the workers now (they apply it off this thread), acknowledged once its
      // changes are back, so that what the acknowledgement says holds on every read after.
      try {
        await req.apply(o.value);
      } catch (e) {
        req.reject(e);
        this.failedApply("an event batch was", e);
        return;
      }
      req.resolve({ result: o.value, changes: [] });
      return;
    }
    if (req.events !== null) {
      let raw: ChangeInput[] = [];
      let failure: unknown = null;
      this.applies.defer(() => {
        const before = this.log.size;
        try {
          void req.apply(o.value);
        } catch (e) {
          failure = e;
          this.failedApply("an event batch was", e);
        }
        raw = this.log.addedSince(before);
      });
      req.resolve({
        result: o.value,
        // Built on demand: most callers (HTTP ingest) never look at them.
        get changes() {
          live.settle();
          if (failure !== null) throw failure;
          return raw.map(fromLog);
        },
      });
      return;
    }
    let raw: ChangeInput[];
    try {
      await this.settled();
      this.generation++;
      const before = this.log.size;
      await req.apply(o.value);
      raw = this.log.addedSince(before);
    } catch (e) {
      if (e instanceof NotOnWorkers && this.split) {
        // The workers cannot hold what was committed (a rank segment): the workspace
        // moves to this thread, loaded from the store, which has the write; its changes
        // are logged by the reload's reconciliation.
        this.reloadReason = "not_on_workers";
        await this.reload();
        req.resolve({ result: o.value, changes: [] });
        return;
      }
      req.reject(e);
      this.failedApply("a write was", e);
      return;
    }
    req.resolve({
      result: o.value,
      get changes() {
        return raw.map(fromLog);
      },
    });
  }

  /** Counts writes other than event batches, which may add or remove contacts, and reloads. */
  private generation = 0;

  /**
   * False while a write's commit runs after other writes of the same group commit: they
   * are committed in its transaction but applied to the engine only once it commits, so
   * the engine does not show them yet (a contact they erased, an email they moved). The
   * commit must then ask the store, not the engine.
   */
  get engineCurrent(): boolean {
    return this.current;
  }
  private current = true;

  /**
   * Ingests a batch of events for known contacts: committed in one transaction, then
   * applied to the engine; the membership changes are logged by a flush shortly after. The
   * promise resolves once the batch is committed; the engine applies it right after,
   * and before anyone reads it through `engine` (`changes` waits for that).
   */
  async ingestEvents(
    batch: EventWrite[],
    opts: { named?: readonly (ContactMatch | null)[]; found?: Int32Array } = {},
  ): Promise<IngestResult> {
    checkEventInputs(batch);
    const { check, apply: applyHere } = eventBatch(
      batch,
      opts,
      () => this.core,
      () => this.generation,
    );
    // On the workers the events go to the workers that hold their contacts; `core` is
    // then the directory, which checks the contacts and holds no events.
    // Which, is decided when the batch is applied: the workspace may have moved to this
    // thread meanwhile (a rank segment).
    let applied: MembershipChange[] | null = null;
    const apply = (r: EventInsertResult): void | Promise<void> => {
      const split = this.split;
      if (!split) return applyHere(r);
      return this.track(split.ingest(acceptedEvents(batch, r))).then((changes) => {
        applied = changes;
      });
    };
    const done = await new Promise<{ result: EventInsertResult; changes: MembershipChange[] }>(
      (resolve, reject) => {
        this.enqueue({
          flush: false,
          events: { rows: batch, check },
          commit: async (tx) => {
            check();
            return tx.workspace(this.ws).events.insert(batch);
          },
          apply: apply as (r: unknown) => void,
          resolve: resolve as (v: { result: unknown; changes: MembershipChange[] }) => void,
          reject,
        });
      },
    );
    const { result } = done;
    return {
      accepted: result.accepted,
      duplicates: result.duplicates,
      items: result.items,
      // Read on demand: it waits for the batch to be applied.
      get changes() {
        return applied ?? done.changes;
      },
    };
  }

  /**
   * Indexes the contacts by email and external id (`contactBy`) a slice at a time, between
   * other work: at a million contacts the whole takes seconds, which one request must not
   * wait for. Until it is done a contact not reached yet is not found, and its events go
   * the way of unknown ones, through the store: slower, never wrong.
   */
  private indexContactKeys(): void {
    const engine = this.core;
    const step = () => {
      if (engine === this.core && !engine.contacts.indexKeys(LiveWorkspace.INDEX_SLICE)) setImmediate(step);
    };
    step();
  }

  /** Contacts indexed per slice (a few milliseconds each). */
  static readonly INDEX_SLICE = 20_000;

  /** True when the engine holds this contact (committed writes only; no event batch can add one). */
  hasContact(id: string): boolean {
    return this.contactIndex(id) >= 0;
  }

  /** The engine's index of this contact, -1 when it holds none (see `hasContact`). */
  contactIndex(id: string): number {
    const c = this.core.contacts.index(id);
    return c !== undefined && this.core.contacts.alive.has(c) ? c : -1;
  }

  /**
   * The contact with this email (compared trimmed and lower-cased) or this external id
   * (compared exactly), as the store would answer after the writes the engine holds;
   * undefined when none. Kept by the engine itself through every write and load of a
   * contact (ContactTable.byEmail), so no write path has to remember it.
   */
  contactIdBy(key: ContactKey): string | undefined {
    return this.contactBy(key)?.id;
  }

  /** The same, with the key as the engine holds it (what an event batch's commit checks). */
  contactBy(key: ContactKey): ContactMatch | undefined {
    return contactByKey(this.core, key);
  }

  /**
   * Their timer's flush: the pending changes in a round of their own, ahead of the writes
   * waiting (they come from writes already applied, so the log keeps the engine's order),
   * rather than behind rounds of event batches that would add to every webhook's wait.
   */
  private logPending(): void {
    this.settle();
    if (this.log.size === 0) return;
    this.waiting.unshift(
      settledOnce(
        logOnlyRequest(
          () => {},
          (e) => this.warn(`workspace ${this.ws}: logging the pending changes failed: ${String(e)}`),
        ),
      ),
    );
    if (!this.draining) void this.drain();
  }

  /** Writes the changes not logged yet. */
  async flush(): Promise<void> {
    await this.settled();
    if (this.log.size === 0 && this.waiting.length === 0 && !this.draining) return;
    await new Promise<void>((resolve, reject) => this.enqueue(logOnlyRequest(resolve, reject)));
  }

  /**
   * Writes the engine to a snapshot file at `path` (snapshot/file.ts), as a write of its
   * own: in its turn no other write commits, so the store position read in its
   * transaction is exactly what the engine holds once the writes before it are applied.
   * The file is written on this thread after the commit (the engine must not move while
   * its arrays are written), then synced and renamed into place while writes go on; then
   * the position is recorded and the contact journal up to it pruned.
   */
  async snapshot(
    path: string,
    owner: SnapshotOwner,
  ): Promise<{ bytes: number; position: StorePosition; heldMs: number }> {
    if (this.split) throw new Error("a workspace on engine workers is not written to a snapshot file yet");
    let pending: PendingSnapshot | null = null;
    let failure: unknown = null;
    let heldMs = 0;
    const { result: position } = await this.write(
      (tx) => tx.workspace(this.ws).snapshots.position(),
      (position) => {
        // Caught here: a failed file write is no failed apply (which would reload the engine).
        const began = performance.now();
        try {
          pending = writeSnapshot(path, this.core, this.log.unlogged(), position, owner, this.clock.now());
        } catch (e) {
          failure = e;
        }
        heldMs = performance.now() - began;
      },
      { flush: true },
    );
    if (failure !== null || pending === null) throw failure ?? new Error("the snapshot was not written");
    const written: PendingSnapshot = pending;
    // Off the write queue: writes go on while the file reaches the disk.
    await written.commit();
    await this.store.workspace(this.ws).snapshots.recordSnapshot(position.journal);
    return { bytes: written.bytes, position, heldMs };
  }

  /** Moves membership to the clock's now (or `at`) and logs the time-driven changes (and any pending ones). */
  async tick(at = this.clock.now()): Promise<MembershipChange[]> {
    await this.settled();
    const before = this.log.size;
    await this.advance(at);
    const changes = this.log.addedSince(before).map(fromLog);
    await this.flush();
    return changes;
  }
}

function noop(): void {}
