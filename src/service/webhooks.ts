/**
 * Webhooks (SPEC §4, docs/webhooks.md): signed POSTs of `segment.entered` /
 * `segment.exited` to subscribed URLs, through a durable outbox in the store.
 *
 * - `enqueue` only writes outbox rows (one per matching subscription and change), so
 *   ingest never waits for a receiver. Given a transaction it writes them in it, as
 *   durable as the change log itself.
 * - The dispatcher loop claims due rows with a lease (longer than any attempt can take),
 *   POSTs them with a timeout, and marks each delivered or failed-with-retry. A process
 *   that dies mid-delivery leaves the row pending; it is claimed again once the lease
 *   runs out, after a restart too. Delivery is therefore at-least-once: receivers
 *   deduplicate on the body's `id`.
 * - Failures are retried with capped exponential backoff and jitter until the delivery
 *   is more than 24 h old; then it is marked `failed`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ChangeRecord, DeliveryJob, Store, StoreOps } from "../store/types.ts";
import { checkWebhookUrl } from "./webhook-url.ts";

export const WEBHOOK_EVENTS = ["segment.entered", "segment.exited"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const SIGNATURE_HEADER = "Slice-Signature";
export const USER_AGENT = "Slice-Webhooks/1";
/** Default age limit of a signature in `verifySignature`. */
export const SIGNATURE_TOLERANCE_S = 300;

/** First retry delay; doubles with every failed attempt … */
export const RETRY_BASE_MS = 30_000;
/** … up to this. */
export const RETRY_CAP_MS = 3_600_000;
/** A delivery that fails when it is older than this is given up (status `failed`). */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_POLL_MS = 1_000;
export const DEFAULT_CONCURRENCY = 8;

/** Outbox rows written per statement by `enqueue`. */
const ENQUEUE_CHUNK = 5_000;

// ---------------------------------------------------------------- signatures

function hmacHex(secret: string, t: number, body: string): string {
  return createHmac("sha256", secret).update(`${t}.${body}`, "utf8").digest("hex");
}

/** The `Slice-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function sign(secret: string, body: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

/**
 * Checks a `Slice-Signature` header against the raw body: some `v1` must be the HMAC of
 * `<t>.<body>` with `secret`, and `t` within `toleranceS` of `nowS` (replay protection).
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  toleranceS: number = SIGNATURE_TOLERANCE_S,
  nowS: number = Date.now() / 1000,
): boolean {
  let t: number | null = null;
  const candidates: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (!/^\d{1,15}$/.test(value)) return false;
      t = Number(value);
    } else if (key === "v1") {
      candidates.push(value);
    }
  }
  if (t === null || candidates.length === 0) return false;
  if (!(Math.abs(nowS - t) <= toleranceS)) return false;
  const expected = Buffer.from(hmacHex(secret, t, body), "hex");
  let ok = false;
  for (const c of candidates) {
    if (!/^[0-9a-fA-F]{64}$/.test(c)) continue;
    if (timingSafeEqual(Buffer.from(c, "hex"), expected)) ok = true;
  }
  return ok;
}

// ---------------------------------------------------------------- payload

/** The body's `id`: the same for every attempt of one delivery, so receivers can deduplicate. */
export function deliveryEventId(deliveryId: number): string {
  return `del_${deliveryId}`;
}

/**
 * The JSON body of a delivery: `{id, type, created_at, data: {segment_id, contact_id,
 * change, at}}`. Built only from stored values, so every attempt sends the same bytes.
 */
export function deliveryBody(delivery: DeliveryJob): string {
  const c = delivery.change;
  return JSON.stringify({
    id: deliveryEventId(delivery.id),
    type: `segment.${c.change}`,
    created_at: new Date(delivery.created_at).toISOString(),
    data: {
      segment_id: c.segment_id,
      contact_id: c.contact_id,
      change: c.change,
      at: new Date(c.at).toISOString(),
    },
  });
}

// ---------------------------------------------------------------- retries

/**
 * Backoff: attempt n (1-based) failed → wait before the next one. 30 s · 2^(n−1) with
 * ±20 % jitter, never more than 1 h: about 30 s, 1 m, 2 m, 4 m, 8 m, 16 m, 32 m, then
 * hourly. Deliveries are given up only once they are more than 24 h old
 * (`nextAttemptAt`), so the schedule spans at least 24 h (about 30 attempts).
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempts));
  const base = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(n - 1, 20));
  const jitter = 0.8 + 0.4 * Math.min(1, Math.max(0, random()));
  return Math.min(RETRY_CAP_MS, Math.round(base * jitter));
}

/**
 * After an attempt failed at `now`: when to try again, or null to give up because the
 * delivery (queued at `created_at`) is more than 24 h old. `attempts` counts the
 * attempts before this one, as in the stored record.
 */
export function nextAttemptAt(
  delivery: { created_at: number; attempts: number },
  now: number,
  random: () => number = Math.random,
): number | null {
  if (now - delivery.created_at > GIVE_UP_AFTER_MS) return null;
  return now + retryDelayMs(delivery.attempts + 1, random);
}

// ---------------------------------------------------------------- matching

/** Does a subscription want this change? Its event type is listed and its segment (if any) matches. */
export function subscriptionMatches(
  webhook: { events: string[]; segment_id: string | null },
  change: { segment_id: string; change: string },
): boolean {
  return (
    webhook.events.includes(`segment.${change.change}`) &&
    (webhook.segment_id === null || webhook.segment_id === change.segment_id)
  );
}

// ---------------------------------------------------------------- the dispatcher

export interface WebhookDispatcherOptions {
  /** Scheduling, lease and signature time (default: system time). */
  clock?: { now(): number };
  /** Refuse private and loopback destinations (SLICE_WEBHOOK_DENY_PRIVATE=1), checked before every attempt. */
  denyPrivate?: boolean;
  /** Requests in flight at once, over all workspaces (default 8). */
  concurrency?: number;
  /** How often the loop looks for due retries when nothing wakes it (default 1 s). */
  pollMs?: number;
  /** Per attempt: for the address check and for the request (default 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Unexpected errors (store failures). Receiver failures go to the delivery log instead. */
  log?: (msg: string) => void;
  /** Jitter source for retry delays (default Math.random). */
  random?: () => number;
  /** After each attempt was recorded: delivered, to be retried, or given up (metrics). */
  onOutcome?: (outcome: "delivered" | "retry" | "failed") => void;
}

type Outcome = { ok: true; status: number } | { ok: false; error: string; status: number | null };

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
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  /** How long a claimed delivery stays invisible to other claims: longer than an attempt can take. */
  private readonly leaseMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly log: (msg: string) => void;
  private readonly random: () => number;
  private readonly onOutcome: (outcome: "delivered" | "retry" | "failed") => void;

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
    this.denyPrivate = opts.denyPrivate ?? false;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
    this.pollMs = Math.max(1, opts.pollMs ?? DEFAULT_POLL_MS);
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    // The address check and the request each take at most timeoutMs; the rest is slack
    // for the store writes.
    this.leaseMs = 2 * this.timeoutMs + 60_000;
    const f = opts.fetch ?? globalThis.fetch;
    this.fetchFn = (input, init) => f(input, init);
    this.log = opts.log ?? ((msg) => console.error(msg));
    this.random = opts.random ?? Math.random;
    this.onOutcome = opts.onOutcome ?? (() => {});
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
    const hooks = await ops.listWebhooks(ws);
    if (hooks.length === 0) return 0;
    let added = 0;
    let batch: { webhook_id: string; change_seq: number }[] = [];
    for (const change of changes) {
      for (const hook of hooks) {
        if (!subscriptionMatches(hook, change)) continue;
        batch.push({ webhook_id: hook.id, change_seq: change.seq });
        if (batch.length >= ENQUEUE_CHUNK) {
          added += await ops.enqueueDeliveries(ws, batch);
          batch = [];
        }
      }
    }
    if (batch.length > 0) added += await ops.enqueueDeliveries(ws, batch);
    if (added > 0 && !tx) this.wake();
    return added;
  }

  /** Polls this workspace's outbox from now on (pending rows of a previous process included). */
  addWorkspace(ws: string): void {
    if (this.workspaces.has(ws)) return;
    this.workspaces.add(ws);
    this.wake();
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
        const jobs = await this.store.claimDeliveries(ws, {
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
      const jobs = await this.store.claimDeliveries(ws, {
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
      const outcome = await this.attempt(job);
      const at = this.clock.now();
      if (outcome.ok) {
        await this.store.markDelivered(ws, job.id, { at, status_code: outcome.status });
        this.onOutcome("delivered");
      } else {
        const retryAt = nextAttemptAt(job, at, this.random);
        await this.store.markFailed(ws, job.id, {
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
    // Re-checked at every attempt: the name may resolve elsewhere now (DNS rebinding).
    let timer: NodeJS.Timeout | undefined;
    const urlError = await Promise.race([
      checkWebhookUrl(job.url, { denyPrivate: this.denyPrivate }),
      new Promise<string>((resolve) => {
        timer = setTimeout(
          () => resolve(`address check timed out after ${this.timeoutMs} ms`),
          this.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (urlError !== null) return { ok: false, error: urlError, status: null };

    const body = deliveryBody(job);
    const signature = sign(job.secret, body, Math.floor(this.clock.now() / 1000));
    let res: Response;
    try {
      res = await this.fetchFn(job.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          [SIGNATURE_HEADER]: signature,
          "User-Agent": USER_AGENT,
        },
        body,
        // A redirect could lead past the address check: it counts as a failure.
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const name = (e as { name?: unknown }).name;
      if (name === "TimeoutError" || name === "AbortError") {
        return { ok: false, error: `timed out after ${this.timeoutMs} ms`, status: null };
      }
      return { ok: false, error: `request failed: ${errorText(e)}`, status: null };
    }
    // The response body is not used; drop it rather than wait for it.
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const error =
      res.status >= 300 && res.status < 400
        ? `HTTP ${res.status}: redirects are not followed`
        : `HTTP ${res.status}`;
    return { ok: false, error, status: res.status };
  }
}
