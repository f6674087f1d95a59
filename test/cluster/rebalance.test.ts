/**
 * A node that joins a running cluster is given its share: each holder hands it, one at a
 * time, the workspaces rendezvous hashing now prefers on it, while writes go on through
 * the first node, and nothing acknowledged is lost on the way (docs/cluster.md).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { preferredNode } from "../../src/cluster/placement.ts";
import type { RunningServer } from "../../src/http/start.ts";
import { freshSizes, missingAcknowledged } from "../support/cluster-checks.ts";
import { type InProcessCluster, startInProcessCluster } from "../support/in-process-cluster.ts";
import { ADMIN_KEY, callJson, callJsonRetrying, eventually } from "../support/server.ts";

const LEASE_MS = 2_000;
const WORKSPACES = 6;

let cluster: InProcessCluster;
const lost: string[] = [];

function node(id: string): Promise<RunningServer> {
  return cluster.node(id, LEASE_MS, { onPlacementLost: (ws, why) => lost.push(`${id} lost ${ws}: ${why}`) });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sse {
  status: number;
  node: string | null;
  /** Resolves with everything the stream sent once it ends, or once `stop` is called. */
  text: Promise<string>;
  stop(): void;
}

/** `GET /v1/stream` through `url`, read to its end in the background. */
async function stream(url: string, key: string, lastEventId?: string): Promise<Sse> {
  const ac = new AbortController();
  const r = await fetch(`${url}/v1/stream`, {
    headers: { authorization: `Bearer ${key}`, ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
    signal: ac.signal,
  });
  const text = (async () => {
    let out = "";
    const decoder = new TextDecoder();
    try {
      for await (const chunk of r.body as AsyncIterable<Uint8Array>) out += decoder.decode(chunk);
    } catch {
      // Stopped by the test.
    }
    return out;
  })();
  return { status: r.status, node: r.headers.get("x-slice-node"), text, stop: () => ac.abort() };
}

/** The server-sent events of a stream's text: `{event, id, data}` each. */
function events(text: string): { event: string; id: string; data: Record<string, unknown> }[] {
  return text
    .split("\n\n")
    .map((block) => {
      const field = (name: string) =>
        block
          .split("\n")
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { event: field("event") ?? "", id: field("id") ?? "", data: JSON.parse(field("data") ?? "{}") };
    })
    .filter((e) => e.event !== "");
}

interface Ws {
  id: string;
  key: string;
  segment: string;
  acked: Set<string>;
}

function post(url: string, key: string, path: string, body: unknown) {
  return callJson(url, key, "POST", path, body);
}

describe("a node joining a cluster", () => {
  beforeAll(async () => {
    cluster = await startInProcessCluster("slice_rebalance");
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("is handed the workspaces rendezvous prefers on it, one at a time, losing no write", async () => {
    onTestFailed(() => console.log(cluster.logs()));
    const a = await node("a");
    await eventually(() => a.slice.servesHere("ws_default"), 15_000, "a holds ws_default");
    const workspaces: Ws[] = [];
    for (let i = 0; i < WORKSPACES; i++) {
      const w = await callJsonRetrying(a.url, ADMIN_KEY, "POST", "/v1/workspaces", { name: `w${i}` });
      expect(w.status).toBe(201);
      const key = w.json.api_key as string;
      const seg = await callJsonRetrying(a.url, key, "POST", "/v1/segments", {
        name: "buyers",
        rule_text: "count(purchase) >= 2",
      });
      expect(seg.status).toBe(201);
      const id = (w.json.workspace as { id: string }).id;
      workspaces.push({ id, key, segment: seg.json.id as string, acked: new Set() });
    }
    await eventually(() => workspaces.every((w) => a.slice.servesHere(w.id)), 10_000, "a holds them all");

    // A name for the joining node that rendezvous gives some, not all, of the workspaces.
    const ids = workspaces.map((w) => w.id);
    const joiner = Array.from({ length: 50 }, (_, i) => `b${i}`).find((b) => {
      const n = ids.filter((ws) => preferredNode(["a", b], ws) === b).length;
      return n > 0 && n < ids.length;
    })!;
    const toJoiner = new Set(ids.filter((ws) => preferredNode(["a", joiner], ws) === joiner));
    // A change stream of a workspace that will move, open on its holder from the start.
    const watched = workspaces.find((w) => toJoiner.has(w.id))!;
    const before = await stream(a.url, watched.key);
    expect([before.status, before.node]).toEqual([200, "a"]);

    // Writes go on through node a the whole time, each batch retried until acknowledged.
    let writing = true;
    let n = 0;
    let refused = 0;
    const writer = (async () => {
      while (writing) {
        const ws = workspaces[n % workspaces.length]!;
        const batch = [0, 1].map((k) => ({
          id: `e${n}-${k}`,
          type: "purchase",
          contact: { email: `c${n % 40}@example.com` },
        }));
        n++;
        for (;;) {
          const r = await post(a.url, ws.key, "/v1/events", batch).catch(() => null);
          if (r?.status === 200) {
            for (const e of batch) ws.acked.add(e.id);
            break;
          }
          refused++;
          await sleep(50);
        }
        await sleep(5);
      }
    })();

    const b = await node(joiner);
    const heldBy = (s: RunningServer) => new Set(ids.filter((ws) => s.slice.servesHere(ws)));
    // One hand-over at a time, each within a round or two, after a lease of waiting.
    await eventually(
      () => [...toJoiner].every((ws) => b.slice.servesHere(ws)),
      LEASE_MS * (2 + toJoiner.size) + 10_000,
      `${joiner} holds ${[...toJoiner].join(", ")}`,
    );
    expect(heldBy(b)).toEqual(toJoiner);
    expect(heldBy(a)).toEqual(new Set(ids.filter((ws) => !toJoiner.has(ws))));
    // Settled: nothing moves for two more leases.
    await sleep(2 * LEASE_MS);
    expect(heldBy(b)).toEqual(toJoiner);
    expect(heldBy(a)).toEqual(new Set(ids.filter((ws) => !toJoiner.has(ws))));
    // Handed over, not lost; and node a no longer keeps them in memory.
    expect(lost).toEqual([]);
    const handed = [...ids, "ws_default"].filter((ws) => preferredNode(["a", joiner], ws) === joiner).length;
    expect(
      await a.metrics.registry.getSingleMetricAsString("slice_cluster_workspaces_handed_over_total"),
    ).toContain(`slice_cluster_workspaces_handed_over_total ${handed}`);
    expect(await a.metrics.registry.getSingleMetricAsString("slice_cluster_workspaces_lost_total")).toContain(
      "slice_cluster_workspaces_lost_total 0",
    );
    for (const ws of toJoiner) await expect(a.slice.workspace(ws)).rejects.toThrow(/another node/);

    writing = false;
    await writer;

    // The stream on the old holder ended, telling where to resume; resumed through the
    // same node, it is served by the new holder, and the two together hold the whole log.
    const first = events(await before.text);
    const dropped = first.at(-1)!;
    expect(dropped.event).toBe("dropped");
    expect(dropped.data.reason).toBe("moved");
    const after = await stream(a.url, watched.key, String(dropped.data.last_event_id));
    expect([after.status, after.node]).toEqual([200, joiner]);
    await sleep(1_500);
    after.stop();
    const streamed = [...first, ...events(await after.text)]
      .filter((e) => e.event === "change" && e.data.segment_id === watched.segment)
      .map((e) => `${e.data.contact_id} ${e.data.change} ${e.data.at}`);
    const logged = await fetch(
      `${b.url}/v1/segments/${watched.segment}/changes?since=1970-01-01T00:00:00Z&limit=1000`,
      { headers: { authorization: `Bearer ${watched.key}` } },
    ).then(async (r) => (await r.json()) as { data: Record<string, unknown>[]; next_cursor: string | null });
    expect(logged.next_cursor).toBeNull();
    expect(streamed.sort()).toEqual(logged.data.map((c) => `${c.contact_id} ${c.change} ${c.at}`).sort());
    expect(streamed.length).toBeGreaterThan(0);
    console.log(`rebalance: ${n} batches written, ${refused} answers of 503 retried, ${toJoiner.size} moved`);

    const missing = await missingAcknowledged(
      cluster.pg.url,
      new Map(workspaces.map((w) => [w.id, w.acked])),
    );
    for (const ws of workspaces) {
      expect(missing.get(ws.id), `acknowledged events of ${ws.id} missing`).toEqual([]);
      expect(ws.acked.size).toBeGreaterThan(0);
    }

    // Sizes as the two nodes serve them, against one process evaluating the database afresh.
    const served = new Map<string, number>();
    for (const ws of workspaces) {
      const holder = b.slice.servesHere(ws.id) ? b : a;
      served.set(ws.id, (await holder.slice.workspace(ws.id)).live.engine.members(ws.segment).count);
    }
    for (const s of [a, b]) await s.close();
    const sizes = await freshSizes(
      cluster.pg.url,
      workspaces.map((w) => ({ ws: w.id, segment: w.segment })),
    );
    for (const ws of workspaces) {
      expect(served.get(ws.id), `${ws.id}: served against a fresh evaluation`).toBe(sizes.get(ws.id));
      expect(sizes.get(ws.id)).toBeGreaterThan(0);
    }
  }, 120_000);
});
