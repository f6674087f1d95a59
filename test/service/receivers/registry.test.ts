import { describe, expect, it } from "vitest";
import { isProvider, PROVIDERS, RECEIVERS } from "../../../src/service/receivers/index.ts";
import { eventId } from "../../../src/service/receivers/mapping.ts";
import { SLICE_EMAIL_EVENT_TYPES } from "../../../src/service/receivers/types.ts";

describe("receiver registry", () => {
  it("has one adapter per provider, each naming itself", () => {
    expect([...PROVIDERS].sort()).toEqual(["mailgun", "postmark", "resend", "sendgrid", "ses"]);
    for (const provider of PROVIDERS) expect(RECEIVERS[provider].provider).toBe(provider);
    expect(isProvider("ses")).toBe(true);
    expect(isProvider("toString")).toBe(false);
  });

  it("marks the secrets of each config", () => {
    expect(RECEIVERS.mailgun.secretKeys).toEqual(["signing_key"]);
    expect(RECEIVERS.resend.secretKeys).toEqual(["secret"]);
    expect(RECEIVERS.postmark.secretKeys).toEqual(["password"]);
    // SendGrid's verification key is public; SES has no secret.
    expect(RECEIVERS.sendgrid.secretKeys).toEqual([]);
    expect(RECEIVERS.ses.secretKeys).toEqual([]);
  });

  it("only Postmark generates credentials", () => {
    expect(PROVIDERS.filter((p) => RECEIVERS[p].generate)).toEqual(["postmark"]);
  });

  it("uses Slice event type names", () => {
    for (const type of SLICE_EMAIL_EVENT_TYPES) expect(type).toMatch(/^[a-z0-9_.:-]{1,64}$/);
  });
});

describe("eventId", () => {
  it("joins short ids and hashes long ones, deterministically", () => {
    expect(eventId("ses", "m1", "Bounce", "a@b.co")).toBe("ses:m1:Bounce:a@b.co");
    const long = eventId("postmark", "m".repeat(100), "Click", "a@b.co", "https://example.com/".repeat(10));
    expect(long).toMatch(/^postmark:[0-9a-f]{64}$/);
    expect(eventId("postmark", "m".repeat(100), "Click", "a@b.co", "https://example.com/".repeat(10))).toBe(
      long,
    );
    expect(eventId("ses", "x".repeat(196))).toHaveLength(200);
    expect(eventId("ses", "x".repeat(197))).toMatch(/^ses:[0-9a-f]{64}$/);
  });
});
