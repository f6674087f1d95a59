/** What the service is started with, and what it tells the metrics and start-up progress. */
import type { Clock } from "../engine/types.ts";
import type { ApiKey, Store, Workspace } from "../store/types.ts";
import type { StreamLimits } from "./change-stream.ts";
import type { HttpCallerOptions } from "./destinations/http-call.ts";
import type { Connector, DestinationKind } from "./destinations/types.ts";
import type { LoadPhase, ReloadReason } from "./live-workspace.ts";
import type { Provider } from "./receivers/types.ts";
import type { AnyAdapter } from "./receiving.ts";
import type { DeliveryOutcome } from "./source-stats.ts";

export interface SliceOptions {
  store: Store;
  clock?: Clock;
  /** SPEC §5 `SLICE_API_KEY`: an admin key of the default workspace. */
  apiKey?: string;
  /** Where the service's messages go: its workers' failures, and the first start's admin key without `announceAdminKey`. */
  log?: (line: string) => void;
  /**
   * `SLICE_WEBHOOK_ALLOW_PRIVATE=1`: webhooks, http destinations and scheduled exports
   * may reach loopback, private and link-local addresses (local development and tests).
   * Default false: they are refused.
   */
  allowPrivateAddresses?: boolean;
  /** How often time-driven changes are logged and streamed (default 500 ms; SPEC §3.3a: within 2 s). */
  tickMs?: number;
  /** Webhook worker settings (tests make it fast). */
  webhookPollMs?: number;
  webhookTimeoutMs?: number;
  /** How an SNS subscription is confirmed (default: GET its SubscribeURL). */
  confirmSubscription?: (url: string) => Promise<void>;
  /** Receiver adapters replacing the default ones (tests: SNS certificates from a local host). */
  receiverAdapters?: Partial<Record<Provider, AnyAdapter>>;
  /** Where the first start's admin key goes (default: `log`): it is shown once and must reach the operator. */
  announceAdminKey?: (line: string) => void;
  /** What metrics and readiness watch (src/observability). */
  observer?: SliceObserver;
  /** `SLICE_SECRET_KEY`: seals destination and export credentials (src/service/secret-box.ts). */
  secretKey?: string;
  /** Connectors replacing the default ones, by kind (tests). */
  destinationConnectors?: Partial<Record<DestinationKind, Connector>>;
  /** Destination HTTP calls: retry policy and transport (tests make retries quick). */
  destinationHttp?: HttpCallerOptions;
  /** How often due destination retries are looked for (default 1 s). */
  destinationPollMs?: number;
  /** Scheduled exports may use http:// targets and S3 endpoints (local development and tests). */
  allowInsecureExportTargets?: boolean;
  /** How often due export schedules are looked for (default 10 s). */
  schedulePollMs?: number;
  /** Bounds of `GET /v1/stream` clients (src/service/change-stream.ts; tests lower them). */
  stream?: Partial<StreamLimits>;
  /**
   * Snapshot files (docs/operations.md, "Snapshots"): each workspace's engine is written
   * to `dir` at stop and every `intervalMs` (default 10 minutes) when it changed, and a
   * start reads the file and then only what the store got after it. Off when absent.
   */
  snapshots?: { dir: string; intervalMs?: number };
  /**
   * Engine worker threads each workspace's contacts are split over (docs/cluster.md,
   * "Every core"); 1 or unset: the main thread. A workspace with a rank segment, which
   * the workers do not maintain yet, runs on the main thread.
   */
  workers?: number;
  /** Partitions of each workspace's contacts on the workers (default 64). */
  partitions?: number;
  /**
   * One node of a cluster (docs/cluster.md): this process serves only the workspaces whose
   * lease it holds. Absent: it serves every workspace, as the single process it is alone.
   */
  placement?: WorkspacePlacement;
  /** This node lost a workspace's lease (default: logged, the workspace closed here). */
  onPlacementLost?: (ws: string, why: string) => void;
}

/** What the service needs of a cluster's placement (src/cluster/placement.ts). */
export interface WorkspacePlacement {
  start(hooks: PlacementHooks): Promise<void>;
  /** Whether this node serves `ws` now. */
  owns(ws: string): boolean;
  /** Takes `ws` now if nobody holds it (a workspace just created here). */
  claim(ws: string): Promise<boolean>;
  /**
   * Hands the leases back and leaves the cluster; `advancedTo` tells each workspace's
   * instant, as `PlacementHooks.release` does.
   */
  stop(advancedTo?: ReadonlyMap<string, number>): Promise<void>;
}

export interface PlacementHooks {
  /** Every workspace there is. */
  workspaces(): Promise<string[]>;
  /**
   * The lowest epoch a new lease of `ws` may have: above the one the database records,
   * so that a lease bucket started afresh cannot hand out epochs the fencing refuses.
   */
  epochFloor(ws: string): Promise<number>;
  /**
   * This node took `ws`'s lease as `epoch`: fence the database to it, then open it.
   * `advancedTo` is the service-clock instant the previous holder's engine reached when
   * it handed the workspace over (absent after a crash): the load goes on from there, so
   * time-driven changes since keep their own instants.
   */
  acquired(ws: string, epoch: number, advancedTo?: number): Promise<void>;
  /** This node no longer holds `ws`'s lease, or cannot tell: it must stop serving it. */
  lost(ws: string, why: string): void;
  /**
   * Hand `ws` to another node: finish the writes already taken, then stop serving it.
   * Rejects to keep serving it here (work that must not be cut short is running).
   */
  release?(ws: string): Promise<number>;
  log(line: string): void;
}

/** Events of the running service that metrics and start-up progress follow. */
export interface SliceObserver {
  /** Rows loaded so far into workspace `ws`'s engine in `phase`, as its load goes. */
  loadProgress?(ws: string, phase: LoadPhase, rows: number): void;
  /** Workspace `ws` is open (its engine rebuilt), after `ms`. */
  workspaceOpened?(ws: string, ms: number): void;
  /** Membership changes appended to the change log. */
  membershipLogged?(ws: string, entered: number, exited: number): void;
  /** Workspace `ws`'s engine is being rebuilt from the store (it failed to apply a committed write). */
  engineReloaded?(ws: string, reason: ReloadReason): void;
  /** One destination call ended: rows sent, and how many of them failed. */
  destinationCall?(kind: string, op: "add" | "remove", rows: number, failed: number): void;
  /**
   * A workspace's snapshot file was written: its size, how long the workspace's writes
   * waited for it (its arrays written), and how long it took in all (synced, renamed).
   */
  snapshotWritten?(ws: string, bytes: number, heldMs: number, totalMs: number): void;
  /** A cluster node stopped serving `ws`: another node took its lease. */
  workspaceLost?(ws: string): void;
  /** A cluster node handed `ws` over to a node that joined (rendezvous prefers it there). */
  workspaceHandedOver?(ws: string): void;
  /** One webhook delivery attempt ended. */
  delivery?(outcome: "delivered" | "retry" | "failed"): void;
  /** One request of a Segment-compatible source or a receiver was counted (source-stats.ts). */
  sourceRecorded?(
    kind: "segment" | "receiver",
    r: { outcome: DeliveryOutcome; accepted?: number; rejected?: number },
  ): void;
}

export interface Caller {
  workspace: Workspace;
  key: ApiKey;
}
