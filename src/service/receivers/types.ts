/**
 * Shared contract of the sending-platform receivers (`POST /hooks/{receiver_id}`): each
 * provider module checks that a request is authentic and fresh (`verify`), then maps its
 * body to Slice events (`parse`). The HTTP route, the storage of receivers and the
 * counters live elsewhere; these modules are pure apart from the replay guard they are
 * handed and, for SNS, the certificate fetch.
 */
import type { z } from "zod";

export type Provider = "sendgrid" | "mailgun" | "ses" | "postmark" | "resend";

export interface InboundRequest {
  /** Lower-cased names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** Exact bytes received: signatures are over raw bytes. */
  rawBody: Buffer;
  /** ms since epoch (the server clock; tests pass their own). */
  now: number;
}

export type PropertyValue = string | number | boolean | null;

export interface MappedEvent {
  /** Deterministic idempotency key: a redelivery of the same provider event maps to the same id. */
  id: string;
  /** A Slice event type (SPEC §2): email_sent, email_delivered, email_opened, … */
  type: SliceEmailEventType;
  /** Recipient, trimmed and lower-cased. */
  contact: { email: string };
  /** ms since epoch, from the provider's event time. */
  timestamp: number;
  properties: Record<string, PropertyValue>;
}

export const SLICE_EMAIL_EVENT_TYPES = [
  "email_sent",
  "email_delivered",
  "email_opened",
  "email_clicked",
  "email_bounced",
  "email_complained",
  "email_unsubscribed",
] as const;
export type SliceEmailEventType = (typeof SLICE_EMAIL_EVENT_TYPES)[number];

/** `reason` is shown to the user ("signature mismatch", "timestamp too old"). */
export type Verdict = { ok: true } | { ok: false; reason: string };

export interface ParseResult {
  events: MappedEvent[];
  /** Per-item problems. Unknown event kinds are skipped, not errors; malformed items are errors. */
  errors: { index: number; error: string }[];
  /** SNS only: a SubscriptionConfirmation whose SubscribeURL the caller must GET (after verification). */
  confirm?: { subscribeUrl: string; topicArn: string };
}

/**
 * Remembers what was seen, so a captured request cannot be played again while its
 * timestamp is still fresh. `seen` returns true if `key` was seen within its window and
 * records it either way.
 */
export interface ReplayGuard {
  seen(key: string, now: number): boolean;
}

export interface ReceiverAdapter<C> {
  provider: Provider;
  /** zod schema of the config the user gives when creating a receiver (secrets included). */
  config: z.ZodType<C>;
  /** Secrets Slice generates when the user gives none (Postmark basic-auth credentials); else undefined. */
  generate?(): Partial<C>;
  /** Which config keys are secret (never returned by the API). */
  secretKeys: readonly (keyof C & string)[];
  /** Checks authenticity and freshness. Async because SNS fetches a certificate. */
  verify(req: InboundRequest, config: C, replay: ReplayGuard): Promise<Verdict>;
  /** Maps a verified body to Slice events. Throws ReceiverInputError for a body that is not the provider's format. */
  parse(req: InboundRequest, config: C): ParseResult;
}

/** A body that is not the provider's format at all (as opposed to one bad item in a batch). */
export class ReceiverInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReceiverInputError";
  }
}

/** Most events one request may carry; providers batch far fewer (SendGrid: ~1,000). */
export const MAX_EVENTS_PER_REQUEST = 10_000;
