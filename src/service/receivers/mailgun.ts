/**
 * Mailgun webhooks (current, "v3" JSON webhooks).
 * https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
 * https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads
 * https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-types
 *
 * Authenticity: the body is `{ signature: { timestamp, token, signature }, "event-data": {…} }`;
 * `signature` is the hex HMAC-SHA256 of `timestamp + token` under the account's HTTP
 * webhook signing key, compared in constant time. Refused: a timestamp more than 5
 * minutes old or ahead, and a token already seen (replay). The signature does not cover
 * `event-data`; Mailgun's scheme relies on the token being single-use, which the replay
 * guard enforces.
 *
 * Mailgun retries a delivery that did not get a 200 (or a 406, which stops retries) over
 * hours, and reportedly resends the original signature block; such a retry is refused
 * here as stale (and its token as seen). So retries cannot recover a delivery, and the
 * caller may as well answer 406 to a refused Mailgun request, which stops them.
 *
 * Mapping (`event-data.event` → Slice), one event per request:
 *
 * | Mailgun event                     | Slice event                         |
 * |-----------------------------------|-------------------------------------|
 * | accepted                          | email_sent                          |
 * | delivered                         | email_delivered                     |
 * | opened                            | email_opened                        |
 * | clicked                           | email_clicked (`url`)               |
 * | failed, `severity: "permanent"`   | email_bounced, bounce_type hard     |
 * | failed, `severity: "temporary"`   | email_bounced, bounce_type soft     |
 * | complained                        | email_complained                    |
 * | unsubscribed                      | email_unsubscribed                  |
 *
 * Skipped: failed with reason `suppress-unsubscribe` or `suppress-complaint` (Mailgun
 * did not send to an address that unsubscribed or complained earlier; that is not a
 * bounce and the earlier event already counted), rejected (Mailgun refused the send
 * request itself), stored, list events and any unknown event.
 *
 * Event id: `mailgun:` + `event-data.id` (unique per event).
 */
import { createHmac } from "node:crypto";
import { z } from "zod";
import {
  checkFreshness,
  compact,
  eventId,
  ItemError,
  isRecord,
  type Json,
  mapItems,
  optionalString,
  parseJsonBody,
  recipient,
  requiredString,
  safeEqual,
  unixSecondsToMs,
} from "./mapping.ts";
import {
  type InboundRequest,
  type MappedEvent,
  type ParseResult,
  type ReceiverAdapter,
  ReceiverInputError,
  type SliceEmailEventType,
} from "./types.ts";

const MAX_AGE_MS = 5 * 60_000;

export const mailgunConfig = z.object({
  signing_key: z.string().trim().min(1, "signing_key is required: Mailgun's HTTP webhook signing key"),
});
export type MailgunConfig = z.infer<typeof mailgunConfig>;

interface MailgunSignature {
  timestamp: string;
  token: string;
  signature: string;
}

function readBody(req: InboundRequest): { signature: MailgunSignature; eventData: unknown } {
  const body = parseJsonBody(req, "mailgun");
  if (!isRecord(body)) throw new ReceiverInputError("mailgun body must be a JSON object");
  const sig = body.signature;
  if (!isRecord(sig)) throw new ReceiverInputError('mailgun body has no "signature" object');
  const timestamp = typeof sig.timestamp === "number" ? String(sig.timestamp) : sig.timestamp;
  if (typeof timestamp !== "string" || typeof sig.token !== "string" || typeof sig.signature !== "string") {
    throw new ReceiverInputError('mailgun "signature" must have string timestamp, token and signature');
  }
  return {
    signature: { timestamp, token: sig.token, signature: sig.signature },
    eventData: body["event-data"],
  };
}

export const mailgun: ReceiverAdapter<MailgunConfig> = {
  provider: "mailgun",
  config: mailgunConfig,
  secretKeys: ["signing_key"],

  async verify(req, config, replay) {
    let signature: MailgunSignature;
    try {
      signature = readBody(req).signature;
    } catch (err) {
      if (err instanceof ReceiverInputError) return { ok: false, reason: err.message };
      throw err;
    }
    const stale = checkFreshness(unixSecondsToMs(signature.timestamp), req.now, MAX_AGE_MS, MAX_AGE_MS);
    if (stale) return stale;
    const expected = createHmac("sha256", config.signing_key)
      .update(signature.timestamp + signature.token)
      .digest("hex");
    if (!safeEqual(expected, signature.signature.toLowerCase()))
      return { ok: false, reason: "signature mismatch" };
    if (replay.seen(`mailgun:${signature.token}`, req.now)) {
      return { ok: false, reason: "replay: this token was already received" };
    }
    return { ok: true };
  },

  parse(req): ParseResult {
    const { eventData } = readBody(req);
    if (!isRecord(eventData)) throw new ReceiverInputError('mailgun body has no "event-data" object');
    return mapItems([eventData], (item) => mapEvent(item));
  },
};

const SIMPLE = new Map<string, SliceEmailEventType>([
  ["accepted", "email_sent"],
  ["delivered", "email_delivered"],
  ["opened", "email_opened"],
  ["clicked", "email_clicked"],
  ["complained", "email_complained"],
  ["unsubscribed", "email_unsubscribed"],
]);

const NOT_BOUNCES = new Set(["suppress-unsubscribe", "suppress-complaint"]);

function mapEvent(data: Json): MappedEvent[] {
  const at = "event-data";
  const kind = requiredString(data.event, `${at}.event`);
  let type: SliceEmailEventType | undefined = SIMPLE.get(kind);
  let bounceType: "hard" | "soft" | undefined;
  if (kind === "failed") {
    if (typeof data.reason === "string" && NOT_BOUNCES.has(data.reason)) return [];
    if (data.severity === "permanent") bounceType = "hard";
    else if (data.severity === "temporary") bounceType = "soft";
    else
      throw new ItemError(
        `${at}.severity: ${JSON.stringify(data.severity)} is not "permanent" or "temporary"`,
      );
    type = "email_bounced";
  }
  if (!type) return [];

  const email = recipient(data.recipient, `${at}.recipient`);
  const timestamp = unixSecondsToMs(data.timestamp);
  if (!Number.isFinite(timestamp)) {
    throw new ItemError(`${at}.timestamp: ${JSON.stringify(data.timestamp)} is not unix seconds`);
  }
  const id = requiredString(data.id, `${at}.id`);
  const headers = isRecord(data.message) && isRecord(data.message.headers) ? data.message.headers : {};
  const status = isRecord(data["delivery-status"]) ? data["delivery-status"] : {};
  const tags = Array.isArray(data.tags) ? data.tags.filter((t) => typeof t === "string").join(",") : null;
  return [
    {
      id: eventId("mailgun", id),
      type,
      contact: { email },
      timestamp: Math.round(timestamp),
      properties: compact({
        provider: "mailgun",
        provider_event: kind,
        message_id: optionalString(headers["message-id"]),
        tags,
        url: type === "email_clicked" ? optionalString(data.url) : undefined,
        bounce_type: bounceType,
        severity: optionalString(data.severity),
        reason:
          type === "email_bounced"
            ? (optionalString(status.description) ??
              optionalString(status.message) ??
              optionalString(data.reason))
            : undefined,
        status_code: typeof status.code === "number" ? status.code : undefined,
      }),
    },
  ];
}
