/**
 * The log at `debug`, captured while keys, webhook secrets and receiver credentials go
 * through the API (in bodies, Authorization headers and query strings): none of those
 * strings appears in it. Every request gets a request id, in its log line and in the
 * `x-request-id` answer header; a sane one sent by the client is kept.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

const METRICS_TOKEN = `mt_${randomBytes(12).toString("hex")}`;

let s: TestServer;
let captured = "";

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      captured += chunk.toString();
      done();
    },
  });
  s = await startTestServer(
    { kind: "sqlite" },
    { logger: createLogger({ level: "debug", destination: sink }), metricsToken: METRICS_TOKEN },
  );
});
afterAll(async () => {
  await s?.stop();
});

const lines = (): Json[] =>
  captured
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));

describe("logs", () => {
  it("never contain a secret that went through the API", async () => {
    const secrets: string[] = [ADMIN_KEY, METRICS_TOKEN];

    // API keys: created (the answer holds the secret), then used.
    const key = await s.call("POST", "/v1/keys", { name: "ingest", role: "ingest" });
    expect(key.status).toBe(201);
    secrets.push(key.body.key);
    expect(
      (
        await s.call(
          "POST",
          "/v1/events",
          { type: "x", contact: { email: "a@example.com" } },
          { key: key.body.key },
        )
      ).status,
    ).toBe(200);
    // A revoked or wrong key is refused; it is a secret all the same.
    const wrong = `slk_${randomBytes(16).toString("hex")}`;
    secrets.push(wrong);
    expect((await s.call("GET", "/v1/segments", undefined, { key: wrong })).status).toBe(401);

    // A webhook secret.
    const hookSecret = `whs-${randomBytes(12).toString("hex")}`;
    secrets.push(hookSecret);
    const hook = await s.call("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook", secret: hookSecret });
    expect(hook.status).toBe(201);

    // Receiver credentials of three providers, and deliveries to them.
    const signingKey = `mgkey-${randomBytes(12).toString("hex")}`;
    const pmPassword = `pm-${randomBytes(12).toString("hex")}`;
    const resendSecret = `whsec_${randomBytes(24).toString("base64")}`;
    secrets.push(signingKey, pmPassword, resendSecret);
    const mg = await s.call("POST", "/v1/receivers", {
      provider: "mailgun",
      config: { signing_key: signingKey },
    });
    expect(mg.status).toBe(201);
    const pm = await s.call("POST", "/v1/receivers", {
      provider: "postmark",
      config: { username: "pmuser", password: pmPassword },
    });
    expect(pm.status).toBe(201);
    const rs = await s.call("POST", "/v1/receivers", {
      provider: "resend",
      config: { secret: resendSecret },
    });
    expect(rs.status).toBe(201);
    const basicPm = `Basic ${Buffer.from(`pmuser:${pmPassword}`).toString("base64")}`;
    const delivered = await fetch(`${s.url}/hooks/${pm.body.id}`, {
      method: "POST",
      headers: { authorization: basicPm, "content-type": "application/json" },
      body: JSON.stringify({
        RecordType: "Open",
        Recipient: "a@example.com",
        ReceivedAt: new Date().toISOString(),
      }),
    });
    expect(delivered.status).toBeLessThan(500);
    const badPassword = `pm-wrong-${randomBytes(8).toString("hex")}`;
    secrets.push(badPassword);
    const refused = await fetch(`${s.url}/hooks/${pm.body.id}`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`pmuser:${badPassword}`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(refused.status).toBe(401);

    // Segment-compatible ingest: the key as the Basic user name.
    const seg = await fetch(`${s.url}/segment/v1/track`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${key.body.key}:`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ userId: "u1", event: "Signed Up", messageId: "m1" }),
    });
    expect(seg.status).toBe(200);

    // Tokens in query strings (clients that cannot set headers).
    const queryToken = `qt-${randomBytes(12).toString("hex")}`;
    secrets.push(queryToken);
    await s.call("GET", `/v1/segments?token=${queryToken}&limit=5`);
    await s.call("GET", `/v1/segments?key=${queryToken}`, undefined, { key: null });
    await s.call("GET", `/v1/contacts?api_key=${queryToken}`);

    // Metrics with the token.
    expect((await s.call("GET", "/metrics", undefined, { key: METRICS_TOKEN })).status).toBe(200);

    // The log saw every one of those requests…
    const logged = lines();
    const urls = logged.map((l) => l.req?.url).filter(Boolean);
    expect(urls).toEqual(
      expect.arrayContaining([
        "/v1/keys",
        "/v1/webhooks",
        "/v1/receivers",
        `/hooks/${pm.body.id}`,
        "/segment/v1/track",
        "/metrics",
        "/v1/segments?token=[Redacted]&limit=5",
        "/v1/segments?key=[Redacted]",
        "/v1/contacts?api_key=[Redacted]",
      ]),
    );
    // …and holds none of the secrets, whole or as the base64 of Basic credentials.
    for (const secret of secrets) {
      expect(captured).not.toContain(secret);
      expect(captured).not.toContain(Buffer.from(secret).toString("base64").slice(0, 16));
    }
    expect(captured).not.toContain(basicPm);
  });

  it("cuts secrets out of any object logged (headers, receiver configs, nested)", () => {
    let out = "";
    const logger = createLogger({
      level: "debug",
      destination: new Writable({
        write(chunk, _enc, done) {
          out += chunk.toString();
          done();
        },
      }),
    });
    logger.debug(
      {
        headers: { authorization: "Bearer sk-abc-123456", cookie: "sid=s3cr3t-cookie" },
        receiver: { provider: "mailgun", config: { signing_key: "mg-abc-123456" } },
        webhook: { url: "https://example.com", secret: "whs-abc-123456" },
        key: "slk-abc-123456",
        deep: { a: { b: { password: "pw-abc-123456", public_key: "pk-abc-123456" } } },
      },
      "an object with secrets",
    );
    const line = JSON.parse(out);
    expect(line.receiver.provider).toBe("mailgun");
    for (const secret of ["sk-abc", "s3cr3t", "mg-abc", "whs-abc", "slk-abc", "pw-abc", "pk-abc"]) {
      expect(out).not.toContain(secret);
    }
    expect(line.headers.authorization).toBe("[Redacted]");
  });

  it("gives every request an id, in its log line and its answer", async () => {
    const mine = await s.call("GET", "/v1/segments", undefined, {
      headers: { "x-request-id": "trace-4f2a.9" },
    });
    expect(mine.headers.get("x-request-id")).toBe("trace-4f2a.9");
    const insane = await s.call("GET", "/v1/segments", undefined, {
      headers: { "x-request-id": 'has spaces and "quotes"' },
    });
    const generated = insane.headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const none = await s.call("GET", "/v1/nope");
    expect(none.status).toBe(404);
    const other = none.headers.get("x-request-id");
    expect(other).toMatch(/^[0-9a-f-]{36}$/);
    expect(other).not.toBe(generated);

    const byId = (id: string) => lines().filter((l) => l.req_id === id);
    expect(byId("trace-4f2a.9")).toEqual([
      expect.objectContaining({
        msg: "request completed",
        req: expect.objectContaining({ url: "/v1/segments" }),
        res: { status: 200 },
      }),
    ]);
    expect(byId(generated!)).toHaveLength(1);
    expect(byId(other!)[0]).toMatchObject({ req: { url: "/v1/nope" }, res: { status: 404 } });
    // Every line a request caused carries its id.
    for (const l of lines()) if (l.req) expect(typeof l.req_id).toBe("string");
  });
});
