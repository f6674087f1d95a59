/**
 * `GET /metrics` in the Prometheus text format (prom-client), for an admin key or the
 * metrics token (`SLICE_METRICS_TOKEN`). Counters move where things happen (ingest
 * answers, change-log appends, delivery attempts); gauges of state are read at scrape
 * time (engine sizes, queues, the webhook outbox: one store query per workspace).
 * Labels are bounded: route patterns, never URLs; kinds of sources, never receiver ids;
 * no label per contact or segment. docs/operations.md lists every metric.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** A destination's changes not sent yet (DestinationService.backlog). */
type Backlog = { id: string; kind: string; pending: number; oldest_at: number | null };

import type { EngineStats } from "../engine/contact-facts.ts";
import type { LoadPhase } from "../service/live-workspace.ts";
import type { Slice, SliceObserver } from "../service/slice.ts";
import type { DeliveryOutcome } from "../service/source-stats.ts";

const STARTUP_PHASES: readonly LoadPhase[] = [
  "snapshot",
  "since_snapshot",
  "contacts",
  "events",
  "members",
  "segments",
];

export class Metrics {
  readonly registry = new Registry();
  private slice: Slice | null = null;

  readonly httpDuration = new Histogram({
    name: "slice_http_request_duration_seconds",
    help: "HTTP requests by route pattern, method and status class, in seconds",
    labelNames: ["method", "route", "status_class"] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly notReady = new Counter({
    name: "slice_http_not_ready_total",
    help: "API requests answered 503 because the server was still loading",
    registers: [this.registry],
  });
  readonly ingestItems = new Counter({
    name: "slice_ingest_items_total",
    help: "Contacts and events sent in, by source (api, segment, receiver) and outcome (accepted, duplicate, rejected)",
    labelNames: ["kind", "source", "outcome"] as const,
    registers: [this.registry],
  });
  readonly sourceRequests = new Counter({
    name: "slice_source_requests_total",
    help: "Requests of Segment-compatible sources and receivers by outcome (accepted, rejected, signature_failed)",
    labelNames: ["source", "outcome"] as const,
    registers: [this.registry],
  });
  readonly membershipChanges = new Counter({
    name: "slice_membership_changes_total",
    help: "Membership changes appended to the change log, by change (entered, exited)",
    labelNames: ["change"] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: "slice_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome (delivered, retry, failed: given up)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly engineReloads = new Counter({
    name: "slice_engine_reloads_total",
    help: "Workspace engines rebuilt from the store while running, by reason (apply_failed: a committed write failed to apply; not_on_workers: a workspace moved from the engine workers to one thread)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly destinationRows = new Counter({
    name: "slice_destination_rows_total",
    help: "Contacts sent to destinations, by kind, operation (add, remove) and outcome (sent, failed)",
    labelNames: ["kind", "op", "outcome"] as const,
    registers: [this.registry],
  });
  readonly forwarded = new Counter({
    name: "slice_cluster_forwarded_requests_total",
    help: "Requests this cluster node passed to the node holding their workspace, by outcome",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly workspacesLost = new Counter({
    name: "slice_cluster_workspaces_lost_total",
    help: "Workspaces this cluster node stopped serving because another node took their lease",
    registers: [this.registry],
  });
  readonly workspacesHandedOver = new Counter({
    name: "slice_cluster_workspaces_handed_over_total",
    help: "Workspaces this cluster node handed over to a node that joined",
    registers: [this.registry],
  });
  readonly snapshotWrites = new Counter({
    name: "slice_snapshot_writes_total",
    help: "Workspace snapshot files written (at stop and every SLICE_SNAPSHOT_INTERVAL when changed)",
    registers: [this.registry],
  });
  readonly snapshotBytes = new Gauge({
    name: "slice_snapshot_bytes",
    help: "Size of each workspace's last snapshot file, in bytes",
    labelNames: ["workspace"] as const,
    registers: [this.registry],
  });
  readonly snapshotSeconds = new Histogram({
    name: "slice_snapshot_write_seconds",
    help: "Time a workspace's writes wait while its snapshot file is written, in seconds",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly startupPhase = new Gauge({
    name: "slice_startup_phase_seconds",
    help: "Time the last start spent in each load phase, over all workspaces, in seconds",
    labelNames: ["phase"] as const,
    registers: [this.registry],
  });
  readonly startupTotal = new Gauge({
    name: "slice_startup_seconds",
    help: "Time from start to ready (0 while loading), in seconds",
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: "slice_ready",
    help: "1 once every workspace is loaded, 0 while loading",
    registers: [this.registry],
  });
  private readonly began = performance.now();
  private readonly phaseOf = new Map<string, { phase: LoadPhase; since: number }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const phase of STARTUP_PHASES) this.startupPhase.set({ phase }, 0);
    this.ready.set(0);
    const self = this;
    const state = (name: string, help: string, read: (slice: Slice) => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          if (self.slice) this.set(await read(self.slice));
        },
      });
    const sum = (f: (ws: ReturnType<Slice["openWorkspaces"]>[number]) => number) => (slice: Slice) =>
      slice.openWorkspaces().reduce((n, ws) => n + f(ws), 0);
    const sumStats = (key: keyof EngineStats) => async (slice: Slice) => {
      const stats = await Promise.all(slice.openWorkspaces().map((ws) => ws.engine.stats()));
      return stats.reduce((n, s) => n + s[key], 0);
    };
    state("slice_engine_contacts", "Contacts held by the engines (all workspaces)", sumStats("contacts"));
    state("slice_engine_events", "Events held by the engines (all workspaces)", sumStats("events"));
    state(
      "slice_engine_timers",
      "Timers queued in the engines (time-driven membership to re-check)",
      sumStats("timers"),
    );
    state(
      "slice_changelog_pending",
      "Membership changes computed and not yet appended to the change log",
      sum((ws) => ws.live.pendingChanges),
    );
    state("slice_workspaces_loaded", "Workspaces loaded", (slice) => slice.openWorkspaces().length);
    state("slice_stream_clients", "Clients of the change stream (GET /v1/stream)", (slice) =>
      slice.streamClients(),
    );
    state("slice_imports_running", "Import jobs running", (slice) => slice.importsRunning());
    state("slice_exports_running", "Segment exports being streamed", () => this.exportsRunning);
    new Gauge({
      name: "slice_webhook_outbox_pending",
      help: "Webhook deliveries waiting (first attempt or retry)",
      registers: [this.registry],
      async collect() {
        if (self.slice) this.set((await self.outbox()).pending);
      },
    });
    new Gauge({
      name: "slice_webhook_outbox_oldest_age_seconds",
      help: "Age of the oldest waiting webhook delivery, in seconds (0 when none waits)",
      registers: [this.registry],
      async collect() {
        if (self.slice) this.set((await self.outbox()).oldestAgeSeconds);
      },
    });
    new Gauge({
      name: "slice_destination_pending_changes",
      help: "Membership changes of each destination's segment not sent to it yet",
      labelNames: ["destination", "kind"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const b of await self.backlog()) this.set({ destination: b.id, kind: b.kind }, b.pending);
      },
    });
    new Gauge({
      name: "slice_destination_sync_lag_seconds",
      help: "Age of the oldest membership change not sent to each destination yet, in seconds (0 when none)",
      labelNames: ["destination", "kind"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const now = self.slice?.clock.now() ?? Date.now();
        for (const b of await self.backlog()) {
          this.set(
            { destination: b.id, kind: b.kind },
            b.oldest_at === null ? 0 : Math.max(0, (now - b.oldest_at) / 1000),
          );
        }
      },
    });
  }

  private backlogCache: { scrape: number; value: Promise<Backlog[]> } | null = null;

  /** Destinations' backlogs, read once per scrape for both gauges. */
  private backlog(): Promise<Backlog[]> {
    if (this.backlogCache?.scrape === this.scrapes) return this.backlogCache.value;
    const value = (async () => {
      const slice = this.slice;
      if (!slice) return [];
      const all: Backlog[] = [];
      for (const ws of slice.openWorkspaces()) all.push(...(await slice.destinations.backlog(ws.id)));
      return all;
    })();
    this.backlogCache = { scrape: this.scrapes, value };
    return value;
  }

  /** Exports in flight (counted by the HTTP hooks). */
  exportsRunning = 0;

  /** The service whose state the gauges read (once it exists). */
  attach(slice: Slice): void {
    this.slice = slice;
  }

  private scrapes = 0;
  private outboxCache: {
    scrape: number;
    value: Promise<{ pending: number; oldestAgeSeconds: number }>;
  } | null = null;

  /** The registry's text; each call is one scrape. */
  async text(): Promise<string> {
    this.scrapes++;
    return this.registry.metrics();
  }

  /** One query per workspace per scrape (both outbox gauges share it). */
  private outbox(): Promise<{ pending: number; oldestAgeSeconds: number }> {
    if (this.outboxCache?.scrape === this.scrapes) return this.outboxCache.value;
    const value = (async () => {
      const slice = this.slice;
      if (!slice) return { pending: 0, oldestAgeSeconds: 0 };
      let pending = 0;
      let oldest = Number.POSITIVE_INFINITY;
      for (const ws of slice.openWorkspaces()) {
        const s = await slice.store.workspace(ws.id).deliveries.outboxStats();
        pending += s.pending;
        if (s.oldest_created_at !== null) oldest = Math.min(oldest, s.oldest_created_at);
      }
      const age = Number.isFinite(oldest) ? Math.max(0, (slice.clock.now() - oldest) / 1000) : 0;
      return { pending, oldestAgeSeconds: age };
    })();
    this.outboxCache = { scrape: this.scrapes, value };
    return value;
  }

  /** What the service tells the metrics (SliceOptions.observer). */
  readonly observer: SliceObserver = {
    loadProgress: (ws, phase) => this.enterPhase(ws, phase),
    workspaceOpened: (ws) => this.endPhase(ws),
    membershipLogged: (_ws, entered, exited) => {
      if (entered > 0) this.membershipChanges.inc({ change: "entered" }, entered);
      if (exited > 0) this.membershipChanges.inc({ change: "exited" }, exited);
    },
    delivery: (outcome) => this.deliveries.inc({ outcome }),
    engineReloaded: (_ws, reason) => this.engineReloads.inc({ reason }),
    workspaceLost: () => this.workspacesLost.inc(),
    workspaceHandedOver: () => this.workspacesHandedOver.inc(),
    snapshotWritten: (ws, bytes, heldMs) => {
      this.snapshotWrites.inc();
      this.snapshotBytes.set({ workspace: ws }, bytes);
      this.snapshotSeconds.observe(heldMs / 1000);
    },
    destinationCall: (kind, op, rows, failed) => {
      if (rows - failed > 0) this.destinationRows.inc({ kind, op, outcome: "sent" }, rows - failed);
      if (failed > 0) this.destinationRows.inc({ kind, op, outcome: "failed" }, failed);
    },
    sourceRecorded: (kind, r) => this.sourceRecorded(kind, r),
  };

  private enterPhase(ws: string, phase: LoadPhase): void {
    const cur = this.phaseOf.get(ws);
    if (cur?.phase === phase) return;
    this.endPhase(ws);
    this.phaseOf.set(ws, { phase, since: performance.now() });
  }

  private endPhase(ws: string): void {
    const cur = this.phaseOf.get(ws);
    if (!cur) return;
    this.startupPhase.inc({ phase: cur.phase }, (performance.now() - cur.since) / 1000);
    this.phaseOf.delete(ws);
  }

  markReady(): void {
    this.ready.set(1);
    this.startupTotal.set((performance.now() - this.began) / 1000);
  }

  private sourceRecorded(
    source: "segment" | "receiver",
    r: { outcome: DeliveryOutcome; accepted?: number; rejected?: number },
  ): void {
    this.sourceRequests.inc({ source, outcome: r.outcome });
    if (r.accepted) this.ingestItems.inc({ kind: "events", source, outcome: "accepted" }, r.accepted);
    if (r.rejected) this.ingestItems.inc({ kind: "events", source, outcome: "rejected" }, r.rejected);
  }

  /** Per-item results of the API's batch answers (`{accepted, duplicates, errors}`). */
  countApiBatch(kind: "events" | "contacts", body: unknown): void {
    const b = body as { accepted?: unknown; duplicates?: unknown; errors?: unknown };
    if (typeof b?.accepted !== "number") return;
    if (b.accepted > 0) this.ingestItems.inc({ kind, source: "api", outcome: "accepted" }, b.accepted);
    if (typeof b.duplicates === "number" && b.duplicates > 0) {
      this.ingestItems.inc({ kind, source: "api", outcome: "duplicate" }, b.duplicates);
    }
    if (Array.isArray(b.errors) && b.errors.length > 0) {
      this.ingestItems.inc({ kind, source: "api", outcome: "rejected" }, b.errors.length);
    }
  }
}

/** Routes whose answers carry per-item ingest results. */
const BATCH_ROUTES: Record<string, "events" | "contacts"> = {
  "POST /v1/events": "events",
  "POST /v1/contacts/batch": "contacts",
};
const EXPORT_ROUTE = "/v1/segments/:id/export";

function routeKey(req: FastifyRequest): string {
  return `${req.method} ${req.routeOptions.url ?? ""}`;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The hooks that feed the HTTP metrics, and `GET /metrics`. */
export function registerMetrics(
  app: FastifyInstance,
  slice: Slice,
  metrics: Metrics,
  opts: { token?: string } = {},
): void {
  // Counted from the handler on: a request refused by the auth hook never ran an export.
  const exporting = new WeakSet<FastifyRequest>();
  app.addHook("preHandler", async (req: FastifyRequest) => {
    if (req.routeOptions.url === EXPORT_ROUTE) {
      exporting.add(req);
      metrics.exportsRunning++;
    }
  });
  app.addHook("preSerialization", async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const kind = BATCH_ROUTES[routeKey(req)];
    if (kind && reply.statusCode < 300) metrics.countApiBatch(kind, payload);
    return payload;
  });
  app.addHook("onResponse", async (req: FastifyRequest, reply: FastifyReply) => {
    const route = req.routeOptions.url ?? "unmatched";
    if (exporting.delete(req)) metrics.exportsRunning--;
    const status = reply.statusCode;
    if (routeKey(req) === "POST /v1/contacts") {
      if (status === 200 || status === 201)
        metrics.ingestItems.inc({ kind: "contacts", source: "api", outcome: "accepted" });
      else if (status === 400)
        metrics.ingestItems.inc({ kind: "contacts", source: "api", outcome: "rejected" });
    }
    metrics.httpDuration.observe(
      { method: req.method, route, status_class: `${Math.floor(status / 100)}xx` },
      reply.elapsedTime / 1000,
    );
  });

  app.get("/metrics", async (req, reply) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    const secret = m?.[1];
    let allowed = false;
    if (secret !== undefined) {
      if (opts.token !== undefined && same(secret, opts.token)) allowed = true;
      else allowed = (await slice.authenticate(secret))?.key.admin === true;
    }
    if (!allowed) {
      return reply.status(401).send({
        error: {
          code: "unauthorized",
          message: "send Authorization: Bearer <admin API key or SLICE_METRICS_TOKEN>",
        },
      });
    }
    reply.header("content-type", metrics.registry.contentType);
    return metrics.text();
  });
}
