/**
 * SNS signatures are checked by AWS's `sns-validator`, which downloads the signing
 * certificate from the message's SigningCertURL: `startSnsSigner` (test/support/sns.ts)
 * makes a certificate, serves and trusts it, and the adapter's hostPattern allows
 * `localhost:<port>`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryReplayGuard } from "../../../src/service/receivers/replay-guard.ts";
import { createSesAdapter, ses } from "../../../src/service/receivers/ses.ts";
import { ReceiverInputError } from "../../../src/service/receivers/types.ts";
import { type SnsSigner, startSnsSigner } from "../../support/sns.ts";
import { fixture, request } from "./support.ts";

type Message = Record<string, string>;
const sns = fixture<{ notification: Message; subscriptionConfirmation: Message }>("sns-messages.json");
const { records } = fixture<{ records: Record<string, Record<string, unknown>> }>("ses-events.json");

const NOW = Date.parse("2026-12-04T12:00:00Z");
const TOPIC = sns.notification.TopicArn;

let signer: SnsSigner;
let origin: string;
let adapter: ReturnType<typeof createSesAdapter>;

beforeAll(async () => {
  signer = await startSnsSigner();
  origin = signer.origin;
  adapter = createSesAdapter({ hostPattern: /^localhost:\d+$/, certTimeoutMs: 5000 });
});

afterAll(async () => {
  await signer?.stop();
});

function signMessage(message: Message, version: "1" | "2" = "2", certPath = "/cert.pem"): Message {
  return signer.sign(message, { version, certPath });
}

let counter = 0;
/** A Notification carrying `record` as its Message, timestamped `ageMs` before NOW. */
function notification(record: unknown, ageMs = 1000, version: "1" | "2" = "2"): Message {
  return signMessage(
    {
      ...sns.notification,
      MessageId: `22b80b92-fdea-4c2c-8f9d-${String(++counter).padStart(12, "0")}`,
      Message: typeof record === "string" ? record : JSON.stringify(record),
      Timestamp: new Date(NOW - ageMs).toISOString(),
    },
    version,
  );
}

const post = (message: Message, headers: Record<string, string> = {}) =>
  request(JSON.stringify(message), { "x-amz-sns-message-type": message.Type, ...headers }, NOW);

describe("ses verify", () => {
  const config = { topic_arn: TOPIC };

  it("accepts SNS messages signed with SignatureVersion 1 and 2", async () => {
    const guard = new MemoryReplayGuard();
    expect(await adapter.verify(post(notification(records.bounce, 1000, "1")), config, guard)).toEqual({
      ok: true,
    });
    expect(await adapter.verify(post(notification(records.bounce, 1000, "2")), config, guard)).toEqual({
      ok: true,
    });
  });

  it("refuses a tampered Message", async () => {
    const message = notification(records.bounce);
    message.Message = message.Message.replace("Permanent", "Transient");
    expect(await adapter.verify(post(message), config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("refuses a message older than an hour", async () => {
    const message = notification(records.bounce, 60 * 60_000 + 1000);
    expect(await adapter.verify(post(message), config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "timestamp too old (3601 s)",
    });
  });

  it("refuses a MessageId already seen", async () => {
    const guard = new MemoryReplayGuard();
    const message = notification(records.delivery);
    expect(await adapter.verify(post(message), config, guard)).toEqual({ ok: true });
    expect(await adapter.verify(post(message), config, guard)).toEqual({
      ok: false,
      reason: "replay: this MessageId was already received",
    });
  });

  it("refuses another topic when topic_arn is set, and accepts any topic when it is not", async () => {
    const message = notification(records.delivery);
    const other = { topic_arn: "arn:aws:sns:us-west-2:123456789012:OtherTopic" };
    expect(await adapter.verify(post(message), other, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: `topic ${TOPIC} is not this receiver's topic`,
    });
    expect(await adapter.verify(post(message), {}, new MemoryReplayGuard())).toEqual({ ok: true });
  });

  it("refuses a message-type header that disagrees with the body", async () => {
    const message = notification(records.delivery);
    const req = post(message, { "x-amz-sns-message-type": "SubscriptionConfirmation" });
    expect(await adapter.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "x-amz-sns-message-type SubscriptionConfirmation does not match the body's Notification",
    });
  });

  it("refuses certificates from hosts other than SNS's, and a certificate that cannot be fetched", async () => {
    // The default adapter only trusts sns.<region>.amazonaws.com.
    expect(await ses.verify(post(notification(records.delivery)), config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature not verified: The certificate is located on an invalid domain.",
    });
    const missing = signMessage({ ...notification(records.delivery) }, "2", "/missing.pem");
    expect(await adapter.verify(post(missing), config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature not verified: Certificate could not be retrieved",
    });
  });

  it("refuses a body that is not an SNS message", async () => {
    expect(await adapter.verify(request("{}", {}, NOW), config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "ses body has an unknown SNS message Type undefined",
    });
  });

  it("verifies a SubscriptionConfirmation and hands back the URL to confirm", async () => {
    const subscribeUrl = `${origin}/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=2336412f37`;
    const message = signMessage({
      ...sns.subscriptionConfirmation,
      SubscribeURL: subscribeUrl,
      Timestamp: new Date(NOW - 1000).toISOString(),
    });
    expect(await adapter.verify(post(message), config, new MemoryReplayGuard())).toEqual({ ok: true });
    expect(adapter.parse(post(message), config)).toEqual({
      events: [],
      errors: [],
      confirm: { subscribeUrl, topicArn: TOPIC },
    });
    // The default adapter will not hand back a URL off SNS's hosts.
    expect(() => ses.parse(post(message), config)).toThrow(ReceiverInputError);
  });
});

describe("ses parse", () => {
  const parse = (record: unknown) => adapter.parse(post(notification(record)), {});
  const MSG = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000";

  it("maps the doc's sample records", () => {
    const names = [
      "send",
      "delivery",
      "open",
      "click",
      "bounce",
      "complaint",
      "subscription",
      "deliveryDelay",
      "reject",
    ];
    const results = names.map((n) => parse(records[n]));
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    const events = results.flatMap((r) => r.events);
    expect(events.map((e) => [e.id, e.type, e.contact.email, e.timestamp, e.properties.bounce_type])).toEqual(
      [
        [
          `ses:${MSG}:Send:recipient@example.com`,
          "email_sent",
          "recipient@example.com",
          Date.parse("2016-10-14T05:02:16.645Z"),
          undefined,
        ],
        [
          `ses:${MSG}:Delivery:recipient@example.com`,
          "email_delivered",
          "recipient@example.com",
          Date.parse("2016-10-19T23:21:04.133Z"),
          undefined,
        ],
        [
          `ses:${MSG}:Open:recipient@example.com:2017-08-09T22:00:19.652Z`,
          "email_opened",
          "recipient@example.com",
          Date.parse("2017-08-09T22:00:19.652Z"),
          undefined,
        ],
        [
          `ses:${MSG}:Click:recipient@example.com:2017-08-09T23:51:25.570Z:http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html`,
          "email_clicked",
          "recipient@example.com",
          Date.parse("2017-08-09T23:51:25.570Z"),
          undefined,
        ],
        [
          `ses:${MSG}:Bounce:recipient@example.com`,
          "email_bounced",
          "recipient@example.com",
          Date.parse("2017-08-05T00:41:02.669Z"),
          "hard",
        ],
        [
          `ses:${MSG}:Complaint:recipient@example.com`,
          "email_complained",
          "recipient@example.com",
          Date.parse("2017-08-05T00:41:02.669Z"),
          undefined,
        ],
        [
          "ses:EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000:Subscription:recipient@example.com:2022-01-12T01:00:17.910Z",
          "email_unsubscribed",
          "recipient@example.com",
          Date.parse("2022-01-12T01:00:17.910Z"),
          undefined,
        ],
        // DeliveryDelay and Reject: skipped
      ],
    );
    expect(events[3].properties.url).toBe(
      "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
    );
    expect(events[4].properties).toMatchObject({
      provider: "ses",
      provider_event: "Bounce",
      message_id: MSG,
      configuration_set: "ConfigSet",
      ses_bounce_type: "Permanent",
      ses_bounce_subtype: "General",
      reason: "smtp; 550 5.1.1 user unknown",
    });
  });

  it("maps an identity notification with two bounced recipients to two soft bounces", () => {
    const { events, errors } = parse(records.notificationTransientBounce);
    expect(errors).toEqual([]);
    const id = "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000";
    expect(events.map((e) => [e.id, e.contact.email, e.properties.bounce_type, e.properties.reason])).toEqual(
      [
        [`ses:${id}:Bounce:jane@example.com`, "jane@example.com", "soft", "smtp; 452 4.2.2 Mailbox full"],
        [`ses:${id}:Bounce:richard@example.com`, "richard@example.com", "soft", undefined],
      ],
    );
  });

  it("maps a redelivered notification to the same ids", () => {
    const a = parse(records.bounce).events.map((e) => e.id);
    const b = parse(records.bounce).events.map((e) => e.id);
    expect(b).toEqual(a);
  });

  it("skips not-spam complaints, SES's plain-text test message and subscription confirmations of other kinds", () => {
    const notSpam = {
      ...records.complaint,
      complaint: { ...(records.complaint.complaint as object), complaintFeedbackType: "not-spam" },
    };
    expect(parse(notSpam)).toEqual({ events: [], errors: [] });
    expect(parse("Successfully validated SNS topic for Amazon SES event publishing.")).toEqual({
      events: [],
      errors: [],
    });
    expect(
      parse({
        notificationType: "AmazonSnsSubscriptionSucceeded",
        message: "You have successfully subscribed",
      }),
    ).toEqual({
      events: [],
      errors: [],
    });
  });

  it("reports a bad recipient by index and throws for a Message that is not an SES event", () => {
    const bad = {
      ...records.delivery,
      delivery: { ...(records.delivery.delivery as object), recipients: ["ok@example.com", "nope"] },
    };
    const { events, errors } = parse(bad);
    expect(errors).toEqual([{ index: 1, error: 'recipients[1]: "nope" is not an email address' }]);
    expect(events.map((e) => e.contact.email)).toEqual(["ok@example.com"]);
    expect(() => parse("{broken")).toThrow(/^ses Notification Message is not JSON: /);
    expect(() => parse({ eventType: "Delivery", mail: {} })).toThrow('ses event has no "delivery" object');
    expect(() => parse({ mail: {} })).toThrow(
      "ses Notification Message has neither eventType nor notificationType",
    );
    const noMessageId = { ...records.send, mail: { ...(records.send.mail as object), messageId: undefined } };
    expect(() => parse(noMessageId)).toThrow("ses event has no mail.messageId");
  });
});
