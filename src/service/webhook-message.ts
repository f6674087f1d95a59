/**
 * What a webhook delivery sends: the JSON body (fixed when it is queued, so every attempt
 * sends the same bytes), the `Slice-Signature` and Standard Webhooks signatures of it,
 * and when a failed attempt is tried again.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { DeliveryJob } from "../store/types.ts";
import { isoInstant } from "./iso-instant.ts";
import { signWithKey, webhookSigningKey } from "./standard-webhooks.ts";

export const WEBHOOK_EVENTS = ["segment.entered", "segment.exited"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** The type of the event `POST /v1/webhooks/{id}/test` sends. */
export const TEST_EVENT = "webhook.test";
/** After a rotation, how long the previous secret keeps signing beside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

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

// ---------------------------------------------------------------- signatures

function hmacHex(secret: string, t: number, body: string): string {
  return createHmac("sha256", secret).update(`${t}.${body}`, "utf8").digest("hex");
}

/**
 * The `Slice-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
 * one `v1` per secret when several sign (a rotation).
 */
export function sign(secret: string | readonly string[], body: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  const secrets = typeof secret === "string" ? [secret] : secret;
  return `t=${t},${secrets.map((s) => `v1=${hmacHex(s, t, body)}`).join(",")}`;
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` is the body's `id` (stable
 * across attempts), one `v1,` signature per secret. A `whsec_` secret keys the HMAC
 * with its decoded bytes, as the `standardwebhooks` libraries do by default; any other
 * secret with its characters, as they do with `{ format: "raw" }` (standard-webhooks.ts).
 */
export function standardWebhookHeaders(
  secrets: readonly string[],
  eventId: string,
  unixSeconds: number,
  body: string,
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  const t = Math.floor(unixSeconds);
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(t),
    "webhook-signature": secrets
      .map((s) => signWithKey(webhookSigningKey(s).key, eventId, t, body))
      .join(" "),
  };
}

/** The secrets that sign at `now`: the current one, and the previous one during its overlap. */
export function signingSecrets(
  hook: { secret: string; previous_secret: string | null; previous_secret_until: number | null },
  now: number,
): string[] {
  const out = [hook.secret];
  if (
    hook.previous_secret !== null &&
    hook.previous_secret_until !== null &&
    now < hook.previous_secret_until
  ) {
    out.push(hook.previous_secret);
  }
  return out;
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
 * change, at}}`, or the payload fixed when it was queued (a test event, a redelivery).
 * Built only from stored values, so every attempt sends the same bytes.
 */
export function deliveryBody(
  delivery: Pick<DeliveryJob, "id" | "created_at" | "change" | "payload">,
): string {
  if (delivery.payload !== null) return delivery.payload;
  const c = delivery.change;
  if (c === null) throw new Error(`delivery ${delivery.id} has neither a payload nor a change`);
  return JSON.stringify({
    id: deliveryEventId(delivery.id),
    type: `segment.${c.change}`,
    created_at: new Date(delivery.created_at).toISOString(),
    data: {
      segment_id: c.segment_id,
      contact_id: c.contact_id,
      change: c.change,
      at: isoInstant(c.at),
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

// ---------------------------------------------------------------- test events

/** The body of a `webhook.test` event queued as delivery `deliveryId`. */
export function testEventBody(deliveryId: number, webhookId: string, at: number): string {
  return JSON.stringify({
    id: deliveryEventId(deliveryId),
    type: TEST_EVENT,
    created_at: new Date(at).toISOString(),
    data: { webhook_id: webhookId },
  });
}

/** The `id` inside a body (the `webhook-id` header), whatever produced the body. */
export function eventIdOf(body: string, deliveryId: number): string {
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    if (typeof id === "string" && id !== "") return id;
  } catch {
    // fall through: a stored payload is always JSON, this is only a guard
  }
  return deliveryEventId(deliveryId);
}
