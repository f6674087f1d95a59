/**
 * Webhooks (SPEC §4, docs/webhooks.md): signed POSTs of `segment.entered` /
 * `segment.exited` to subscribed URLs, through a durable outbox in the store.
 *
 * - `enqueue` only writes outbox rows (one per matching subscription and change), so
 *   ingest never waits for a receiver. The service has them written with the changes
 *   (`plan`, then the store's `writeLog`), as durable as the change log itself, matched
 *   against its cached subscriptions (webhook-subscriptions.ts).
 * - The dispatcher loop claims due rows with a lease (longer than any attempt can take),
 *   POSTs them with a timeout, and marks each delivered or failed-with-retry. A process
 *   that dies mid-delivery leaves the row pending; it is claimed again once the lease
 *   runs out, after a restart too. Delivery is therefore at-least-once: receivers
 *   deduplicate on the body's `id`.
 * - Failures are retried with capped exponential backoff and jitter until the delivery
 *   is more than 24 h old; then it is marked `failed`.
 * - Every attempt carries two signatures of the same bytes: `Slice-Signature` and the
 *   Standard Webhooks headers (`webhook-id` = the body's `id`). For 24 h after a secret
 *   rotation both the new and the previous secret sign.
 * - The receiver's name is resolved once per attempt, every address checked, and the
 *   request connects to the checked address (webhook-url.ts).
 */
import http from "node:http";
import https from "node:https";
import type {
  ChangeInput,
  ChangeRecord,
  DeliveryJob,
  DeliveryRecord,
  LogWrite,
  Store,
  StoreOps,
} from "../store/types.ts";
import { ApiError, notFound } from "./errors.ts";
import {
  deliveryBody,
  eventIdOf,
  nextAttemptAt,
  SIGNATURE_HEADER,
  sign,
  signingSecrets,
  standardWebhookHeaders,
  testEventBody,
  USER_AGENT,
} from "./webhook-message.ts";
import { matchingDeliveries, type Subscription } from "./webhook-subscriptions.ts";
import { pinnedLookup, resolveWebhookTarget, type WebhookTarget } from "./webhook-url.ts";

// The message (body, signatures, retry schedule) has a module of its own; importers name this one.
export {
  deliveryBody,
  deliveryEventId,
  GIVE_UP_AFTER_MS,
  nextAttemptAt,
  RETRY_BASE_MS,
  RETRY_CAP_MS,
  ROTATION_OVERLAP_MS,
  retryDelayMs,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_S,
  sign,
  signingSecrets,
  standardWebhookHeaders,
  TEST_EVENT,
  testEventBody,
  USER_AGENT,
  verifySignature,
  WEBHOOK_EVENTS,
  type WebhookEvent,
} from "./webhook-message.ts";
export { type Subscription, subscriptionMatches } from "./webhook-subscriptions.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_POLL_MS = 1_000;
export const DEFAULT_CONCURRENCY = 8;

// ---------------------------------------------------------------- the dispatcher

export interface WebhookDispatcherOptions {
  /** Scheduling, lease and signature time (default: system time). */
  clock?: { now(): number };
  /**
   * Refuse loopback, private and link-local receivers, checked before every attempt
   * (default true; the service sets false under SLICE_WEBHOOK_ALLOW_PRIVATE=1).
   */
  denyPrivate?: boolean;
  /** Name resolution of receivers (default: `dns.lookup`); injectable for tests. */
  resolve?: (hostname: string) => Promise<string[]>;
  /** Requests in flight at once, over all workspaces (default 8). */
  concurrency?: number;
  /** How often the loop looks for due retries when nothing wakes it (default 1 s). */
  pollMs?: number;
  /** Per attempt: for the address check and for the request (default 10 s). */
  timeoutMs?: number;
  /** Unexpected errors (store failures). Receiver failures go to the delivery log instead. */
  log?: (msg: string) => void;
  /** Jitter source for retry delays (default Math.random). */
  random?: () => number;
  /** After each attempt was recorded: delivered, to be retried, or given up (metrics). */
  onOutcome?: (outcome: "delivered" | "retry" | "failed") => void;
  /**
   * A workspace's subscriptions as `enqueue` matches them, read through `ops` (default:
   * listed from it every time; the service answers from its cache).
   */
  subscriptions?: (ws: string, ops: StoreOps) => Promise<readonly Subscription[]>;
}

type Outcome = { ok: true; status: number } | { ok: false; error: string; status: number | null };

/** What `POST /v1/webhooks/{id}/test` answers: the attempt's outcome and its delivery. */
export interface TestOutcome {
  delivery: DeliveryRecord;
  ok: boolean;
  status_code: number | null;
  error: string | null;
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    if (cause && typeof cause === "object") {
      const code = (cause as { code?: unknown }).code;
      const message = (cause as { message?: unknown }).message;
      if (typeof code === "string") return `${e.message} (${code})`;
      if (typeof message === "string" && message !== "") return `${e.message}: ${message}`;
    }
    return e.message;
  }
  return String(e);
}

export class WebhookDispatcher {
  private readonly clock: { now(): number };
  private readonly denyPrivate: boolean;
  private readonly resolve: ((hostname: string) => Promise<string[]>) | undefined;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  /** How long a claimed delivery stays invisible to other claims: longer than an attempt can take. */
  private readonly leaseMs: number;
  private readonly log: (msg: string) => void;
  private readonly random: () => number;
  private readonly onOutcome: (outcome: "delivered" | "retry" | "failed") => void;
  private readonly subscriptions: (ws: string, ops: StoreOps) => Promise<readonly Subscription[]>;

  private readonly workspaces = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private rotation = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeup: (() => void) | null = null;
  private woken = false;
  /** A claim came back full (or no slot was free): more may be due as soon as a slot frees. */
  private backlog = false;

  constructor(
    private readonly store: Store,
    opts: WebhookDispatcherOptions = {},
  ) {
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.denyPrivate = opts.denyPrivate ?? true;
    this.resolve = opts.resolve;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
    this.pollMs = Math.max(1, opts.pollMs ?? DEFAULT_POLL_MS);
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    // The address check and the request each take at most timeoutMs; the rest is slack
    // for the store writes.
    this.leaseMs = 2 * this.timeoutMs + 60_000;
    this.log = opts.log ?? ((msg) => console.error(msg));
    this.random = opts.random ?? Math.random;
    this.onOutcome = opts.onOutcome ?? (() => {});
    this.subscriptions = opts.subscriptions ?? ((ws, ops) => ops.workspace(ws).webhooks.list());
  }

  /**
   * After changes were appended to the log: queues a delivery for every subscription
   * that matches (event type `segment.<change>`, segment null or equal), and returns how
   * many were new (re-enqueueing the same changes adds nothing). Registers the workspace.
   *
   * With `tx` (inside the transaction that appended the changes) the rows commit or roll
   * back with the log, and the loop is not woken: call `wake()` after the commit. Without
   * it the loop is woken at once.
   */
  async enqueue(ws: string, changes: ChangeRecord[], tx?: StoreOps): Promise<number> {
    this.workspaces.add(ws);
    if (changes.length === 0) return 0;
    const ops: StoreOps = tx ?? this.store;
    const matched = matchingDeliveries(await this.subscriptions(ws, ops), changes);
    const added = await ops
      .workspace(ws)
      .deliveries.enqueue(
        matched.map((m) => ({ webhook_id: m.webhook_id, change_seq: changes[m.change]!.seq })),
      );
    if (added > 0 && !tx) this.wake();
    return added;
  }

  /**
   * For changes about to be logged (`LogWrite`, written by the store in one transaction
   * with them): a delivery for every subscription that matches, and a lease on as many
   * due deliveries as there are free slots, for `startClaimed` to send once that
   * transaction committed. The lease saves the loop's own claim after a wake-up, which
   * on a busy SQLite file waits for the write in flight: most of what is left between a
   * logged change and its POST. Registers the workspace. Call it in the workspace's write
   * queue's turn, so that the subscriptions read are the ones at the write.
   */
  async plan(ws: string, changes: readonly ChangeInput[]): Promise<Omit<LogWrite, "changes">> {
    this.workspaces.add(ws);
    const hooks = changes.length > 0 ? await this.subscriptions(ws, this.store) : [];
    return { deliveries: matchingDeliveries(hooks, changes), claim: this.claimSpec() };
  }

  /** A lease on as many due deliveries as there are free slots; null when none is free. */
  private claimSpec(): LogWrite["claim"] {
    const free = this.concurrency - this.inflight.size;
    if (!this.running || free <= 0) return null;
    return { now: this.clock.now(), limit: free, leaseMs: this.leaseMs };
  }

  /**
   * Inside the transaction that queued deliveries (after `enqueue` with `tx`): leases, in
   * that transaction, what `plan` would. If the transaction rolls back, nothing was
   * leased; the answer must then be dropped. The slots are not held meanwhile: in-flight
   * requests may briefly exceed `concurrency` by one claim.
   */
  async claimIn(ws: string, tx: StoreOps): Promise<DeliveryJob[]> {
    const claim = this.claimSpec();
    return claim ? tx.workspace(ws).deliveries.claim(claim) : [];
  }

  /** Sends what `claimIn` or a planned log write leased, once its transaction committed. */
  startClaimed(ws: string, jobs: readonly DeliveryJob[]): void {
    for (const job of jobs) void this.track(this.deliver(ws, job));
  }

  /**
   * Sends a `webhook.test` event to a subscription now, recorded in its delivery log
   * (not retried), and answers how the attempt went.
   */
  async sendTest(ws: string, webhookId: string): Promise<TestOutcome> {
    const now = this.clock.now();
    const repos = this.store.workspace(ws);
    if (!(await repos.webhooks.get(webhookId))) throw notFound("webhook", webhookId);
    // Due only after the lease: the loop leaves it alone while this attempt runs.
    const queued = await repos.deliveries.addPayload({
      webhook_id: webhookId,
      payload: (id) => testEventBody(id, webhookId, now),
      next_attempt_at: now + this.leaseMs,
    });
    const job = await repos.deliveries.getJob(queued.id);
    if (!job) throw notFound("delivery", String(queued.id));
    const outcome = await this.attempt(job);
    const at = this.clock.now();
    if (outcome.ok) await repos.deliveries.markDelivered(job.id, { at, status_code: outcome.status });
    else
      await repos.deliveries.markFailed(job.id, {
        at,
        error: outcome.error,
        status_code: outcome.status,
        retry_at: null,
      });
    // Not counted in the delivery metrics: a failed test must not look like a lost change.
    const delivery = (await repos.deliveries.get(job.id)) ?? queued;
    return outcome.ok
      ? { delivery, ok: true, status_code: outcome.status, error: null }
      : { delivery, ok: false, status_code: outcome.status, error: outcome.error };
  }

  /**
   * Queues the payload of delivery `deliveryId` again, byte for byte (same `id`, so
   * receivers that processed it can recognise it), as a new delivery due now.
   */
  async redeliver(ws: string, webhookId: string, deliveryId: number): Promise<DeliveryRecord> {
    const deliveries = this.store.workspace(ws).deliveries;
    const original = await deliveries.getJob(deliveryId);
    if (!original || original.webhook_id !== webhookId) throw notFound("delivery", String(deliveryId));
    if (original.payload === null && original.change === null) {
      throw new ApiError("conflict", `delivery ${deliveryId}: its change is no longer in the change log`);
    }
    const queued = await deliveries.addPayload({
      webhook_id: webhookId,
      change_seq: original.change_seq,
      redelivery_of: original.id,
      payload: deliveryBody(original),
      next_attempt_at: this.clock.now(),
    });
    this.addWorkspace(ws);
    this.wake();
    return queued;
  }

  /** Polls this workspace's outbox from now on (pending rows of a previous process included). */
  addWorkspace(ws: string): void {
    if (this.workspaces.has(ws)) return;
    this.workspaces.add(ws);
    this.wake();
  }

  /**
   * Polls a workspace this process has just taken on (at a start, or from another node of
   * the cluster), first making due again the attempts its previous server claimed and
   * never finished: that process is gone, and waiting out their lease would hold a change
   * back for longer than a takeover takes. Should it still be sending one, the receiver
   * gets it twice, with the same id (deliveries are at least once).
   */
  async adopt(ws: string): Promise<void> {
    try {
      const released = await this.store.workspace(ws).deliveries.releaseClaims(this.clock.now());
      if (released > 0)
        this.log(`webhooks: ${ws}: ${released} unfinished attempts of the previous server due again`);
    } catch (e) {
      // Their lease still runs out: they are late, not lost.
      this.log(`webhooks: ${ws}: releasing the previous server's claims failed: ${errorText(e)}`);
    }
    this.addWorkspace(ws);
  }

  /** Stops polling a workspace (deliveries in flight finish). */
  removeWorkspace(ws: string): void {
    this.workspaces.delete(ws);
  }

  /** Makes the loop look for due deliveries now rather than at its next poll. */
  wake(): void {
    this.woken = true;
    const w = this.wakeup;
    this.wakeup = null;
    w?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops polling and waits for in-flight requests (each ends within the timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = null;
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /**
   * For tests and tools: one claim-and-deliver round over every workspace, now; resolves
   * when those deliveries have finished, with how many were attempted.
   */
  async runOnce(): Promise<number> {
    let attempted = 0;
    for (const ws of [...this.workspaces]) {
      for (;;) {
        const jobs = await this.store.workspace(ws).deliveries.claim({
          now: this.clock.now(),
          limit: this.concurrency,
          leaseMs: this.leaseMs,
        });
        attempted += jobs.length;
        await Promise.all(jobs.map((job) => this.track(this.deliver(ws, job))));
        if (jobs.length < this.concurrency) break;
      }
    }
    return attempted;
  }

  // ---------------------------------------------------------------- internals

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let again = false;
      try {
        again = await this.fill();
      } catch (e) {
        this.log(`webhooks: claiming deliveries failed: ${errorText(e)}`);
      }
      if (!this.running) break;
      if (again || this.woken) continue;
      await this.sleep(this.pollMs);
    }
  }

  /**
   * Claims as many due deliveries as there are free slots, sharing them fairly among
   * workspaces (the starting workspace rotates), and starts them. True when there are
   * still free slots and more may be due.
   */
  private async fill(): Promise<boolean> {
    const list = [...this.workspaces];
    if (list.length === 0) return false;
    let free = this.concurrency - this.inflight.size;
    if (free <= 0) {
      this.backlog = true;
      return false;
    }
    let full = false;
    const start = this.rotation++ % list.length;
    for (let i = 0; i < list.length && free > 0 && this.running; i++) {
      const ws = list[(start + i) % list.length];
      const share = Math.max(1, Math.ceil(free / (list.length - i)));
      const jobs = await this.store.workspace(ws).deliveries.claim({
        now: this.clock.now(),
        limit: share,
        leaseMs: this.leaseMs,
      });
      if (jobs.length === share) full = true;
      for (const job of jobs) this.track(this.deliver(ws, job));
      free -= jobs.length;
    }
    if (full) this.backlog = true;
    return full && free > 0;
  }

  private track(p: Promise<void>): Promise<void> {
    const t = p.finally(() => {
      this.inflight.delete(t);
      if (this.backlog) {
        this.backlog = false;
        this.wake();
      }
    });
    this.inflight.add(t);
    return t;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeup === done) this.wakeup = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.wakeup = done;
    });
  }

  /** One attempt, recorded in the outbox. Never rejects: a store failure leaves the lease to run out. */
  private async deliver(ws: string, job: DeliveryJob): Promise<void> {
    try {
      const deliveries = this.store.workspace(ws).deliveries;
      const outcome = await this.attempt(job);
      const at = this.clock.now();
      if (outcome.ok) {
        await deliveries.markDelivered(job.id, { at, status_code: outcome.status });
        this.onOutcome("delivered");
      } else {
        const retryAt = nextAttemptAt(job, at, this.random);
        await deliveries.markFailed(job.id, {
          at,
          error: outcome.error,
          status_code: outcome.status,
          retry_at: retryAt,
        });
        this.onOutcome(retryAt === null ? "failed" : "retry");
      }
    } catch (e) {
      this.log(`webhooks: recording delivery ${job.id} of ${ws} failed: ${errorText(e)}`);
    }
  }

  private async attempt(job: DeliveryJob): Promise<Outcome> {
    // Resolved and checked at every attempt, and the request goes to the checked address.
    let timer: NodeJS.Timeout | undefined;
    const target = await Promise.race([
      resolveWebhookTarget(job.url, {
        denyPrivate: this.denyPrivate,
        ...(this.resolve ? { resolve: this.resolve } : {}),
      }),
      new Promise<WebhookTarget>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              ok: false,
              error: `address check timed out after ${this.timeoutMs} ms`,
              refused: false,
            }),
          this.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (!target.ok) return { ok: false, error: target.error, status: null };

    const body = deliveryBody(job);
    const now = this.clock.now();
    const seconds = Math.floor(now / 1000);
    const secrets = signingSecrets(job, now);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(body, "utf8")),
      "User-Agent": USER_AGENT,
      [SIGNATURE_HEADER]: sign(secrets, body, seconds),
      ...standardWebhookHeaders(secrets, eventIdOf(body, job.id), seconds, body),
    };
    let status: number;
    try {
      status = await post(target, headers, body, this.timeoutMs);
    } catch (e) {
      const name = (e as { name?: unknown }).name;
      if (name === "TimeoutError" || name === "AbortError") {
        return { ok: false, error: `timed out after ${this.timeoutMs} ms`, status: null };
      }
      // The code alone (ECONNREFUSED, ECONNRESET, …): the message would add the address.
      const code = (e as { code?: unknown }).code;
      const why = typeof code === "string" ? code : errorText(e);
      return { ok: false, error: `request failed: ${why}`, status: null };
    }
    if (status >= 200 && status < 300) return { ok: true, status };
    const error =
      status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`;
    return { ok: false, error, status };
  }
}

/**
 * One POST to the checked address of `target` (Host header and TLS server name stay the
 * URL's host), resolving with the status once the answer's head arrived; the answer's
 * body is dropped. Redirects are not followed: a redirect could lead past the check.
 */
function post(
  target: Extract<WebhookTarget, { ok: true }>,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<number> {
  const mod = target.url.protocol === "https:" ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = mod.request(target.url, {
      method: "POST",
      headers,
      lookup: pinnedLookup(target.address, target.family),
      // A fresh connection per attempt: a pooled one may predate this attempt's check.
      agent: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.end(body);
  });
}
