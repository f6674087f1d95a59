import { randomBytes } from "node:crypto";
import { Webhook } from "svix";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryReplayGuard } from "../../../src/service/receivers/replay-guard.ts";
import { resend } from "../../../src/service/receivers/resend.ts";
import { ReceiverInputError } from "../../../src/service/receivers/types.ts";
import { fixture, request } from "./support.ts";

const { events: samples } = fixture<{ events: Record<string, unknown>[] }>("resend-events.json");
const secret = `whsec_${randomBytes(32).toString("base64")}`;
const config = resend.config.parse({ secret });
const NOW = Date.parse("2024-11-24T05:01:00Z");

// svix checks its 5-minute tolerance against the process clock; align it with the requests' `now`.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Signs as Resend does, with svix's own signer. */
function signed(body: string, id: string, at = NOW, key = secret) {
  const timestamp = new Date(at);
  const signature = new Webhook(key).sign(id, timestamp, body);
  return request(
    body,
    { "svix-id": id, "svix-timestamp": String(Math.floor(at / 1000)), "svix-signature": signature },
    NOW,
  );
}

describe("resend verify", () => {
  const body = JSON.stringify(samples[4]);

  it("accepts a body signed with the endpoint's secret", async () => {
    expect(await resend.verify(signed(body, "msg_1"), config, new MemoryReplayGuard())).toEqual({ ok: true });
  });

  it("refuses a tampered body and another secret's signature", async () => {
    const req = signed(body, "msg_2");
    req.rawBody = Buffer.from(body.replace("Permanent", "Transient"));
    expect(await resend.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
    const other = signed(body, "msg_3", NOW, `whsec_${randomBytes(32).toString("base64")}`);
    expect(await resend.verify(other, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("refuses a timestamp older than 5 minutes", async () => {
    expect(
      await resend.verify(signed(body, "msg_4", NOW - 301_000), config, new MemoryReplayGuard()),
    ).toEqual({
      ok: false,
      reason: "timestamp too old (301 s)",
    });
  });

  it("refuses an svix-id already seen", async () => {
    const guard = new MemoryReplayGuard();
    expect(await resend.verify(signed(body, "msg_5"), config, guard)).toEqual({ ok: true });
    expect(await resend.verify(signed(body, "msg_5", NOW + 1000), config, guard)).toEqual({
      ok: false,
      reason: "replay: this svix-id was already received",
    });
  });

  it("refuses missing headers and rejects a secret that is not whsec_", async () => {
    expect(await resend.verify(request(body, {}, NOW), config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "missing svix-id, svix-timestamp or svix-signature header",
    });
    expect(resend.config.safeParse({ secret: "not-a-secret" }).success).toBe(false);
  });
});

describe("resend parse", () => {
  const parse = (event: unknown, id: string) => resend.parse(signed(JSON.stringify(event), id), config);

  it("maps the doc's sample events, one per recipient", () => {
    const results = samples.map((s, i) => parse(s, `msg_${i}`));
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    const events = results.flatMap((r) => r.events);
    expect(events.map((e) => [e.id, e.type, e.contact.email, e.timestamp, e.properties.bounce_type])).toEqual(
      [
        [
          "resend:msg_0",
          "email_sent",
          "delivered@resend.dev",
          Date.parse("2024-02-22T23:41:12.126Z"),
          undefined,
        ],
        [
          "resend:msg_1",
          "email_delivered",
          "delivered@resend.dev",
          Date.parse("2024-02-22T23:41:12.126Z"),
          undefined,
        ],
        [
          "resend:msg_2",
          "email_opened",
          "delivered@resend.dev",
          Date.parse("2024-02-22T23:41:12.126Z"),
          undefined,
        ],
        [
          "resend:msg_3",
          "email_clicked",
          "delivered@resend.dev",
          Date.parse("2024-11-24T05:00:57.163Z"),
          undefined,
        ],
        [
          "resend:msg_4",
          "email_bounced",
          "delivered@resend.dev",
          Date.parse("2024-11-22T23:41:12.126Z"),
          "hard",
        ],
        [
          "resend:msg_5:full@example.com",
          "email_bounced",
          "full@example.com",
          Date.parse("2024-11-22T23:42:12.126Z"),
          "soft",
        ],
        [
          "resend:msg_5:other@example.com",
          "email_bounced",
          "other@example.com",
          Date.parse("2024-11-22T23:42:12.126Z"),
          "soft",
        ],
        [
          "resend:msg_6",
          "email_complained",
          "delivered@resend.dev",
          Date.parse("2024-02-22T23:41:12.126Z"),
          undefined,
        ],
        // email.delivery_delayed: skipped
      ],
    );
    expect(events[3].properties).toMatchObject({ url: "https://resend.com", provider: "resend" });
    expect(events[4].properties).toEqual({
      provider: "resend",
      provider_event: "email.bounced",
      email_id: "56761188-7520-42d8-8898-ff6fc54ce618",
      broadcast_id: "8b146471-e88e-4322-86af-016cd36fd216",
      bounce_type: "hard",
      bounce_subtype: "Suppressed",
      reason:
        "The recipient's email address is on the suppression list because it has a recent history of producing hard bounces.",
    });
  });

  it("maps an Undetermined bounce to soft", () => {
    const undetermined = {
      ...samples[4],
      data: { ...(samples[4].data as object), bounce: { type: "Undetermined" } },
    };
    expect(parse(undetermined, "msg_u").events[0].properties.bounce_type).toBe("soft");
  });

  it("reports a bad recipient and throws for a body that is not Resend's format", () => {
    const bad = { ...samples[1], data: { ...(samples[1].data as object), to: ["ok@example.com", "broken"] } };
    const result = parse(bad, "msg_b");
    expect(result.errors).toEqual([{ index: 1, error: 'data.to[1]: "broken" is not an email address' }]);
    expect(result.events.map((e) => e.contact.email)).toEqual(["ok@example.com"]);
    const noLink = {
      ...samples[3],
      data: { ...(samples[3].data as object), click: { timestamp: "2024-11-24T05:00:57.163Z" } },
    };
    expect(parse(noLink, "msg_l").errors).toEqual([
      { index: 0, error: "data.click.link: missing clicked link" },
    ]);
    expect(() => parse({ type: "email.sent" }, "msg_c")).toThrow(
      new ReceiverInputError('resend body has no "data" object'),
    );
    expect(() => resend.parse(request("{}", {}, NOW), config)).toThrow("missing svix-id header");
  });
});
