/**
 * Postmark webhooks.
 * https://postmarkapp.com/developer/webhooks/webhooks-overview
 * https://postmarkapp.com/developer/webhooks/bounce-webhook (and delivery-, open-, click-,
 * spam-complaint-, subscription-change-webhook)
 * https://postmarkapp.com/developer/api/bounce-api#bounce-types
 *
 * Authenticity: Postmark does not sign webhooks. Its documented protection is HTTP Basic
 * credentials in the webhook URL (`https://user:password@host/hooks/{id}`) plus an IP
 * allowlist at the network edge. Slice generates the credentials when the user gives none
 * and compares the `Authorization` header in constant time. There is no timestamp or
 * nonce to check, so a captured request could be sent again; replays are harmless
 * because every mapped event carries a deterministic id, which Slice accepts once.
 *
 * Body: one JSON object per request. Mapping (`RecordType` → Slice):
 *
 * | Postmark record                                   | Slice event                       |
 * |---------------------------------------------------|-----------------------------------|
 * | Delivery                                          | email_delivered                   |
 * | Open                                              | email_opened                      |
 * | Click                                             | email_clicked (`url` = OriginalLink) |
 * | Bounce, Type HardBounce, BadEmailAddress, ManuallyDeactivated | email_bounced, bounce_type hard |
 * | Bounce, Type SoftBounce, Transient, DnsError, Blocked, DMARCPolicy, Unknown | email_bounced, bounce_type soft |
 * | Bounce, Type Unsubscribe                          | email_unsubscribed                |
 * | Bounce, Type SpamComplaint; SpamComplaint         | email_complained                  |
 * | SubscriptionChange, SuppressSending true, SuppressionReason ManualSuppression | email_unsubscribed |
 *
 * Skipped: other bounce types (AutoResponder, AddressChange, Subscribe, SpamNotification,
 * OpenRelayTest, VirusNotification, ChallengeVerification, Unconfirmed, SMTPApiError,
 * InboundError, TemplateRenderingFailed: not a failure of the recipient's address);
 * SubscriptionChange for a HardBounce or SpamComplaint suppression (the Bounce and
 * SpamComplaint records carry those) and reactivations (SuppressSending false: Slice has
 * no resubscribe event); inbound and unknown records.
 *
 * Event ids: `postmark:Bounce:{ID}` / `postmark:SpamComplaint:{ID}` (Postmark's bounce id);
 * `postmark:{MessageID}:{RecordType}:{recipient}` for Delivery, with the event time (and
 * link) added for Open, Click and SubscriptionChange, which can happen more than once per
 * message. Ids over 200 characters become `postmark:` + sha256 hex.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import {
  compact,
  eventId,
  eventTime,
  header,
  ItemError,
  isRecord,
  type Json,
  mapItems,
  optionalString,
  parseJsonBody,
  recipient,
  requiredString,
  safeEqual,
} from "./mapping.ts";
import {
  type MappedEvent,
  type ParseResult,
  type PropertyValue,
  type ReceiverAdapter,
  ReceiverInputError,
  type SliceEmailEventType,
} from "./types.ts";

/** Unreserved URL characters only, so the credentials go into the webhook URL unescaped. */
const URL_SAFE = /^[A-Za-z0-9._~-]+$/;

export const postmarkConfig = z.object({
  username: z
    .string()
    .min(1, "username is required")
    .max(100)
    .regex(URL_SAFE, "username may only contain letters, digits and . _ ~ -"),
  password: z
    .string()
    .min(16, "password must be at least 16 characters")
    .max(200)
    .regex(URL_SAFE, "password may only contain letters, digits and . _ ~ -"),
});
export type PostmarkConfig = z.infer<typeof postmarkConfig>;

function parseBasic(value: string): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const postmark: ReceiverAdapter<PostmarkConfig> = {
  provider: "postmark",
  config: postmarkConfig,
  secretKeys: ["password"],

  generate() {
    return {
      username: `slice-${randomBytes(6).toString("hex")}`,
      // 32 url-safe characters (192 random bits).
      password: randomBytes(24).toString("base64url"),
    };
  },

  async verify(req, config) {
    const authorization = header(req, "authorization");
    if (!authorization) {
      return {
        ok: false,
        reason: "missing Authorization header (put the credentials in Postmark's webhook URL)",
      };
    }
    const given = parseBasic(authorization);
    if (!given) return { ok: false, reason: "Authorization header is not HTTP Basic credentials" };
    // Both compared, whatever the first gives, so timing tells nothing about which is wrong.
    const userOk = safeEqual(given.username, config.username);
    const passwordOk = safeEqual(given.password, config.password);
    if (!userOk || !passwordOk) return { ok: false, reason: "wrong basic-auth credentials" };
    return { ok: true };
  },

  parse(req): ParseResult {
    const body = parseJsonBody(req, "postmark");
    if (!isRecord(body)) throw new ReceiverInputError("postmark body must be a JSON object");
    if (typeof body.RecordType !== "string")
      throw new ReceiverInputError('postmark body has no "RecordType"');
    return mapItems([body], (record) => mapRecord(record));
  },
};

const HARD = new Set(["HardBounce", "BadEmailAddress", "ManuallyDeactivated"]);
const SOFT = new Set(["SoftBounce", "Transient", "DnsError", "Blocked", "DMARCPolicy", "Unknown"]);

function mapRecord(r: Json): MappedEvent[] {
  const kind = r.RecordType as string;
  const messageId = optionalString(r.MessageID) ?? optionalString(r.MessageId);
  const base: Record<string, PropertyValue | undefined> = {
    provider: "postmark",
    provider_event: kind,
    message_id: messageId,
    tag: optionalString(r.Tag),
    message_stream: optionalString(r.MessageStream),
  };
  const event = (
    type: SliceEmailEventType,
    email: string,
    timestamp: number,
    idParts: string[],
    extra: Record<string, PropertyValue | undefined> = {},
  ): MappedEvent[] => [
    {
      id: eventId("postmark", ...idParts),
      type,
      contact: { email },
      timestamp,
      properties: compact({ ...base, ...extra }),
    },
  ];
  const message = () => requiredString(messageId, "MessageID");

  switch (kind) {
    case "Delivery": {
      const email = recipient(r.Recipient, "Recipient");
      return event("email_delivered", email, eventTime(r.DeliveredAt, "DeliveredAt"), [
        message(),
        kind,
        email,
      ]);
    }
    case "Open": {
      const email = recipient(r.Recipient, "Recipient");
      const at = requiredString(r.ReceivedAt, "ReceivedAt");
      return event("email_opened", email, eventTime(at, "ReceivedAt"), [message(), kind, email, at], {
        first_open: typeof r.FirstOpen === "boolean" ? r.FirstOpen : undefined,
      });
    }
    case "Click": {
      const email = recipient(r.Recipient, "Recipient");
      const at = requiredString(r.ReceivedAt, "ReceivedAt");
      const url = requiredString(r.OriginalLink, "OriginalLink");
      return event("email_clicked", email, eventTime(at, "ReceivedAt"), [message(), kind, email, at, url], {
        url,
      });
    }
    case "Bounce":
    case "SpamComplaint": {
      const bounceType = requiredString(r.Type, "Type");
      let type: SliceEmailEventType | undefined;
      let hardness: "hard" | "soft" | undefined;
      if (kind === "SpamComplaint" || bounceType === "SpamComplaint") type = "email_complained";
      else if (bounceType === "Unsubscribe") type = "email_unsubscribed";
      else if (HARD.has(bounceType)) [type, hardness] = ["email_bounced", "hard"];
      else if (SOFT.has(bounceType)) [type, hardness] = ["email_bounced", "soft"];
      if (!type) return [];
      const email = recipient(r.Email, "Email");
      const id = typeof r.ID === "number" || typeof r.ID === "string" ? String(r.ID) : undefined;
      if (!id) throw new ItemError("ID: missing bounce id");
      return event(type, email, eventTime(r.BouncedAt, "BouncedAt"), [kind, id], {
        bounce_type: hardness,
        postmark_bounce_type: bounceType,
        reason: optionalString(r.Description) ?? optionalString(r.Details),
      });
    }
    case "SubscriptionChange": {
      if (r.SuppressSending !== true || r.SuppressionReason !== "ManualSuppression") return [];
      const email = recipient(r.Recipient, "Recipient");
      const at = requiredString(r.ChangedAt, "ChangedAt");
      return event(
        "email_unsubscribed",
        email,
        eventTime(at, "ChangedAt"),
        [messageId ?? "none", kind, email, at],
        { origin: optionalString(r.Origin) },
      );
    }
    default:
      return [];
  }
}
