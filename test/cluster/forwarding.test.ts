/**
 * Two cluster nodes in this process over one nats-server and PostgreSQL: whatever node a
 * request reaches, the workspace's holder answers it (docs/cluster.md, "Built").
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANSWERED_BY, FORWARDED_BY } from "../../src/http/forward.ts";
import type { RunningServer } from "../../src/http/start.ts";
import { type InProcessCluster, startInProcessCluster } from "../support/in-process-cluster.ts";
import { ADMIN_KEY, eventually } from "../support/server.ts";

let cluster: InProcessCluster;
const servers: RunningServer[] = [];

function node(id: string): Promise<RunningServer> {
  // A long lease: a takeover within the test's wait shows the lease was handed back.
  return cluster.node(id, 30_000, {
    checkResponses: true,
    onPlacementLost: (ws, why) => {
      throw new Error(`${id} lost ${ws}: ${why}`);
    },
  });
}

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

/** The node holding the default workspace, and the other one. */
function roles(): { holder: RunningServer; other: RunningServer } {
  const holder = servers.find((s) => s.slice.servesHere("ws_default"));
  if (!holder) throw new Error("no node holds ws_default");
  return { holder, other: servers.find((s) => s !== holder)! };
}

describe("a request reaching a node that does not hold its workspace", () => {
  beforeAll(async () => {
    cluster = await startInProcessCluster("slice_forwarding");
    servers.push(await node("a"), await node("b"));
    await eventually(() => servers.some((s) => s.slice.servesHere("ws_default")), 15_000, "a holder");
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("is answered by the holder: JSON, a gzip batch, and the change stream, streamed through", async () => {
    const { holder, other } = roles();
    expect(other.slice.servesHere("ws_default")).toBe(false);
    const seg = await fetch(`${other.url}/v1/segments`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "buyers", rule_text: "count(purchase) >= 1" }),
    });
    expect(seg.status).toBe(201);
    // Answered by the holder, through the other node.
    expect(seg.headers.get(ANSWERED_BY)).toBe(holder.slice === servers[0]!.slice ? "a" : "b");
    const segment = ((await seg.json()) as { id: string }).id;
    // Only the holder has it in memory: the other node never opened the workspace.
    expect((await holder.slice.workspace("ws_default")).engine.segment(segment)).toBeDefined();
    await expect(other.slice.workspace("ws_default")).rejects.toThrow(/served by another node/);

    const stream = await fetch(`${other.url}/v1/stream`, { headers: auth });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const gz = await fetch(`${other.url}/v1/events`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify([{ id: "e1", type: "purchase", contact: { email: "ana@example.com" } }])),
    });
    expect(gz.status).toBe(200);
    expect(await gz.json()).toMatchObject({ accepted: 1, errors: [] });
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes('"segment.entered"') && !text.includes(segment)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel();
    expect(text).toContain(segment);
    expect(text).toContain("entered");
    // The segment, the stream and the batch went through: counted by outcome.
    const counted = await other.metrics.registry.getSingleMetricAsString(
      "slice_cluster_forwarded_requests_total",
    );
    expect(counted).toContain('slice_cluster_forwarded_requests_total{outcome="forwarded"} 3');
  }, 30_000);

  it("goes on to the holder from a node that let go of it, but is forwarded twice at most", async () => {
    const { holder, other } = roles();
    // Forwarded here once already (by a node whose lease view was behind): on to the holder.
    const once = await fetch(`${other.url}/v1/segments`, { headers: { ...auth, [FORWARDED_BY]: "x" } });
    expect(once.status).toBe(200);
    expect(once.headers.get(ANSWERED_BY)).toBe(holder === servers[0] ? "a" : "b");
    // Twice already: no third hop.
    const r = await fetch(`${other.url}/v1/segments`, { headers: { ...auth, [FORWARDED_BY]: "x,y" } });
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("1");
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
      /moved to another node/,
    );
  });

  it("moves at once when its holder stops: the lease is handed back, not left to expire", async () => {
    const { holder, other } = roles();
    await holder.close();
    servers.splice(servers.indexOf(holder), 1);
    // A third of the 30 s lease: only a lease handed back moves this soon.
    await eventually(() => other.slice.servesHere("ws_default"), 10_000, "the other node holds ws_default");
    const r = await fetch(`${other.url}/v1/contacts?limit=10`, { headers: auth });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { data: { email: string }[] }).data.map((c) => c.email)).toEqual([
      "ana@example.com",
    ]);
  }, 30_000);
});
