/**
 * Consent as destinations see it (docs/destinations.md, "What each connector sends"):
 * one reading of a contact's effective `status` and `email_status`, so that no
 * connector decides on its own whom it may mark as subscribed.
 */
import type { SyncContact } from "./types.ts";

/**
 * - `subscribed`: opted in, and mail reaches them (`deliverable` or `soft_bouncing`, or unknown).
 * - `unsubscribed`: opted out.
 * - `non_subscribed`: never opted in (or no status).
 * - `hard_bounced` / `complained`: whatever the status, mail must not be sent.
 */
export type Consent = "subscribed" | "unsubscribed" | "non_subscribed" | "hard_bounced" | "complained";

export function consentOf(c: Pick<SyncContact, "status" | "email_status">): Consent {
  if (c.email_status === "complained") return "complained";
  if (c.email_status === "hard_bounced") return "hard_bounced";
  if (c.status === "unsubscribed") return "unsubscribed";
  if (c.status === "subscribed") return "subscribed";
  return "non_subscribed";
}

/** May an email platform be told this contact is subscribed? */
export function maySubscribe(c: Pick<SyncContact, "status" | "email_status">): boolean {
  return consentOf(c) === "subscribed";
}
