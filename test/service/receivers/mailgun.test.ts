import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { mailgun } from "../../../src/service/receivers/mailgun.ts";
import { MemoryReplayGuard } from "../../../src/service/receivers/replay-guard.ts";
import { ReceiverInputError } from "../../../src/service/receivers/types.ts";
import { fixture, request } from "./support.ts";

const { events: samples } = fixture<{ events: Record<string, unknown>[] }>("mailgun-events.json");
const config = mailgun.config.parse({ signing_key: "key-3ax6xnjp29jd6fds4gc373sgvjxteol0" });
const NOW = 1_770_147_400_000;

let tokenCounter = 0;

/** A webhook body signed as Mailgun does: hex HMAC-SHA256(signing key, timestamp + token). */
function body(eventData: unknown, timestampS = NOW / 1000, key = config.signing_key, token?: string): string {
  const t = token ?? `${++tokenCounter}`.padStart(50, "e0b5477167110d68991efc6b9f89f0a11066af27834600e123");
  const timestamp = String(Math.floor(timestampS));
  const signature = createHmac("sha256", key)
    .update(timestamp + t)
    .digest("hex");
  return JSON.stringify({ signature: { timestamp, token: t, signature }, "event-data": eventData });
}

describe("mailgun verify", () => {
  it("accepts a body signed with the signing key", async () => {
    expect(await mailgun.verify(request(body(samples[1]), {}, NOW), config, new MemoryReplayGuard())).toEqual(
      {
        ok: true,
      },
    );
  });

  it("refuses a signature made with another key", async () => {
    const req = request(body(samples[1], NOW / 1000, "key-other"), {}, NOW);
    expect(await mailgun.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("refuses a tampered timestamp or token", async () => {
    const signed = JSON.parse(body(samples[1])) as { signature: { timestamp: string; token: string } };
    signed.signature.token = `${signed.signature.token.slice(0, -1)}x`;
    const req = request(JSON.stringify(signed), {}, NOW);
    expect(await mailgun.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("refuses a timestamp older than 5 minutes", async () => {
    const req = request(body(samples[1], NOW / 1000 - 301), {}, NOW);
    expect(await mailgun.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: "timestamp too old (301 s)",
    });
  });

  it("refuses a token already seen", async () => {
    const guard = new MemoryReplayGuard();
    const first = body(samples[1], NOW / 1000, config.signing_key, "t".repeat(50));
    expect(await mailgun.verify(request(first, {}, NOW), config, guard)).toEqual({ ok: true });
    // Same token, even signed afresh with a later timestamp: refused.
    const again = body(samples[2], NOW / 1000 + 5, config.signing_key, "t".repeat(50));
    expect(await mailgun.verify(request(again, {}, NOW + 5000), config, guard)).toEqual({
      ok: false,
      reason: "replay: this token was already received",
    });
  });

  it("refuses a body without a signature", async () => {
    const req = request(JSON.stringify({ "event-data": samples[1] }), {}, NOW);
    expect(await mailgun.verify(req, config, new MemoryReplayGuard())).toEqual({
      ok: false,
      reason: 'mailgun body has no "signature" object',
    });
  });
});

describe("mailgun parse", () => {
  const parseOne = (eventData: unknown) => mailgun.parse(request(body(eventData), {}, NOW), config);

  it("maps the doc's sample events", () => {
    const mapped = samples.map((s) => parseOne(s));
    expect(mapped.map((m) => m.errors)).toEqual(samples.map(() => []));
    const events = mapped.flatMap((m) => m.events);
    expect(events.map((e) => [e.id, e.type, e.contact.email, e.timestamp, e.properties.bounce_type])).toEqual(
      [
        [
          "mailgun:CCXMjJ7nQi2N3BPigGOdgQ",
          "email_sent",
          "recipient@sample.mailgun.com",
          1_770_146_798_373,
          undefined,
        ],
        [
          "mailgun:MXcc2gEpS-eN8HfkOnmK2w",
          "email_delivered",
          "recipient@sample.mailgun.com",
          1_770_146_431_659,
          undefined,
        ],
        [
          "mailgun:Ase7i2zsRYeDXztHGENqRA",
          "email_opened",
          "recipient@sample.mailgun.com",
          1_770_146_900_250,
          undefined,
        ],
        [
          "mailgun:Ase7i2zsRYeDXztHGENqRB",
          "email_clicked",
          "recipient@sample.mailgun.com",
          1_770_146_960_500,
          undefined,
        ],
        [
          "mailgun:G9Bn5sl1TC6nu79C8C0bwg",
          "email_bounced",
          "bounced@sample.mailgun.com",
          1_770_147_000_000,
          "hard",
        ],
        [
          "mailgun:Fs7-5t81S2ujeCB8XsZm9Q",
          "email_bounced",
          "full@sample.mailgun.com",
          1_770_147_100_000,
          "soft",
        ],
        // suppress-unsubscribe: skipped
        [
          "mailgun:ncV2XwymRUKbPek_MIM-Gw",
          "email_complained",
          "recipient@sample.mailgun.com",
          1_770_147_200_000,
          undefined,
        ],
        [
          "mailgun:W3X4JOhFT-OZidZGKKr9iA",
          "email_unsubscribed",
          "recipient@sample.mailgun.com",
          1_770_147_300_000,
          undefined,
        ],
      ],
    );
    expect(events[3].properties).toMatchObject({ url: "https://www.mailgun.com/", provider: "mailgun" });
    expect(events[4].properties).toMatchObject({
      message_id: "20260203192638.000be97f99f8cea1@sample.mailgun.com",
      severity: "permanent",
      status_code: 550,
      reason: "5.1.1 The email account that you tried to reach does not exist.",
    });
    expect(events[0].properties.tags).toBe("webhook_payload");
  });

  it("skips unknown events and reports a malformed one", () => {
    expect(parseOne({ ...samples[1], event: "stored" })).toEqual({ events: [], errors: [] });
    expect(parseOne({ ...samples[4], severity: "sometimes" }).errors).toEqual([
      { index: 0, error: 'event-data.severity: "sometimes" is not "permanent" or "temporary"' },
    ]);
    expect(parseOne({ ...samples[1], recipient: "nobody" }).errors).toEqual([
      { index: 0, error: 'event-data.recipient: "nobody" is not an email address' },
    ]);
    expect(parseOne({ ...samples[1], id: undefined }).errors).toEqual([
      { index: 0, error: "event-data.id: missing or not a string" },
    ]);
  });

  it("throws a clear error for a body that is not Mailgun's format", () => {
    expect(() => mailgun.parse(request("[]", {}, NOW), config)).toThrow(
      new ReceiverInputError("mailgun body must be a JSON object"),
    );
    const noData = JSON.stringify({ signature: { timestamp: "1", token: "t", signature: "s" } });
    expect(() => mailgun.parse(request(noData, {}, NOW), config)).toThrow(
      'mailgun body has no "event-data" object',
    );
  });
});
