/**
 * Which node of a cluster serves which workspace (docs/cluster.md, "A cluster"): one lease
 * per workspace in a JetStream KV bucket, replicated on the NATS cluster.
 *
 * - A lease is `{node, url, epoch, expires_at}` under `ws.<workspace>`. It is taken and
 *   renewed by compare-and-set on the entry's revision, so two nodes never both succeed.
 *   Debian's nats-server (2.9) has no per-key TTL: the expiry is a time in the value, and
 *   a lease whose time has passed may be taken by the next epoch.
 * - Its holder stops serving the workspace a fifth of a lease before that time unless a
 *   renewal went through, so a node cut off from NATS has stopped before anyone may take
 *   over (clocks are assumed to agree within that margin). It resumes if a later renewal
 *   goes through on the same revision: nobody took the lease meanwhile, so nobody else
 *   served the workspace. Only a lease seen taken by another node is lost for good.
 * - Every node announces itself under `node.<id>` with the same expiry. A free or expired
 *   lease is taken by the live node that rendezvous hashing prefers for that workspace, so
 *   a dead node's workspaces spread over the others instead of going to the first to look;
 *   one expired for a whole lease length more goes to whichever node asks first.
 * - A holder hands a workspace to the node rendezvous now prefers for it once that node
 *   has been live for a lease (a node that joined): it stops taking the workspace's
 *   requests, finishes the writes it took, and hands the lease back for that node to
 *   take. One workspace at a time per node, so a joining node fills up gradually.
 */
import { jetstream } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { PlacementHooks, WorkspacePlacement } from "../service/slice-options.ts";
import { IdTable } from "../store/id-table.ts";

export interface Lease {
  node: string;
  /** Where the holder serves HTTP: other nodes forward the workspace's requests there. */
  url: string;
  /** One more at every change of holder: stamps what a holder did, so a deposed one is recognisable. */
  epoch: number;
  /** Wall-clock milliseconds. */
  expires_at: number;
  /**
   * Set when the holder handed the workspace over: the service-clock instant its engine
   * had reached, from which the next holder goes on.
   */
  advanced_to?: number;
}

interface NodeRecord {
  url: string;
  expires_at: number;
}

interface Held {
  lease: Lease;
  revision: number;
  /** Until when this node may serve the workspace on this lease. */
  servesUntil: number;
  paused?: boolean;
  /** Being handed to another node: not served here any more, the lease still kept. */
  leaving?: boolean;
  /** The service refused to let it go (work running): not asked again before this time. */
  keepUntil?: number;
  /** Handed over by the service, its engine advanced to this instant: the next round hands the lease back. */
  releasedAt?: number;
}

export interface PlacementSettings {
  /** `nats://host:port` of one or more servers of the NATS cluster. */
  servers: string[];
  /** This node's name in the cluster (unique among live nodes). */
  nodeId: string;
  /** Lease length (default 10 s): a dead node's workspaces are taken over after at most this. */
  leaseMs?: number;
  /** Copies of the lease bucket in the NATS cluster (default 3; 1 for a single server). */
  replicas?: number;
  /** KV bucket (default `slice_cluster`). */
  bucket?: string;
  /** Where leases taken and handed back are told (failures go to the hooks' `log`). */
  info?: (line: string) => void;
}

const DEFAULT_LEASE_MS = 10_000;
/** How long a node's start waits for JetStream to answer (new leaders take 4 to 9 s). */
const START_PATIENCE_MS = 60_000;

/**
 * How long before its expiry a holder stops serving. NATS elects a new leader of the
 * lease bucket 4 to 9 s after losing one; renewals fail meanwhile and the holder pauses
 * (503) instead of serving on a lease it cannot prove.
 */
const SAFETY = 1 / 5;

/** A stable, well-spread score for rendezvous hashing: the id table's hash of the pair. */
function score(node: string, ws: string): number {
  const bytes = new TextEncoder().encode(`${node}\u0000${ws}`);
  return IdTable.hash(bytes, 0, bytes.length);
}

/** The node of `nodes` that rendezvous hashing prefers for `ws`. */
export function preferredNode(nodes: readonly string[], ws: string): string {
  let best = nodes[0];
  if (best === undefined) throw new Error("no nodes");
  for (const id of nodes) if (score(id, ws) > score(best, ws)) best = id;
  return best;
}

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function decode<T>(e: KvEntry | null): T | null {
  if (e?.operation !== "PUT" || e.length === 0) return null;
  try {
    return JSON.parse(e.string()) as T;
  } catch {
    return null;
  }
}

export class Placement implements WorkspacePlacement {
  private readonly leaseMs: number;
  /** Every lease and node record, as the bucket's watch last told them. */
  private readonly leases = new Map<string, Lease>();
  private readonly nodes = new Map<string, NodeRecord>();
  /** The leases this node holds: the entry's revision and until when it may serve. */
  private readonly held = new Map<string, Held>();
  /** Since when each node has been seen live without a gap (nodes that joined wait a lease). */
  private readonly liveSince = new Map<string, number>();
  private hooks: PlacementHooks | null = null;
  /**
   * Leases this node wrote by `create` or `update` without an answer in time: the write
   * may have landed all the same. Kept until a round reads the entry and finds it ours
   * (taken then) or not (forgotten).
   */
  private readonly unanswered = new Map<string, { lease: Lease; advancedTo: number | undefined }>();
  /** Workspaces taken and still being fenced and opened (`hooks.acquired`). */
  private readonly opened = new Map<string, Promise<void>>();
  /** Where this node serves HTTP, as other nodes reach it (set once it listens). */
  url = "";
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private stopped = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    readonly settings: PlacementSettings,
  ) {
    this.leaseMs = settings.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** Connects to NATS (retrying while the servers come up) and opens the lease bucket. */
  static async connect(settings: PlacementSettings): Promise<Placement> {
    const nc = await connect({
      servers: settings.servers,
      name: `slice ${settings.nodeId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
    });
    try {
      // A renewal that waits longer than a quarter of a lease is late anyway: fail it
      // and try again next round, rather than hold the rounds behind it.
      const js = jetstream(nc, { timeout: Math.max(500, (settings.leaseMs ?? DEFAULT_LEASE_MS) / 4) });
      const kvm = new Kvm(js);
      // A NATS cluster that has just started elects its JetStream leader first: retry a while.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const kv = await kvm.create(settings.bucket ?? "slice_cluster", {
            replicas: settings.replicas ?? 3,
            history: 1,
          });
          return new Placement(nc, kv, settings);
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw new Error(
        `cluster: cannot open the lease bucket on ${settings.servers.join(",")}: ${(e as Error).message}`,
      );
    }
  }

  get nodeId(): string {
    return this.settings.nodeId;
  }

  /** Watches the bucket, announces this node, and from one lease round on takes its share. */
  async start(hooks: PlacementHooks): Promise<void> {
    this.hooks = hooks;
    const watch = await this.untilAnswered("watching the leases", () => this.kv.watch({ key: ">" }));
    void (async () => {
      for await (const e of watch) {
        const [kind, ...rest] = e.key.split(".");
        const id = rest.join(".");
        if (kind === "ws") {
          const l = decode<Lease>(e);
          if (l) this.leases.set(id, l);
          else this.leases.delete(id);
        } else if (kind === "node") {
          const n = decode<NodeRecord>(e);
          if (n) this.nodes.set(id, n);
          else this.nodes.delete(id);
        }
      }
    })().catch((e: unknown) => hooks.log(`cluster: watching leases stopped: ${(e as Error).message}`));
    await this.untilAnswered("announcing this node", () => this.announce());
    // Peers starting at the same time announce themselves within a round: waiting one
    // spreads the first claims over them instead of the first node taking everything.
    await new Promise((r) => setTimeout(r, this.roundMs()));
    await this.runRound();
    this.timer = setInterval(() => void this.runRound(), this.roundMs());
  }

  /**
   * Runs a JetStream request until it is answered. A node (re)started while its NATS
   * cluster elects new leaders after losing a server gets timeouts for a few seconds;
   * failing the start for that would have its supervisor restart it into the same wait.
   * Gives up after START_PATIENCE_MS, or at once if the node is stopped.
   */
  private async untilAnswered<T>(what: string, request: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + START_PATIENCE_MS;
    for (;;) {
      try {
        return await request();
      } catch (e) {
        if (this.stopped || Date.now() > deadline) throw e;
        this.hooks?.log(`cluster: ${what} failed (${(e as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, this.roundMs()));
      }
    }
  }

  private roundMs(): number {
    return Math.max(100, Math.floor(this.leaseMs / 10));
  }

  /** Whether this node serves `ws` now. */
  owns(ws: string): boolean {
    const h = this.held.get(ws);
    return h !== undefined && !h.leaving && Date.now() < h.servesUntil;
  }

  /** The workspaces this node holds. */
  heldWorkspaces(): string[] {
    return [...this.held.keys()];
  }

  /** The lease of `ws` as last seen, if unexpired. */
  leaseOf(ws: string): Lease | null {
    const l = this.leases.get(ws);
    return l && l.expires_at > Date.now() ? l : null;
  }

  /**
   * Tries to take a workspace now (one just created here), whoever rendezvous would
   * prefer; once taken, resolves when it is fenced and open here.
   */
  async claim(ws: string): Promise<boolean> {
    if (!(await this.acquire(ws))) return false;
    await this.opened.get(ws);
    return this.held.has(ws);
  }

  private async announce(): Promise<void> {
    const url = this.url;
    await this.kv.put(`node.${this.nodeId}`, encode({ url, expires_at: Date.now() + this.leaseMs }));
  }

  private runRound(): Promise<void> {
    // One round at a time: a slow NATS must not stack them up.
    this.round ??= this.roundOnce()
      .catch((e: unknown) => this.hooks?.log(`cluster: lease round failed: ${(e as Error).message}`))
      .finally(() => {
        this.round = null;
      });
    return this.round;
  }

  private async roundOnce(): Promise<void> {
    if (this.stopped || !this.hooks) return;
    await this.renewAll();
    await this.announce();
    const now = Date.now();
    const live = [this.nodeId];
    for (const [id, n] of this.nodes) if (id !== this.nodeId && n.expires_at > now) live.push(id);
    for (const id of this.liveSince.keys()) if (!live.includes(id)) this.liveSince.delete(id);
    for (const id of live) if (!this.liveSince.has(id)) this.liveSince.set(id, now);
    for (const ws of await this.hooks.workspaces()) {
      if (this.stopped) return;
      if (this.unanswered.has(ws)) await this.settleUnanswered(ws);
      if (this.held.has(ws) || this.leaseOf(ws)) continue;
      // Expired as last seen: read it again, in case the watch missed a renewal.
      const fresh = decode<Lease>(await this.kv.get(`ws.${ws}`));
      if (fresh) this.leases.set(ws, fresh);
      if (this.leaseOf(ws)) continue;
      const best = preferredNode(live, ws);
      // The preferred node may look alive and yet not take it (stuck, cut off from the
      // bucket's leader): a lease expired for a whole lease length is anyone's.
      const lapsed = (fresh?.expires_at ?? 0) + this.leaseMs < now;
      if (best === this.nodeId || lapsed) await this.acquire(ws);
    }
    this.rebalance(live, now);
  }

  /**
   * Starts handing over one workspace that rendezvous now prefers on another node, if
   * none is being handed over already. Only nodes live for a whole lease count (one
   * that is starting or flapping is not given work), and only ones that serve HTTP.
   */
  private rebalance(live: string[], now: number): void {
    const release = this.hooks?.release;
    if (!release || this.stopped) return;
    for (const h of this.held.values()) if (h.leaving) return;
    const settled = live.filter(
      (id) =>
        id === this.nodeId ||
        (Boolean(this.nodes.get(id)?.url) && now - (this.liveSince.get(id) ?? now) >= this.leaseMs),
    );
    for (const [ws, h] of this.held) {
      if (this.opened.has(ws) || h.paused || !this.owns(ws) || (h.keepUntil ?? 0) > now) continue;
      const best = preferredNode(settled, ws);
      if (best === this.nodeId) continue;
      h.leaving = true;
      this.settings.info?.(`cluster: node ${this.nodeId} hands workspace ${ws} to ${best}`);
      release(ws).then(
        (at) => {
          h.releasedAt = at;
        },
        (e: unknown) => {
          // Kept and served here: the workspace could not be handed over now; asked
          // again a lease later.
          h.leaving = false;
          h.keepUntil = Date.now() + this.leaseMs;
          this.hooks?.log(`cluster: workspace ${ws} stays here: ${(e as Error).message}`);
        },
      );
      return;
    }
  }

  /**
   * Hands `ws`'s lease back, expired at once. Handed over, it expires now: the node
   * rendezvous prefers takes it, and only a lease later anyone. When this node stops, it
   * is anyone's at once (expiry 0).
   */
  private async handBack(ws: string, h: Held, anyone = false, advancedTo = h.releasedAt): Promise<void> {
    this.held.delete(ws);
    const lease: Lease = {
      ...h.lease,
      expires_at: anyone ? 0 : Date.now(),
      ...(advancedTo !== undefined ? { advanced_to: advancedTo } : {}),
    };
    await this.kv.update(`ws.${ws}`, encode(lease), h.revision).catch(() => undefined);
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([ws, h]) => {
        if (h.releasedAt !== undefined) return this.handBack(ws, h);
        const began = Date.now();
        const lease: Lease = { ...h.lease, expires_at: began + this.leaseMs };
        try {
          const revision = await this.kv.update(`ws.${ws}`, encode(lease), h.revision);
          // Updated in place: a hand-over in progress keeps its marks.
          Object.assign(h, {
            lease,
            revision,
            servesUntil: began + this.leaseMs * (1 - SAFETY),
            paused: false,
          });
        } catch (e) {
          // Reads may be answered by a replica that lags (direct get): only a newer
          // revision than ours can show the lease taken.
          const entry = await this.kv.get(`ws.${ws}`).catch(() => null);
          const current = entry && entry.revision > h.revision ? decode<Lease>(entry) : null;
          if (current && (current.node !== this.nodeId || current.epoch !== h.lease.epoch)) {
            this.drop(ws, `taken by ${current.node} (epoch ${current.epoch})`);
          } else if (current && entry) {
            // Our own renewal, landed after its request timed out: go on from its revision,
            // or every later renewal would be refused as out of date. It was written with
            // `expires_at` a lease after its start, so it is served as if answered in time.
            Object.assign(h, {
              lease: current,
              revision: entry.revision,
              servesUntil: current.expires_at - this.leaseMs * SAFETY,
              paused: false,
            });
          } else if (Date.now() >= h.servesUntil && !h.paused) {
            h.paused = true;
            this.hooks?.log(
              `cluster: workspace ${ws} paused: its lease cannot be renewed (${(e as Error).message})`,
            );
          }
        }
      }),
    );
  }

  private drop(ws: string, why: string): void {
    if (!this.held.delete(ws)) return;
    this.hooks?.lost(ws, why);
  }

  private async acquire(ws: string): Promise<boolean> {
    if (this.held.has(ws)) return true;
    const key = `ws.${ws}`;
    const began = Date.now();
    const entry = await this.kv.get(key);
    const old = decode<Lease>(entry);
    if (old && old.expires_at > began && old.node !== this.nodeId) return false;
    const floor = (await this.hooks?.epochFloor(ws)) ?? 0;
    const lease: Lease = {
      node: this.nodeId,
      url: this.url,
      epoch: Math.max(old?.epoch ?? 0, floor) + 1,
      expires_at: began + this.leaseMs,
    };
    let revision: number;
    try {
      revision =
        entry && entry.operation === "PUT"
          ? await this.kv.update(key, encode(lease), entry.revision)
          : await this.kv.create(key, encode(lease));
    } catch {
      // Another node got there first, or the write timed out and may still have landed:
      // the next round reads which.
      this.unanswered.set(ws, { lease, advancedTo: old?.advanced_to });
      return false;
    }
    this.take(ws, lease, revision, old?.advanced_to);
    return true;
  }

  /**
   * A lease written without an answer in time that landed (the entry holds exactly it: this
   * node, its epoch and expiry) is this node's, from that entry's revision; left alone, it
   * would be nobody's until it expired, a whole lease of 503s for its workspace.
   */
  private async settleUnanswered(ws: string): Promise<void> {
    const attempt = this.unanswered.get(ws);
    if (!attempt || this.held.has(ws)) return void this.unanswered.delete(ws);
    const entry = await this.kv.get(`ws.${ws}`).catch(() => undefined);
    if (entry === undefined) return; // no answer again: asked next round
    this.unanswered.delete(ws);
    const current = decode<Lease>(entry);
    const { lease } = attempt;
    if (
      entry === null ||
      current?.node !== lease.node ||
      current.epoch !== lease.epoch ||
      current.expires_at !== lease.expires_at ||
      lease.expires_at - this.leaseMs * SAFETY <= Date.now()
    )
      return;
    this.settings.info?.(`cluster: node ${this.nodeId} finds its unanswered lease of ${ws} written`);
    this.take(ws, lease, entry.revision, attempt.advancedTo);
  }

  /** Holds a lease this node wrote, and opens its workspace. */
  private take(ws: string, lease: Lease, revision: number, advancedTo: number | undefined): void {
    this.unanswered.delete(ws);
    this.held.set(ws, { lease, revision, servesUntil: lease.expires_at - this.leaseMs * SAFETY });
    this.leases.set(ws, lease);
    this.settings.info?.(`cluster: node ${this.nodeId} took workspace ${ws} (epoch ${lease.epoch})`);
    // Not awaited here: a long load must not hold the renewals of the other leases.
    // Handed over, not lapsed after a crash: the load goes on from the instant it was left at.
    const opened = (this.hooks?.acquired(ws, lease.epoch, advancedTo) ?? Promise.resolve())
      .catch((e: unknown) => {
        // Not servable here: let the lease lapse for another node.
        this.held.delete(ws);
        this.hooks?.log(`cluster: opening workspace ${ws} failed: ${(e as Error).message}`);
      })
      .finally(() => this.opened.delete(ws));
    this.opened.set(ws, opened);
  }

  /** Hands every lease back (expired at once, for the next node to take) and leaves NATS. */
  async stop(advancedTo?: ReadonlyMap<string, number>): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
    await Promise.all([...this.held].map(([ws, h]) => this.handBack(ws, h, true, advancedTo?.get(ws))));
    await this.kv.delete(`node.${this.nodeId}`).catch(() => undefined);
    await this.nc.drain().catch(() => undefined);
  }
}
