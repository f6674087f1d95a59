/**
 * The store over SQL, shared by both databases: the workspace-scoped operations
 * (scoped-ops.ts, onto the repositories of repos/), plus transactions, batch event
 * writes, workspace administration and authentication. What differs between SQLite and
 * PostgreSQL comes in with the adapter: its dialect (sqlite/dialect.ts,
 * postgres/dialect.ts) and, on a SQLite file, the writer and reader threads.
 */
import type { SqlDialect } from "./dialect.ts";
import type { Executor } from "./executor.ts";
import { MIGRATIONS, migrate } from "./migrations.ts";
import type { Clock } from "./repos/index.ts";
import { findReceiver } from "./repos/ingest.ts";
import { writeLog } from "./repos/log-write.ts";
import { WorkspaceRepo } from "./repos/workspaces.ts";
import { ScopedOps } from "./scoped-ops.ts";
import { serverSecret } from "./server-secret-repo.ts";
import type { StartupRead } from "./startup-read.ts";
import {
  type ApiKey,
  type BatchOutcome,
  type Dialect,
  type EventInsertResult,
  type EventWrite,
  type LogWrite,
  type LogWritten,
  type NewWorkspace,
  type ReceiverRecord,
  type Store,
  StoreError,
  type StoreOps,
  type Workspace,
  type WorkspacePatch,
} from "./types.ts";

export type { Clock } from "./repos/index.ts";

/** A database as the store takes it: a connection, its dialect, and what only some databases offer. */
export interface StoreAdapter {
  executor: Executor;
  dialect: SqlDialect;
  close(): Promise<void>;
  /**
   * Batches of events inserted and committed off the calling thread (a SQLite file:
   * sqlite/event-batches.ts), as `Store.insertEventBatches` describes.
   */
  eventBatches?(
    ws: string,
    batches: EventWrite[][],
    check: (() => void) | undefined,
    log: LogWrite | undefined,
  ): Promise<{ outcomes: BatchOutcome<EventInsertResult>[]; log: LogWritten | null }>;
  /** A workspace read in bulk off the calling thread (a SQLite file: sqlite/bulk-read.ts). */
  startupRead?(ws: string): StartupRead;
  /** Called once the store is ready: starts what is best started early (the SQLite writer thread). */
  warm?(): void;
}

export class SqlStore extends ScopedOps implements Store {
  readonly dialect: Dialect;
  private readonly workspaces: WorkspaceRepo;
  private closed = false;

  constructor(
    private readonly adapter: StoreAdapter,
    clock: Clock,
  ) {
    super(adapter.executor, adapter.dialect, clock);
    this.dialect = adapter.dialect.name;
    this.workspaces = new WorkspaceRepo(adapter.executor, adapter.dialect, clock);
  }

  /** Applies pending migrations. */
  async init(): Promise<void> {
    await migrate(this.x, this.clock.now(), MIGRATIONS);
  }

  transaction<T>(ws: string, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    this.workspace(ws);
    return this.x.atomic(async (tx) => {
      const epoch = this.epochOf?.(ws) ?? null;
      if (epoch !== null) await this.checkEpoch(tx, ws, epoch);
      return fn(new ScopedOps(tx, this.dialect_, this.clock, ws));
    });
  }

  private epochOf: ((ws: string) => number | null) | null = null;

  fence(epochOf: (ws: string) => number | null): void {
    this.epochOf = epochOf;
  }

  /** The row stays locked (shared) to the end of the transaction: a new holder's claim waits for it. */
  private async checkEpoch(tx: Executor, ws: string, epoch: number): Promise<void> {
    const held = await this.recordedEpoch(tx, ws, this.dialect_.name === "postgres" ? " FOR SHARE" : "");
    if (held !== epoch) {
      throw new StoreError(
        "fenced",
        `workspace ${ws} is held by ${held === null ? "no node" : `lease epoch ${held}`}, not this node's ${epoch}`,
      );
    }
  }

  async heldEpoch(ws: string): Promise<number> {
    return (await this.recordedEpoch(this.x, ws, "")) ?? 0;
  }

  private async recordedEpoch(x: Executor, ws: string, lock: string): Promise<number | null> {
    const rows = await x.all(`SELECT epoch FROM workspace_epochs WHERE workspace_id = ?${lock}`, [ws]);
    return rows[0] ? Number(rows[0].epoch) : null;
  }

  async claimEpoch(ws: string, epoch: number): Promise<boolean> {
    const rows = await this.x.all(
      `INSERT INTO workspace_epochs (workspace_id, epoch) VALUES (?, ?)
       ON CONFLICT (workspace_id) DO UPDATE SET epoch = excluded.epoch
       WHERE workspace_epochs.epoch < excluded.epoch
       RETURNING epoch`,
      [ws, epoch],
    );
    return rows.length === 1;
  }

  async insertEventBatches(
    ws: string,
    batches: EventWrite[][],
    opts: { check?: () => void } = {},
  ): Promise<BatchOutcome<EventInsertResult>[]> {
    return (await this.commitEventRound(ws, { batches, ...opts })).outcomes;
  }

  async commitEventRound(
    ws: string,
    round: { batches: EventWrite[][]; check?: () => void; log?: LogWrite },
  ): Promise<{ outcomes: BatchOutcome<EventInsertResult>[]; log: LogWritten | null }> {
    this.workspace(ws);
    const { batches, check, log } = round;
    if (this.adapter.eventBatches) return this.adapter.eventBatches(ws, batches, check, log);
    check?.();
    const out: BatchOutcome<EventInsertResult>[] = [];
    const written = await this.transaction(ws, async (tx) => {
      for (const b of batches) {
        try {
          const value =
            batches.length === 1
              ? await tx.workspace(ws).events.insert(b)
              : await tx.savepoint((sp) => sp.workspace(ws).events.insert(b));
          out.push({ ok: true, value });
        } catch (error) {
          out.push({ ok: false, error });
        }
      }
      if (batches.length === 1 && !out[0]!.ok) throw out[0]!.error;
      return log ? writeLog(tx.workspace(ws), log) : null;
    });
    return { outcomes: out, log: written };
  }

  createWorkspace(w: NewWorkspace): Promise<Workspace> {
    return this.workspaces.create(w);
  }

  getWorkspace(id: string): Promise<Workspace | null> {
    return this.workspaces.get(id);
  }

  listWorkspaces(): Promise<Workspace[]> {
    return this.workspaces.list();
  }

  updateWorkspace(id: string, patch: WorkspacePatch): Promise<Workspace | null> {
    return this.workspaces.update(id, patch);
  }

  authenticate(secret: string): Promise<{ workspace: Workspace; key: ApiKey } | null> {
    return this.workspaces.authenticate(secret);
  }

  findReceiver(id: string): Promise<ReceiverRecord | null> {
    return findReceiver(this.x, this.dialect_, id);
  }

  serverSecret(name: string): Promise<Buffer> {
    return serverSecret(this.x, name, this.clock.now());
  }

  /** A SQLite file only: read in worker threads on their own connections (sqlite/bulk-read.ts). */
  startupRead(ws: string): StartupRead | null {
    this.workspace(ws);
    return this.adapter.startupRead?.(ws) ?? null;
  }

  async migrations(): Promise<{ version: number; name: string; applied_at: number }[]> {
    const rows = await this.x.all("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
    return rows.map((r) => ({
      version: Number(r.version),
      name: String(r.name),
      applied_at: Number(r.applied_at),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.adapter.close();
  }
}
