import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  isStandardSecret,
  newStandardSecret,
  standardHeaders,
  standardSecretKey,
} from "../../src/service/standard-webhooks.ts";

const now = () => Math.floor(Date.now() / 1000);

describe("Standard Webhooks signing", () => {
  it("matches the specification's published example", () => {
    // The example of the reference libraries' README (secret of 24 bytes).
    const h = standardHeaders(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(h).toEqual({
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });

  it("verifies with the standardwebhooks library, and a tampered call does not", () => {
    const secret = newStandardSecret();
    const body = JSON.stringify({ destination_id: "dst_1", contacts: [{ id: "c1", email: "a@x.test" }] });
    const headers = standardHeaders(secret, "msg_abc", now(), body);
    const wh = new Webhook(secret);
    expect(wh.verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => wh.verify(body.replace("a@x.test", "b@x.test"), { ...headers })).toThrow(/signature/i);
    expect(() => wh.verify(body, { ...headers, "webhook-id": "msg_abd" })).toThrow(/signature/i);
    expect(() =>
      wh.verify(body, { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) - 1) }),
    ).toThrow();
    expect(() => new Webhook(newStandardSecret()).verify(body, { ...headers })).toThrow(/signature/i);
  });

  it("signs with every live secret during a rotation", () => {
    const oldSecret = newStandardSecret();
    const newSecret = newStandardSecret();
    const body = "{}";
    const headers = standardHeaders([newSecret, oldSecret], "msg_rot", now(), body);
    const sigs = headers["webhook-signature"].split(" ");
    expect(sigs).toHaveLength(2);
    for (const s of sigs) expect(s).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(() => new Webhook(oldSecret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(newStandardSecret()).verify(body, { ...headers })).toThrow();
  });

  it("makes distinct whsec_ secrets of 32 random bytes", () => {
    const a = newStandardSecret();
    const b = newStandardSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(standardSecretKey(a)?.length).toBe(32);
  });

  it("accepts only canonical whsec_ secrets of 24 to 64 bytes", () => {
    const of = (n: number) => `whsec_${Buffer.alloc(n, 7).toString("base64")}`;
    expect(isStandardSecret(of(24))).toBe(true);
    expect(isStandardSecret(of(64))).toBe(true);
    expect(isStandardSecret(of(23))).toBe(false);
    expect(isStandardSecret(of(65))).toBe(false);
    expect(isStandardSecret(of(32).slice("whsec_".length))).toBe(false);
    expect(isStandardSecret(of(32).replace(/=$/, ""))).toBe(false);
    expect(isStandardSecret("whsec_this is not base64 at all, no")).toBe(false);
    expect(() => standardHeaders("a long plain secret string", "msg_1", now(), "{}")).toThrow(/whsec_/);
  });

  it("refuses ids and timestamps that would make the signed content ambiguous", () => {
    const s = newStandardSecret();
    expect(() => standardHeaders(s, "msg.1", now(), "{}")).toThrow(/webhook-id/);
    expect(() => standardHeaders(s, "", now(), "{}")).toThrow(/webhook-id/);
    expect(() => standardHeaders(s, "msg_1", Number.NaN, "{}")).toThrow(/timestamp/);
    expect(() => standardHeaders([], "msg_1", now(), "{}")).toThrow(/secret/);
    expect(standardHeaders(s, "msg_1", 1700000000.9, "{}")["webhook-timestamp"]).toBe("1700000000");
  });
});
