/**
 * Destinations as the API shows them (SPEC §4.2, docs/destinations.md): create with a
 * validated configuration whose credentials are sealed, read with the sync status and
 * never a secret, runs with per-contact outcomes, pause / resume, dry run, delete.
 */
import { z } from "zod";
import type { DestinationRecord, OutcomeStatus, RunRecord } from "../../store/model/destination.ts";
import type { JsonObject, Page } from "../../store/types.ts";
import { ApiError, invalid, notFound } from "../errors.ts";
import type { SecretBox } from "../secret-box.ts";
import type { WireContact } from "../wire-contact.ts";
import { pageSize } from "./sync-pass.ts";
import type { DestinationSyncer } from "./syncer.ts";
import { ConfigError, DESTINATION_KINDS, type PlannedRequest, type RemoteMember } from "./types.ts";

export const DestinationInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(DESTINATION_KINDS),
  segment_id: z.string().min(1).max(200),
  /**
   * Only its envelope here: each kind's connector parses it (`parseConfig`), so its
   * errors name the kind's own fields (`config.api_key: …`).
   */
  config: z.record(z.string(), z.unknown()),
  /** Created paused: nothing is sent until `resume` (so a dry run can come first). */
  paused: z.boolean().optional(),
});
export type DestinationInput = z.infer<typeof DestinationInput>;

export const DestinationPatch = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
});
export type DestinationPatch = z.infer<typeof DestinationPatch>;

/** What the service needs of the workspace besides the store. */
export interface DestinationHost {
  /** Throws a 404 ApiError when the segment does not exist. */
  requireSegment(ws: string, segmentId: string): Promise<void>;
  segmentSize(ws: string, segmentId: string): Promise<number>;
  contacts(ws: string, ids: string[]): Promise<WireContact[]>;
  /** A change-log position as clients see it (an opaque token, src/service/log-position.ts). */
  position(ws: string, seq: number): string;
  /** Extra checks that need the network (the http kind's address rules): an error or null. */
  checkConfig?(
    kind: string,
    config: JsonObject,
    secrets: Record<string, string>,
  ): Promise<ConfigError | null>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Dry-run sample requests shown. */
const SAMPLE_REQUESTS = 3;

export class DestinationService {
  constructor(
    private readonly syncer: DestinationSyncer,
    private readonly box: SecretBox | null,
    private readonly host: DestinationHost,
    private readonly clock: { now(): number },
  ) {}

  private async load(ws: string, id: string): Promise<DestinationRecord> {
    const d = await this.syncer.repo(ws).get(id);
    if (!d) throw notFound("destination", id);
    return d;
  }

  /** The wire form: configuration without secrets, and the sync status. */
  async wire(d: DestinationRecord) {
    const repo = this.syncer.repo(d.workspace_id);
    const pending = d.full_done
      ? await repo.pending(d.segment_id, d.cursor)
      : { entered: 0, exited: 0, oldest_at: null };
    const synced = await repo.countMembers(d.id);
    let pendingAdds = pending.entered;
    if (!d.full_done) {
      pendingAdds = Math.max(0, (await this.host.segmentSize(d.workspace_id, d.segment_id)) - synced);
    }
    const now = this.clock.now();
    return {
      id: d.id,
      name: d.name,
      kind: d.kind,
      segment_id: d.segment_id,
      config: d.config,
      state:
        d.state === "paused" ? "paused" : d.failures > 0 ? "failing" : d.full_done ? "live" : "initial_sync",
      last_sync_at: iso(d.last_sync_at),
      pending: { adds: pendingAdds, removes: pending.exited },
      /** Age of the oldest change not sent yet, in seconds (0 when none). */
      sync_lag_s:
        pending.oldest_at === null ? 0 : Math.max(0, Math.round((now - pending.oldest_at) / 100) / 10),
      remote_size: synced,
      /** The size the provider reports, where its API tells it (Mailchimp, Brevo, Kit). */
      provider_size: d.stats.provider_size ?? null,
      last_error: d.last_error,
      next_attempt_at: iso(d.next_attempt_at),
      counters: {
        added: d.stats.added,
        removed: d.stats.removed,
        failed: d.stats.failed,
        skipped: d.stats.skipped,
        ...(d.stats.provider ? { provider: d.stats.provider } : {}),
      },
      created_at: iso(d.created_at),
      updated_at: iso(d.updated_at),
    };
  }

  async create(ws: string, input: DestinationInput) {
    if (!this.box) {
      throw new ApiError(
        "invalid_request",
        "config: destinations need SLICE_SECRET_KEY (16 characters or more) set on the server to encrypt their credentials",
        { path: "config" },
      );
    }
    await this.host.requireSegment(ws, input.segment_id);
    const connector = this.syncer.connector(input.kind);
    let parsed: ReturnType<typeof connector.parseConfig>;
    try {
      parsed = connector.parseConfig(input.config);
      const extra = await connector.checkConfig?.(parsed.config);
      if (extra) throw extra;
    } catch (e) {
      if (e instanceof ConfigError) throw invalid(e.path ? `config.${e.path}` : "config", e.message);
      throw e;
    }
    const d = await this.syncer.repo(ws).create(
      {
        name: input.name,
        kind: input.kind,
        segment_id: input.segment_id,
        config: parsed.config,
        secrets: this.box.seal(parsed.secrets),
        state: input.paused ? "paused" : "active",
      },
      this.clock.now(),
    );
    this.syncer.wake(ws);
    const out: Awaited<ReturnType<DestinationService["wire"]>> & { secret?: string } = await this.wire(d);
    // A signing secret Slice made is shown once, here (SPEC §4.2).
    const made = parsed.secrets.secret;
    if (made !== undefined && input.config.secret === undefined) out.secret = made;
    return out;
  }

  async list(ws: string) {
    const all = await this.syncer.repo(ws).list();
    return { data: await Promise.all(all.map((d) => this.wire(d))), next_cursor: null };
  }

  async get(ws: string, id: string) {
    return this.wire(await this.load(ws, id));
  }

  async update(ws: string, id: string, patch: DestinationPatch) {
    await this.load(ws, id);
    const d = await this.syncer
      .repo(ws)
      .update(id, { ...(patch.name ? { name: patch.name } : {}) }, this.clock.now());
    return this.wire(d!);
  }

  async setPaused(ws: string, id: string, paused: boolean) {
    await this.load(ws, id);
    const d = await this.syncer
      .repo(ws)
      .update(
        id,
        paused ? { state: "paused" } : { state: "active", failures: 0, next_attempt_at: null },
        this.clock.now(),
      );
    if (!paused) this.syncer.wake(ws);
    return this.wire(d!);
  }

  async delete(ws: string, id: string): Promise<void> {
    await this.load(ws, id);
    await this.syncer.repo(ws).delete(id);
  }

  wireRun(ws: string, r: RunRecord) {
    const position = (seq: number | null) => (seq === null ? null : this.host.position(ws, seq));
    return {
      id: r.id,
      destination_id: r.destination_id,
      kind: r.kind,
      state: r.state,
      from_seq: position(r.from_seq),
      to_seq: position(r.to_seq),
      added: r.added,
      removed: r.removed,
      failed: r.failed,
      skipped: r.skipped,
      stats: r.stats,
      error: r.error,
      started_at: iso(r.started_at),
      finished_at: iso(r.finished_at),
    };
  }

  async runs(ws: string, id: string, req: { cursor?: string; limit: number }) {
    await this.load(ws, id);
    let page: Page<RunRecord>;
    try {
      page = await this.syncer.repo(ws).listRuns(id, req);
    } catch (e) {
      throw invalid("cursor", (e as Error).message);
    }
    return { data: page.data.map((r) => this.wireRun(ws, r)), next_cursor: page.next_cursor };
  }

  async run(ws: string, id: string, runId: string) {
    await this.load(ws, id);
    const r = await this.syncer.repo(ws).getRun(runId);
    if (!r || r.destination_id !== id) throw notFound("run", runId);
    return this.wireRun(ws, r);
  }

  async outcomes(
    ws: string,
    id: string,
    runId: string,
    req: { cursor?: string; limit: number; status?: string },
  ) {
    await this.run(ws, id, runId);
    if (req.status !== undefined && !["ok", "failed", "skipped"].includes(req.status)) {
      throw invalid("status", "expected one of ok, failed, skipped");
    }
    let page: Awaited<ReturnType<ReturnType<DestinationSyncer["repo"]>["listOutcomes"]>>;
    try {
      page = await this.syncer.repo(ws).listOutcomes(runId, {
        limit: req.limit,
        ...(req.cursor ? { cursor: req.cursor } : {}),
        ...(req.status ? { status: req.status as OutcomeStatus } : {}),
      });
    } catch (e) {
      throw invalid("cursor", (e as Error).message);
    }
    return {
      data: page.data.map((o) => ({
        contact_id: o.contact_id,
        op: o.op,
        status: o.status,
        error: o.error,
        at: iso(o.at),
      })),
      next_cursor: page.next_cursor,
    };
  }

  /**
   * What the next pass would send, sending nothing: counts, and the first requests as
   * the provider would get them (credentials redacted). Recorded as a `dry_run` run.
   */
  async dryRun(ws: string, id: string) {
    const d = await this.load(ws, id);
    const connector = this.syncer.connector(d.kind);
    const ctx = this.syncer.context(d);
    // A dry run must not change what the connector keeps.
    ctx.saveState = async () => {};
    const repo = this.syncer.repo(ws);
    let wouldAdd = 0;
    let wouldRemove = 0;
    let addSample: WireContact[] = [];
    let removeSample: RemoteMember[] = [];
    const log = this.syncer.store.workspace(ws).changes;
    await this.syncer.flush(ws);
    if (!d.full_done) {
      wouldAdd = Math.max(
        0,
        (await this.host.segmentSize(ws, d.segment_id)) - (await repo.countMembers(d.id)),
      );
      const page = await log.logged(d.segment_id, {
        limit: connector.limits.batchSize,
        ...(d.full_cursor ? { cursor: d.full_cursor } : {}),
      });
      addSample = await this.host.contacts(ws, page.data);
    } else {
      const changes = await log.list({
        segmentId: d.segment_id,
        cursor: String(d.cursor),
        limit: Math.max(10_000, pageSize(connector)),
      });
      const last = new Map<string, string>();
      for (const c of changes.data) last.set(c.contact_id, c.change);
      const enter = [...last].filter(([, c]) => c === "entered").map(([id]) => id);
      const exit = [...last].filter(([, c]) => c === "exited").map(([id]) => id);
      const members = await repo.getMembers(d.id, exit);
      wouldAdd = enter.length;
      wouldRemove = members.length;
      addSample = await this.host.contacts(ws, enter.slice(0, connector.limits.batchSize));
      removeSample = members.slice(0, connector.limits.batchSize);
    }
    const requests: PlannedRequest[] = [
      ...(addSample.length > 0 ? connector.planAdd(ctx, addSample) : []),
      ...(removeSample.length > 0 ? connector.planRemove(ctx, removeSample) : []),
    ].slice(0, SAMPLE_REQUESTS);
    const now = this.clock.now();
    const stats: JsonObject = {
      would_add: wouldAdd,
      would_remove: wouldRemove,
      requests: requests as unknown as JsonObject[],
    };
    const run = await repo.createRun(
      d.id,
      { kind: "dry_run", from_seq: d.full_done ? d.cursor : null, stats },
      now,
    );
    await repo.updateRun(run.id, { state: "succeeded", finished_at: now });
    return { run_id: run.id, would_add: wouldAdd, would_remove: wouldRemove, requests };
  }

  /** Per destination: changes not sent yet and when the oldest became true (metrics). */
  async backlog(
    ws: string,
  ): Promise<{ id: string; kind: string; pending: number; oldest_at: number | null }[]> {
    const repo = this.syncer.repo(ws);
    const out = [];
    for (const d of await repo.list()) {
      if (!d.full_done) {
        out.push({
          id: d.id,
          kind: d.kind,
          pending: 0,
          oldest_at: d.full_seq === null ? null : d.created_at,
        });
        continue;
      }
      const p = await repo.pending(d.segment_id, d.cursor);
      out.push({ id: d.id, kind: d.kind, pending: p.entered + p.exited, oldest_at: p.oldest_at });
    }
    return out;
  }

  /** Destinations that use a segment (deleting it answers 409 while any does). */
  async ofSegment(ws: string, segmentId: string): Promise<{ type: string; id: string }[]> {
    return (await this.syncer.repo(ws).ofSegment(segmentId)).map((id) => ({ type: "destination", id }));
  }
}
