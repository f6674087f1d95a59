import { describe, expect, it } from "vitest";
import { postmark } from "../../../src/service/receivers/postmark.ts";
import { MemoryReplayGuard } from "../../../src/service/receivers/replay-guard.ts";
import { ReceiverInputError } from "../../../src/service/receivers/types.ts";
import { fixture, request } from "./support.ts";

const { records } = fixture<{ records: Record<string, unknown>[] }>("postmark-records.json");
const config = postmark.config.parse(postmark.generate?.());
const NOW = Date.parse("2022-02-06T07:00:00Z");

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("postmark credentials", () => {
  it("generates url-safe credentials with a password of at least 24 characters, different each time", () => {
    const a = postmark.generate?.();
    const b = postmark.generate?.();
    expect(a?.password).toMatch(/^[A-Za-z0-9_-]{24,}$/);
    expect(a?.username).toMatch(/^[A-Za-z0-9._~-]+$/);
    expect(a?.password).not.toBe(b?.password);
    expect(postmark.secretKeys).toEqual(["password"]);
  });

  it("rejects a short or not url-safe password", () => {
    expect(postmark.config.safeParse({ username: "u", password: "short" }).success).toBe(false);
    expect(postmark.config.safeParse({ username: "u", password: "has:colon:and/slash-123456" }).success).toBe(
      false,
    );
  });
});

describe("postmark verify", () => {
  const body = JSON.stringify(records[0]);

  it("accepts the configured basic-auth credentials", async () => {
    const req = request(body, { authorization: basic(config.username, config.password) }, NOW);
    expect(await postmark.verify(req, config, new MemoryReplayGuard())).toEqual({ ok: true });
  });

  it("refuses a wrong password, a wrong user, other schemes and no header", async () => {
    const guard = new MemoryReplayGuard();
    const wrong = { ok: false, reason: "wrong basic-auth credentials" };
    const verify = (authorization?: string) =>
      postmark.verify(request(body, authorization ? { authorization } : {}, NOW), config, guard);
    expect(await verify(basic(config.username, `${config.password}x`))).toEqual(wrong);
    expect(await verify(basic("someone", config.password))).toEqual(wrong);
    expect(await verify(`Bearer ${config.password}`)).toEqual({
      ok: false,
      reason: "Authorization header is not HTTP Basic credentials",
    });
    expect(await verify()).toMatchObject({ ok: false, reason: /^missing Authorization header/ });
  });
});

describe("postmark parse", () => {
  const parse = (record: unknown) => postmark.parse(request(JSON.stringify(record), {}, NOW), config);
  const MSG = "00000000-0000-0000-0000-000000000000";

  it("maps the doc's sample records", () => {
    const results = records.map(parse);
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    const events = results.flatMap((r) => r.events);
    expect(events.map((e) => [e.id, e.type, e.contact.email, e.timestamp, e.properties.bounce_type])).toEqual(
      [
        [
          `postmark:${MSG}:Delivery:john@example.com`,
          "email_delivered",
          "john@example.com",
          Date.parse("2021-02-21T16:34:52Z"),
          undefined,
        ],
        [
          "postmark:Bounce:42",
          "email_bounced",
          "john@example.com",
          Date.parse("2021-02-21T16:34:52Z"),
          "hard",
        ],
        [
          "postmark:Bounce:43",
          "email_bounced",
          "jane@example.com",
          Date.parse("2021-02-21T16:35:52Z"),
          "soft",
        ],
        [
          "postmark:SpamComplaint:42",
          "email_complained",
          "john@example.com",
          Date.parse("2021-02-21T16:34:52Z"),
          undefined,
        ],
        [
          `postmark:${MSG}:Open:john@example.com:2022-02-06T06:37:48Z`,
          "email_opened",
          "john@example.com",
          Date.parse("2022-02-06T06:37:48Z"),
          undefined,
        ],
        [
          `postmark:${MSG}:Click:john@example.com:2022-02-06T06:38:48Z:https://example.com`,
          "email_clicked",
          "john@example.com",
          Date.parse("2022-02-06T06:38:48Z"),
          undefined,
        ],
        // SubscriptionChange for a HardBounce suppression: skipped (the Bounce record carries it).
        [
          "postmark:883953f4-6105-42a2-a16a-77a8eac79483:SubscriptionChange:john@example.com:2020-02-01T10:53:34.416071Z",
          "email_unsubscribed",
          "john@example.com",
          Date.parse("2020-02-01T10:53:34.416Z"),
          undefined,
        ],
      ],
    );
    expect(events[1].properties).toEqual({
      provider: "postmark",
      provider_event: "Bounce",
      message_id: MSG,
      tag: "Test",
      message_stream: "outbound",
      bounce_type: "hard",
      postmark_bounce_type: "HardBounce",
      reason: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    });
    expect(events[5].properties.url).toBe("https://example.com");
  });

  it("maps a resent record to the same ids, which is what makes replays harmless", () => {
    const ids = () => records.flatMap((r) => parse(r).events.map((e) => e.id));
    const first = ids();
    expect(new Set(first).size).toBe(first.length);
    expect(ids()).toEqual(first);
  });

  it("maps bounce types by Postmark's list", () => {
    const bounce = records[1];
    const kind = (Type: string) =>
      parse({ ...bounce, Type }).events.map((e) => [e.type, e.properties.bounce_type]);
    expect(kind("Transient")).toEqual([["email_bounced", "soft"]]);
    expect(kind("DnsError")).toEqual([["email_bounced", "soft"]]);
    expect(kind("BadEmailAddress")).toEqual([["email_bounced", "hard"]]);
    expect(kind("Unsubscribe")).toEqual([["email_unsubscribed", undefined]]);
    expect(kind("SpamComplaint")).toEqual([["email_complained", undefined]]);
    expect(kind("AutoResponder")).toEqual([]);
    expect(kind("SpamNotification")).toEqual([]);
  });

  it("skips reactivations and unknown records", () => {
    expect(parse({ ...records[7], SuppressSending: false }).events).toEqual([]);
    expect(parse({ RecordType: "Inbound", From: "a@b.co" })).toEqual({ events: [], errors: [] });
  });

  it("reports a malformed record and throws for a body that is not Postmark's format", () => {
    expect(parse({ ...records[0], Recipient: "john" }).errors).toEqual([
      { index: 0, error: 'Recipient: "john" is not an email address' },
    ]);
    expect(parse({ ...records[0], DeliveredAt: "soon" }).errors).toEqual([
      { index: 0, error: 'DeliveredAt: "soon" is not a time' },
    ]);
    expect(() => parse([records[0]])).toThrow(new ReceiverInputError("postmark body must be a JSON object"));
    expect(() => parse({ Email: "a@b.co" })).toThrow('postmark body has no "RecordType"');
  });
});
