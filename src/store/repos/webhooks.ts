/** Webhook subscriptions and their delivery outbox. */
import { randomBytes } from "node:crypto";
import { chunks, IN_CHUNK } from "../dialect.ts";
import type { Row } from "../executor.ts";
import { newId } from "../ids.ts";
import { limitOf, MAX_LIMIT, page, seqCursor } from "../paging.ts";
import type {
  ChangeKind,
  DeliveryFailure,
  DeliveryJob,
  DeliveryRecord,
  DeliveryStatus,
  NewPayloadDelivery,
  NewWebhook,
  Page,
  PageRequest,
  WebhookRecord,
} from "../types.ts";
import { json, num, type Scope, str } from "./scope.ts";

/** A delivery with its change (null when gone) and its subscription's address and secrets. */
const DELIVERY_JOB_COLUMNS =
  "d.*, c.seq AS c_seq, c.segment_id, c.contact_id, c.change, c.at, w.url, w.secret, w.previous_secret, w.previous_secret_until";

const DELIVERY_JOB_FROM = `FROM deliveries d
         LEFT JOIN changes c ON c.seq = d.change_seq AND c.workspace_id = d.workspace_id
         JOIN webhooks w ON w.workspace_id = d.workspace_id AND w.id = d.webhook_id`;

export class WebhookRepo {
  constructor(private readonly s: Scope) {}

  private toWebhook(r: Row): WebhookRecord {
    return {
      id: String(r.id),
      url: String(r.url),
      events: this.s.d.parseJson<string[]>(r.events),
      segment_id: str(r.segment_id),
      secret: String(r.secret),
      previous_secret: str(r.previous_secret),
      previous_secret_until: num(r.previous_secret_until),
      created_at: Number(r.created_at),
    };
  }

  async create(w: NewWebhook): Promise<WebhookRecord> {
    const now = this.s.clock.now();
    const rec: WebhookRecord = {
      id: newId("wh", now),
      url: w.url,
      events: [...w.events],
      segment_id: w.segment_id ?? null,
      // A Standard Webhooks secret: whsec_ + standard base64 of 32 random bytes.
      secret: w.secret ?? `whsec_${randomBytes(32).toString("base64")}`,
      previous_secret: null,
      previous_secret_until: null,
      created_at: now,
    };
    await this.s.x.run(
      "INSERT INTO webhooks (workspace_id, id, url, events, segment_id, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [this.s.ws, rec.id, rec.url, json(rec.events), rec.segment_id, rec.secret, now],
    );
    return rec;
  }

  async get(id: string): Promise<WebhookRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM webhooks WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? this.toWebhook(rows[0]) : null;
  }

  async list(): Promise<WebhookRecord[]> {
    const rows = await this.s.x.all("SELECT * FROM webhooks WHERE workspace_id = ? ORDER BY created_at, id", [
      this.s.ws,
    ]);
    return rows.map((r) => this.toWebhook(r));
  }

  /** Also removes its deliveries. */
  async delete(id: string): Promise<boolean> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      await tx.run("DELETE FROM deliveries WHERE workspace_id = ? AND webhook_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM webhooks WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }

  /** Makes `secret` the signing secret; the current one signs too until `previous_until`. */
  async rotateSecret(
    id: string,
    r: { secret: string; previous_until: number },
  ): Promise<WebhookRecord | null> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      // The right-hand sides read the row as it was: the current secret becomes the previous one.
      const n = await tx.run(
        `UPDATE webhooks SET previous_secret = secret, previous_secret_until = ?, secret = ?
         WHERE workspace_id = ? AND id = ?`,
        [r.previous_until, r.secret, ws, id],
      );
      if (n === 0) return null;
      const rows = await tx.all("SELECT * FROM webhooks WHERE workspace_id = ? AND id = ?", [ws, id]);
      return this.toWebhook(rows[0]);
    });
  }
}

function toDelivery(r: Row): DeliveryRecord {
  return {
    id: Number(r.id),
    webhook_id: String(r.webhook_id),
    // 0 marks a delivery that is not about a change (see migration 5).
    change_seq: Number(r.change_seq) > 0 ? Number(r.change_seq) : null,
    redelivery_of: num(r.redelivery_of),
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    next_attempt_at: num(r.next_attempt_at),
    last_error: str(r.last_error),
    last_status_code: num(r.last_status_code),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    delivered_at: num(r.delivered_at),
  };
}

function toDeliveryJob(r: Row): DeliveryJob {
  return {
    ...toDelivery(r),
    change:
      r.c_seq === null || r.c_seq === undefined
        ? null
        : {
            seq: Number(r.c_seq),
            segment_id: String(r.segment_id),
            contact_id: String(r.contact_id),
            change: r.change as ChangeKind,
            at: Number(r.at),
          },
    payload: str(r.payload),
    url: String(r.url),
    secret: String(r.secret),
    previous_secret: str(r.previous_secret),
    previous_secret_until: num(r.previous_secret_until),
  };
}

/** Outbox rows written per statement. */
const ENQUEUE_CHUNK = 5_000;

export class DeliveryRepo {
  constructor(private readonly s: Scope) {}

  /**
   * Queues deliveries due now, `ENQUEUE_CHUNK` rows per statement; an existing (webhook,
   * change) pair is left as it is. Returns how many were new.
   */
  async enqueue(items: readonly { webhook_id: string; change_seq: number }[]): Promise<number> {
    if (items.length === 0) return 0;
    const now = this.s.clock.now();
    const rows = items.map((i) => [this.s.ws, i.webhook_id, i.change_seq, now, now, now]);
    return this.s.x.atomic(async (tx) => {
      let added = 0;
      for (const part of chunks(rows, ENQUEUE_CHUNK)) added += await this.s.d.enqueueDeliveries(tx, part);
      return added;
    });
  }

  /**
   * Takes up to `limit` pending deliveries due at `now`, oldest first, and pushes their
   * `next_attempt_at` to `now + leaseMs` so that another worker does not take them too.
   */
  async claim(opts: { now: number; limit: number; leaseMs: number }): Promise<DeliveryJob[]> {
    const { ws, d } = this.s;
    const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(opts.limit)));
    return this.s.x.atomic(async (tx) => {
      // A delivery whose change is gone and that has no payload of its own cannot be sent.
      const rows = await tx.all(
        `SELECT ${DELIVERY_JOB_COLUMNS}
         ${DELIVERY_JOB_FROM}
         WHERE d.workspace_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ?
           AND (d.payload IS NOT NULL OR c.seq IS NOT NULL)
         ORDER BY d.next_attempt_at, d.id LIMIT ?${d.forUpdate({ of: "d", skipLocked: true })}`,
        [ws, opts.now, limit],
      );
      if (rows.length === 0) return [];
      const lease = opts.now + opts.leaseMs;
      const ids = rows.map((r) => Number(r.id));
      for (const part of chunks(ids, IN_CHUNK)) {
        const inl = d.inList("id", part);
        await tx.run(
          `UPDATE deliveries SET next_attempt_at = ?, claimed_at = ?, updated_at = ? WHERE workspace_id = ? AND ${inl.sql}`,
          [lease, opts.now, opts.now, ws, ...inl.params],
        );
      }
      return rows.map((r) => ({ ...toDeliveryJob(r), next_attempt_at: lease, updated_at: opts.now }));
    });
  }

  /**
   * Makes every claim whose outcome was never recorded due again, at the instant it was
   * claimed (so it keeps its place among the due): for a process that takes the workspace
   * over from one that is gone. Answers how many were released.
   */
  async releaseClaims(now: number): Promise<number> {
    return this.s.x.run(
      `UPDATE deliveries SET next_attempt_at = claimed_at, claimed_at = NULL, updated_at = ?
       WHERE workspace_id = ? AND status = 'pending' AND claimed_at IS NOT NULL`,
      [now, this.s.ws],
    );
  }

  /** A delivery with what is needed to send it (as `claim` hands out), without leasing it. */
  async getJob(id: number): Promise<DeliveryJob | null> {
    const rows = await this.s.x.all(
      `SELECT ${DELIVERY_JOB_COLUMNS}
       ${DELIVERY_JOB_FROM}
       WHERE d.workspace_id = ? AND d.id = ?`,
      [this.s.ws, id],
    );
    return rows.length > 0 ? toDeliveryJob(rows[0]) : null;
  }

  /** Queues one delivery whose body is fixed now (not one per change: no deduplication). */
  async addPayload(d: NewPayloadDelivery): Promise<DeliveryRecord> {
    const ws = this.s.ws;
    const now = this.s.clock.now();
    return this.s.x.atomic(async (tx) => {
      const fixed = typeof d.payload === "string" ? d.payload : "";
      const inserted = await tx.all(
        `INSERT INTO deliveries (workspace_id, webhook_id, change_seq, redelivery_of, payload, status, attempts,
           next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING id`,
        [ws, d.webhook_id, d.change_seq ?? 0, d.redelivery_of ?? null, fixed, d.next_attempt_at, now, now],
      );
      const id = Number(inserted[0].id);
      if (typeof d.payload === "function") {
        await tx.run("UPDATE deliveries SET payload = ? WHERE workspace_id = ? AND id = ?", [
          d.payload(id),
          ws,
          id,
        ]);
      }
      const rows = await tx.all("SELECT * FROM deliveries WHERE workspace_id = ? AND id = ?", [ws, id]);
      return toDelivery(rows[0]);
    });
  }

  /** pending → delivered. False when the delivery is not pending. */
  async markDelivered(id: number, opts: { at: number; status_code?: number | null }): Promise<boolean> {
    const n = await this.s.x.run(
      `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, claimed_at = NULL, last_error = NULL,
         last_status_code = ?, delivered_at = ?, updated_at = ?
       WHERE workspace_id = ? AND id = ? AND status = 'pending'`,
      [opts.status_code ?? null, opts.at, opts.at, this.s.ws, id],
    );
    return n > 0;
  }

  /** pending → pending (retry at `retry_at`) or failed (`retry_at` null); counts the attempt. */
  async markFailed(id: number, opts: DeliveryFailure & { at: number }): Promise<boolean> {
    const status: DeliveryStatus = opts.retry_at === null ? "failed" : "pending";
    const n = await this.s.x.run(
      `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, claimed_at = NULL, last_error = ?,
         last_status_code = ?, updated_at = ?
       WHERE workspace_id = ? AND id = ? AND status = 'pending'`,
      [status, opts.retry_at, opts.error, opts.status_code ?? null, opts.at, this.s.ws, id],
    );
    return n > 0;
  }

  async get(id: number): Promise<DeliveryRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM deliveries WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? toDelivery(rows[0]) : null;
  }

  /** A subscription's delivery log, newest first. */
  async list(webhookId: string, req: PageRequest = {}): Promise<Page<DeliveryRecord>> {
    const limit = limitOf(req);
    const before = req.cursor ? seqCursor(req.cursor) : Number.MAX_SAFE_INTEGER;
    const rows = await this.s.x.all(
      "SELECT * FROM deliveries WHERE workspace_id = ? AND webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
      [this.s.ws, webhookId, before, limit + 1],
    );
    return page(rows.map(toDelivery), limit, (d) => String(d.id));
  }

  /** Deliveries waiting, and when the oldest was queued (metrics). */
  async outboxStats(): Promise<{ pending: number; oldest_created_at: number | null }> {
    // The partial index of pending deliveries keeps this to the backlog's rows.
    const rows = await this.s.x.all(
      "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE workspace_id = ? AND status = 'pending'",
      [this.s.ws],
    );
    const oldest = rows[0].oldest;
    return { pending: Number(rows[0].n), oldest_created_at: oldest === null ? null : Number(oldest) };
  }
}
