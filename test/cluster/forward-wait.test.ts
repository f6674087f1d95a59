/**
 * A request for a workspace nobody holds for a moment (handed over, handed back by a node
 * that stops) waits for the next holder instead of failing: the forwarding hook alone, on
 * real HTTP, with the placement's answers scripted.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANSWERED_BY, registerForwarding, WAIT_FOR_HOLDER_MS } from "../../src/http/forward.ts";
import type { Slice } from "../../src/service/slice.ts";

let holder: http.Server;
let holderUrl: string;

/** When the holder becomes known (ms after the request arrives), and whether it is this node. */
interface Script {
  ownerAfterMs: number | null;
  hereAfterMs?: number;
}

async function nodeWith(script: Script): Promise<FastifyInstance> {
  const app = Fastify();
  let arrived = 0;
  app.addHook("onRequest", async (req) => {
    arrived = Date.now();
    (req as unknown as { caller: { workspace: { id: string } } }).caller = { workspace: { id: "ws_x" } };
  });
  const since = () => Date.now() - arrived;
  const slice = {
    servesHere: () => script.hereAfterMs !== undefined && since() >= script.hereAfterMs,
    store: { findReceiver: async () => null },
  } as unknown as Slice;
  registerForwarding(app, slice, {
    nodeId: "here",
    ownerUrl: () => (script.ownerAfterMs !== null && since() >= script.ownerAfterMs ? holderUrl : null),
  });
  app.post("/v1/events", async () => ({ answered: "here" }));
  await app.ready();
  return app;
}

describe("a request for a workspace between holders", () => {
  beforeAll(async () => {
    holder = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.setHeader(ANSWERED_BY, "holder");
        res.end(JSON.stringify({ answered: "holder", body: Buffer.concat(chunks).toString() }));
      });
    });
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    holderUrl = `http://127.0.0.1:${(holder.address() as AddressInfo).port}`;
  });

  afterAll(() => holder.close());

  const send = (app: FastifyInstance) =>
    app.inject({ method: "POST", url: "/v1/events", payload: { id: "e1" } });

  it("is forwarded to the next holder once it is known, with its body", async () => {
    const app = await nodeWith({ ownerAfterMs: 300 });
    const r = await send(app);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ answered: "holder", body: '{"id":"e1"}' });
    await app.close();
  });

  it("is served here if the workspace comes back here meanwhile", async () => {
    const app = await nodeWith({ ownerAfterMs: null, hereAfterMs: 200 });
    const r = await send(app);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ answered: "here" });
    await app.close();
  });

  it("is answered 503 with Retry-After when no holder comes", async () => {
    const app = await nodeWith({ ownerAfterMs: null });
    const began = Date.now();
    const r = await send(app);
    expect(r.statusCode).toBe(503);
    expect(r.headers["retry-after"]).toBe("1");
    expect(Date.now() - began).toBeGreaterThanOrEqual(WAIT_FOR_HOLDER_MS);
    await app.close();
  });
});
