/**
 * Starting the service as SPEC §5 says: settings from the environment (flags of
 * `slice serve` override them), the store opened (migrations applied), the HTTP server
 * listening at once — `/healthz` alive, `/readyz` and the API answering 503 with the
 * progress — while every workspace is rebuilt, then ready.
 */

import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type ClusterConfig, type Config, loadConfig } from "../config.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { Readiness } from "../observability/readiness.ts";
import type { LoadPhase } from "../service/live-workspace.ts";
import { Slice, type SliceObserver, type SliceOptions } from "../service/slice.ts";
import { DEFAULT_SQLITE_PATH, openStore } from "../store/index.ts";
import type { OpenStoreOptions, Store } from "../store/types.ts";
import { Metrics } from "./metrics.ts";
import { buildServer, type ServerOptions } from "./server.ts";

export interface StartOptions extends ServerOptions {
  port?: number;
  host?: string;
  /** SQLite file (`SLICE_DB`). */
  sqlitePath?: string;
  /** `DATABASE_URL`: PostgreSQL when non-empty. */
  databaseUrl?: string;
  /**
   * `SLICE_SNAPSHOT_DIR`: where snapshot files go; null: none. Default: `snapshots/`
   * beside a SQLite file, none with PostgreSQL or an in-memory database.
   */
  snapshotDir?: string | null;
  /** `SLICE_WORKERS`: engine worker threads per workspace (default 1: the main thread). */
  workers?: number;
  /** Partitions a workspace's contacts are split into on the workers (default 64; tests use fewer). */
  partitions?: number;
  /** `SLICE_SNAPSHOT_INTERVAL` in ms. */
  snapshotIntervalMs?: number;
  /** `SLICE_CLUSTER`…: one node of a cluster over `databaseUrl` (docs/cluster.md). */
  cluster?: ClusterConfig;
  /** A cluster node lost a workspace's lease and stopped serving it (besides the log line and metric). */
  onPlacementLost?: (ws: string, why: string) => void;
  apiKey?: string;
  /** `SLICE_WEBHOOK_ALLOW_PRIVATE=1`: see `SliceOptions.allowPrivateAddresses` (default false: refused). */
  allowPrivateAddresses?: boolean;
  /**
   * The logger of start-up messages and requests (pino). Without it, start-up messages
   * go to `log` as plain lines and requests are not logged; without either, a JSON
   * logger on stdout at `info`.
   */
  logger?: Logger;
  log?: (line: string) => void;
  /**
   * Resolve `startServer` once every workspace is loaded (default), or as soon as the
   * server listens, `RunningServer.ready` telling when loading ends (`slice serve`).
   */
  waitForReady?: boolean;
  /** How often start-up progress is logged while loading (default 2 s). */
  progressEveryMs?: number;
  tickMs?: number;
  webhookPollMs?: number;
  webhookTimeoutMs?: number;
  clock?: SliceOptions["clock"];
  confirmSubscription?: SliceOptions["confirmSubscription"];
  receiverAdapters?: SliceOptions["receiverAdapters"];
  /** `SLICE_SECRET_KEY`: encrypts destination and export credentials. */
  secretKey?: string;
  destinationConnectors?: SliceOptions["destinationConnectors"];
  destinationHttp?: SliceOptions["destinationHttp"];
  destinationPollMs?: number;
  allowInsecureExportTargets?: boolean;
  schedulePollMs?: number;
  /** Runs once every workspace is loaded and before the server is ready (the demo data loader). */
  beforeReady?: (slice: Slice) => Promise<void>;
  /** The former name of `beforeReady`. */
  beforeListen?: (slice: Slice) => Promise<void>;
}

export interface RunningServer {
  url: string;
  port: number;
  slice: Slice;
  /** Resolves once every workspace is loaded; rejects with the error that stopped loading. */
  ready: Promise<void>;
  readiness: Readiness;
  metrics: Metrics;
  close(): Promise<void>;
}

/** Start options from validated settings (src/config.ts). */
export function startOptionsFromConfig(c: Config): StartOptions {
  return {
    port: c.port,
    host: c.host,
    ...(c.sqlitePath !== undefined ? { sqlitePath: c.sqlitePath } : {}),
    ...(c.databaseUrl !== undefined ? { databaseUrl: c.databaseUrl } : {}),
    ...(c.snapshotDir !== undefined ? { snapshotDir: c.snapshotDir } : {}),
    ...(c.snapshotIntervalMs !== undefined ? { snapshotIntervalMs: c.snapshotIntervalMs } : {}),
    ...(c.workers !== undefined ? { workers: c.workers } : {}),
    ...(c.cluster !== undefined ? { cluster: c.cluster } : {}),
    ...(c.apiKey !== undefined ? { apiKey: c.apiKey } : {}),
    allowPrivateAddresses: c.allowPrivateAddresses,
    rateLimit: { max: c.rateLimit, windowMs: 60_000 },
    ...(c.metricsToken !== undefined ? { metricsToken: c.metricsToken } : {}),
    ...(c.publicUrl !== undefined ? { publicUrl: c.publicUrl } : {}),
    ...(c.secretKey !== undefined ? { secretKey: c.secretKey } : {}),
    checkResponses: c.checkResponses,
  };
}

/** Settings from the environment (SPEC §5); throws ConfigError listing every bad value. */
export function startOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StartOptions {
  return startOptionsFromConfig(loadConfig(env));
}

const fmt = (n: number) => n.toLocaleString("en");

/** How long a stop waits for requests in flight before closing their connections. */
export const SHUTDOWN_GRACE_MS = 5_000;

/** Counts the rows each workspace will load, for `/readyz`'s `total` (not awaited by the load). */
async function countTotals(store: Store, readiness: Readiness, workspaces: string[]): Promise<void> {
  for (const ws of workspaces) {
    const repos = store.workspace(ws);
    readiness.setTotals(ws, { contacts: await repos.contacts.count() });
    readiness.setTotals(ws, { events: await repos.events.count() });
  }
}

/** `snapshotDir` as given, else `snapshots/` beside a SQLite file (none in memory or with PostgreSQL). */
function snapshotDirOf(opts: StartOptions): string | null {
  if (opts.snapshotDir !== undefined) return opts.snapshotDir;
  if (opts.databaseUrl) return null;
  const file = opts.sqlitePath || DEFAULT_SQLITE_PATH;
  return file === ":memory:" ? null : join(dirname(resolve(file)), "snapshots");
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? (opts.log ? null : createLogger());
  const info = (msg: string, fields: Record<string, unknown> = {}) => {
    if (logger) logger.info(fields, msg);
    else opts.log!(msg);
  };
  const storeOpts: OpenStoreOptions = {
    ...(opts.sqlitePath ? { sqlitePath: opts.sqlitePath } : {}),
    ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
  };
  const cluster = opts.cluster;
  if (cluster) {
    if (cluster.servers.length === 0) {
      throw new Error(
        "SLICE_NODE_ID, SLICE_ADVERTISE_URL, SLICE_LEASE and SLICE_CLUSTER_REPLICAS apply to a cluster node: set SLICE_CLUSTER or --cluster",
      );
    }
    if (!opts.databaseUrl) {
      throw new Error("SLICE_CLUSTER: a cluster's nodes share one PostgreSQL database: set DATABASE_URL");
    }
    const host = opts.host ?? "127.0.0.1";
    if (!cluster.advertiseUrl && (host === "0.0.0.0" || host === "::")) {
      throw new Error(
        `SLICE_ADVERTISE_URL: required when HOST is ${host}: the URL other nodes reach this one at`,
      );
    }
  }
  const store = await openStore(storeOpts);
  let placement: import("../cluster/placement.ts").Placement | undefined;
  if (cluster) {
    try {
      const { Placement } = await import("../cluster/placement.ts");
      placement = await Placement.connect({
        servers: cluster.servers,
        nodeId: cluster.nodeId ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, "-")}-${process.pid}`,
        ...(cluster.leaseMs !== undefined ? { leaseMs: cluster.leaseMs } : {}),
        ...(cluster.replicas !== undefined ? { replicas: cluster.replicas } : {}),
        info: (line) => info(line),
      });
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
  }
  const snapshotDir = snapshotDirOf(opts);
  const readiness = new Readiness();
  const metrics = opts.metrics ?? new Metrics();
  let loading = true;
  // A line per phase that ends, besides the periodic ones: a phase can hold the thread
  // for a while (computing every segment's membership), with no periodic line meanwhile.
  let current: { ws: string; phase: LoadPhase; rows: number; since: number } | null = null;
  const endPhase = () => {
    if (!current) return;
    const { ws, phase, rows, since } = current;
    const s = ((performance.now() - since) / 1000).toFixed(1);
    info(`Slice: ${ws} ${phase}: ${fmt(rows)} in ${s} s`, { workspace: ws, phase, rows });
    current = null;
  };
  const observer: SliceObserver = {
    ...metrics.observer,
    loadProgress: (ws, phase, rows) => {
      metrics.observer.loadProgress?.(ws, phase, rows);
      if (!loading) return;
      readiness.progress(ws, phase, rows);
      if (current?.ws !== ws || current.phase !== phase) {
        endPhase();
        current = { ws, phase, rows, since: performance.now() };
      }
      current.rows = rows;
    },
    workspaceOpened: (ws, ms) => {
      metrics.observer.workspaceOpened?.(ws, ms);
      if (!loading) return;
      endPhase();
      readiness.workspaceLoaded();
      info(`Slice: workspace ${ws} loaded in ${(ms / 1000).toFixed(1)} s`, {
        workspace: ws,
        ms: Math.round(ms),
      });
    },
    snapshotWritten: (ws, bytes, heldMs, totalMs) => {
      metrics.observer.snapshotWritten?.(ws, bytes, heldMs, totalMs);
      info(
        `Slice: snapshot of workspace ${ws} written (${(bytes / 2 ** 20).toFixed(1)} MB in ${Math.round(totalMs)} ms; ` +
          `writes waited ${Math.round(heldMs)} ms)`,
        { workspace: ws, bytes, held_ms: Math.round(heldMs), ms: Math.round(totalMs) },
      );
    },
  };
  let slice: Slice;
  try {
    slice = await Slice.open({
      store,
      // What the service logs besides the admin key are failures of its workers.
      log: (line) => (logger ? logger.error(line) : opts.log!(line)),
      // Shown once ever: it must reach the operator whatever the log level.
      announceAdminKey: (line) => {
        if (!logger || logger.isLevelEnabled("info")) info(line);
        else process.stdout.write(`${line}\n`);
      },
      observer,
      ...(snapshotDir !== null
        ? {
            snapshots: {
              dir: snapshotDir,
              ...(opts.snapshotIntervalMs !== undefined ? { intervalMs: opts.snapshotIntervalMs } : {}),
            },
          }
        : {}),
      ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      ...(opts.partitions !== undefined ? { partitions: opts.partitions } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      allowPrivateAddresses: opts.allowPrivateAddresses ?? false,
      ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
      ...(opts.webhookPollMs !== undefined ? { webhookPollMs: opts.webhookPollMs } : {}),
      ...(opts.webhookTimeoutMs !== undefined ? { webhookTimeoutMs: opts.webhookTimeoutMs } : {}),
      ...(opts.confirmSubscription ? { confirmSubscription: opts.confirmSubscription } : {}),
      ...(opts.receiverAdapters ? { receiverAdapters: opts.receiverAdapters } : {}),
      ...(opts.secretKey !== undefined ? { secretKey: opts.secretKey } : {}),
      ...(opts.destinationConnectors ? { destinationConnectors: opts.destinationConnectors } : {}),
      ...(opts.destinationHttp ? { destinationHttp: opts.destinationHttp } : {}),
      ...(opts.destinationPollMs !== undefined ? { destinationPollMs: opts.destinationPollMs } : {}),
      ...(opts.allowInsecureExportTargets ? { allowInsecureExportTargets: true } : {}),
      ...(opts.schedulePollMs !== undefined ? { schedulePollMs: opts.schedulePollMs } : {}),
      ...(placement ? { placement } : {}),
      ...(opts.onPlacementLost ? { onPlacementLost: opts.onPlacementLost } : {}),
    });
  } catch (e) {
    await placement?.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
  metrics.attach(slice);
  const app = buildServer(slice, {
    ...opts,
    readiness,
    metrics,
    ...(logger ? { loggerInstance: logger } : {}),
    ...(placement
      ? {
          forwarding: {
            nodeId: placement.nodeId,
            // A lease of this node's that it does not serve (paused, being handed over) has
            // no other holder to forward to yet.
            ownerUrl: (ws: string) => {
              const lease = placement.leaseOf(ws);
              return lease && lease.node !== placement.nodeId ? lease.url || null : null;
            },
            counted: (outcome: "forwarded" | "unavailable" | "no_answer") =>
              metrics.forwarded.inc({ outcome }),
          },
        }
      : {}),
  });
  const host = opts.host ?? "127.0.0.1";
  try {
    await app.listen({ port: opts.port ?? 8080, host });
  } catch (e) {
    await slice.stop().catch(() => undefined);
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : (opts.port ?? 8080);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (placement) placement.url = cluster?.advertiseUrl ?? url;

  const workspaces = (await store.listWorkspaces()).map((w) => w.id);
  readiness.setWorkspaces(workspaces.length);
  info(`Slice: listening on ${url}; loading ${workspaces.length} workspace(s) (GET /readyz: progress)`, {
    url,
    workspaces: workspaces.length,
  });
  const progress = setInterval(() => {
    const p = readiness.snapshot();
    const rows = p.total ? `${fmt(p.done ?? 0)} / ${fmt(p.total)}` : fmt(p.done ?? 0);
    info(`Slice: loading ${p.workspace ?? ""} ${p.phase}: ${rows} (${(p.elapsed_ms / 1000).toFixed(0)} s)`, {
      progress: p,
    });
  }, opts.progressEveryMs ?? 2000);
  progress.unref();
  const ready = (async () => {
    try {
      void countTotals(store, readiness, workspaces).catch(() => undefined);
      await slice.load();
      const before = opts.beforeReady ?? opts.beforeListen;
      if (before) {
        readiness.step("demo");
        await before(slice);
      }
      loading = false;
      readiness.markReady();
      metrics.markReady();
      const took = readiness.snapshot().elapsed_ms;
      info(`Slice: ready after ${(took / 1000).toFixed(1)} s`, { ms: took });
    } catch (e) {
      loading = false;
      readiness.markFailed(e);
      if (logger) logger.error({ err: e }, `Slice: loading failed: ${(e as Error).message}`);
      throw e;
    } finally {
      clearInterval(progress);
    }
  })();
  // Whoever awaits `ready` sees the failure; nobody awaiting it is no crash.
  ready.catch(() => undefined);

  const close = async () => {
    clearInterval(progress);
    // Requests in flight get a grace period to finish; then their connections are closed,
    // so a client stalled in the middle of an upload cannot hold the shutdown (its import
    // then fails as cut off).
    const force = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    try {
      await app.close();
    } finally {
      clearTimeout(force);
    }
    // Stopping mid-load would close the store under the readers: the load ends first.
    await ready.catch(() => undefined);
    await slice.stop();
  };
  if (opts.waitForReady !== false) {
    try {
      await ready;
    } catch (e) {
      await close().catch(() => undefined);
      throw e;
    }
  }
  return { url, port, slice, ready, readiness, metrics, close };
}
