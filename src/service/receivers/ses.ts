/**
 * Amazon SES events delivered by Amazon SNS to an HTTPS subscription.
 * https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html
 * https://docs.aws.amazon.com/sns/latest/dg/http-subscription-confirmation-json.html
 * https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
 * https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html
 *
 * Authenticity: the SNS message signature (SignatureVersion 1 = SHA1withRSA, 2 =
 * SHA256withRSA over the canonical key/value lines), checked by AWS's own
 * `sns-validator`, which downloads the certificate from `SigningCertURL` over https and
 * only from a host matching `sns.<region>.amazonaws.com` (overridable for tests, see
 * `createSesAdapter`). Also refused: a `x-amz-sns-message-type` header that disagrees
 * with the body, a TopicArn other than the receiver's `topic_arn` (when set), a
 * Timestamp more than 1 hour old or 5 minutes ahead, and a MessageId already seen.
 *
 * SubscriptionConfirmation: `parse` returns `confirm` with the SubscribeURL (checked to
 * be https on an SNS host), which the caller GETs to confirm; UnsubscribeConfirmation
 * maps to nothing. (`sns-validator` checks an UnsubscribeConfirmation against the
 * Notification key list, without Token; if SNS signs Token for it, as it does for
 * SubscriptionConfirmation, those messages are refused, which loses nothing.)
 *
 * Notification: `Message` is an SES event record (event publishing, `eventType`) or an
 * SES identity notification (`notificationType`); one Slice event per recipient:
 *
 * | SES event                 | Recipients                       | Slice event                          |
 * |---------------------------|----------------------------------|--------------------------------------|
 * | Send                      | mail.destination                 | email_sent                           |
 * | Delivery                  | delivery.recipients              | email_delivered                      |
 * | Open                      | mail.destination                 | email_opened                         |
 * | Click                     | mail.destination                 | email_clicked (`url` = click.link)   |
 * | Bounce, Permanent         | bounce.bouncedRecipients         | email_bounced, bounce_type hard      |
 * | Bounce, Transient / Undetermined | bounce.bouncedRecipients  | email_bounced, bounce_type soft      |
 * | Complaint                 | complaint.complainedRecipients   | email_complained (skipped when complaintFeedbackType is "not-spam") |
 * | Subscription, newTopicPreferences.unsubscribeAll | mail.destination | email_unsubscribed            |
 *
 * SES does not say which recipient of a multi-recipient message opened or clicked, so
 * those go to every recipient in mail.destination.
 *
 * Skipped: Reject (SES refused to send: a virus, not the recipient), Rendering Failure
 * (a template error), DeliveryDelay (SES keeps retrying; a final failure arrives as
 * Bounce), Subscription changes that do not unsubscribe from everything,
 * AmazonSnsSubscriptionSucceeded and unknown types, and plain-text messages (SES's
 * "Successfully validated SNS topic" test message).
 *
 * Event id: `ses:{mail.messageId}:{eventType}:{recipient}`, plus the event time for
 * Open, Click and Subscription (and the link for Click), which can happen more than
 * once per message; ids over 200 characters become `ses:` + sha256 hex.
 */
import MessageValidator from "sns-validator";
import { z } from "zod";
import {
  checkCount,
  checkFreshness,
  compact,
  eventId,
  eventTime,
  header,
  isRecord,
  type Json,
  mapItems,
  optionalString,
  parseJsonBody,
  recipient,
} from "./mapping.ts";
import {
  type InboundRequest,
  type MappedEvent,
  type ParseResult,
  type PropertyValue,
  type ReceiverAdapter,
  ReceiverInputError,
  type SliceEmailEventType,
  type Verdict,
} from "./types.ts";

/** The validator's own default: SNS's regional endpoints, including China's. */
export const SNS_HOST_PATTERN = /^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$/;
const MAX_AGE_MS = 60 * 60_000;
const MAX_AHEAD_MS = 5 * 60_000;
const DEFAULT_CERT_TIMEOUT_MS = 10_000;
const MESSAGE_TYPES = new Set(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]);

export const sesConfig = z.object({
  topic_arn: z
    .string()
    .trim()
    .regex(/^arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/, "topic_arn is not an SNS topic ARN")
    .optional(),
});
export type SesConfig = z.infer<typeof sesConfig>;

export interface SesAdapterOptions {
  /**
   * Hosts `SigningCertURL` and `SubscribeURL` may name (`host` as URL parsing gives it,
   * port included). Default: SNS's regional hosts. Tests point it at a local HTTPS
   * server, since the validator downloads certificates with `https.get` and takes no
   * custom fetcher.
   */
  hostPattern?: RegExp;
  /** Longest wait for the certificate download before the message is refused. */
  certTimeoutMs?: number;
}

function readMessage(req: InboundRequest): Json {
  const body = parseJsonBody(req, "ses");
  if (!isRecord(body)) throw new ReceiverInputError("ses body must be an SNS message (a JSON object)");
  if (typeof body.Type !== "string" || !MESSAGE_TYPES.has(body.Type)) {
    throw new ReceiverInputError(`ses body has an unknown SNS message Type ${JSON.stringify(body.Type)}`);
  }
  return body;
}

function validate(message: Json, hostPattern: RegExp, timeoutMs: number): Promise<Verdict> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, reason: "signing certificate download timed out" }),
      timeoutMs,
    );
    timer.unref();
    // A copy: the validator rewrites Lambda-style keys in place.
    new MessageValidator(hostPattern).validate({ ...message }, (err) => {
      clearTimeout(timer);
      if (!err) resolve({ ok: true });
      else if (/signature is invalid/.test(err.message)) resolve({ ok: false, reason: "signature mismatch" });
      else resolve({ ok: false, reason: `signature not verified: ${err.message}` });
    });
  });
}

export function createSesAdapter(options: SesAdapterOptions = {}): ReceiverAdapter<SesConfig> {
  const hostPattern = options.hostPattern ?? SNS_HOST_PATTERN;
  const certTimeoutMs = options.certTimeoutMs ?? DEFAULT_CERT_TIMEOUT_MS;
  return {
    provider: "ses",
    config: sesConfig,
    secretKeys: [],

    async verify(req, config, replay) {
      let message: Json;
      try {
        message = readMessage(req);
      } catch (err) {
        if (err instanceof ReceiverInputError) return { ok: false, reason: err.message };
        throw err;
      }
      const headerType = header(req, "x-amz-sns-message-type");
      if (headerType !== undefined && headerType !== message.Type) {
        return {
          ok: false,
          reason: `x-amz-sns-message-type ${headerType} does not match the body's ${message.Type}`,
        };
      }
      if (config.topic_arn && message.TopicArn !== config.topic_arn) {
        return { ok: false, reason: `topic ${String(message.TopicArn)} is not this receiver's topic` };
      }
      if (typeof message.Timestamp !== "string") return { ok: false, reason: "message has no Timestamp" };
      const stale = checkFreshness(Date.parse(message.Timestamp), req.now, MAX_AGE_MS, MAX_AHEAD_MS);
      if (stale) return stale;
      if (typeof message.MessageId !== "string" || message.MessageId === "") {
        return { ok: false, reason: "message has no MessageId" };
      }
      const verdict = await validate(message, hostPattern, certTimeoutMs);
      if (!verdict.ok) return verdict;
      if (replay.seen(`ses:${message.MessageId}`, req.now)) {
        return { ok: false, reason: "replay: this MessageId was already received" };
      }
      return { ok: true };
    },

    parse(req): ParseResult {
      const message = readMessage(req);
      if (message.Type === "SubscriptionConfirmation") {
        const subscribeUrl = requiredUrl(message.SubscribeURL, "SubscribeURL", hostPattern);
        const topicArn = message.TopicArn;
        if (typeof topicArn !== "string")
          throw new ReceiverInputError("ses SubscriptionConfirmation has no TopicArn");
        return { events: [], errors: [], confirm: { subscribeUrl, topicArn } };
      }
      if (message.Type !== "Notification") return { events: [], errors: [] };
      if (typeof message.Message !== "string")
        throw new ReceiverInputError("ses Notification has no Message");
      const text = message.Message.trim();
      // SES's topic-validation test message is plain text, not an event.
      if (!text.startsWith("{")) return { events: [], errors: [] };
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        throw new ReceiverInputError(`ses Notification Message is not JSON: ${(err as Error).message}`);
      }
      if (!isRecord(record))
        throw new ReceiverInputError("ses Notification Message is not an SES event object");
      return mapRecord(record, String(message.MessageId));
    },
  };
}

/** The adapter with SNS's own certificate hosts. */
export const ses = createSesAdapter();

function requiredUrl(value: unknown, path: string, hostPattern: RegExp): string {
  if (typeof value !== "string") throw new ReceiverInputError(`ses ${path} is missing`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ReceiverInputError(`ses ${path} is not a URL`);
  }
  if (url.protocol !== "https:" || !hostPattern.test(url.host)) {
    throw new ReceiverInputError(`ses ${path} ${value} is not an https URL on an SNS host`);
  }
  return value;
}

/** `Name <addr@x>` → `addr@x`; SES usually gives bare addresses. */
function address(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const angle = /<([^<>]+)>\s*$/.exec(value);
  return angle ? angle[1] : value;
}

interface Target {
  email: unknown;
  extra?: Record<string, PropertyValue | undefined>;
}

function mapRecord(record: Json, snsMessageId: string): ParseResult {
  const kind = optionalString(record.eventType) ?? optionalString(record.notificationType);
  if (!kind)
    throw new ReceiverInputError("ses Notification Message has neither eventType nor notificationType");
  const mail = isRecord(record.mail) ? record.mail : undefined;
  const section = (name: string): Json | undefined =>
    isRecord(record[name]) ? (record[name] as Json) : undefined;
  const destination = (): Target[] => list(mail?.destination, "mail.destination").map((email) => ({ email }));

  let type: SliceEmailEventType;
  let targets: Target[];
  let timeOf: [unknown, string];
  let idExtra: string[] = [];
  const extra: Record<string, PropertyValue | undefined> = {};
  switch (kind) {
    case "Send":
      type = "email_sent";
      targets = destination();
      timeOf = [mail?.timestamp, "mail.timestamp"];
      break;
    case "Delivery": {
      const delivery = need(section("delivery"), "delivery");
      type = "email_delivered";
      targets = list(delivery.recipients, "delivery.recipients").map((email) => ({ email }));
      timeOf = [delivery.timestamp, "delivery.timestamp"];
      break;
    }
    case "Open": {
      const open = need(section("open"), "open");
      type = "email_opened";
      targets = destination();
      timeOf = [open.timestamp, "open.timestamp"];
      idExtra = [String(open.timestamp)];
      break;
    }
    case "Click": {
      const click = need(section("click"), "click");
      const link = optionalString(click.link);
      if (!link) throw new ReceiverInputError("ses Click event has no click.link");
      type = "email_clicked";
      targets = destination();
      timeOf = [click.timestamp, "click.timestamp"];
      idExtra = [String(click.timestamp), link];
      extra.url = link;
      break;
    }
    case "Bounce": {
      const bounce = need(section("bounce"), "bounce");
      const bounceType = bounce.bounceType;
      type = "email_bounced";
      extra.bounce_type = bounceType === "Permanent" ? "hard" : "soft";
      extra.ses_bounce_type = optionalString(bounceType);
      extra.ses_bounce_subtype = optionalString(bounce.bounceSubType);
      targets = list(bounce.bouncedRecipients, "bounce.bouncedRecipients").map((r) => ({
        email: isRecord(r) ? r.emailAddress : r,
        extra: isRecord(r) ? { reason: optionalString(r.diagnosticCode) ?? optionalString(r.status) } : {},
      }));
      timeOf = [bounce.timestamp, "bounce.timestamp"];
      break;
    }
    case "Complaint": {
      const complaint = need(section("complaint"), "complaint");
      if (complaint.complaintFeedbackType === "not-spam") return { events: [], errors: [] };
      type = "email_complained";
      extra.feedback_type = optionalString(complaint.complaintFeedbackType);
      targets = list(complaint.complainedRecipients, "complaint.complainedRecipients").map((r) => ({
        email: isRecord(r) ? r.emailAddress : r,
      }));
      timeOf = [complaint.timestamp, "complaint.timestamp"];
      break;
    }
    case "Subscription": {
      const subscription = need(section("subscription"), "subscription");
      const prefs = isRecord(subscription.newTopicPreferences) ? subscription.newTopicPreferences : {};
      if (prefs.unsubscribeAll !== true) return { events: [], errors: [] };
      type = "email_unsubscribed";
      targets = destination();
      timeOf = [subscription.timestamp, "subscription.timestamp"];
      idExtra = [String(subscription.timestamp)];
      extra.contact_list = optionalString(subscription.contactList);
      break;
    }
    default:
      return { events: [], errors: [] };
  }

  const messageId = optionalString(mail?.messageId);
  if (!messageId) throw new ReceiverInputError("ses event has no mail.messageId");
  checkCount(targets.length, `ses ${kind} recipients`);
  const tags = isRecord(mail?.tags) ? mail.tags : {};
  const configurationSet = Array.isArray(tags["ses:configuration-set"])
    ? tags["ses:configuration-set"][0]
    : undefined;
  return mapItems(targets, (target, index): MappedEvent[] => {
    const email = recipient(address(target.email), `recipients[${index}]`);
    return [
      {
        id: eventId("ses", messageId, kind, email, ...idExtra),
        type,
        contact: { email },
        timestamp: eventTime(timeOf[0], timeOf[1]),
        properties: compact({
          provider: "ses",
          provider_event: kind,
          message_id: messageId,
          sns_message_id: snsMessageId,
          configuration_set: optionalString(configurationSet),
          ...extra,
          ...target.extra,
        }),
      },
    ];
  });
}

function need(value: Json | undefined, path: string): Json {
  if (!value) throw new ReceiverInputError(`ses event has no "${path}" object`);
  return value;
}

function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ReceiverInputError(`ses event has no ${path} list`);
  return value;
}
