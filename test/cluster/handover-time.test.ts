/**
 * Time-driven changes across a change of holder keep their own instants: the holder that
 * leaves logs those due up to the instant it leaves at, and the next one goes on from that
 * instant, not from whenever it happens to load (docs/cluster.md). Two nodes in this
 * process on one test clock, which only the test moves; no background tick runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/http/start.ts";
import { type InProcessCluster, startInProcessCluster } from "../support/in-process-cluster.ts";
import { ADMIN_KEY, callJson, eventually } from "../support/server.ts";

const HOUR = 3_600_000;
// Ahead of the wall clock and moved only by the test.
const T0 = Math.ceil((Date.now() + 10 * 24 * HOUR) / HOUR) * HOUR;
let t = T0;
const clock = { now: () => t };

let cluster: InProcessCluster;

function node(id: string): Promise<RunningServer> {
  // No tick while the test runs: only a hand-over moves the engines' time.
  return cluster.node(id, 30_000, { clock, tickMs: 3_600_000 });
}

function call(s: RunningServer, method: string, path: string, body?: unknown) {
  return callJson(s.url, ADMIN_KEY, method, path, body);
}

describe("a workspace handed from one node to another", () => {
  beforeAll(async () => {
    cluster = await startInProcessCluster("slice_handover_time");
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("logs time-driven exits at their instants, not at the hand-over's or the load's", async () => {
    const a = await node("a");
    await eventually(() => a.slice.servesHere("ws_default"), 15_000, "a holds ws_default");
    const seg = await call(a, "POST", "/v1/segments", {
      name: "opened today",
      rule_text: "did(email_opened, last 1d)",
    });
    expect(seg.status, JSON.stringify(seg.json)).toBe(201);
    const segment = seg.json.id as string;
    // x leaves the window 4 h from now, y 22 h from now.
    const opened = { x: T0 - 20 * HOUR, y: T0 - 2 * HOUR };
    const events = Object.entries(opened).map(([who, at]) => ({
      type: "email_opened",
      contact: { email: `${who}@example.com` },
      timestamp: new Date(at).toISOString(),
    }));
    const ingest = await call(a, "POST", "/v1/events", events);
    expect(ingest.json).toMatchObject({ accepted: 2, errors: [] });
    const ids = new Map<string, string>();
    for (const who of Object.keys(opened)) {
      const r = await call(a, "GET", `/v1/contacts?email=${who}@example.com`);
      ids.set(((r.json.data as { id: string }[])[0] as { id: string }).id, who);
    }

    // x's exit is due when a stops; y's falls after a left and before b loads.
    t = T0 + 6 * HOUR;
    await a.close();
    t = T0 + 30 * HOUR;
    const b = await node("b");
    await eventually(() => b.slice.servesHere("ws_default"), 15_000, "b holds ws_default");
    await b.slice.workspace("ws_default");

    const log = await call(b, "GET", `/v1/segments/${segment}/changes?since=1970-01-01T00:00:00Z`);
    const exits = Object.fromEntries(
      (log.json.data as { contact_id: string; change: string; at: string }[])
        .filter((c) => c.change === "exited")
        .map((c) => [ids.get(c.contact_id), c.at]),
    );
    const day = 24 * HOUR;
    expect(exits).toEqual({
      x: new Date(opened.x + day).toISOString(),
      y: new Date(opened.y + day).toISOString(),
    });
  }, 60_000);
});
