/**
 * Membership changes on their way from a workspace's engine into its change log: held
 * until a write's transaction takes them (or a tick or flush does), appended with the
 * webhook outbox rows in that transaction, announced once it committed; and, after a
 * load, whatever separates the log from the loaded engine.
 */

import type { Engine, MembershipChange } from "../../engine/index.ts";
import type { Clock } from "../../engine/types.ts";
import type { ChangeInput, ChangeRecord, Store, StoreOps } from "../../store/types.ts";
import { type LoggedMembership, missingChanges } from "../reconcile.ts";
import { toLog } from "./changes.ts";

export interface LogHooks {
  /**
   * Called inside the transaction that appends changes to the log, with the logged
   * records: work that must be exactly as durable as the log (the webhook outbox).
   */
  onLog?: (tx: StoreOps, logged: ChangeRecord[]) => Promise<void>;
  /** Called after that transaction committed (stream subscribers, waking the webhook worker). */
  afterLog?: (logged: ChangeRecord[]) => void;
}

export class PendingLog {
  /**
   * Changes computed but not yet logged. They are written in the same transaction as
   * the next write (or by `tick`/`flush`), which halves the commits of a busy ingest;
   * a crash loses at most these, and start-up reconciliation writes them back.
   */
  private pending: ChangeInput[] = [];
  /** When the oldest pending change was computed. */
  private oldestAt = 0;

  /**
   * Pending changes ride along with a write once they are this old (or this many);
   * `flush`/`tick` write them whatever their age. Each change touches the log's indexes
   * at random places, and a page dirtied by several commits is written to the WAL each
   * time: gathering ~¼ s of changes into one commit writes each page once, which is
   * what keeps a busy ingest from spending its time rewriting index pages. SPEC §3.3a
   * allows 2 s; the service ticks every 500 ms.
   */
  static readonly DELAY_MS = 250;
  static readonly MAX_PENDING = 20_000;

  constructor(
    private readonly store: Store,
    private readonly ws: string,
    private readonly clock: Clock,
    private readonly hooks: LogHooks,
    private readonly warn: (line: string) => void,
  ) {}

  /** One change the engine emitted. */
  add(c: MembershipChange): void {
    if (this.pending.length === 0) this.oldestAt = this.clock.now();
    this.pending.push(toLog(c));
  }

  get size(): number {
    return this.pending.length;
  }

  /** The changes added since the size was `from`. */
  addedSince(from: number): ChangeInput[] {
    return this.pending.slice(from);
  }

  /** Whether the pending changes should ride along with a write at `now`. */
  due(now: number): boolean {
    return (
      this.pending.length >= PendingLog.MAX_PENDING ||
      (this.pending.length > 0 && now - this.oldestAt >= PendingLog.DELAY_MS)
    );
  }

  /** Takes every pending change, for a transaction that logs them. */
  take(): ChangeInput[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** Puts back what `take` took, before anything added since, when its transaction failed. */
  putBack(taken: ChangeInput[]): void {
    if (taken.length > 0) this.pending = [...taken, ...this.pending];
  }

  /** Drops the pending changes: a reconciled log supersedes them. */
  clear(): void {
    this.pending = [];
  }

  /** Appends `changes` in `tx`, with what must be as durable as they are. */
  async append(tx: StoreOps, changes: ChangeInput[]): Promise<ChangeRecord[]> {
    if (changes.length === 0) return [];
    const logged = await tx.workspace(this.ws).changes.append(changes);
    await this.hooks.onLog?.(tx, logged);
    return logged;
  }

  /** After the log's transaction committed: what a hook does then cannot undo the commit. */
  announce(logged: ChangeRecord[]): void {
    if (logged.length === 0) return;
    try {
      this.hooks.afterLog?.(logged);
    } catch (e) {
      this.warn(
        `workspace ${this.ws}: ${logged.length} change(s) logged, then announcing them failed: ${String(e)}`,
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
    const missing = await missingChanges(engine, this.store, this.ws, startup ? await startup : null);
    if (missing.length === 0) return;
    this.announce(await this.store.transaction(this.ws, (tx) => this.append(tx, missing)));
  }
}
