/**
 * Webhooks end to end over real HTTP: deliveries verified with the `standardwebhooks`
 * package (the library receivers use), the test event, redelivery, secret rotation, and
 * the private-address rule of a server started without SLICE_WEBHOOK_ALLOW_PRIVATE.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Json;
}

async function startReceiver(): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      got.push({ path: req.url ?? "", headers: req.headers, raw, body: JSON.parse(raw) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The `v1=` parts of `Slice-Signature`, each checked against one of `secrets`, in order. */
function sliceSignatures(header: unknown, raw: string, secrets: string[]): void {
  expect(typeof header).toBe("string");
  const parts = (header as string).split(",");
  const t = Number(parts[0]!.replace(/^t=/, ""));
  const v1 = parts.slice(1).map((p) => p.replace(/^v1=/, ""));
  expect(v1).toEqual(secrets.map((s) => createHmac("sha256", s).update(`${t}.${raw}`, "utf8").digest("hex")));
}

const headersOf = (r: Received) => r.headers as Record<string, string>;

let s: TestServer;
let rx: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  [s, rx] = await Promise.all([startTestServer({ kind: "sqlite" }), startReceiver()]);
});
afterAll(async () => {
  await s?.stop();
  await rx?.close();
});

async function buyerSegment(): Promise<string> {
  const seg = await s.call("POST", "/v1/segments", {
    name: `Buyers ${Math.random()}`,
    rule: { type: "event", event: "order_placed", op: "gte", value: 1 },
  });
  expect(seg.status, seg.text).toBe(201);
  return seg.body.id;
}

async function buy(email: string): Promise<void> {
  const ev = await s.call("POST", "/v1/events", { type: "order_placed", contact: { email } });
  expect(ev.status, ev.text).toBe(200);
}

describe("webhooks: Standard Webhooks signatures", () => {
  it("a secret Slice makes is a whsec_ secret the library verifies with its defaults", async () => {
    const segment = await buyerSegment();
    const hook = await s.call("POST", "/v1/webhooks", { url: `${rx.url}/std`, segment_id: segment });
    expect(hook.status, hook.text).toBe(201);
    const secret: string = hook.body.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    await buy("std@example.com");
    const got = (await eventually(() => rx.got.find((r) => r.path === "/std"), 5000, "delivery"))!;
    const h = headersOf(got);
    expect(h["webhook-id"]).toBe(got.body.id);
    expect(Number(h["webhook-timestamp"])).toBeCloseTo(Date.now() / 1000, -2);
    expect(h["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(got.raw, h)).toEqual(got.body);
    sliceSignatures(h["slice-signature"], got.raw, [secret]);
    // A tampered body or another secret fails.
    expect(() => new Webhook(secret).verify(`${got.raw} `, h)).toThrow();
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(got.raw, h)).toThrow();
  });

  it("a secret the user gives (not whsec_ base64) verifies with { format: 'raw' }", async () => {
    const secret = "my-own-shared-secret-çà-123";
    const hook = await s.call("POST", "/v1/webhooks", { url: `${rx.url}/raw`, secret });
    expect(hook.status, hook.text).toBe(201);
    expect(hook.body.secret).toBe(secret);
    const test = await s.call("POST", `/v1/webhooks/${hook.body.id}/test`);
    expect(test.status, test.text).toBe(200);
    const got = rx.got.find((r) => r.path === "/raw")!;
    expect(got.body.type).toBe("webhook.test");
    expect(new Webhook(secret, { format: "raw" }).verify(got.raw, headersOf(got))).toEqual(got.body);
    sliceSignatures(headersOf(got)["slice-signature"], got.raw, [secret]);
  });
});

describe("webhooks: test, redeliver, rotate-secret", () => {
  it("POST …/test sends a webhook.test event now and answers the outcome, logged as a delivery", async () => {
    const hook = await s.call("POST", "/v1/webhooks", { url: `${rx.url}/test-ok` });
    const r = await s.call("POST", `/v1/webhooks/${hook.body.id}/test`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({
      ok: true,
      status_code: 204,
      error: null,
      delivery: { webhook_id: hook.body.id, status: "delivered", attempts: 1, change_seq: null },
    });
    const got = rx.got.filter((x) => x.path === "/test-ok");
    expect(got).toHaveLength(1);
    expect(got[0]!.body).toEqual({
      id: `del_${r.body.delivery.id}`,
      type: "webhook.test",
      created_at: expect.any(String),
      data: { webhook_id: hook.body.id },
    });
    expect(new Webhook(hook.body.secret).verify(got[0]!.raw, headersOf(got[0]!))).toEqual(got[0]!.body);
    const log = await s.call("GET", `/v1/webhooks/${hook.body.id}/deliveries`);
    expect(log.body.data.map((d: Json) => d.id)).toEqual([r.body.delivery.id]);

    // A receiver that is down: the outcome names the error, and the delivery is not retried.
    const down = await s.call("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/down" });
    const failed = await s.call("POST", `/v1/webhooks/${down.body.id}/test`);
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toMatchObject({ ok: false, status_code: null, delivery: { status: "failed" } });
    expect(failed.body.error).toMatch(/ECONNREFUSED/);

    expect((await s.call("POST", "/v1/webhooks/wh_nope/test")).status).toBe(404);
  });

  it("POST …/deliveries/{id}/redeliver queues the same bytes again as a new delivery", async () => {
    const segment = await buyerSegment();
    const hook = await s.call("POST", "/v1/webhooks", { url: `${rx.url}/redo`, segment_id: segment });
    await buy("redo@example.com");
    const first = (await eventually(() => rx.got.find((r) => r.path === "/redo"), 5000, "delivery"))!;
    // The attempt is recorded once the receiver's answer is back, a moment after it got the POST.
    const original = await eventually(
      async () => {
        const [d] = (await s.call("GET", `/v1/webhooks/${hook.body.id}/deliveries`)).body.data;
        return d?.status === "pending" ? null : d;
      },
      5000,
      "the delivery recorded",
    );
    expect(original).toMatchObject({ status: "delivered", redelivery_of: null });

    const r = await s.call("POST", `/v1/webhooks/${hook.body.id}/deliveries/${original.id}/redeliver`);
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({
      webhook_id: hook.body.id,
      redelivery_of: original.id,
      change_seq: original.change_seq,
      status: "pending",
    });
    expect(r.body.id).not.toBe(original.id);
    const again = (await eventually(() => rx.got.filter((x) => x.path === "/redo")[1], 5000, "redelivery"))!;
    expect(again.raw).toBe(first.raw);
    expect(headersOf(again)["webhook-id"]).toBe(headersOf(first)["webhook-id"]);
    expect(new Webhook(hook.body.secret).verify(again.raw, headersOf(again))).toEqual(first.body);
    await eventually(
      async () =>
        (await s.call("GET", `/v1/webhooks/${hook.body.id}/deliveries`)).body.data[0].status === "delivered",
      5000,
      "redelivery logged",
    );

    expect((await s.call("POST", `/v1/webhooks/${hook.body.id}/deliveries/999999/redeliver`)).status).toBe(
      404,
    );
    const bad = await s.call("POST", `/v1/webhooks/${hook.body.id}/deliveries/abc/redeliver`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("delivery_id");
    // A delivery of another subscription is not found under this one.
    const other = await s.call("POST", "/v1/webhooks", { url: `${rx.url}/other` });
    expect(
      (await s.call("POST", `/v1/webhooks/${other.body.id}/deliveries/${original.id}/redeliver`)).status,
    ).toBe(404);
  });

  it("POST …/rotate-secret answers a new secret; both sign for 24 h", async () => {
    const hook = await s.call("POST", "/v1/webhooks", { url: `${rx.url}/rotate` });
    const old: string = hook.body.secret;
    const r = await s.call("POST", `/v1/webhooks/${hook.body.id}/rotate-secret`);
    expect(r.status, r.text).toBe(200);
    const fresh: string = r.body.secret;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    const expires = Date.parse(r.body.previous_secret_expires_at);
    expect(Math.abs(expires - (Date.now() + 24 * 3_600_000))).toBeLessThan(60_000);
    // The secret is shown once: reads do not hold it.
    const read = await s.call("GET", `/v1/webhooks/${hook.body.id}`);
    expect(read.body.secret).toBeUndefined();
    expect(read.body.previous_secret_expires_at).toBe(r.body.previous_secret_expires_at);

    expect((await s.call("POST", `/v1/webhooks/${hook.body.id}/test`)).body.ok).toBe(true);
    const got = rx.got.find((x) => x.path === "/rotate")!;
    const h = headersOf(got);
    expect(h["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(h["webhook-signature"]!.split(" ").every((p) => p.startsWith("v1,"))).toBe(true);
    expect(new Webhook(fresh).verify(got.raw, h)).toEqual(got.body);
    expect(new Webhook(old).verify(got.raw, h)).toEqual(got.body);
    sliceSignatures(h["slice-signature"], got.raw, [fresh, old]);

    expect((await s.call("POST", "/v1/webhooks/wh_nope/rotate-secret")).status).toBe(404);
  });
});

describe("webhooks: private addresses are refused by default", () => {
  it("at POST /v1/webhooks (400 naming url) and at delivery time (address not allowed, no port)", async () => {
    const strict = await startTestServer({ kind: "sqlite" }, { allowPrivateAddresses: false });
    try {
      for (const url of [
        `${rx.url}/private`,
        "http://127.0.0.1/hook",
        "http://[::1]:8080/",
        "http://169.254.169.254/",
      ]) {
        const r = await strict.call("POST", "/v1/webhooks", { url });
        expect(r.status, url).toBe(400);
        expect(r.body.error.details.path).toBe("url");
      }
      expect((await strict.call("GET", "/v1/webhooks")).body.data).toEqual([]);

      // One stored before the rule (or whose name resolves elsewhere now) is refused when sent.
      const ws = (await strict.call("GET", "/v1/workspace")).body.id as string;
      const hook = await strict.server.slice.store.workspace(ws).webhooks.create({
        url: `${rx.url}/private`,
        events: ["segment.entered", "segment.exited"],
      });
      const t = await strict.call("POST", `/v1/webhooks/${hook.id}/test`);
      expect(t.status, t.text).toBe(200);
      expect(t.body).toMatchObject({ ok: false, error: "address not allowed (loopback)", status_code: null });

      const seg = await strict.call("POST", "/v1/segments", {
        name: "Buyers",
        rule: { type: "event", event: "order_placed", op: "gte", value: 1 },
      });
      expect(seg.status, seg.text).toBe(201);
      await strict.call("POST", "/v1/events", { type: "order_placed", contact: { email: "p@example.com" } });
      const failed = await eventually(
        async () =>
          (await strict.call("GET", `/v1/webhooks/${hook.id}/deliveries`)).body.data.find(
            (d: Json) => d.change_seq !== null && d.attempts > 0,
          ),
        5000,
        "a refused attempt",
      );
      expect(failed.last_error).toBe("address not allowed (loopback)");
      expect(failed.last_error).not.toContain(new URL(rx.url).port);
      expect(rx.got.filter((r) => r.path === "/private")).toEqual([]);
    } finally {
      await strict.stop();
    }
  });
});
