import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryReplayGuard } from "../../../src/service/receivers/replay-guard.ts";
import { SIGNATURE_HEADER, sendgrid, TIMESTAMP_HEADER } from "../../../src/service/receivers/sendgrid.ts";
import { ReceiverInputError } from "../../../src/service/receivers/types.ts";
import { fixture, request } from "./support.ts";

const { payload } = fixture<{ payload: unknown[] }>("sendgrid-events.json");
const vector = fixture<{ public_key: string; signature: string; timestamp: string; payload: string }>(
  "sendgrid-signed-vector.json",
);

// A key pair of our own, its public half in SendGrid's format (base64 of the DER SPKI).
const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const config = sendgrid.config.parse({
  public_key: keys.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
});

const NOW = 1_513_299_600_000;

/** Signs as SendGrid does: ECDSA-SHA256 over timestamp + body, DER signature in base64. */
function signed(body: string, timestampS: number, now = NOW) {
  const signature = sign("sha256", Buffer.from(`${timestampS}${body}`), keys.privateKey).toString("base64");
  return request(body, { [SIGNATURE_HEADER]: signature, [TIMESTAMP_HEADER]: String(timestampS) }, now);
}

describe("sendgrid verify", () => {
  const body = `${JSON.stringify(payload)}\r\n`;

  it("accepts the doc's sample payload signed with the configured key", async () => {
    expect(await sendgrid.verify(signed(body, NOW / 1000 - 10), config, new MemoryReplayGuard())).toEqual({
      ok: true,
    });
  });

  it("accepts SendGrid's own signed test vector", async () => {
    const req = request(
      vector.payload,
      { [SIGNATURE_HEADER]: vector.signature, [TIMESTAMP_HEADER]: vector.timestamp },
      Number(vector.timestamp) * 1000 + 1000,
    );
    const cfg = sendgrid.config.parse({ public_key: vector.public_key });
    expect(await sendgrid.verify(req, cfg, new MemoryReplayGuard())).toEqual({ ok: true });
  });

  it("refuses a tampered body", async () => {
    const req = signed(body, NOW / 1000);
    req.rawBody = Buffer.from(body.replace("example@test.com", "attacker@test.com"));
    expect(await sendgrid.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("refuses a signature made with another key", async () => {
    const other = sendgrid.config.parse({ public_key: vector.public_key });
    expect(await sendgrid.verify(signed(body, NOW / 1000), other, new MemoryReplayGuard())).toMatchObject({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("refuses timestamps more than 5 minutes old or ahead", async () => {
    const old = await sendgrid.verify(signed(body, NOW / 1000 - 301), config, new MemoryReplayGuard());
    expect(old).toEqual({ ok: false, reason: "timestamp too old (301 s)" });
    const ahead = await sendgrid.verify(signed(body, NOW / 1000 + 301), config, new MemoryReplayGuard());
    expect(ahead).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^timestamp too far in the future/),
    });
  });

  it("refuses a replay of the same signed request", async () => {
    const guard = new MemoryReplayGuard();
    const req = signed(body, NOW / 1000);
    expect(await sendgrid.verify(req, config, guard)).toEqual({ ok: true });
    expect(await sendgrid.verify({ ...req, now: NOW + 1000 }, config, guard)).toEqual({
      ok: false,
      reason: "replay: this signature was already received",
    });
  });

  it("refuses missing headers and a malformed signature", async () => {
    const guard = new MemoryReplayGuard();
    expect(await sendgrid.verify(request(body, {}, NOW), config, guard)).toEqual({
      ok: false,
      reason: "missing X-Twilio-Email-Event-Webhook-Signature header",
    });
    const req = request(
      body,
      { [SIGNATURE_HEADER]: "not base64 der", [TIMESTAMP_HEADER]: String(NOW / 1000) },
      NOW,
    );
    expect(await sendgrid.verify(req, config, guard)).toMatchObject({
      ok: false,
      reason: /^signature mismatch/,
    });
  });

  it("rejects a public key that is not an ECDSA key at configuration", () => {
    const result = sendgrid.config.safeParse({ public_key: "bm90IGEga2V5" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].message).toMatch(/not an ECDSA public key/);
  });
});

describe("sendgrid parse", () => {
  const T = 1_513_299_569_000;

  it("maps the doc's sample events", () => {
    const { events, errors } = sendgrid.parse(signed(JSON.stringify(payload), NOW / 1000), config);
    expect(errors).toEqual([]);
    expect(events.map((e) => [e.id, e.type, e.contact.email, e.timestamp, e.properties.bounce_type])).toEqual(
      [
        ["sendgrid:sg_event_id_processed", "email_sent", "example@test.com", T, undefined],
        ["sendgrid:sg_event_id_delivered", "email_delivered", "example@test.com", T, undefined],
        ["sendgrid:sg_event_id_open", "email_opened", "example@test.com", T, undefined],
        ["sendgrid:sg_event_id_click", "email_clicked", "example@test.com", T, undefined],
        ["sendgrid:sg_event_id_bounce", "email_bounced", "example@test.com", T, "hard"],
        ["sendgrid:sg_event_id_blocked", "email_bounced", "other@test.com", T + 1000, "soft"],
        ["sendgrid:sg_event_id_dropped", "email_bounced", "example@test.com", T, "hard"],
        ["sendgrid:sg_event_id_spamreport", "email_complained", "example@test.com", T, undefined],
        ["sendgrid:sg_event_id_unsubscribe", "email_unsubscribed", "example@test.com", T, undefined],
        ["sendgrid:sg_event_id_group_unsubscribe", "email_unsubscribed", "example@test.com", T, undefined],
      ],
    );
    expect(events[3].properties).toMatchObject({ provider: "sendgrid", url: "http://www.sendgrid.com/" });
    expect(events[4].properties).toMatchObject({
      bounce_classification: "Invalid Address",
      reason: "500 unknown recipient",
      message_id: "sg_message_id",
      category: "cat facts",
    });
    expect(events[9].properties.asm_group_id).toBe(10);
  });

  it("maps the same body to the same ids (a redelivery counts once)", () => {
    const body = JSON.stringify(payload);
    const first = sendgrid.parse(signed(body, NOW / 1000), config).events.map((e) => e.id);
    const again = sendgrid.parse(signed(body, NOW / 1000 + 60), config).events.map((e) => e.id);
    expect(again).toEqual(first);
  });

  it("maps the signed vector's dropped Bounced Address event to a hard bounce", () => {
    const { events } = sendgrid.parse(request(vector.payload, {}, NOW), config);
    expect(events).toEqual([
      {
        id: "sendgrid:ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
        type: "email_bounced",
        contact: { email: "hello@world.com" },
        timestamp: 1_600_112_492_000,
        properties: {
          provider: "sendgrid",
          provider_event: "dropped",
          message_id: "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
          bounce_type: "hard",
          reason: "Bounced Address",
        },
      },
    ]);
  });

  it("reports malformed items by index and maps the rest", () => {
    const body = JSON.stringify([
      { event: "delivered", email: "not-an-address", timestamp: 1, sg_event_id: "a" },
      { event: "delivered", email: "a@b.co", timestamp: "yesterday", sg_event_id: "b" },
      { event: "delivered", email: "a@b.co", timestamp: 1 },
      "nope",
      { event: "delivered", email: " A@B.co ", timestamp: 2, sg_event_id: "c" },
      { event: "constructor", email: "a@b.co", timestamp: 2, sg_event_id: "d" },
    ]);
    const { events, errors } = sendgrid.parse(request(body, {}, NOW), config);
    expect(errors).toEqual([
      { index: 0, error: 'events[0].email: "not-an-address" is not an email address' },
      { index: 1, error: 'events[1].timestamp: "yesterday" is not unix seconds' },
      { index: 2, error: "events[2].sg_event_id: missing or not a string" },
      { index: 3, error: "events[3]: not an object" },
    ]);
    expect(events.map((e) => [e.id, e.contact.email])).toEqual([["sendgrid:c", "a@b.co"]]);
  });

  it("throws a clear error for a body that is not SendGrid's format", () => {
    expect(() => sendgrid.parse(request("{not json", {}, NOW), config)).toThrow(ReceiverInputError);
    expect(() => sendgrid.parse(request("{not json", {}, NOW), config)).toThrow(
      /^sendgrid body is not JSON: /,
    );
    expect(() => sendgrid.parse(request('{"event":"open"}', {}, NOW), config)).toThrow(
      "sendgrid body must be a JSON array of events",
    );
  });

  it("refuses more than 10,000 events in one request", () => {
    const many = JSON.stringify(Array.from({ length: 10_001 }, () => ({})));
    expect(() => sendgrid.parse(request(many, {}, NOW), config)).toThrow(
      "sendgrid body has 10001 items; at most 10000 are accepted per request",
    );
  });
});
