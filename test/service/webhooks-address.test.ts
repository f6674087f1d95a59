/**
 * The address rule at delivery time: the receiver's name is resolved once per attempt,
 * every address checked, and the request connects to the checked address (no DNS
 * rebinding window); a refused address is reported without probing it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { pinnedLookup, resolveWebhookTarget } from "../../src/service/webhook-url.ts";
import { WebhookDispatcher } from "../../src/service/webhooks.ts";
import { openStore, type Store } from "../../src/store/index.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-webhooks-address-"));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clock = { t: Date.UTC(2025, 0, 15), now: () => clock.t };
let n = 0;

async function setup() {
  const store: Store = await openStore({ sqlitePath: join(dir, `a-${++n}.db`), clock });
  cleanups.push(() => store.close());
  const ws = (await store.createWorkspace({ name: "address" })).id;
  return { store, ws };
}

async function receiver() {
  const hits: { host: string | undefined; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      hits.push({ host: req.headers.host, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { hits, port: (server.address() as AddressInfo).port };
}

async function queueOne(store: Store, ws: string, d: WebhookDispatcher) {
  const logged = await store
    .workspace(ws)
    .changes.append([{ segment_id: "s", contact_id: "c", change: "entered", at: 1 }]);
  await d.enqueue(ws, logged);
}

describe("delivery connects to the address that was checked", () => {
  it("a name answering public for the check and private afterwards never reaches the private address", async () => {
    const { store, ws } = await setup();
    const rx = await receiver();
    // `localhost` is 127.0.0.1 to the system resolver: a request that resolved the name
    // again itself would reach the receiver.
    const hook = await store.workspace(ws).webhooks.create({
      url: `http://localhost:${rx.port}/hook`,
      events: ["segment.entered"],
    });
    const answers = [["8.8.8.8"], ["127.0.0.1"]];
    const asked: string[] = [];
    const resolve = async (host: string) => {
      asked.push(host);
      return answers[Math.min(asked.length - 1, answers.length - 1)]!;
    };
    const d = new WebhookDispatcher(store, { clock, denyPrivate: true, resolve, timeoutMs: 1_500 });
    await queueOne(store, ws, d);
    expect(await d.runOnce()).toBe(1);
    expect(asked).toEqual(["localhost"]);
    expect(rx.hits).toEqual([]);
    let [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    // It went to 8.8.8.8 (unreachable from here, or not listening): a connection error, not a refusal.
    expect(rec!.status).toBe("pending");
    expect(rec!.last_error).not.toMatch(/address not allowed/);

    // The next attempt resolves again: now private, so refused without a request.
    clock.t = rec!.next_attempt_at!;
    expect(await d.runOnce()).toBe(1);
    expect(asked).toEqual(["localhost", "localhost"]);
    expect(rx.hits).toEqual([]);
    [rec] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(rec!.last_error).toBe("address not allowed (loopback)");
  });

  it("keeps the URL's host in the Host header while connecting to the resolved address", async () => {
    const { store, ws } = await setup();
    const rx = await receiver();
    const hook = await store.workspace(ws).webhooks.create({
      url: `http://hooks.example.test:${rx.port}/hook`,
      events: ["segment.entered"],
    });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false, resolve: async () => ["127.0.0.1"] });
    await queueOne(store, ws, d);
    await d.runOnce();
    expect(rx.hits.map((h) => h.host)).toEqual([`hooks.example.test:${rx.port}`]);
    expect((await store.workspace(ws).deliveries.list(hook.id)).data[0]!.status).toBe("delivered");
  });

  it("refused addresses are not probed: the log says 'address not allowed', not what the port answered", async () => {
    const { store, ws } = await setup();
    const rx = await receiver();
    const closed = await receiver(); // a port that answers, to tell a probe from a refusal
    const hooks = await Promise.all(
      [`http://127.0.0.1:${rx.port}/a`, `http://127.0.0.1:${closed.port}/b`, "http://127.0.0.1:1/c"].map(
        (url) => store.workspace(ws).webhooks.create({ url, events: ["segment.entered"] }),
      ),
    );
    const d = new WebhookDispatcher(store, { clock, denyPrivate: true });
    await queueOne(store, ws, d);
    expect(await d.runOnce()).toBe(3);
    expect(rx.hits).toEqual([]);
    expect(closed.hits).toEqual([]);
    for (const h of hooks) {
      const [rec] = (await store.workspace(ws).deliveries.list(h.id)).data;
      expect(rec!.last_error).toBe("address not allowed (loopback)");
      expect(rec!.last_status_code).toBeNull();
    }
  });

  it("resolveWebhookTarget checks every address and pins the first; pinnedLookup answers it", async () => {
    const opts = (addresses: string[]) => ({ denyPrivate: true, resolve: async () => addresses });
    expect(
      await resolveWebhookTarget("https://h.example.com/x", opts(["93.184.216.34", "10.0.0.1"])),
    ).toEqual({
      ok: false,
      error: "address not allowed (private)",
      refused: true,
    });
    const ok = await resolveWebhookTarget(
      "https://h.example.com/x",
      opts(["2606:4700::1111", "93.184.216.34"]),
    );
    expect(ok).toMatchObject({ ok: true, address: "2606:4700::1111", family: 6 });
    expect(await resolveWebhookTarget("https://h.example.com/x", opts([]))).toMatchObject({
      ok: false,
      refused: false,
    });

    const lookup = pinnedLookup("93.184.216.34", 4);
    const single = await new Promise((resolve) =>
      lookup("h.example.com", {}, (err, address, family) => resolve({ err, address, family })),
    );
    expect(single).toEqual({ err: null, address: "93.184.216.34", family: 4 });
    const all = await new Promise((resolve) =>
      lookup("h.example.com", { all: true }, (err, addresses) => resolve({ err, addresses })),
    );
    expect(all).toEqual({ err: null, addresses: [{ address: "93.184.216.34", family: 4 }] });
  });
});
