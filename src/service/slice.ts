/**
 * The whole service: the store, one WorkspaceService per workspace, API keys, the
 * webhook outbox worker, the change stream and the clock that moves time-driven
 * membership. `src/http` and `src/cli` are thin layers over this.
 */
import type { Clock } from "../engine/types.ts";
import { isValidTimeZone } from "../rules/time.ts";
import { sha256Hex } from "../store/ids.ts";
import type {
  ChangeRecord,
  CreatedApiKey,
  Store,
  StorePosition,
  WebhookRecord,
  Workspace,
} from "../store/types.ts";
import { ChangeStreams } from "./change-stream.ts";
import { defaultConnectors } from "./destinations/registry.ts";
import { DestinationService } from "./destinations/service.ts";
import { DestinationSyncer } from "./destinations/syncer.ts";
import { ApiError, invalid, notFound } from "./errors.ts";
import { ImportRunner } from "./imports.ts";
import type { LoadPhase } from "./live-workspace.ts";
import { LogPositions } from "./log-position.ts";
import { Receiving } from "./receiving.ts";
import { ScheduleRunner } from "./schedules/runner.ts";
import { ScheduleService } from "./schedules/service.ts";
import { secretBoxOf } from "./secret-box.ts";
import type { Caller, SliceObserver, SliceOptions } from "./slice-options.ts";
import { SourceStats } from "./source-stats.ts";
import { newStandardSecret } from "./standard-webhooks.ts";
import { WebhookSubscriptions } from "./webhook-subscriptions.ts";
import { checkWebhookUrl } from "./webhook-url.ts";
import { ROTATION_OVERLAP_MS, WebhookDispatcher } from "./webhooks.ts";
import type { KeyInput, WebhookInput, WorkspaceInput } from "./wire.ts";
import { WorkspaceService } from "./workspace.ts";

export const DEFAULT_WORKSPACE_ID = "ws_default";

/** How often snapshot files are written when their workspace changed (docs/operations.md, "Snapshots"). */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 10 * 60_000;

export type { Caller, SliceObserver, SliceOptions } from "./slice-options.ts";

/** Only an admin key creates workspaces (SPEC §4); its route asks before reading the body. */
export function requireWorkspaceCreator(caller: Caller): void {
  if (!caller.key.admin) throw new ApiError("forbidden", "only an admin key may create workspaces");
}

export class Slice {
  private readonly workspaces = new Map<string, WorkspaceService>();
  /** A cluster node's lease epoch per workspace it holds or held (-1 once lost). */
  private readonly epochs = new Map<string, number>();
  /** Workspaces handed over to this node: the instant the previous holder's engine had reached. */
  private readonly resumeAt = new Map<string, number>();
  private readonly opening = new Map<string, Promise<WorkspaceService>>();
  /** Clients of the change stream (`GET /v1/stream`). */
  readonly changeStreams: ChangeStreams;
  /** Webhook subscriptions as the logging transaction matches them. */
  private readonly subscriptions: WebhookSubscriptions;
  private readonly authCache = new Map<string, Caller | null>();
  private readonly importers = new Map<string, ImportRunner>();
  private timer: NodeJS.Timeout | null = null;
  /** The tick running, if any. */
  private ticking: Promise<void> | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotRound: Promise<void> | null = null;
  /** Each workspace's store position at its last snapshot written by this process. */
  private readonly snapshotAt = new Map<string, StorePosition>();
  /** Set once every workspace was opened: a stop before must not write snapshots of a partial load. */
  private loaded = false;
  /** Stopped while loading: the workers are not started. */
  private stopped = false;
  readonly dispatcher: WebhookDispatcher;
  /** Counters of Segment ingest and receivers (docs/ingest.md). */
  readonly sources: SourceStats;
  /** Sending-platform event webhooks (`/hooks/{id}`). */
  readonly receiving: Receiving;
  readonly clock: Clock;
  /** Live audience sync (docs/destinations.md). */
  readonly destinations: DestinationService;
  readonly syncer: DestinationSyncer;
  /** Scheduled exports (docs/exports.md). */
  readonly schedules: ScheduleService;
  private readonly scheduleRunner: ScheduleRunner;

  private constructor(
    readonly store: Store,
    private readonly opts: SliceOptions,
    /** Log positions as clients see them: opaque tokens per workspace. */
    readonly positions: LogPositions,
  ) {
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.changeStreams = new ChangeStreams(store, opts.stream ?? {}, (ws, seq) => positions.of(ws).seal(seq));
    this.sources = new ObservedSourceStats(this.clock, opts.observer);
    this.receiving = new Receiving({
      store,
      sources: this.sources,
      clock: this.clock,
      ...(opts.confirmSubscription ? { confirmSubscription: opts.confirmSubscription } : {}),
      ...(opts.receiverAdapters ? { adapters: opts.receiverAdapters } : {}),
    });
    this.subscriptions = new WebhookSubscriptions(store);
    this.dispatcher = new WebhookDispatcher(store, {
      clock: this.clock,
      subscriptions: (ws, ops) => this.subscriptions.list(ws, ops),
      denyPrivate: !opts.allowPrivateAddresses,
      ...(opts.webhookPollMs !== undefined ? { pollMs: opts.webhookPollMs } : {}),
      ...(opts.webhookTimeoutMs !== undefined ? { timeoutMs: opts.webhookTimeoutMs } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.observer?.delivery ? { onOutcome: (o) => opts.observer?.delivery?.(o) } : {}),
    });
    const box = secretBoxOf(opts.secretKey);
    this.syncer = new DestinationSyncer({
      store,
      clock: this.clock,
      box,
      connectors: {
        ...defaultConnectors({ denyPrivate: !opts.allowPrivateAddresses }),
        ...opts.destinationConnectors,
      },
      contacts: async (ws, ids) => (await this.workspace(ws)).contactsByIds(ids),
      flush: async (ws) => {
        await (await this.workspace(ws)).live.flush();
      },
      ...(opts.destinationHttp ? { http: opts.destinationHttp } : {}),
      ...(opts.destinationPollMs !== undefined ? { pollMs: opts.destinationPollMs } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.observer?.destinationCall
        ? { onCall: (d, op, rows, failed) => opts.observer?.destinationCall?.(d.kind, op, rows, failed) }
        : {}),
    });
    this.destinations = new DestinationService(
      this.syncer,
      box,
      {
        requireSegment: async (ws, segmentId) => {
          const svc = await this.workspace(ws);
          if (!svc.engine.segment(segmentId)) throw notFound("segment", segmentId);
        },
        segmentSize: async (ws, segmentId) =>
          (await (await this.workspace(ws)).engine.sizes([segmentId]))[0]!,
        position: (ws, seq) => positions.of(ws).seal(seq),
        contacts: async (ws, ids) => (await this.workspace(ws)).contactsByIds(ids),
      },
      this.clock,
    );
    this.schedules = new ScheduleService({
      store,
      workspace: (id) => this.workspace(id),
      clock: this.clock,
      box,
      denyPrivate: !opts.allowPrivateAddresses,
      ...(opts.allowInsecureExportTargets ? { allowInsecureHttp: true } : {}),
      log: (l) => this.log(l),
    });
    this.scheduleRunner = new ScheduleRunner(this.schedules, async () => this.openWorkspaces(), {
      log: (l) => this.log(l),
      ...(opts.schedulePollMs !== undefined ? { pollMs: opts.schedulePollMs } : {}),
    });
  }

  /**
   * Opens every workspace (rebuilding its engine from the store) and starts the workers.
   * If that fails, what was started is stopped and the store closed: the caller has no
   * service to stop.
   */
  static async start(opts: SliceOptions): Promise<Slice> {
    const s = await Slice.open(opts);
    try {
      await s.load();
    } catch (e) {
      await s.stop().catch(() => undefined);
      throw e;
    }
    return s;
  }

  /**
   * The service with its default workspace and admin key, but no workspace loaded yet:
   * `load()` rebuilds them (what takes long at start), meanwhile a server can answer
   * that it is starting.
   */
  static async open(opts: SliceOptions): Promise<Slice> {
    try {
      const s = new Slice(opts.store, opts, new LogPositions(await opts.store.serverSecret("log-positions")));
      await s.bootstrap();
      return s;
    } catch (e) {
      // Nothing runs yet but the store, which the service owns from here (stop closes it).
      await opts.store.close().catch(() => undefined);
      throw e;
    }
  }

  /** Opens every workspace, then starts the webhook worker and the clock. */
  async load(): Promise<void> {
    const placement = this.opts.placement;
    if (placement) {
      // A cluster node opens the workspaces whose leases it takes, now and as nodes come and go.
      // Fencing: a workspace's transactions commit only under the epoch this node holds;
      // one it lost gets -1, which never matches.
      this.store.fence((ws) => this.epochs.get(ws) ?? null);
      await placement.start({
        workspaces: async () => (await this.store.listWorkspaces()).map((w) => w.id),
        epochFloor: (ws) => this.store.heldEpoch(ws),
        acquired: async (ws, epoch, advancedTo) => {
          if (this.stopped) return;
          if (advancedTo !== undefined) this.resumeAt.set(ws, advancedTo);
          // Waits for the previous holder's transactions in flight: the load sees them.
          if (!(await this.store.claimEpoch(ws, epoch))) {
            throw new Error(`the database records a later epoch than ${epoch}`);
          }
          this.epochs.set(ws, epoch);
          await this.workspace(ws);
        },
        lost: (ws, why) => this.placementLost(ws, why),
        release: (ws) => this.handOver(ws),
        log: (line) => this.log(line),
      });
    } else {
      for (const ws of await this.store.listWorkspaces()) await this.workspace(ws.id);
    }
    if (this.stopped) return;
    this.loaded = true;
    this.dispatcher.start();
    this.syncer.start();
    this.scheduleRunner.start();
    // The timer's ticks do not queue up behind a slow one: the next is in a moment anyway.
    this.timer = setInterval(() => {
      if (!this.ticking) void this.tick();
    }, this.opts.tickMs ?? 500);
    this.timer.unref();
    if (this.opts.snapshots) {
      this.snapshotTimer = setInterval(
        () => void this.snapshotAll(),
        this.opts.snapshots.intervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS,
      );
      this.snapshotTimer.unref();
    }
  }

  /**
   * Writes the snapshot file of every open workspace whose store moved since its last one
   * (or that has none yet). A failure is logged, and the previous file stays.
   */
  async snapshotAll(): Promise<void> {
    if (!this.opts.snapshots) return;
    // One round at a time; a stop waits for the round in flight, then runs its own.
    this.snapshotRound ??= this.snapshotRoundOnce(this.opts.snapshots.dir).finally(() => {
      this.snapshotRound = null;
    });
    return this.snapshotRound;
  }

  private async snapshotRoundOnce(dir: string): Promise<void> {
    for (const ws of this.workspaces.values()) await this.snapshotIfChanged(ws, dir);
  }

  /** Writes `ws`'s snapshot file unless its store has not moved since its last one; a failure is logged. */
  private async snapshotIfChanged(ws: WorkspaceService, dir: string): Promise<void> {
    // The engine workers' own files (src/engine/partitioned/snapshot.ts) are not written by the service yet.
    if (ws.live.onWorkers) return;
    try {
      const now = await this.store.workspace(ws.id).snapshots.position();
      const last = this.snapshotAt.get(ws.id);
      if (
        last &&
        last.events === now.events &&
        last.changes === now.changes &&
        !(await this.journaledSince(ws.id, last))
      ) {
        return;
      }
      const began = performance.now();
      const { bytes, position, heldMs } = await ws.snapshot(dir);
      this.snapshotAt.set(ws.id, position);
      this.opts.observer?.snapshotWritten?.(ws.id, bytes, heldMs, performance.now() - began);
    } catch (e) {
      this.log(`Slice: snapshot of workspace ${ws.id} failed: ${(e as Error).message}`);
    }
  }

  /** Whether a contact of `ws` was written since `at` (the journal's seq is shared by every workspace). */
  private async journaledSince(ws: string, at: StorePosition): Promise<boolean> {
    const j = await this.store.workspace(ws).snapshots.journalAfter(at.journal);
    return j.rows.length + j.erased.length + j.events.length > 0;
  }

  /** The workspaces open now. */
  openWorkspaces(): WorkspaceService[] {
    return [...this.workspaces.values()];
  }

  /** Clients of the change stream (`GET /v1/stream`), over all workspaces. */
  streamClients(): number {
    return this.changeStreams.clients();
  }

  /** Import jobs running in this process. */
  importsRunning(): number {
    let n = 0;
    for (const r of this.importers.values()) n += (r as CountedImportRunner).active;
    return n;
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => process.stdout.write(`${l}\n`)))(line);
  }

  /** The default workspace and the admin key (SPEC §5). */
  private async bootstrap(): Promise<void> {
    const store = this.store;
    const keys = store.workspace(DEFAULT_WORKSPACE_ID).apiKeys;
    // Nodes of a cluster start together over one database: whoever loses a race to
    // create the same row finds it made by the winner.
    const racing = async (create: () => Promise<unknown>, made: () => Promise<boolean>) => {
      try {
        await create();
      } catch (e) {
        if (!(await made())) throw e;
      }
    };
    if (!(await store.getWorkspace(DEFAULT_WORKSPACE_ID))) {
      await racing(
        () => store.createWorkspace({ id: DEFAULT_WORKSPACE_ID, name: "Default", time_zone: "UTC" }),
        async () => (await store.getWorkspace(DEFAULT_WORKSPACE_ID)) !== null,
      );
    }
    const apiKey = this.opts.apiKey;
    if (apiKey) {
      if (!(await store.authenticate(apiKey))) {
        await racing(
          () => keys.create({ name: "admin (SLICE_API_KEY)", admin: true, secret: apiKey }),
          async () => (await store.authenticate(apiKey)) !== null,
        );
      }
      return;
    }
    if (!(await keys.list()).some((k) => k.admin)) {
      const created = await keys.create({ name: "admin", admin: true });
      const line = `Slice: admin API key of the default workspace (shown once, keep it): ${created.secret}`;
      (this.opts.announceAdminKey ?? ((l: string) => this.log(l)))(line);
    }
  }

  /** Whether this process serves `id` (always, unless it is one node of a cluster). */
  servesHere(id: string): boolean {
    return this.opts.placement ? this.opts.placement.owns(id) : true;
  }

  /**
   * This node lost `ws`'s lease: nothing more of it is served here, and its memory of it
   * is dropped (a later lease loads it afresh). A write already past its epoch check may
   * still commit: the next holder's claim waits for it (docs/cluster.md, fencing).
   */
  private placementLost(ws: string, why: string): void {
    this.log(`Slice: workspace ${ws} is no longer served by this node: ${why}`);
    this.close(ws);
    this.opts.observer?.workspaceLost?.(ws);
    this.opts.onPlacementLost?.(ws, why);
  }

  /**
   * Hands `ws` to another node of the cluster (placement no longer routes its requests
   * here): the writes already queued are committed and their changes logged, then it is
   * closed here. A running import keeps it here: the import writes through this node.
   */
  private async handOver(ws: string): Promise<number> {
    if (((this.importers.get(ws) as CountedImportRunner | undefined)?.active ?? 0) > 0) {
      throw new Error("an import is running");
    }
    const live = this.workspaces.get(ws)?.live;
    await live?.flush();
    // Time-driven changes up to now are logged here, at their instants; the next holder
    // goes on from this instant (the lease carries it).
    const at = this.clock.now();
    await live?.tick(at);
    // The file at this instant: where the snapshot directory is shared by the nodes,
    // the next holder starts from it and reads only what comes after (docs/cluster.md).
    const open = this.workspaces.get(ws);
    if (this.opts.snapshots && open) {
      await this.snapshotRound;
      await this.snapshotIfChanged(open, this.opts.snapshots.dir);
    }
    this.close(ws);
    this.log(`Slice: workspace ${ws} handed to another node of the cluster`);
    this.opts.observer?.workspaceHandedOver?.(ws);
    return at;
  }

  /** Stops serving `ws` here: fenced off, its queue refused, its outputs stopped, its memory dropped. */
  private close(ws: string): void {
    this.epochs.set(ws, -1);
    const live = this.workspaces.get(ws)?.live;
    live?.retire(`workspace ${ws} moved to another node of the cluster; retry`);
    live
      ?.close()
      .catch((e: unknown) => this.log(`Slice: stopping the engine workers of ${ws}: ${String(e)}`));
    this.workspaces.delete(ws);
    this.importers.delete(ws);
    this.dispatcher.removeWorkspace(ws);
    this.syncer.removeWorkspace(ws);
    this.changeStreams.endWorkspace(ws);
  }

  /** The open service of a workspace, opening it on first use. */
  async workspace(id: string): Promise<WorkspaceService> {
    const open = this.workspaces.get(id);
    if (open) return open;
    let p = this.opening.get(id);
    if (!p && !this.servesHere(id)) {
      throw new ApiError("unavailable", `workspace ${id} is served by another node of the cluster; retry`);
    }
    if (!p) {
      p = (async () => {
        const info = await this.store.getWorkspace(id);
        if (!info) throw notFound("workspace", id);
        const observer = this.opts.observer;
        const began = performance.now();
        // Handed over: loaded as of the instant the previous holder left it at, then moved
        // to now by a tick, so what time brought about meanwhile keeps its own instants.
        const from = this.resumeAt.get(id);
        this.resumeAt.delete(id);
        let pinned = from !== undefined && from < this.clock.now() ? from : undefined;
        const clock = pinned === undefined ? this.clock : { now: () => pinned ?? this.clock.now() };
        const svc = await WorkspaceService.open(this.store, info, {
          clock,
          positions: this.positions.of(id),
          ...(this.opts.snapshots ? { snapshotDir: this.opts.snapshots.dir } : {}),
          ...(this.opts.workers !== undefined && this.opts.workers > 1
            ? {
                workers: {
                  count: this.opts.workers,
                  ...(this.opts.partitions !== undefined ? { partitions: this.opts.partitions } : {}),
                },
              }
            : {}),
          ...(observer?.loadProgress
            ? {
                onProgress: (phase: string, rows: number) =>
                  observer.loadProgress?.(id, phase as LoadPhase, rows),
              }
            : {}),
          hooks: {
            planLog: (ws, changes) => this.dispatcher.plan(ws, changes),
            afterLog: (ws, logged, claimed) => {
              if (claimed.length > 0) this.dispatcher.startClaimed(ws, claimed);
              this.broadcast(ws, logged);
            },
            segmentUsers: async (ws, segmentId) => [
              ...(await this.subscriptions.list(ws))
                .filter((w) => w.segment_id === segmentId)
                .map((w) => ({ type: "webhook", id: w.id })),
              ...(await this.destinations.ofSegment(ws, segmentId)),
              ...(await this.schedules.usersOf(ws, segmentId)),
            ],
          },
        });
        svc.live.onReload((reason) => observer?.engineReloaded?.(id, reason));
        this.workspaces.set(id, svc);
        await this.dispatcher.adopt(id);
        await this.syncer.addWorkspace(id);
        if (pinned !== undefined) {
          pinned = undefined;
          await svc.tick();
        }
        observer?.workspaceOpened?.(id, performance.now() - began);
        return svc;
      })();
      this.opening.set(id, p);
      p.finally(() => this.opening.delete(id)).catch(() => undefined);
    }
    return p;
  }

  // ---------------------------------------------------------------- auth

  /** The caller a bearer secret belongs to, or null. */
  async authenticate(secret: string): Promise<Caller | null> {
    const h = sha256Hex(secret);
    if (this.authCache.has(h)) return this.authCache.get(h)!;
    const found = await this.store.authenticate(secret);
    if (this.authCache.size > 10_000) this.authCache.clear();
    this.authCache.set(h, found);
    return found;
  }

  async createWorkspace(
    caller: Caller,
    input: WorkspaceInput,
  ): Promise<{ workspace: Workspace; api_key: string }> {
    requireWorkspaceCreator(caller);
    if (input.time_zone !== undefined && !isValidTimeZone(input.time_zone)) {
      throw invalid("time_zone", `unknown IANA time zone ${JSON.stringify(input.time_zone)}`);
    }
    const ws = await this.store.createWorkspace({
      name: input.name,
      ...(input.time_zone !== undefined ? { time_zone: input.time_zone } : {}),
    });
    const key = await this.store.workspace(ws.id).apiKeys.create({ name: "default" });
    if (this.opts.placement) await this.opts.placement.claim(ws.id);
    if (this.servesHere(ws.id)) await this.workspace(ws.id);
    return { workspace: ws, api_key: key.secret };
  }

  /** SPEC §4: only the admin key manages keys of other roles than its own. */
  async createKey(caller: Caller, input: KeyInput): Promise<CreatedApiKey> {
    const role = input.role ?? "read_write";
    if (!caller.key.admin && role !== caller.key.role) {
      throw new ApiError(
        "forbidden",
        `role: a ${caller.key.role} key may only create ${caller.key.role} keys`,
        {
          path: "role",
        },
      );
    }
    return this.store.workspace(caller.workspace.id).apiKeys.create({ name: input.name ?? "key", role });
  }

  async deleteKey(caller: Caller, id: string): Promise<void> {
    const target = (await this.store.workspace(caller.workspace.id).apiKeys.list()).find((k) => k.id === id);
    if (!target) throw notFound("key", id);
    if (!caller.key.admin && target.role !== caller.key.role) {
      throw new ApiError(
        "forbidden",
        target.admin
          ? "no workspace key can revoke the admin key"
          : `a ${caller.key.role} key may only revoke ${caller.key.role} keys`,
      );
    }
    if (!(await this.store.workspace(caller.workspace.id).apiKeys.delete(id))) throw notFound("key", id);
    this.authCache.clear();
  }

  // ---------------------------------------------------------------- webhooks

  async createWebhook(ws: WorkspaceService, input: WebhookInput): Promise<WebhookRecord> {
    const problem = await checkWebhookUrl(input.url, { denyPrivate: !this.opts.allowPrivateAddresses });
    if (problem) throw invalid("url", problem);
    if (input.segment_id != null && !ws.engine.segment(input.segment_id)) {
      throw new ApiError("not_found", `segment_id: segment "${input.segment_id}" not found`, {
        path: "segment_id",
      });
    }
    // Changes not logged yet belong to before the subscription (logged before it, in its transaction).
    return this.subscriptions.create(ws.live, {
      url: input.url,
      events: input.events ?? ["segment.entered", "segment.exited"],
      segment_id: input.segment_id ?? null,
      // A given secret is kept as it is (docs/webhooks.md: how receivers key it).
      secret: input.secret ?? newStandardSecret(),
    });
  }

  /**
   * A new `whsec_` secret for a subscription, answered once; the replaced one keeps
   * signing beside it for `ROTATION_OVERLAP_MS` (24 h).
   */
  async rotateWebhookSecret(ws: WorkspaceService, id: string): Promise<WebhookRecord> {
    const hook = await this.store.workspace(ws.id).webhooks.rotateSecret(id, {
      secret: newStandardSecret(),
      previous_until: this.clock.now() + ROTATION_OVERLAP_MS,
    });
    if (!hook) throw notFound("webhook", id);
    this.subscriptions.changed(ws.id);
    return hook;
  }

  async deleteWebhook(ws: WorkspaceService, id: string): Promise<void> {
    if (!(await this.subscriptions.delete(ws.live, id))) throw notFound("webhook", id);
  }

  // ---------------------------------------------------------------- imports

  /** The import runner of a workspace: its sink is the workspace's own validated writes. */
  importer(ws: WorkspaceService): ImportRunner {
    let r = this.importers.get(ws.id);
    if (!r) {
      r = new CountedImportRunner(this.store, {
        upsertContacts: async (batch) => {
          const { result, ids } = await ws.upsertContactsWithIds(batch);
          return { errors: result.errors, contactIds: ids };
        },
        ingestEvents: async (batch) => ({ errors: (await ws.ingest(batch)).errors }),
        addToSegment: async (segmentId, contactIds) => {
          if (contactIds.length === 0) return;
          await ws.addMembers(segmentId, { contacts: contactIds.map((id) => ({ id })) });
        },
      });
      this.importers.set(ws.id, r);
    }
    return r;
  }

  // ---------------------------------------------------------------- stream

  private broadcast(ws: string, logged: ChangeRecord[]): void {
    this.dispatcher.wake();
    this.syncer.wake(ws);
    if (this.opts.observer?.membershipLogged) {
      let entered = 0;
      for (const c of logged) if (c.change === "entered") entered++;
      this.opts.observer.membershipLogged(ws, entered, logged.length - entered);
    }
    this.changeStreams.publish(ws, logged);
  }

  // ---------------------------------------------------------------- time

  /** Logs (and so streams and delivers) time-driven changes and changes not logged yet. */
  async tick(): Promise<void> {
    // A tick asked for while one runs waits for it and then runs its own: when it
    // resolves, every change up to the call is logged (the one running may have passed
    // a workspace before the caller's writes).
    while (this.ticking) await this.ticking;
    this.ticking = this.tickOnce().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async tickOnce(): Promise<void> {
    try {
      for (const ws of this.workspaces.values()) await ws.tick();
    } catch (e) {
      this.log(`Slice: tick failed: ${(e as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.dispatcher.stop();
    await this.syncer.stop();
    await this.scheduleRunner.stop();
    for (const r of this.importers.values()) await r.idle().catch(() => undefined);
    // The last writes, and what time brought about up to now, are logged; the next holders
    // of a cluster's workspaces go on from these instants.
    const advancedTo = new Map<string, number>();
    for (const [id, ws] of this.workspaces) {
      const at = this.clock.now();
      await ws.live
        .flush()
        .then(() => ws.live.tick(at))
        .then(() => advancedTo.set(id, at))
        .catch(() => undefined);
    }
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    // The last writes are in: a snapshot now spares the next start most of its load.
    if (this.opts.snapshots && this.loaded) {
      await this.snapshotRound;
      await this.snapshotAll();
    }
    for (const ws of this.workspaces.values()) await ws.live.close().catch(() => undefined);
    // Everything is flushed: the next holders may take over at once.
    await this.opts.placement
      ?.stop(advancedTo)
      .catch((e: unknown) => this.log(`Slice: leaving the cluster: ${(e as Error).message}`));
    await this.store.close();
  }
}

/** Source counters that also tell the observer (metrics count by kind of source, not by receiver). */
class ObservedSourceStats extends SourceStats {
  constructor(
    clock: { now(): number },
    private readonly observer: SliceObserver | undefined,
  ) {
    super(clock);
  }

  override record(...args: Parameters<SourceStats["record"]>): void {
    super.record(...args);
    const [, source, r] = args;
    this.observer?.sourceRecorded?.(source === "segment" ? "segment" : "receiver", r);
  }
}

/** An import runner that knows how many of its jobs are running (a metric). */
class CountedImportRunner extends ImportRunner {
  active = 0;

  override async start(...args: Parameters<ImportRunner["start"]>): ReturnType<ImportRunner["start"]> {
    const job = await super.start(...args);
    this.active++;
    this.wait(args[0], job.id)
      .catch(() => undefined)
      .finally(() => this.active--);
    return job;
  }
}
