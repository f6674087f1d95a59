/**
 * Keeps every active destination in step with its segment (docs/destinations.md): a
 * pass runs as soon as changes are logged in its workspace (`wake`) and otherwise when
 * a retry is due. One pass per destination at a time; a pass that ran out of budget
 * is followed by another at once, so a large first sync does not starve the others.
 * A failed pass (the provider still refused after the call's own retries, or was
 * unreachable) is retried with backoff: 5 s doubling up to 15 min.
 */
import type { DestinationRecord } from "../../store/model/destination.ts";
import type { DestinationRepo } from "../../store/repos/index.ts";
import type { JsonObject, Store } from "../../store/types.ts";
import type { SecretBox } from "../secret-box.ts";
import { HttpCaller, type HttpCallerOptions } from "./http-call.ts";
import { type PassDeps, SyncPass } from "./sync-pass.ts";
import type { Connector, ConnectorContext, DestinationKind, SyncContact } from "./types.ts";

export const RETRY_BASE_MS = 5_000;
export const RETRY_CAP_MS = 15 * 60_000;
/** Per-contact outcomes are kept this long. */
export const OUTCOME_RETENTION_MS = 7 * 24 * 3_600_000;

export interface SyncerOptions {
  store: Store;
  clock: { now(): number };
  box: SecretBox | null;
  connectors: Partial<Record<DestinationKind, Connector>>;
  contacts(ws: string, ids: string[]): Promise<SyncContact[]>;
  flush(ws: string): Promise<void>;
  http?: HttpCallerOptions;
  /** How often due retries are looked for (default 1 s). */
  pollMs?: number;
  /** Passes in flight at once over all destinations (default 4). */
  concurrency?: number;
  log?: (msg: string) => void;
  onCall?: PassDeps["onCall"];
}

export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(Math.max(0, failures - 1), 20));
}

export class DestinationSyncer {
  private readonly http: HttpCaller;
  readonly store: Store;
  private readonly running = new Map<string, Promise<void>>();
  /** Destinations woken while their pass ran: they run again right after. */
  private readonly again = new Set<string>();
  private readonly workspaces = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private lastPurge = 0;

  constructor(private readonly opts: SyncerOptions) {
    this.http = new HttpCaller(opts.http ?? {});
    this.store = opts.store;
  }

  repo(ws: string): DestinationRepo {
    return this.opts.store.workspace(ws).destinations;
  }

  /** Appends the workspace's pending membership changes to the log. */
  flush(ws: string): Promise<void> {
    return this.opts.flush(ws);
  }

  connector(kind: string): Connector {
    const c = this.opts.connectors[kind as DestinationKind];
    if (!c) throw new Error(`no connector for destination kind "${kind}"`);
    return c;
  }

  /** Watches a workspace's destinations; runs left open by a stopped process are marked failed. */
  async addWorkspace(ws: string): Promise<void> {
    if (this.workspaces.has(ws)) return;
    this.workspaces.add(ws);
    await this.repo(ws).failOpenRuns(
      "interrupted: the process stopped during the run",
      this.opts.clock.now(),
    );
    this.wake(ws);
  }

  /** Stops watching a workspace (another node of the cluster serves it); passes running finish. */
  removeWorkspace(ws: string): void {
    this.workspaces.delete(ws);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      for (const ws of this.workspaces) this.wake(ws);
    }, this.opts.pollMs ?? 1_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Changes were logged in `ws` (or a retry may be due): start the passes that are due. */
  wake(ws: string): void {
    if (this.stopped || !this.workspaces.has(ws)) return;
    void this.schedule(ws).catch((e) => this.log(`destinations: ${ws}: ${(e as Error).message}`));
  }

  private log(msg: string): void {
    (this.opts.log ?? ((m: string) => console.error(m)))(msg);
  }

  private async schedule(ws: string): Promise<void> {
    const now = this.opts.clock.now();
    if (now - this.lastPurge > 3_600_000) {
      this.lastPurge = now;
      await this.repo(ws).purgeOutcomes(now - OUTCOME_RETENTION_MS);
    }
    for (const d of await this.repo(ws).list()) {
      if (d.state !== "active") continue;
      if (d.next_attempt_at !== null && d.next_attempt_at > now) continue;
      const key = `${ws}/${d.id}`;
      if (this.running.has(key)) {
        this.again.add(key);
        continue;
      }
      if (this.running.size >= (this.opts.concurrency ?? 4)) {
        this.again.add(key);
        continue;
      }
      const p = this.pass(d)
        .catch((e) => this.log(`destinations: ${key}: ${(e as Error).message}`))
        .finally(() => {
          this.running.delete(key);
          if (this.again.size > 0) {
            const spaces = new Set([...this.again].map((k) => k.slice(0, k.indexOf("/"))));
            this.again.clear();
            for (const w of spaces) this.wake(w);
          }
        });
      this.running.set(key, p);
    }
  }

  /** A pass now, for tests and `slice destinations sync`: resolves when it ended. */
  async syncNow(ws: string, id: string): Promise<void> {
    const key = `${ws}/${id}`;
    for (;;) {
      const current = this.running.get(key);
      if (!current) break;
      await current;
    }
    const d = await this.repo(ws).get(id);
    if (!d) return;
    const p = this.pass(d, Number.POSITIVE_INFINITY);
    this.running.set(
      key,
      p.catch(() => undefined),
    );
    try {
      await p;
    } finally {
      this.running.delete(key);
    }
  }

  /** The context a connector works in, with this destination's credentials opened. */
  context(d: DestinationRecord): ConnectorContext {
    if (!this.opts.box)
      throw new Error("SLICE_SECRET_KEY is not set: destination credentials cannot be opened");
    const repo = this.repo(d.workspace_id);
    const ctx: ConnectorContext = {
      destinationId: d.id,
      config: d.config,
      secrets: this.opts.box.open(d.secrets),
      http: this.http,
      state: { ...d.connector_state },
      saveState: async (state: JsonObject) => {
        ctx.state = state;
        await repo.update(d.id, { connector_state: state }, this.opts.clock.now());
      },
    };
    return ctx;
  }

  private async pass(d: DestinationRecord, budgetPages = 20): Promise<void> {
    const { clock } = this.opts;
    const repo = this.repo(d.workspace_id);
    let pass: SyncPass | null = null;
    try {
      const connector = this.connector(d.kind);
      const ctx = this.context(d);
      pass = new SyncPass(
        {
          store: this.opts.store,
          clock,
          contacts: this.opts.contacts,
          flush: this.opts.flush,
          ...(this.opts.onCall ? { onCall: this.opts.onCall } : {}),
        },
        d,
        connector,
        ctx,
      );
      const run = await pass.execute(budgetPages);
      let stats: DestinationRecord["stats"] | undefined;
      if (run && connector.remoteSize) {
        // Best effort: a provider that cannot tell its size now does not fail the pass.
        const size = await connector.remoteSize(ctx).catch(() => null);
        const fresh = await repo.get(d.id);
        if (size !== null && fresh) stats = { ...fresh.stats, provider_size: size };
      }
      const now = clock.now();
      await repo.update(
        d.id,
        {
          failures: 0,
          next_attempt_at: null,
          last_error: null,
          ...(run ? { last_sync_at: now } : {}),
          ...(stats ? { stats } : {}),
        },
        now,
      );
      if (pass.more) this.again.add(`${d.workspace_id}/${d.id}`);
    } catch (e) {
      const failures = d.failures + 1;
      const now = clock.now();
      const message = e instanceof Error ? e.message : String(e);
      await repo.update(
        d.id,
        { failures, next_attempt_at: now + retryDelayMs(failures), last_error: message },
        now,
      );
      throw e;
    }
  }
}
