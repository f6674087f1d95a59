/**
 * Membership changes on their way from a workspace's engine into its change log: held
 * until a write's transaction or a round of event batches takes them (or the flush their
 * timer asks for, or a tick), appended with the webhook outbox rows in that transaction,
 * announced once it committed; and, after a load, whatever separates the log from the
 * loaded engine.
 */

import type { Engine, MembershipChange } from "../../engine/index.ts";
import type { Clock } from "../../engine/types.ts";
import { nothingWritten, writeLog } from "../../store/repos/log-write.ts";
import type {
  ChangeInput,
  ChangeRecord,
  DeliveryJob,
  LogWrite,
  LogWritten,
  Store,
  StoreOps,
} from "../../store/types.ts";
import { type LoggedMembership, missingChanges } from "../reconcile.ts";
import { toLog } from "./changes.ts";

/** What must be written with a write of the change log: the webhook outbox (`LogWrite`). */
export type LogPlan = Omit<LogWrite, "changes">;

export interface LogHooks {
  /**
   * Called in the write queue's turn, before the transaction that appends `changes` to
   * the log: what must be exactly as durable as they are (the webhook outbox).
   */
  planLog?: (changes: readonly ChangeInput[]) => Promise<LogPlan>;
  /**
   * Called after that transaction committed, with the logged records and the deliveries
   * it leased (stream subscribers, sending the deliveries).
   */
  afterLog?: (logged: ChangeRecord[], claimed: DeliveryJob[]) => void;
}

const NOTHING_PLANNED: LogPlan = { deliveries: [], claim: null };

/** The timer that asks for the pending changes to be logged, and the elapsed time it goes by. */
export interface LogTimer {
  /** Calls `fn` once after `ms` unless the returned function cancels it first. */
  after(fn: () => void, ms: number): () => void;
  /** Milliseconds on a clock that only moves forward (not the service's clock, which a test may pin). */
  now(): number;
}

/** Real timers that do not keep the process alive. */
export const realLogTimer: LogTimer = {
  after: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
  now: () => performance.now(),
};

export class PendingLog {
  /**
   * Changes computed but not yet logged. They are written by the round their timer asks
   * for (or `tick`/`flush`), or once due (`due`) in the same transaction as the next
   * write other than event batches; a crash loses at most these, and start-up
   * reconciliation writes them back.
   */
  private pending: ChangeInput[] = [];
  /** When the oldest pending change was computed. */
  private oldestAt = 0;
  /** Cancels the timer armed when the first of the pending changes arrived. */
  private cancelTimer: (() => void) | null = null;
  /** When (`LogTimer.now`) changes were last taken to be logged. */
  private lastTakenAt = Number.NEGATIVE_INFINITY;

  /**
   * The least time between two takings of the changes to be logged, and so the longest
   * a change waits for its round to be asked for: a timer armed when the first pending
   * change arrives asks for a flush once this has passed since the last one, at once
   * after a quiet spell, unless a write took them first. Each change touches the log's
   * indexes at random places and a page dirtied by several commits is written to the
   * WAL each time, so under load the changes of a few dozen milliseconds (hundreds at
   * 50,000 events/s) go in one commit, each page written once; a lone change has nothing
   * to wait for, and its webhook should not wait either. At 30 ms the HTTP load test
   * held 50,000 events/s as it did at 250 ms; without the interval (a timer of 2 ms) a
   * client sending batches one after the other lost up to a quarter of its rate, every
   * batch followed by a log round of its own (docs/performance.md). SPEC §3.3a allows 2 s.
   */
  static readonly DELAY_MS = 30;
  /** This many pending changes ride along with the next write before their delay is up. */
  static readonly MAX_PENDING = 20_000;

  constructor(
    private readonly store: Store,
    private readonly ws: string,
    private readonly clock: Clock,
    private readonly hooks: LogHooks,
    private readonly warn: (line: string) => void,
    /** Asks for the pending changes to be logged (the workspace queues a flush). */
    private readonly onDue: () => void = () => {},
    private readonly timer: LogTimer = realLogTimer,
  ) {}

  /** The changes computed and not logged yet, oldest first (a snapshot undoes them to find the log's membership). */
  unlogged(): readonly ChangeInput[] {
    return this.pending;
  }

  /** One change the engine emitted. */
  add(c: MembershipChange): void {
    if (this.pending.length === 0) this.oldestAt = this.clock.now();
    // Also after a failed flush put changes back unarmed: the next change re-arms.
    if (this.cancelTimer === null) this.arm();
    this.pending.push(toLog(c));
  }

  private arm(): void {
    const wait = Math.max(0, this.lastTakenAt + PendingLog.DELAY_MS - this.timer.now());
    this.cancelTimer = this.timer.after(() => {
      this.cancelTimer = null;
      if (this.pending.length > 0) this.onDue();
    }, wait);
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  get size(): number {
    return this.pending.length;
  }

  /** The changes added since the size was `from`. */
  addedSince(from: number): ChangeInput[] {
    return this.pending.slice(from);
  }

  /**
   * Whether the pending changes should ride along with a write (not an event batch) at
   * `now`: the oldest has waited its delay, or too many wait. Before that, gathering
   * more of them into one commit writes each page of the log's indexes once.
   */
  due(now: number): boolean {
    return this.full || (this.pending.length > 0 && now - this.oldestAt >= PendingLog.DELAY_MS);
  }

  /**
   * Whether the pending changes should ride along with a round of event batches too.
   * Below this they wait for their timer's round, which goes ahead of the batches
   * waiting: a change carried by a round of up to `GROUP_MAX` batches would wait for
   * all their inserts, and in a burst the rounds grow long (docs/performance.md).
   */
  get full(): boolean {
    return this.pending.length >= PendingLog.MAX_PENDING;
  }

  /** Takes every pending change, for a transaction that logs them. */
  take(): ChangeInput[] {
    const taken = this.pending;
    this.pending = [];
    this.disarm();
    if (taken.length > 0) this.lastTakenAt = this.timer.now();
    return taken;
  }

  /**
   * Puts back what `take` took, before anything added since, when its transaction
   * failed. Not re-armed: a store that keeps failing would be retried every few
   * milliseconds; the next change or the service's tick tries again.
   */
  putBack(taken: ChangeInput[]): void {
    if (taken.length > 0) this.pending = [...taken, ...this.pending];
  }

  /** Drops the pending changes: a reconciled log supersedes them. */
  clear(): void {
    this.pending = [];
    this.disarm();
  }

  /**
   * `changes` with what must be as durable as they are, for one write of the log (in a
   * transaction by `writeLog`, or with a round of event batches). Call it in the write
   * queue's turn, before that transaction begins.
   */
  async prepare(changes: ChangeInput[]): Promise<LogWrite> {
    const plan =
      changes.length > 0 && this.hooks.planLog ? await this.hooks.planLog(changes) : NOTHING_PLANNED;
    return { changes, ...plan };
  }

  /** Writes `w` in `tx`. */
  write(tx: StoreOps, w: LogWrite): Promise<LogWritten> {
    return writeLog(tx.workspace(this.ws), w);
  }

  /** Writes `w` in a transaction of its own, off this thread where the store can. */
  async commit(w: LogWrite): Promise<LogWritten> {
    const { log } = await this.store.commitEventRound(this.ws, { batches: [], log: w });
    return log ?? nothingWritten();
  }

  /** After the log's transaction committed: what a hook does then cannot undo the commit. */
  announce(written: LogWritten | null): void {
    if (written === null || written.logged.length === 0) return;
    try {
      this.hooks.afterLog?.(written.logged, written.claimed);
    } catch (e) {
      this.warn(
        `workspace ${this.ws}: ${written.logged.length} change(s) logged, then announcing them failed: ${String(e)}`,
      );
    }
  }

  /**
   * Appends to the change log whatever separates it from a freshly loaded engine's
   * membership (changes computed but not logged before a crash), at the engine's
   * instant. Safe only while nothing else writes: at open, and in the write queue's turn
   * (a reload). `startup` is the log's membership as the start-up readers found it;
   * without it the log is queried here.
   */
  async reconcile(engine: Engine, startup: Promise<LoggedMembership> | null): Promise<void> {
    await this.reconcileWith(
      await missingChanges(engine, this.store, this.ws, startup ? await startup : null),
    );
  }

  /** Appends the changes a start-up reconciliation found missing (`missingChanges`, `missingOnWorkers`). */
  async reconcileWith(missing: ChangeInput[]): Promise<void> {
    if (missing.length === 0) return;
    this.announce(await this.commit(await this.prepare(missing)));
  }
}
