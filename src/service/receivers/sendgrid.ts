/**
 * SendGrid (Twilio) Signed Event Webhook.
 * https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
 * https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
 *
 * Authenticity: ECDSA P-256 / SHA-256 over `timestamp + raw body`, DER signature in
 * base64 in `X-Twilio-Email-Event-Webhook-Signature`, the timestamp (unix seconds) in
 * `X-Twilio-Email-Event-Webhook-Timestamp`; checked with SendGrid's own
 * `@sendgrid/eventwebhook` against the "verification key" the user copies from SendGrid
 * (base64 of the DER public key). Refused: a timestamp more than 5 minutes old or ahead,
 * and a signature already seen (replay).
 *
 * Body: a JSON array of events. Mapping (`event` → Slice):
 *
 * | SendGrid event                        | Slice event                                   |
 * |---------------------------------------|-----------------------------------------------|
 * | processed                             | email_sent (SendGrid accepted it for delivery) |
 * | delivered                             | email_delivered                               |
 * | open                                  | email_opened (`machine_open: true` for Apple MPP-style machine opens) |
 * | click                                 | email_clicked (`url`)                          |
 * | bounce, `type: "bounce"` (or no type) | email_bounced, bounce_type hard               |
 * | bounce, `type: "blocked"`             | email_bounced, bounce_type soft               |
 * | dropped, `reason: "Bounced Address"`  | email_bounced, bounce_type hard (the address is on SendGrid's bounce list) |
 * | spamreport                            | email_complained                              |
 * | unsubscribe, group_unsubscribe        | email_unsubscribed (`asm_group_id` for a group) |
 *
 * Skipped: deferred (SendGrid is still retrying; a final failure arrives as bounce),
 * dropped for any other reason (unsubscribed/spam-reported addresses already have their
 * own event; invalid or spam content is not the recipient's doing), group_resubscribe
 * (Slice has no resubscribe event), account and any unknown events.
 *
 * Event id: `sendgrid:` + `sg_event_id` (unique per event, repeated on redelivery).
 */
import eventwebhook from "@sendgrid/eventwebhook";
import { z } from "zod";
import {
  checkCount,
  checkFreshness,
  compact,
  eventId,
  header,
  ItemError,
  isRecord,
  mapItems,
  optionalString,
  parseJsonBody,
  recipient,
  requiredString,
  unixSecondsToMs,
} from "./mapping.ts";
import {
  type MappedEvent,
  type ParseResult,
  type ReceiverAdapter,
  ReceiverInputError,
  type SliceEmailEventType,
} from "./types.ts";

const { EventWebhook } = eventwebhook;
const webhook = new EventWebhook();

export const SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature";
export const TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp";
const MAX_AGE_MS = 5 * 60_000;

function publicKeyParses(key: string): boolean {
  try {
    webhook.convertPublicKeyToECDSA(key);
    return true;
  } catch {
    return false;
  }
}

export const sendgridConfig = z.object({
  public_key: z
    .string()
    .trim()
    .min(1, "public_key is required: the verification key shown in SendGrid's Event Webhook settings")
    .refine(
      publicKeyParses,
      "public_key is not an ECDSA public key (expected SendGrid's base64 verification key)",
    ),
});
export type SendgridConfig = z.infer<typeof sendgridConfig>;

export const sendgrid: ReceiverAdapter<SendgridConfig> = {
  provider: "sendgrid",
  config: sendgridConfig,
  secretKeys: [],

  async verify(req, config, replay) {
    const signature = header(req, SIGNATURE_HEADER);
    const timestamp = header(req, TIMESTAMP_HEADER);
    if (!signature) return { ok: false, reason: "missing X-Twilio-Email-Event-Webhook-Signature header" };
    if (!timestamp) return { ok: false, reason: "missing X-Twilio-Email-Event-Webhook-Timestamp header" };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "timestamp header is not unix seconds" };
    const stale = checkFreshness(Number(timestamp) * 1000, req.now, MAX_AGE_MS, MAX_AGE_MS);
    if (stale) return stale;
    let valid: boolean;
    try {
      valid = webhook.verifySignature(
        webhook.convertPublicKeyToECDSA(config.public_key),
        req.rawBody,
        signature,
        timestamp,
      );
    } catch {
      // starkbank-ecdsa throws on a signature that is not base64 DER.
      return { ok: false, reason: "signature mismatch (malformed signature)" };
    }
    if (!valid) return { ok: false, reason: "signature mismatch" };
    // Recorded only once authentic, so forged requests cannot fill the guard.
    if (replay.seen(`sendgrid:${signature}`, req.now)) {
      return { ok: false, reason: "replay: this signature was already received" };
    }
    return { ok: true };
  },

  parse(req): ParseResult {
    const body = parseJsonBody(req, "sendgrid");
    if (!Array.isArray(body)) throw new ReceiverInputError("sendgrid body must be a JSON array of events");
    checkCount(body.length, "sendgrid body");
    return mapItems(body, mapEvent);
  },
};

const SIMPLE = new Map<string, SliceEmailEventType>([
  ["processed", "email_sent"],
  ["delivered", "email_delivered"],
  ["open", "email_opened"],
  ["click", "email_clicked"],
  ["spamreport", "email_complained"],
  ["unsubscribe", "email_unsubscribed"],
  ["group_unsubscribe", "email_unsubscribed"],
]);

function mapEvent(item: unknown, index: number): MappedEvent[] {
  const at = `events[${index}]`;
  if (!isRecord(item)) throw new ItemError(`${at}: not an object`);
  const kind = requiredString(item.event, `${at}.event`);
  let type: SliceEmailEventType | undefined = SIMPLE.get(kind);
  let bounceType: "hard" | "soft" | undefined;
  if (kind === "bounce") {
    type = "email_bounced";
    bounceType = item.type === "blocked" ? "soft" : "hard";
  } else if (kind === "dropped" && item.reason === "Bounced Address") {
    type = "email_bounced";
    bounceType = "hard";
  }
  if (!type) return [];

  const email = recipient(item.email, `${at}.email`);
  const timestamp = unixSecondsToMs(item.timestamp);
  if (!Number.isFinite(timestamp)) {
    throw new ItemError(`${at}.timestamp: ${JSON.stringify(item.timestamp)} is not unix seconds`);
  }
  const sgEventId = requiredString(item.sg_event_id, `${at}.sg_event_id`);
  const category = Array.isArray(item.category)
    ? item.category.filter((c) => typeof c === "string").join(",")
    : optionalString(item.category);
  return [
    {
      id: eventId("sendgrid", sgEventId),
      type,
      contact: { email },
      timestamp: Math.round(timestamp),
      properties: compact({
        provider: "sendgrid",
        provider_event: kind,
        message_id: optionalString(item.sg_message_id),
        category,
        url: type === "email_clicked" ? optionalString(item.url) : undefined,
        bounce_type: bounceType,
        bounce_classification: optionalString(item.bounce_classification),
        reason: optionalString(item.reason),
        status: optionalString(item.status),
        asm_group_id: typeof item.asm_group_id === "number" ? item.asm_group_id : undefined,
        machine_open: item.sg_machine_open === true ? true : undefined,
      }),
    },
  ];
}
