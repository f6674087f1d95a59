/**
 * Resend webhooks (delivered through Svix).
 * https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests
 * https://resend.com/docs/webhooks/event-types (and /webhooks/emails/bounced, …/clicked, …)
 *
 * Authenticity: headers `svix-id`, `svix-timestamp`, `svix-signature`; checked with the
 * `svix` package's `Webhook` against the endpoint's signing secret (`whsec_…`). Refused:
 * a timestamp more than 5 minutes old or ahead (checked here against the request's
 * clock so the reason is precise; svix checks the same tolerance against the process
 * clock), and an svix-id already seen (replay).
 *
 * Body: one event `{ type, created_at, data }`; `data.to` lists the recipients, and each
 * becomes its own Slice event. Mapping (`type` → Slice):
 *
 * | Resend event      | Slice event                                                      |
 * |-------------------|------------------------------------------------------------------|
 * | email.sent        | email_sent                                                       |
 * | email.delivered   | email_delivered                                                  |
 * | email.opened      | email_opened                                                     |
 * | email.clicked     | email_clicked (`url`; time of the click)                         |
 * | email.bounced     | email_bounced: bounce.type Permanent (or none) → hard; Transient, Undetermined → soft |
 * | email.complained  | email_complained                                                 |
 *
 * Skipped: email.delivery_delayed (Resend is still retrying; a final failure arrives as
 * email.bounced), email.failed (the send itself failed: quota, API key, domain), email.
 * scheduled, email.suppressed (not sent to a suppressed address; the bounce or complaint
 * that suppressed it already counted), email.received, contact.*, domain.*, and unknown
 * types.
 *
 * Event id: `resend:{svix-id}` (the same on Resend's retries), with `:{recipient}` added
 * when the email had several recipients.
 */
import { Webhook } from "svix";
import { z } from "zod";
import {
  checkCount,
  checkFreshness,
  compact,
  eventId,
  eventTime,
  header,
  ItemError,
  isRecord,
  mapItems,
  optionalString,
  parseJsonBody,
  recipient,
} from "./mapping.ts";
import {
  type MappedEvent,
  type ParseResult,
  type ReceiverAdapter,
  ReceiverInputError,
  type SliceEmailEventType,
} from "./types.ts";

const MAX_AGE_MS = 5 * 60_000;

function secretParses(secret: string): boolean {
  try {
    new Webhook(secret);
    return true;
  } catch {
    return false;
  }
}

export const resendConfig = z.object({
  secret: z
    .string()
    .trim()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, "secret must be Resend's webhook signing secret (whsec_…)")
    .refine(secretParses, "secret is not a valid whsec_ signing secret"),
});
export type ResendConfig = z.infer<typeof resendConfig>;

export const resend: ReceiverAdapter<ResendConfig> = {
  provider: "resend",
  config: resendConfig,
  secretKeys: ["secret"],

  async verify(req, config, replay) {
    const id = header(req, "svix-id");
    const timestamp = header(req, "svix-timestamp");
    const signature = header(req, "svix-signature");
    if (!id || !timestamp || !signature) {
      return { ok: false, reason: "missing svix-id, svix-timestamp or svix-signature header" };
    }
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "svix-timestamp is not unix seconds" };
    const stale = checkFreshness(Number(timestamp) * 1000, req.now, MAX_AGE_MS, MAX_AGE_MS);
    if (stale) return stale;
    try {
      new Webhook(config.secret).verify(req.rawBody, {
        "svix-id": id,
        "svix-timestamp": timestamp,
        "svix-signature": signature,
      });
    } catch (err) {
      const message = (err as Error).message;
      return {
        ok: false,
        reason: /signature/i.test(message) ? "signature mismatch" : `signature check failed: ${message}`,
      };
    }
    if (replay.seen(`resend:${id}`, req.now)) {
      return { ok: false, reason: "replay: this svix-id was already received" };
    }
    return { ok: true };
  },

  parse(req): ParseResult {
    const svixId = header(req, "svix-id");
    if (!svixId) throw new ReceiverInputError("missing svix-id header");
    const body = parseJsonBody(req, "resend");
    if (!isRecord(body)) throw new ReceiverInputError("resend body must be a JSON object");
    if (typeof body.type !== "string") throw new ReceiverInputError('resend body has no "type"');
    if (!isRecord(body.data)) throw new ReceiverInputError('resend body has no "data" object');
    const data = body.data;
    const type = TYPES.get(body.type);
    if (!type) return { events: [], errors: [] };
    const to = Array.isArray(data.to) ? data.to : typeof data.to === "string" ? [data.to] : undefined;
    if (!to || to.length === 0) throw new ReceiverInputError("resend data.to lists no recipient");
    checkCount(to.length, "resend data.to");
    const kind = body.type;
    const click = isRecord(data.click) ? data.click : undefined;
    const bounce = isRecord(data.bounce) ? data.bounce : undefined;
    let bounceType: "hard" | "soft" | undefined;
    if (type === "email_bounced") {
      bounceType = bounce?.type === undefined || bounce.type === "Permanent" ? "hard" : "soft";
    }
    const url = type === "email_clicked" ? optionalString(click?.link) : undefined;
    return mapItems(to, (address, index): MappedEvent[] => {
      const email = recipient(address, `data.to[${index}]`);
      if (type === "email_clicked" && !url) throw new ItemError("data.click.link: missing clicked link");
      // A click has its own time; the event's created_at is when Resend recorded it.
      const timestamp =
        click?.timestamp !== undefined
          ? eventTime(click.timestamp, "data.click.timestamp")
          : eventTime(body.created_at, "created_at");
      return [
        {
          id: to.length === 1 ? eventId("resend", svixId) : eventId("resend", svixId, email),
          type,
          contact: { email },
          timestamp,
          properties: compact({
            provider: "resend",
            provider_event: kind,
            email_id: optionalString(data.email_id),
            broadcast_id: optionalString(data.broadcast_id),
            url,
            bounce_type: bounceType,
            bounce_subtype: optionalString(bounce?.subType),
            reason: optionalString(bounce?.message),
          }),
        },
      ];
    });
  },
};

const TYPES = new Map<string, SliceEmailEventType>([
  ["email.sent", "email_sent"],
  ["email.delivered", "email_delivered"],
  ["email.opened", "email_opened"],
  ["email.clicked", "email_clicked"],
  ["email.bounced", "email_bounced"],
  ["email.complained", "email_complained"],
]);
