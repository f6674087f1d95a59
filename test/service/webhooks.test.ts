/**
 * Webhook delivery against a real SQLite store and a real local HTTP receiver. Only the
 * clock is fake, so that retries become due without waiting.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { checkWebhookUrl } from "../../src/service/webhook-url.ts";
import {
  deliveryBody,
  GIVE_UP_AFTER_MS,
  nextAttemptAt,
  RETRY_CAP_MS,
  retryDelayMs,
  sign,
  verifySignature,
  WEBHOOK_EVENTS,
  WebhookDispatcher,
} from "../../src/service/webhooks.ts";
import { type ChangeInput, type DeliveryJob, openStore, type Store } from "../../src/store/index.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-webhooks-"));
let files = 0;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

class FakeClock {
  constructor(public t = T0) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

async function setup(path = join(dir, `wh-${++files}.db`)) {
  const clock = new FakeClock();
  const store = await openStore({ sqlitePath: path, clock });
  cleanups.push(() => store.close());
  const ws = (await store.createWorkspace({ name: "webhooks" })).id;
  return { clock, store, ws, path };
}

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, hit: Hit, n: number) => void;

/** A local receiver on 127.0.0.1; `handler` answers (default 200). */
async function receiver(handler: Handler = (_req, res) => res.end("ok")) {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const hit = { path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      hits.push(hit);
      handler(req, res, hit, hits.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { hits, url: (path = "/hook") => `http://127.0.0.1:${port}${path}` };
}

async function logChanges(store: Store, ws: string, changes: Omit<ChangeInput, "at">[], at = T0) {
  return store.workspace(ws).changes.append(changes.map((c) => ({ ...c, at })));
}

describe("signatures", () => {
  const body = JSON.stringify({ id: "del_1", type: "segment.entered" });

  it("signs t.body with HMAC-SHA256 and verifies only with the right secret", () => {
    const header = sign("whsec_right", body, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature("whsec_right", header, body, 300, 1_700_000_010)).toBe(true);
    expect(verifySignature("whsec_wrong", header, body, 300, 1_700_000_010)).toBe(false);
    expect(verifySignature("whsec_right", header, `${body} `, 300, 1_700_000_010)).toBe(false);
  });

  it("refuses stale timestamps and malformed headers", () => {
    const header = sign("s", body, 1_700_000_000);
    expect(verifySignature("s", header, body, 300, 1_700_000_301)).toBe(false);
    expect(verifySignature("s", header, body, 300, 1_699_999_699)).toBe(false);
    expect(verifySignature("s", "", body, 300, 1_700_000_000)).toBe(false);
    expect(verifySignature("s", "v1=abc", body, 300, 1_700_000_000)).toBe(false);
    expect(verifySignature("s", "t=1700000000", body, 300, 1_700_000_000)).toBe(false);
    expect(verifySignature("s", "t=1700000000,v1=zz", body, 300, 1_700_000_000)).toBe(false);
    // A rotated secret: either signature may match.
    const v1 = header.split(",v1=")[1];
    expect(verifySignature("s", `t=1700000000,v1=${"0".repeat(64)},v1=${v1}`, body, 300, 1_700_000_000)).toBe(
      true,
    );
  });
});

describe("retry schedule", () => {
  it("grows exponentially with jitter and is capped", () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, mid))).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(retryDelayMs(1, () => 0)).toBe(24_000);
    expect(retryDelayMs(1, () => 1)).toBe(36_000);
    for (let n = 1; n < 200; n++) {
      expect(retryDelayMs(n, () => 1)).toBeLessThanOrEqual(RETRY_CAP_MS);
      expect(retryDelayMs(n + 1, mid)).toBeGreaterThanOrEqual(retryDelayMs(n, mid));
    }
    expect(retryDelayMs(40, mid)).toBe(RETRY_CAP_MS);
  });

  it("keeps retrying for at least 24 h, then gives up", () => {
    for (const random of [() => 0, () => 1, Math.random]) {
      let t = 0;
      let attempts = 0;
      for (;;) {
        attempts++; // an attempt at t fails
        const next = nextAttemptAt({ created_at: 0, attempts: attempts - 1 }, t, random);
        if (next === null) break;
        expect(next).toBeGreaterThan(t);
        t = next;
      }
      expect(t).toBeGreaterThan(GIVE_UP_AFTER_MS);
      expect(t).toBeLessThanOrEqual(GIVE_UP_AFTER_MS + RETRY_CAP_MS);
      expect(attempts).toBeGreaterThan(20);
      expect(attempts).toBeLessThan(60);
    }
  });
});

describe("webhook URLs", () => {
  it("allows http and https only", async () => {
    expect(await checkWebhookUrl("https://example.com/hook", { denyPrivate: false })).toBeNull();
    expect(await checkWebhookUrl("http://127.0.0.1:9/hook", { denyPrivate: false })).toBeNull();
    expect(await checkWebhookUrl("ftp://example.com/x", { denyPrivate: false })).toMatch(/http/);
    expect(await checkWebhookUrl("not a url", { denyPrivate: false })).toMatch(/url/);
    expect(await checkWebhookUrl("file:///etc/passwd", { denyPrivate: false })).toMatch(/http/);
  });

  it("with denyPrivate, refuses loopback, private, link-local and unique-local addresses", async () => {
    const deny = { denyPrivate: true };
    for (const url of [
      "http://127.0.0.1/hook",
      "http://10.1.2.3/hook",
      "http://172.16.5.4/",
      "http://192.168.1.10/",
      "http://169.254.169.254/latest/meta-data",
      "http://100.64.0.1/",
      "http://0.0.0.0/",
      "http://2130706433/", // 127.0.0.1 in decimal
      "http://0x0a000001/", // 10.0.0.1 in hex
      "http://[::1]/",
      "http://[fe80::1]/",
      "http://[fd00::1]/",
      "http://[::ffff:10.0.0.1]/",
      "http://localhost:8080/",
    ]) {
      expect(await checkWebhookUrl(url, deny), url).toMatch(/(not a |non-)public address/);
    }
    expect(await checkWebhookUrl("http://8.8.8.8/hook", deny)).toBeNull();
    expect(await checkWebhookUrl("http://[2606:4700:4700::1111]/", deny)).toBeNull();
    expect(await checkWebhookUrl("http://10.1.2.3/hook", { denyPrivate: false })).toBeNull();
  });

  it("with denyPrivate, refuses names resolving to a private address (any of them)", async () => {
    const resolveTo =
      (...addresses: string[]) =>
      async () =>
        addresses;
    const check = (...addresses: string[]) =>
      checkWebhookUrl("https://hooks.example.com/x", { denyPrivate: true, resolve: resolveTo(...addresses) });
    expect(await check("93.184.216.34")).toBeNull();
    // The internal address itself is not echoed back.
    expect(await check("93.184.216.34", "10.0.0.7")).toBe(
      "url host hooks.example.com resolves to a non-public address (private)",
    );
    expect(await check("fd12::1")).toMatch(/non-public address \(uniqueLocal\)/);
    expect(await check()).toMatch(/does not resolve/);
    const failing = async () => {
      throw Object.assign(new Error("nope"), { code: "ENOTFOUND" });
    };
    expect(
      await checkWebhookUrl("https://nowhere.invalid/", { denyPrivate: true, resolve: failing }),
    ).toMatch(/ENOTFOUND/);
  });
});

describe("WebhookDispatcher", () => {
  it("POSTs a signed JSON body that verifies with the subscription's secret", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver();
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: [...WEBHOOK_EVENTS] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    const logged = await logChanges(store, ws, [
      { segment_id: "seg_a", contact_id: "c1", change: "entered" },
    ]);
    expect(await d.enqueue(ws, logged)).toBe(1);
    expect(await d.runOnce()).toBe(1);

    expect(rx.hits).toHaveLength(1);
    const { headers, body } = rx.hits[0];
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toBe("Slice-Webhooks/1");
    const signature = String(headers["slice-signature"]);
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const nowS = clock.now() / 1000;
    expect(verifySignature(hook.secret, signature, body, 300, nowS)).toBe(true);
    expect(verifySignature("whsec_wrong", signature, body, 300, nowS)).toBe(false);

    const payload = JSON.parse(body);
    const [delivery] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(payload).toEqual({
      id: `del_${delivery.id}`,
      type: "segment.entered",
      created_at: new Date(T0).toISOString(),
      data: { segment_id: "seg_a", contact_id: "c1", change: "entered", at: new Date(T0).toISOString() },
    });
    expect(delivery).toMatchObject({
      status: "delivered",
      attempts: 1,
      last_status_code: 200,
      delivered_at: T0,
    });
  });

  it("queues one delivery per matching subscription (event and segment filters)", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver();
    const any = await store
      .workspace(ws)
      .webhooks.create({ url: rx.url("/any"), events: ["segment.entered"] });
    const seg1 = await store.workspace(ws).webhooks.create({
      url: rx.url("/seg1"),
      events: [...WEBHOOK_EVENTS],
      segment_id: "seg_1",
    });
    const seg2Exits = await store.workspace(ws).webhooks.create({
      url: rx.url("/seg2"),
      events: ["segment.exited"],
      segment_id: "seg_2",
    });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    const logged = await logChanges(store, ws, [
      { segment_id: "seg_1", contact_id: "c1", change: "entered" },
      { segment_id: "seg_1", contact_id: "c1", change: "exited" },
      { segment_id: "seg_2", contact_id: "c2", change: "entered" },
    ]);
    expect(await d.enqueue(ws, logged)).toBe(4);
    // The same changes again add nothing.
    expect(await d.enqueue(ws, logged)).toBe(0);
    expect(await d.runOnce()).toBe(4);

    const got = (path: string) =>
      rx.hits
        .filter((h) => h.path === path)
        .map((h) => {
          const p = JSON.parse(h.body);
          return `${p.type} ${p.data.segment_id} ${p.data.contact_id}`;
        })
        .sort();
    expect(got("/any")).toEqual(["segment.entered seg_1 c1", "segment.entered seg_2 c2"]);
    expect(got("/seg1")).toEqual(["segment.entered seg_1 c1", "segment.exited seg_1 c1"]);
    expect(got("/seg2")).toEqual([]);
    expect((await store.workspace(ws).deliveries.list(any.id)).data).toHaveLength(2);
    expect((await store.workspace(ws).deliveries.list(seg1.id)).data).toHaveLength(2);
    expect((await store.workspace(ws).deliveries.list(seg2Exits.id)).data).toHaveLength(0);
  });

  it("retries a failed delivery when it is due and delivers it exactly once", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver((_req, res, _hit, n) => {
      res.statusCode = n === 1 ? 500 : 200;
      res.end();
    });
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: [...WEBHOOK_EVENTS] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false, random: () => 0.5 });
    await d.enqueue(
      ws,
      await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "exited" }]),
    );

    expect(await d.runOnce()).toBe(1);
    let [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status_code: 500,
      last_error: "HTTP 500",
    });
    expect(rec.next_attempt_at).toBe(T0 + 30_000);

    // Not due yet.
    clock.advance(29_000);
    expect(await d.runOnce()).toBe(0);
    clock.advance(1_000);
    expect(await d.runOnce()).toBe(1);
    [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec).toMatchObject({ status: "delivered", attempts: 2, last_status_code: 200, last_error: null });

    // Nothing more, however long we wait.
    clock.advance(GIVE_UP_AFTER_MS * 2);
    expect(await d.runOnce()).toBe(0);
    expect(rx.hits).toHaveLength(2);
    // Both attempts carry the same event id, for the receiver's deduplication.
    expect(JSON.parse(rx.hits[0].body).id).toBe(JSON.parse(rx.hits[1].body).id);
  });

  it("gives up once a delivery has failed for more than 24 h", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    await d.enqueue(
      ws,
      await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "entered" }]),
    );

    let rounds = 0;
    for (;;) {
      expect(await d.runOnce()).toBe(1);
      rounds++;
      const [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
      expect(rec.attempts).toBe(rounds);
      if (rec.status === "failed") {
        expect(rec.next_attempt_at).toBeNull();
        expect(rec.last_status_code).toBe(503);
        expect(clock.now() - rec.created_at).toBeGreaterThan(GIVE_UP_AFTER_MS);
        break;
      }
      expect(rec.status).toBe("pending");
      expect(clock.now() - rec.created_at).toBeLessThanOrEqual(GIVE_UP_AFTER_MS);
      expect(rounds).toBeLessThan(100);
      clock.t = rec.next_attempt_at!;
    }
    expect(rx.hits).toHaveLength(rounds);
    clock.advance(GIVE_UP_AFTER_MS);
    expect(await d.runOnce()).toBe(0);
  });

  it("fails an attempt whose receiver hangs after the timeout", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver(() => {
      /* never answers */
    });
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false, timeoutMs: 300 });
    await d.enqueue(
      ws,
      await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "entered" }]),
    );
    const started = performance.now();
    expect(await d.runOnce()).toBe(1);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5_000);
    const [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec).toMatchObject({ status: "pending", attempts: 1, last_status_code: null });
    expect(rec.last_error).toMatch(/timed out after 300 ms/);
    expect(rx.hits).toHaveLength(1);
  });

  it("records network errors and redirects as failures", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver((_req, res) => {
      res.writeHead(302, { Location: "http://10.0.0.1/" });
      res.end();
    });
    const redirected = await store
      .workspace(ws)
      .webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    // A port nobody listens on: get one from a server, then close it.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await store.workspace(ws).webhooks.create({
      url: `http://127.0.0.1:${deadPort}/`,
      events: ["segment.entered"],
    });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    await d.enqueue(
      ws,
      await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "entered" }]),
    );
    expect(await d.runOnce()).toBe(2);
    const [r1] = (await store.workspace(ws).deliveries.list(redirected.id)).data;
    expect(r1).toMatchObject({ status: "pending", last_status_code: 302 });
    expect(r1.last_error).toMatch(/redirect/);
    const [r2] = (await store.workspace(ws).deliveries.list(refused.id)).data;
    expect(r2).toMatchObject({ status: "pending", last_status_code: null });
    expect(r2.last_error).toMatch(/ECONNREFUSED/);
  });

  it("with denyPrivate, does not send to 127.0.0.1 (checked at delivery); without it, does", async () => {
    const { clock, store, ws } = await setup();
    const rx = await receiver();
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    const logged = await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "entered" }]);

    const strict = new WebhookDispatcher(store, { clock, denyPrivate: true });
    await strict.enqueue(ws, logged);
    expect(await strict.runOnce()).toBe(1);
    expect(rx.hits).toHaveLength(0);
    let [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec.status).toBe("pending");
    expect(rec.last_error).toBe("address not allowed (loopback)");

    clock.t = rec.next_attempt_at!;
    const lax = new WebhookDispatcher(store, { clock, denyPrivate: false });
    lax.addWorkspace(ws);
    expect(await lax.runOnce()).toBe(1);
    expect(rx.hits).toHaveLength(1);
    [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec.status).toBe("delivered");
  });

  it("delivers from its own loop as soon as enqueue wakes it", async () => {
    const { clock, store, ws } = await setup();
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const rx = await receiver((_req, res) => {
      res.end();
      arrived();
    });
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    // A poll interval far longer than the test: only the wake-up can make it deliver.
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false, pollMs: 600_000 });
    d.addWorkspace(ws);
    d.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await d.enqueue(
        ws,
        await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "entered" }]),
      );
      await arrival;
    } finally {
      await d.stop();
    }
    const [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec.status).toBe("delivered");
    expect(rx.hits).toHaveLength(1);
  });

  it("stop() waits for the requests in flight", async () => {
    const { clock, store, ws } = await setup();
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const rx = await receiver((_req, res) => {
      arrived();
      setTimeout(() => res.end(), 200);
    });
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false, pollMs: 10 });
    d.start();
    await d.enqueue(
      ws,
      await logChanges(store, ws, [{ segment_id: "s", contact_id: "c", change: "entered" }]),
    );
    await arrival;
    await d.stop();
    const [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec.status).toBe("delivered");
  });

  it("enqueues inside a transaction, with the change log", async () => {
    const { clock, store, ws } = await setup();
    const hook = await store
      .workspace(ws)
      .webhooks.create({ url: "http://127.0.0.1:9/", events: ["segment.entered"] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    await expect(
      store.transaction(ws, async (tx) => {
        const logged = await tx
          .workspace(ws)
          .changes.append([{ segment_id: "s", contact_id: "c", change: "entered", at: T0 }]);
        expect(await d.enqueue(ws, logged, tx)).toBe(1);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect((await store.workspace(ws).deliveries.list(hook.id)).data).toHaveLength(0);
    await store.transaction(ws, async (tx) => {
      const logged = await tx
        .workspace(ws)
        .changes.append([{ segment_id: "s", contact_id: "c", change: "entered", at: T0 }]);
      await d.enqueue(ws, logged, tx);
    });
    expect((await store.workspace(ws).deliveries.list(hook.id)).data).toHaveLength(1);
  });

  it("leases in the log's transaction what it queued, and sends it after the commit without claiming again", async () => {
    const { clock, store, ws } = await setup();
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const rx = await receiver((_req, res) => {
      res.end();
      arrived();
    });
    const hook = await store.workspace(ws).webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false, pollMs: 600_000 });
    d.start();
    try {
      const change = { segment_id: "s", contact_id: "c", change: "entered" as const, at: T0 };
      // Rolled back: nothing stays leased or queued.
      await expect(
        store.transaction(ws, async (tx) => {
          await d.enqueue(ws, await tx.workspace(ws).changes.append([change]), tx);
          expect(await d.claimIn(ws, tx)).toHaveLength(1);
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      expect((await store.workspace(ws).deliveries.list(hook.id)).data).toHaveLength(0);

      const claims = vi.spyOn(store.workspace(ws).deliveries, "claim");
      const jobs = await store.transaction(ws, async (tx) => {
        await d.enqueue(ws, await tx.workspace(ws).changes.append([change]), tx);
        return d.claimIn(ws, tx);
      });
      expect(jobs).toHaveLength(1);
      // Leased: the loop's claim would not hand it out again.
      expect(
        await store.workspace(ws).deliveries.claim({ now: clock.now(), limit: 8, leaseMs: 60_000 }),
      ).toEqual([]);
      claims.mockClear();
      d.startClaimed(ws, jobs);
      await arrival;
      expect(claims).not.toHaveBeenCalled();
    } finally {
      await d.stop();
    }
    await vi.waitFor(async () => {
      expect((await store.workspace(ws).deliveries.list(hook.id)).data.map((r) => r.status)).toEqual([
        "delivered",
      ]);
    });
    expect(rx.hits).toHaveLength(1);
  });

  /** A store whose previous process queued a delivery of `contacts`' entries to a receiver. */
  async function leftByPrevious(contacts: string[]) {
    const first = await setup();
    const rx = await receiver();
    const hook = await first.store
      .workspace(first.ws)
      .webhooks.create({ url: rx.url(), events: ["segment.entered"] });
    const before = new WebhookDispatcher(first.store, { clock: first.clock, denyPrivate: false });
    await before.enqueue(
      first.ws,
      await logChanges(
        first.store,
        first.ws,
        contacts.map((contact_id) => ({ segment_id: "s", contact_id, change: "entered" as const })),
      ),
    );
    return { first, rx, hook };
  }

  it("delivers what a previous process left pending, in flight ones once their lease ran out", async () => {
    const { first, rx, hook } = await leftByPrevious(["in-flight", "queued"]);
    // The old process claimed one of them and died before recording the outcome.
    const all = (await first.store.workspace(first.ws).deliveries.list(hook.id)).data;
    const claimed: DeliveryJob[] = await first.store.workspace(first.ws).deliveries.claim({
      now: first.clock.now(),
      limit: 1,
      leaseMs: 60_000,
    });
    expect(claimed).toHaveLength(1);
    expect(all.map((r) => r.id)).toContain(claimed[0].id);
    expect(claimed[0].change?.contact_id).toBe("in-flight");
    await first.store.close();

    // A new process on the same file.
    const clock = new FakeClock(first.clock.now() + 1_000);
    const store = await openStore({ sqlitePath: first.path, clock });
    cleanups.push(() => store.close());
    const after = new WebhookDispatcher(store, { clock, denyPrivate: false });
    after.addWorkspace(first.ws);
    expect(await after.runOnce()).toBe(1);
    expect(rx.hits.map((h) => JSON.parse(h.body).data.contact_id)).toEqual(["queued"]);

    clock.advance(60_000);
    expect(await after.runOnce()).toBe(1);
    expect(rx.hits.map((h) => JSON.parse(h.body).data.contact_id)).toEqual(["queued", "in-flight"]);
    expect(JSON.parse(rx.hits[1].body)).toEqual(JSON.parse(deliveryBody(claimed[0])));
    const statuses = (await store.workspace(first.ws).deliveries.list(hook.id)).data.map((r) => r.status);
    expect(statuses).toEqual(["delivered", "delivered"]);
  });

  it("a process that takes the workspace on sends the previous one's unfinished attempts at once", async () => {
    const { first, rx, hook } = await leftByPrevious(["in-flight", "waiting"]);
    const [inFlight, waiting] = (await first.store.workspace(first.ws).deliveries.list(hook.id)).data
      .slice()
      .sort((a, b) => a.id - b.id);
    // One attempt failed and waits for its retry; the other was claimed, and the process died.
    const [retried] = await first.store
      .workspace(first.ws)
      .deliveries.claim({ now: first.clock.now(), limit: 1, leaseMs: 60_000 });
    expect(retried.id).toBe(inFlight.id);
    await first.store.workspace(first.ws).deliveries.markFailed(retried.id, {
      at: first.clock.now(),
      error: "HTTP 503",
      status_code: 503,
      retry_at: first.clock.now() + 30_000,
    });
    const [claimed] = await first.store
      .workspace(first.ws)
      .deliveries.claim({ now: first.clock.now(), limit: 1, leaseMs: 60_000 });
    expect(claimed.id).toBe(waiting.id);
    await first.store.close();

    const clock = new FakeClock(first.clock.now() + 1_000);
    const store = await openStore({ sqlitePath: first.path, clock });
    cleanups.push(() => store.close());
    const lines: string[] = [];
    const after = new WebhookDispatcher(store, { clock, denyPrivate: false, log: (l) => lines.push(l) });
    await after.adopt(first.ws);
    // The claimed attempt is sent now; the retry still waits for its time.
    expect(await after.runOnce()).toBe(1);
    expect(rx.hits.map((h) => JSON.parse(h.body).data.contact_id)).toEqual(["waiting"]);
    expect(lines).toEqual([`webhooks: ${first.ws}: 1 unfinished attempts of the previous server due again`]);
    const retry = await store.workspace(first.ws).deliveries.get(inFlight.id);
    expect(retry).toMatchObject({
      status: "pending",
      attempts: 1,
      next_attempt_at: first.clock.now() + 30_000,
    });
    clock.advance(30_000);
    expect(await after.runOnce()).toBe(1);
    expect(rx.hits.map((h) => JSON.parse(h.body).data.contact_id)).toEqual(["waiting", "in-flight"]);
  });
});
