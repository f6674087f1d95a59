/**
 * The dispatcher's signatures against the `standardwebhooks` package receivers use:
 * `webhook-id` stable across attempts, both secrets signing during a rotation's 24 h
 * and only the new one after, a user's free-form secret verified with `format: "raw"`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { newStandardSecret, webhookSigningKey } from "../../src/service/standard-webhooks.ts";
import { ROTATION_OVERLAP_MS, verifySignature, WebhookDispatcher } from "../../src/service/webhooks.ts";
import { openStore, type Store } from "../../src/store/index.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-webhooks-signing-"));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Real time plus an offset: the library checks timestamps against the real clock. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };
let n = 0;

async function setup() {
  clock.offset = 0;
  const store: Store = await openStore({ sqlitePath: join(dir, `s-${++n}.db`), clock });
  cleanups.push(() => store.close());
  const ws = (await store.createWorkspace({ name: "signing" })).id;
  return { store, ws };
}

interface Hit {
  headers: Record<string, string>;
  body: string;
}

/** A receiver on 127.0.0.1 answering `statuses` in turn (then 200). */
async function receiver(statuses: number[] = []) {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hits.push({
        headers: req.headers as IncomingHttpHeaders as Record<string, string>,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(statuses[hits.length - 1] ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { hits, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

async function oneChange(store: Store, ws: string, d: WebhookDispatcher, contact = "c1") {
  const logged = await store
    .workspace(ws)
    .changes.append([{ segment_id: "s", contact_id: contact, change: "entered", at: clock.now() }]);
  await d.enqueue(ws, logged);
}

describe("Standard Webhooks headers on deliveries", () => {
  it("webhook-id is the body's id on every attempt; each attempt verifies with the library", async () => {
    const { store, ws } = await setup();
    const rx = await receiver([500]);
    const secret = newStandardSecret();
    const hook = await store
      .workspace(ws)
      .webhooks.create({ url: rx.url, events: ["segment.entered"], secret });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    await oneChange(store, ws, d);
    expect(await d.runOnce()).toBe(1);
    const [pending] = (await store.workspace(ws).deliveries.list(hook.id)).data;
    expect(pending!.status).toBe("pending");
    // The retry is due ~30 s later: within the library's 5 min tolerance of real time.
    clock.offset = pending!.next_attempt_at! - Date.now() + 1_000;
    expect(await d.runOnce()).toBe(1);

    expect(rx.hits).toHaveLength(2);
    const ids = rx.hits.map((h) => h.headers["webhook-id"]);
    expect(ids[0]).toBe(JSON.parse(rx.hits[0]!.body).id);
    expect(ids[1]).toBe(ids[0]);
    expect(rx.hits[1]!.body).toBe(rx.hits[0]!.body);
    for (const h of rx.hits) {
      expect(new Webhook(secret).verify(h.body, h.headers)).toEqual(JSON.parse(h.body));
      expect(verifySignature(secret, h.headers["slice-signature"]!, h.body)).toBe(true);
    }
  });

  it("during a rotation both secrets sign (two v1 each header); after 24 h only the new one", async () => {
    const { store, ws } = await setup();
    const rx = await receiver();
    const old = newStandardSecret();
    const hook = await store
      .workspace(ws)
      .webhooks.create({ url: rx.url, events: ["segment.entered"], secret: old });
    const fresh = newStandardSecret();
    await store.workspace(ws).webhooks.rotateSecret(hook.id, {
      secret: fresh,
      previous_until: clock.now() + ROTATION_OVERLAP_MS,
    });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });

    await oneChange(store, ws, d, "during");
    await d.runOnce();
    const during = rx.hits[0]!;
    expect(during.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(during.headers["slice-signature"]!.match(/v1=/g)).toHaveLength(2);
    expect(new Webhook(fresh).verify(during.body, during.headers)).toBeTruthy();
    expect(new Webhook(old).verify(during.body, during.headers)).toBeTruthy();
    expect(verifySignature(old, during.headers["slice-signature"]!, during.body)).toBe(true);
    expect(verifySignature(fresh, during.headers["slice-signature"]!, during.body)).toBe(true);

    clock.offset = ROTATION_OVERLAP_MS + 1_000;
    await oneChange(store, ws, d, "after");
    await d.runOnce();
    const after = rx.hits[1]!;
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    const nowS = clock.now() / 1000;
    expect(verifySignature(fresh, after.headers["slice-signature"]!, after.body, 300, nowS)).toBe(true);
    expect(verifySignature(old, after.headers["slice-signature"]!, after.body, 300, nowS)).toBe(false);
    // The library checks the timestamp against the real clock: check the signature itself.
    const ts = Number(after.headers["webhook-timestamp"]);
    const id = after.headers["webhook-id"]!;
    const lib = (s: string) => new Webhook(s).sign(id, new Date(ts * 1000), after.body);
    expect(after.headers["webhook-signature"]).toBe(lib(fresh));
    expect(after.headers["webhook-signature"]).not.toBe(lib(old));
  });

  it("a free-form secret verifies with { format: 'raw' }, a whsec_ one with the defaults", async () => {
    const { store, ws } = await setup();
    const rx = await receiver();
    const raw = "shared secret, not base64 – ünïcödé";
    const whsec = `whsec_${Buffer.alloc(20, 9).toString("base64")}`; // 20 bytes: any length the library decodes
    for (const secret of [raw, whsec])
      await store.workspace(ws).webhooks.create({ url: rx.url, events: ["segment.entered"], secret });
    const d = new WebhookDispatcher(store, { clock, denyPrivate: false });
    await oneChange(store, ws, d);
    await d.runOnce();
    expect(rx.hits).toHaveLength(2);
    const verifiedBy = (h: Hit) => ({
      raw: (() => {
        try {
          new Webhook(raw, { format: "raw" }).verify(h.body, h.headers);
          return true;
        } catch {
          return false;
        }
      })(),
      whsec: (() => {
        try {
          new Webhook(whsec).verify(h.body, h.headers);
          return true;
        } catch {
          return false;
        }
      })(),
    });
    expect(rx.hits.map(verifiedBy).sort((a, b) => Number(a.raw) - Number(b.raw))).toEqual([
      { raw: false, whsec: true },
      { raw: true, whsec: false },
    ]);
    expect(webhookSigningKey(raw).format).toBe("raw");
    expect(webhookSigningKey(whsec).format).toBe("whsec");
    // A whsec_ prefix on something that is not base64 is keyed raw, whole.
    expect(webhookSigningKey("whsec_not-base64_!")).toEqual({
      key: Buffer.from("whsec_not-base64_!", "latin1"),
      format: "raw",
    });
  });
});
