/**
 * One sync pass of one destination (docs/destinations.md, "How a sync runs"):
 *
 * 1. Until the first full sync is done: note the change log's position S, then send
 *    the segment's logged members in contact-id order, page by page, keeping the last
 *    id sent in the store. Then the cursor becomes S. Changes logged after S are
 *    replayed by step 2; adds and removes are idempotent, so a member also seen by the
 *    page scan ends in the same state.
 * 2. Read the segment's changes after the cursor, keep each contact's last one, and
 *    send adds and removes; then store the new remote members and the cursor in one
 *    transaction. A crash between the provider call and that commit repeats the calls
 *    on restart, which the idempotent calls make harmless.
 *
 * Batches follow the connector's limits; a batch the provider refused as a whole is
 * split in halves down to single rows so that the bad rows fail alone.
 */
import type { DestinationRecord, OutcomeOp, RunRecord } from "../../store/model/destination.ts";
import type { Store, WorkspaceRepos } from "../../store/types.ts";
import {
  BatchRejected,
  type CallStats,
  type Connector,
  type ConnectorContext,
  type RemoteMember,
  type RowOutcome,
  type SyncContact,
} from "./types.ts";

/** Pages read per step: enough rows to fill every concurrent call once. */
export function pageSize(c: Connector): number {
  return Math.max(1, c.limits.batchSize) * Math.max(1, c.limits.concurrency);
}

export interface PassDeps {
  store: Store;
  clock: { now(): number };
  /** Effective wire contacts of these ids (erased ones are left out). */
  contacts(ws: string, ids: string[]): Promise<SyncContact[]>;
  /** Appends the workspace's pending membership changes to the log. */
  flush(ws: string): Promise<void>;
  /** After each provider call: rows sent and what came back (metrics, lag). */
  onCall?(d: DestinationRecord, op: OutcomeOp, rows: number, failed: number): void;
}

export interface PassTotals {
  added: number;
  removed: number;
  failed: number;
  skipped: number;
}

/** Runs `tasks` with at most `limit` in flight, results in order. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), tasks.length) }, worker));
  return out;
}

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * One call with splitting: a BatchRejected batch is halved and each half sent again,
 * down to single rows, which then fail with the provider's words.
 */
async function sendSplitting<R>(
  rows: R[],
  idOf: (row: R) => string,
  call: (rows: R[]) => Promise<{ rows: RowOutcome[]; stats?: CallStats }>,
  stats: CallStats[],
): Promise<RowOutcome[]> {
  try {
    const result = await call(rows);
    if (result.stats) stats.push(result.stats);
    const byId = new Map(result.rows.map((o) => [o.contact_id, o]));
    return rows.map((r) => byId.get(idOf(r)) ?? { contact_id: idOf(r), status: "ok" });
  } catch (e) {
    if (!(e instanceof BatchRejected)) throw e;
    if (rows.length === 1) return [{ contact_id: idOf(rows[0]), status: "failed", error: e.message }];
    const mid = Math.ceil(rows.length / 2);
    const left = await sendSplitting(rows.slice(0, mid), idOf, call, stats);
    const right = await sendSplitting(rows.slice(mid), idOf, call, stats);
    return [...left, ...right];
  }
}

export class SyncPass {
  readonly totals: PassTotals = { added: 0, removed: 0, failed: 0, skipped: 0 };
  private readonly providerStats: CallStats[] = [];
  private run: RunRecord | null = null;

  constructor(
    private readonly deps: PassDeps,
    private d: DestinationRecord,
    private readonly connector: Connector,
    private readonly ctx: ConnectorContext,
  ) {}

  private get ws(): string {
    return this.d.workspace_id;
  }

  /** The destination's workspace, on the store (writes that go together take a transaction's). */
  private get repos(): WorkspaceRepos {
    return this.deps.store.workspace(this.ws);
  }

  /** Runs the pass; returns the run it recorded (null when there was nothing to do). Throws what the provider threw. */
  async execute(budgetPages = 20): Promise<RunRecord | null> {
    try {
      if (!this.d.full_done) await this.fullSync(budgetPages);
      if (this.d.full_done) await this.incremental(budgetPages);
    } catch (e) {
      await this.finish("failed", e instanceof Error ? e.message : String(e));
      throw e;
    }
    await this.finish(this.totals.failed > 0 ? "partial" : "succeeded", null);
    return this.run;
  }

  /** More work may be left (the budget ran out): the caller runs another pass soon. */
  more = false;

  private async openRun(kind: "full" | "incremental"): Promise<RunRecord> {
    if (!this.run) {
      this.run = await this.repos.destinations.createRun(
        this.d.id,
        { kind, from_seq: kind === "full" ? this.d.full_seq : this.d.cursor },
        this.deps.clock.now(),
      );
    }
    return this.run;
  }

  private async finish(state: "succeeded" | "partial" | "failed", error: string | null): Promise<void> {
    if (!this.run) return;
    const stats = mergeStats(this.providerStats);
    await this.repos.destinations.updateRun(this.run.id, {
      state,
      error,
      to_seq: this.d.full_done ? this.d.cursor : null,
      finished_at: this.deps.clock.now(),
      ...(stats ? { stats: { provider: stats } } : {}),
    });
    this.run = await this.repos.destinations.getRun(this.run.id);
  }

  private async fullSync(budgetPages: number): Promise<void> {
    const { clock } = this.deps;
    if (this.d.full_seq === null) {
      await this.deps.flush(this.ws);
      const seq = await this.repos.changes.lastSeq();
      this.d = (await this.repos.destinations.update(this.d.id, { full_seq: seq }, clock.now()))!;
    }
    const run = await this.openRun("full");
    for (let pages = 0; ; pages++) {
      if (pages >= budgetPages) {
        this.more = true;
        return;
      }
      const page = await this.repos.changes.logged(this.d.segment_id, {
        limit: pageSize(this.connector),
        ...(this.d.full_cursor ? { cursor: this.d.full_cursor } : {}),
      });
      if (page.data.length > 0) {
        const contacts = await this.deps.contacts(this.ws, page.data);
        const outcomes = await this.sendAdds(contacts);
        const last = page.data[page.data.length - 1];
        await this.commit(run, outcomes, [], { full_cursor: last });
      }
      if (page.next_cursor === null) break;
    }
    this.d = (await this.repos.destinations.update(
      this.d.id,
      { full_done: true, cursor: this.d.full_seq ?? 0 },
      clock.now(),
    ))!;
  }

  private async incremental(budgetPages: number): Promise<void> {
    const limit = Math.max(1000, pageSize(this.connector));
    for (let pages = 0; ; pages++) {
      if (pages >= budgetPages) {
        this.more = true;
        return;
      }
      const page = await this.repos.changes.list({
        segmentId: this.d.segment_id,
        cursor: String(this.d.cursor),
        limit,
      });
      if (page.data.length === 0) return;
      const run = await this.openRun("incremental");
      const last = new Map<string, "entered" | "exited">();
      for (const c of page.data) last.set(c.contact_id, c.change);
      const enter: string[] = [];
      const exit: string[] = [];
      for (const [id, change] of last) (change === "entered" ? enter : exit).push(id);
      const contacts = enter.length > 0 ? await this.deps.contacts(this.ws, enter) : [];
      const members = exit.length > 0 ? await this.repos.destinations.getMembers(this.d.id, exit) : [];
      const adds = await this.sendAdds(contacts);
      const removes = await this.sendRemoves(members);
      await this.commit(run, adds, removes, { cursor: page.data[page.data.length - 1].seq });
      if (page.next_cursor === null) return;
    }
  }

  private async sendAdds(contacts: SyncContact[]): Promise<RowOutcome[]> {
    if (contacts.length === 0) return [];
    const batches = chunk(contacts, this.connector.limits.batchSize);
    const results = await pool(
      batches.map((b) => async () => {
        const out = await sendSplitting(
          b,
          (c) => c.id,
          (rows) => this.connector.add(this.ctx, rows),
          this.providerStats,
        );
        this.deps.onCall?.(this.d, "add", b.length, out.filter((o) => o.status === "failed").length);
        return out;
      }),
      this.connector.limits.concurrency,
    );
    return results.flat();
  }

  private async sendRemoves(members: RemoteMember[]): Promise<RowOutcome[]> {
    if (members.length === 0) return [];
    const batches = chunk(members, this.connector.limits.batchSize);
    const results = await pool(
      batches.map((b) => async () => {
        const out = await sendSplitting(
          b,
          (m) => m.contact_id,
          (rows) => this.connector.remove(this.ctx, rows),
          this.providerStats,
        );
        this.deps.onCall?.(this.d, "remove", b.length, out.filter((o) => o.status === "failed").length);
        return out;
      }),
      this.connector.limits.concurrency,
    );
    return results.flat();
  }

  /** Remote members, outcomes, run counters and the position, in one transaction. */
  private async commit(
    run: RunRecord,
    adds: RowOutcome[],
    removes: RowOutcome[],
    position: { cursor?: number; full_cursor?: string },
  ): Promise<void> {
    const now = this.deps.clock.now();
    const t = { added: 0, removed: 0, failed: 0, skipped: 0 };
    const put: { contact_id: string; remote_key: string }[] = [];
    const gone: string[] = [];
    const outcomes: {
      contact_id: string;
      op: OutcomeOp;
      status: RowOutcome["status"];
      error: string | null;
      at: number;
    }[] = [];
    for (const o of adds) {
      if (o.status === "ok") {
        t.added++;
        put.push({ contact_id: o.contact_id, remote_key: o.remote_key ?? o.contact_id });
      } else if (o.status === "failed") t.failed++;
      else t.skipped++;
      outcomes.push({
        contact_id: o.contact_id,
        op: "add",
        status: o.status,
        error: o.error ?? null,
        at: now,
      });
    }
    for (const o of removes) {
      if (o.status === "ok") {
        t.removed++;
        gone.push(o.contact_id);
      } else if (o.status === "failed") t.failed++;
      else t.skipped++;
      outcomes.push({
        contact_id: o.contact_id,
        op: "remove",
        status: o.status,
        error: o.error ?? null,
        at: now,
      });
    }
    const stats = { ...this.d.stats };
    stats.added += t.added;
    stats.removed += t.removed;
    stats.failed += t.failed;
    stats.skipped += t.skipped;
    const provider = mergeStats(this.providerStats);
    if (provider) stats.provider = provider;
    this.d = await this.deps.store.transaction(this.ws, async (tx) => {
      const repo = tx.workspace(this.ws).destinations;
      if (put.length > 0) await repo.putMembers(this.d.id, put, now);
      if (gone.length > 0) await repo.deleteMembers(this.d.id, gone);
      await repo.addOutcomes(run.id, outcomes);
      await repo.updateRun(run.id, { add: t });
      return (await repo.update(this.d.id, { ...position, stats }, now))!;
    });
    this.totals.added += t.added;
    this.totals.removed += t.removed;
    this.totals.failed += t.failed;
    this.totals.skipped += t.skipped;
  }
}

/** Sums provider figures over the calls of a pass (Meta's received / matched / invalid). */
function mergeStats(list: CallStats[]): Record<string, number> | null {
  if (list.length === 0) return null;
  const out: Record<string, number> = {};
  for (const s of list) for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
  return out;
}
