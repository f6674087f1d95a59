/**
 * The typed client of webhook subscriptions (`/v1/webhooks`, docs/webhooks.md): a signed
 * POST to a URL for every segment entry or exit, its delivery log, a test event,
 * redelivery and secret rotation. Secrets are answered once, on creation and rotation.
 */
import { call } from "./api.ts";

export const WEBHOOK_EVENTS = ["segment.entered", "segment.exited"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  /** Only this segment's changes; null for every segment. */
  segment_id: string | null;
  created_at: string;
  /** Set while a rotated-out secret still signs deliveries beside the new one. */
  previous_secret_expires_at: string | null;
}

/** A new subscription: `secret` is shown only here. */
export interface CreatedWebhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  segment_id: string | null;
  secret: string;
  created_at: string;
}

/** After a rotation: the new `secret`, shown only here. */
export interface RotatedWebhook extends Webhook {
  secret: string;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface WebhookDelivery {
  id: number;
  webhook_id: string;
  /** The change reported; null for a test event. */
  change_seq: number | null;
  /** For a redelivery, the delivery it repeats. */
  redelivery_of: number | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export interface TestOutcome {
  ok: boolean;
  status_code: number | null;
  error: string | null;
  delivery: WebhookDelivery;
}

export interface NewWebhook {
  url: string;
  events: WebhookEvent[];
  segment_id: string | null;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const at = (id: string | number) => encodeURIComponent(String(id));

export const webhooksApi = {
  list: () => call<Page<Webhook>>("GET", "/v1/webhooks").then((p) => p.data),
  get: (id: string) => call<Webhook>("GET", `/v1/webhooks/${at(id)}`),
  create: (w: NewWebhook) => call<CreatedWebhook>("POST", "/v1/webhooks", w),
  delete: (id: string) => call<null>("DELETE", `/v1/webhooks/${at(id)}`),
  deliveries: (id: string, cursor?: string, limit = 20) => {
    const q = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    return call<Page<WebhookDelivery>>("GET", `/v1/webhooks/${at(id)}/deliveries?${q}`);
  },
  test: (id: string) => call<TestOutcome>("POST", `/v1/webhooks/${at(id)}/test`),
  redeliver: (id: string, delivery: number) =>
    call<WebhookDelivery>("POST", `/v1/webhooks/${at(id)}/deliveries/${at(delivery)}/redeliver`),
  rotateSecret: (id: string) => call<RotatedWebhook>("POST", `/v1/webhooks/${at(id)}/rotate-secret`),
};

export const EVENT_LABEL: Record<WebhookEvent, string> = {
  "segment.entered": "Entered a segment",
  "segment.exited": "Left a segment",
};

export const DELIVERY_STATUS_COLOR: Record<DeliveryStatus, string> = {
  pending: "blue",
  delivered: "green",
  failed: "red",
};

/**
 * An instant relative to now, as a person says it: "just now", "3 min ago", "in 30 s",
 * "2 days ago"; past a week, the date. The exact time goes in a tooltip beside it.
 */
export function relative(iso: string | null, now = Date.now()): string {
  if (!iso) return "never";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((t - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return "just now";
  const say = (n: number, unit: string) => (s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (abs < 60) return say(abs, "s");
  if (abs < 3600) return say(Math.round(abs / 60), "min");
  if (abs < 86_400) return say(Math.round(abs / 3600), "h");
  if (abs < 7 * 86_400) {
    const d = Math.round(abs / 86_400);
    return say(d, d === 1 ? "day" : "days");
  }
  return new Date(t).toLocaleDateString("en-GB", { dateStyle: "medium" });
}
