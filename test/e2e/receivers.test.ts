/**
 * Sending-platform event webhooks end to end: a receiver is created through the API,
 * the provider's (documented) payload is signed the provider's way with keys the test
 * makes and posted to the receiver's URL; the contact moves into the default segments.
 * A bad or replayed signature answers 401 and changes nothing.
 */
import { createHmac, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { Webhook } from "svix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSesAdapter } from "../../src/service/receivers/ses.ts";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";
import { type SnsSigner, startSnsSigner } from "../support/sns.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
});
afterAll(async () => {
  await s?.stop();
});

async function post(url: string, body: string, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : null };
}

async function contactByEmail(email: string): Promise<Json | null> {
  const r = await s.call("GET", "/v1/contacts?limit=1000");
  const found = (r.body.data as Json[]).find((c) => c.email === email);
  return found ? (await s.call("GET", `/v1/contacts/${found.id}`)).body : null;
}

async function receiver(provider: string, config: Record<string, string> = {}): Promise<Json> {
  const r = await s.call("POST", "/v1/receivers", { provider, config });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.url).toBe(`${s.url}/hooks/${r.body.id}`);
  return r.body;
}

const nowSec = () => Math.floor(Date.now() / 1000);

describe("receivers: Mailgun (HMAC-SHA256 signed)", () => {
  const signingKey = `key-${randomBytes(16).toString("hex")}`;
  const signed = (eventData: Json, opts: { key?: string; token?: string } = {}) => {
    const timestamp = String(nowSec());
    const token = opts.token ?? randomBytes(25).toString("hex");
    const signature = createHmac("sha256", opts.key ?? signingKey)
      .update(timestamp + token)
      .digest("hex");
    return JSON.stringify({ signature: { timestamp, token, signature }, "event-data": eventData });
  };
  // https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#tracking-failures
  const failed = (email: string, severity: "permanent" | "temporary") => ({
    id: randomBytes(8).toString("hex"),
    timestamp: Date.now() / 1000,
    event: "failed",
    severity,
    reason: severity === "permanent" ? "bounce" : "generic",
    recipient: email,
    message: { headers: { "message-id": "20130503182626.18666.16540@example.com" } },
    "delivery-status": { code: 550, message: "No such user", description: "" },
  });

  it("a permanent failure makes the contact hard bounced; a replay and a bad signature change nothing", async () => {
    const r = await receiver("mailgun", { signing_key: signingKey });
    expect(r.config).toEqual({});
    expect(r.secrets_set).toEqual(["signing_key"]);
    expect(JSON.stringify(r)).not.toContain(signingKey);

    const body = signed(failed("mg-hard@example.com", "permanent"));
    const ok = await post(r.url, body, {});
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.accepted).toBe(1);
    const c = await contactByEmail("mg-hard@example.com");
    expect(c.email_status).toBe("hard_bounced");
    expect(c.segments).toContain("hard_bounced");

    const replay = await post(r.url, body, {});
    expect(replay.status).toBe(401);

    const forged = await post(
      r.url,
      signed(failed("mg-forged@example.com", "permanent"), { key: "key-wrong" }),
      {},
    );
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/signature/i);
    expect(await contactByEmail("mg-forged@example.com")).toBeNull();

    const stats = (await s.call("GET", `/v1/receivers/${r.id}`)).body;
    expect(stats.stats).toMatchObject({ accepted: 1, signature_failures: 2 });
    expect(stats.recent.map((d: Json) => d.outcome)).toEqual([
      "signature_failed",
      "signature_failed",
      "accepted",
    ]);
    const sources = (await s.call("GET", "/v1/sources")).body.data as Json[];
    expect(sources.find((x) => x.id === r.id)).toMatchObject({ provider: "mailgun", accepted: 1 });
  });

  it("a temporary failure of a long-inactive subscriber puts it in Excluded", async () => {
    const r = await receiver("mailgun", { signing_key: signingKey });
    const longAgo = new Date(Date.now() - 200 * 86_400_000).toISOString();
    const c = await s.call("POST", "/v1/contacts", {
      email: "mg-soft@example.com",
      status: "subscribed",
      subscribed_at: longAgo,
      created_at: longAgo,
    });
    expect(c.status).toBe(201);
    expect((await contactByEmail("mg-soft@example.com")).segments).toContain("inactive");
    expect((await contactByEmail("mg-soft@example.com")).segments).not.toContain("excluded");
    const ok = await post(r.url, signed(failed("mg-soft@example.com", "temporary")), {});
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const after = await contactByEmail("mg-soft@example.com");
    expect(after.email_status).toBe("soft_bouncing");
    expect(after.segments).toContain("excluded");
  });

  it("a new signing key set by PATCH takes effect at once; the old one is refused", async () => {
    const r = await receiver("mailgun", { signing_key: signingKey });
    const rotated = `key-${randomBytes(16).toString("hex")}`;
    const p = await s.call("PATCH", `/v1/receivers/${r.id}`, {
      name: "Mailgun EU",
      config: { signing_key: rotated },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ name: "Mailgun EU", url: r.url, secrets_set: ["signing_key"] });
    expect(JSON.stringify(p.body)).not.toContain(rotated);
    expect((await post(r.url, signed(failed("mg-rot-old@example.com", "permanent")), {})).status).toBe(401);
    const ok = await post(r.url, signed(failed("mg-rot-new@example.com", "permanent"), { key: rotated }), {});
    expect(ok.status).toBe(200);
    const bad = await s.call("PATCH", `/v1/receivers/${r.id}`, { config: { signing_key: "" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("config.signing_key");
    expect((await s.call("PATCH", "/v1/receivers/rcv_nope", { name: "x" })).status).toBe(404);
  });

  it("refuses a receiver without its signing key, naming the path", async () => {
    const r = await s.call("POST", "/v1/receivers", { provider: "mailgun", config: {} });
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("config.signing_key");
    const unknown = await s.call("POST", "/v1/receivers", { provider: "mandrill" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.path).toBe("provider");
  });

  it("an unknown receiver is a 404 and a body that is not Mailgun's a 400", async () => {
    expect((await post(`${s.url}/hooks/rcv_nope`, "{}", {})).status).toBe(404);
    const r = await receiver("mailgun", { signing_key: signingKey });
    const timestamp = String(nowSec());
    const token = randomBytes(25).toString("hex");
    const signature = createHmac("sha256", signingKey)
      .update(timestamp + token)
      .digest("hex");
    const bad = await post(r.url, JSON.stringify({ signature: { timestamp, token, signature } }), {});
    expect(bad.status).toBe(400);
  });
});

describe("receivers: SendGrid (ECDSA signed Event Webhook)", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const verificationKey = publicKey.export({ type: "spki", format: "der" }).toString("base64");
  const headersFor = (payload: string, key = privateKey, timestamp = String(nowSec())) => ({
    "x-twilio-email-event-webhook-timestamp": timestamp,
    "x-twilio-email-event-webhook-signature": sign("sha256", Buffer.from(timestamp + payload), key).toString(
      "base64",
    ),
  });

  it("opens and clicks put a contact in an engagement segment; a bounce makes it hard bounced", async () => {
    const seg = await s.call("POST", "/v1/segments", {
      name: "Opened in 30 days",
      rule: { type: "event", event: "email_opened", op: "gte", value: 1, window: { in_last: "30d" } },
    });
    expect(seg.status, JSON.stringify(seg.body)).toBe(201);
    const r = await receiver("sendgrid", { public_key: verificationKey });
    const t = nowSec();
    // https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event#engagement-events
    const payload = JSON.stringify([
      {
        email: "sg-open@example.com",
        timestamp: t,
        event: "open",
        sg_event_id: "sg-open-1",
        sg_message_id: "m1",
      },
      {
        email: "sg-bounce@example.com",
        timestamp: t,
        event: "bounce",
        type: "bounce",
        sg_event_id: "sg-b-1",
        sg_message_id: "m2",
        reason: "550 5.1.1 unknown",
        status: "5.1.1",
      },
    ]);
    const ok = await post(r.url, payload, headersFor(payload));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.accepted).toBe(2);
    expect((await contactByEmail("sg-open@example.com")).segments).toContain(seg.body.id);
    expect((await contactByEmail("sg-bounce@example.com")).email_status).toBe("hard_bounced");

    expect((await post(r.url, payload, headersFor(payload))).status).toBe(200); // re-signed redelivery
    expect((await post(r.url, payload, headersFor(payload))).body.duplicates).toBe(2);

    const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const forged = JSON.stringify([
      { email: "sg-forged@example.com", timestamp: t, event: "spamreport", sg_event_id: "f1" },
    ]);
    expect((await post(r.url, forged, headersFor(forged, other))).status).toBe(401);
    const stale = headersFor(forged, privateKey, String(nowSec() - 3600));
    expect((await post(r.url, forged, stale)).status).toBe(401);
    expect(await contactByEmail("sg-forged@example.com")).toBeNull();
  });
});

describe("receivers: Postmark (HTTP Basic credentials in the URL)", () => {
  it("Slice makes the credentials; a spam complaint moves the contact out of Subscribed", async () => {
    const r = await receiver("postmark");
    expect(r.secrets.url_with_credentials).toContain("@");
    const { username, password } = r.secrets as { username: string; password: string };
    await s.call("POST", "/v1/contacts", { email: "pm@example.com", status: "subscribed" });
    expect((await contactByEmail("pm@example.com")).segments).toContain("subscribed");
    // https://postmarkapp.com/developer/webhooks/spam-complaint-webhook
    const body = JSON.stringify({
      RecordType: "SpamComplaint",
      MessageStream: "outbound",
      ID: 42,
      Type: "SpamComplaint",
      TypeCode: 512,
      Name: "Spam complaint",
      Tag: "",
      MessageID: "00000000-0000-0000-0000-000000000000",
      ServerID: 1234,
      Description: "",
      Details: "Test spam complaint details",
      Email: "pm@example.com",
      From: "sender@example.com",
      BouncedAt: new Date().toISOString(),
      DumpAvailable: true,
      Inactive: true,
      CanActivate: false,
      Subject: "Test subject",
      Content: "",
    });
    const auth = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
    const wrong = `Basic ${Buffer.from(`${username}:nope`).toString("base64")}`;
    expect((await post(r.url, body, { authorization: wrong })).status).toBe(401);
    expect((await post(r.url, body, {})).status).toBe(401);
    expect((await contactByEmail("pm@example.com")).status).toBe("subscribed");
    const ok = await post(r.url, body, { authorization: auth });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const c = await contactByEmail("pm@example.com");
    expect(c.email_status).toBe("complained");
    expect(c.status).toBe("unsubscribed");
    expect(c.segments).not.toContain("subscribed");
    // The same event again (Postmark retries) counts once.
    expect((await post(r.url, body, { authorization: auth })).body.duplicates).toBe(1);
  });
});

describe("receivers: Resend (Svix / Standard Webhooks signature)", () => {
  it("a permanent bounce makes the contact hard bounced; a replayed svix-id is refused", async () => {
    const secret = `whsec_${randomBytes(24).toString("base64")}`;
    const r = await receiver("resend", { secret });
    // https://resend.com/docs/dashboard/webhooks/event-types#email-bounced
    const body = JSON.stringify({
      type: "email.bounced",
      created_at: new Date().toISOString(),
      data: {
        email_id: "56761188-7520-42d8-8898-ff6fc54ce618",
        from: "Acme <onboarding@resend.dev>",
        to: ["rs-bounce@example.com"],
        subject: "Sending this example",
        created_at: new Date().toISOString(),
        bounce: {
          message: "The recipient's email address is on the suppression list",
          subType: "Suppressed",
          type: "Permanent",
        },
      },
    });
    const wh = new Webhook(secret);
    const id = `msg_${randomBytes(8).toString("hex")}`;
    const at = new Date();
    const headers = {
      "svix-id": id,
      "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
      "svix-signature": wh.sign(id, at, body),
    };
    const ok = await post(r.url, body, headers);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await contactByEmail("rs-bounce@example.com")).email_status).toBe("hard_bounced");
    expect((await post(r.url, body, headers)).status).toBe(401);
    const forged = new Webhook(`whsec_${randomBytes(24).toString("base64")}`);
    const id2 = `msg_${randomBytes(8).toString("hex")}`;
    const bad = { ...headers, "svix-id": id2, "svix-signature": forged.sign(id2, at, body) };
    expect((await post(r.url, body, bad)).status).toBe(401);
  });
});

/** SNS messages are signed with a certificate the test makes and serves (test/support/sns.ts). */
describe("receivers: Amazon SES through SNS (signed messages, subscription confirmation)", () => {
  const TOPIC = "arn:aws:sns:us-west-2:123456789012:slice-ses-events";
  let signer: SnsSigner;
  let ses: TestServer;
  const confirmed: string[] = [];

  beforeAll(async () => {
    signer = await startSnsSigner();
    ses = await startTestServer(
      { kind: "sqlite" },
      {
        receiverAdapters: { ses: createSesAdapter({ hostPattern: /^localhost:\d+$/ }) },
        confirmSubscription: async (url) => {
          confirmed.push(url);
        },
      },
    );
  });
  afterAll(async () => {
    await ses?.stop();
    await signer?.stop();
  });

  let n = 0;
  function signed(m: Record<string, string>, signingKey?: string): string {
    const message = {
      MessageId: `6f1d1c0e-5c1b-4a43-9d8e-${String(++n).padStart(12, "0")}`,
      TopicArn: TOPIC,
      Timestamp: new Date().toISOString(),
      ...m,
    };
    return JSON.stringify(signer.sign(message, signingKey ? { signingKey } : {}));
  }
  const snsPost = (url: string, body: string) =>
    post(url, body, {
      "content-type": "text/plain; charset=UTF-8",
      "x-amz-sns-message-type": JSON.parse(body).Type,
    });
  // https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html
  const bounce = (email: string, bounceType: "Permanent" | "Transient") => ({
    eventType: "Bounce",
    bounce: {
      bounceType,
      bounceSubType: "General",
      bouncedRecipients: [
        {
          emailAddress: email,
          action: "failed",
          status: "5.1.1",
          diagnosticCode: "smtp; 550 5.1.1 user unknown",
        },
      ],
      timestamp: new Date().toISOString(),
      feedbackId: `0100015${n}`,
    },
    mail: {
      timestamp: new Date().toISOString(),
      source: "sender@example.com",
      messageId: `EXAMPLE-${n}`,
      destination: [email],
    },
  });

  it("confirms the subscription, then bounces move contacts into Hard bounced; forged and replayed messages change nothing", async () => {
    const r = await ses.call("POST", "/v1/receivers", { provider: "ses", config: { topic_arn: TOPIC } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const url = r.body.url as string;
    const subscribeUrl = `${signer.origin}/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=abc`;
    const sub = await snsPost(
      url,
      signed({
        Type: "SubscriptionConfirmation",
        Token: "abc",
        Message: "You have chosen to subscribe…",
        SubscribeURL: subscribeUrl,
      }),
    );
    expect(sub.status, JSON.stringify(sub.body)).toBe(200);
    expect(confirmed).toEqual([subscribeUrl]);

    const hard = signed({
      Type: "Notification",
      Subject: "",
      Message: JSON.stringify(bounce("ses-hard@example.com", "Permanent")),
    });
    const ok = await snsPost(url, hard);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.accepted).toBe(1);
    const list = (await ses.call("GET", "/v1/contacts?segment=hard_bounced")).body.data as Json[];
    expect(list.map((c) => c.email)).toEqual(["ses-hard@example.com"]);
    expect((await snsPost(url, hard)).status).toBe(401);

    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const forged = signed(
      {
        Type: "Notification",
        Subject: "",
        Message: JSON.stringify(bounce("ses-forged@example.com", "Permanent")),
      },
      other.export({ type: "pkcs8", format: "pem" }).toString(),
    );
    const refused = await snsPost(url, forged);
    expect(refused.status).toBe(401);
    const all = (await ses.call("GET", "/v1/contacts")).body.data as Json[];
    expect(all.map((c) => c.email)).toEqual(["ses-hard@example.com"]);
    const wrongTopic = signed({
      Type: "Notification",
      TopicArn: "arn:aws:sns:us-west-2:123456789012:other",
      Subject: "",
      Message: JSON.stringify(bounce("ses-other@example.com", "Permanent")),
    });
    expect((await snsPost(url, wrongTopic)).status).toBe(401);
  });
});

describe("sources: the Segment source's counters", () => {
  it("count accepted events and refused messages of /segment/v1/batch, and when last seen", async () => {
    const key = (await s.call("POST", "/v1/keys", { role: "ingest" })).body.key as string;
    const before = ((await s.call("GET", "/v1/sources")).body.data as Json[]).find((x) => x.id === "segment");
    expect(before).toMatchObject({ type: "segment", accepted: 0, rejected: 0, last_seen_at: null });
    const res = await fetch(`${s.url}/segment/v1/batch`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
      },
      body: JSON.stringify({
        batch: [
          { type: "track", userId: "u-src-1", event: "Signed Up", messageId: "src-m1" },
          { type: "track", userId: "u-src-2", event: "Signed Up", messageId: "src-m2" },
          { type: "track", userId: "u-src-3", messageId: "src-m3" },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const after = ((await s.call("GET", "/v1/sources")).body.data as Json[]).find((x) => x.id === "segment");
    expect(after).toMatchObject({ accepted: 2, rejected: 1 });
    expect(after.last_error).toMatch(/^message 2: /);
    expect(Date.parse(after.last_seen_at)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe("receivers behind a proxy", () => {
  it("show URLs on the configured public address (SLICE_PUBLIC_URL)", async () => {
    const proxied = await startTestServer({ kind: "sqlite" }, { publicUrl: "https://slice.example.com/" });
    try {
      const r = await proxied.call("POST", "/v1/receivers", { provider: "postmark" });
      expect(r.status).toBe(201);
      expect(r.body.url).toBe(`https://slice.example.com/hooks/${r.body.id}`);
      expect(r.body.secrets.url_with_credentials).toMatch(
        /^https:\/\/slice-[0-9a-f]+:[^@]+@slice\.example\.com\/hooks\//,
      );
      expect((await proxied.call("GET", `/v1/receivers/${r.body.id}`)).body.url).toBe(r.body.url);
    } finally {
      await proxied.stop();
    }
  });
});
