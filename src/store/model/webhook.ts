/** Webhook subscriptions and their delivery outbox. */
import type { ChangeRecord } from "./change.ts";

export interface WebhookRecord {
  id: string;
  url: string;
  /** e.g. `segment.entered`, `segment.exited`. */
  events: string[];
  segment_id: string | null;
  secret: string;
  /** The secret replaced by the last rotation, still signing until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  created_at: number;
}

export interface NewWebhook {
  url: string;
  events: string[];
  segment_id?: string | null;
  /** Default: a new random secret. */
  secret?: string;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  id: number;
  webhook_id: string;
  /** The change it reports; null for a delivery that is not about a change (`webhook.test`). */
  change_seq: number | null;
  /** For a redelivery: the delivery whose payload it sends again. */
  redelivery_of: number | null;
  status: DeliveryStatus;
  attempts: number;
  /** When a pending delivery is next due; null once delivered or failed. */
  next_attempt_at: number | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** A claimed delivery with what is needed to send it. */
export interface DeliveryJob extends DeliveryRecord {
  /** Null when the change is no longer in the log, or for a delivery with its own `payload`. */
  change: ChangeRecord | null;
  /** The exact body to send, when it was fixed at queueing (tests, redeliveries); else built from `change`. */
  payload: string | null;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: number | null;
}

/** A delivery queued with its body fixed: a `webhook.test` event or a redelivery. */
export interface NewPayloadDelivery {
  webhook_id: string;
  change_seq?: number | null;
  redelivery_of?: number | null;
  /** The body, or how to build it from the new delivery's id. */
  payload: string | ((deliveryId: number) => string);
  /** When it is due (a time in the future keeps the dispatcher off it, as a lease does). */
  next_attempt_at: number;
}

export interface DeliveryFailure {
  error: string;
  status_code?: number | null;
  /** When to try again, or null to give up (status `failed`). */
  retry_at: number | null;
}
