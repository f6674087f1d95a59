/**
 * A workspace handed over between nodes that share their snapshot directory: the
 * holder writes the workspace's file as it lets go, and the next holder starts from it
 * instead of reading the workspace from PostgreSQL (docs/cluster.md).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { preferredNode } from "../../src/cluster/placement.ts";
import type { RunningServer } from "../../src/http/start.ts";
import { snapshotPath } from "../../src/service/snapshot/file.ts";
import { type InProcessCluster, startInProcessCluster } from "../support/in-process-cluster.ts";
import { ADMIN_KEY, callJson, callJsonRetrying, eventually } from "../support/server.ts";

const LEASE_MS = 2_000;
const dir = mkdtempSync(join(tmpdir(), "slice-shared-snapshots-"));
let cluster: InProcessCluster;

/** Seconds the node's loads spent in `phase` (the gauge adds every load's). */
async function phaseSeconds(s: RunningServer, phase: string): Promise<number> {
  const text = await s.metrics.registry.getSingleMetricAsString("slice_startup_phase_seconds");
  const line = text.split("\n").find((l) => l.startsWith(`slice_startup_phase_seconds{phase="${phase}"}`));
  return Number(line?.split(" ")[1] ?? Number.NaN);
}

describe("a hand-over between nodes sharing a snapshot directory", () => {
  beforeAll(async () => {
    cluster = await startInProcessCluster("slice_handover_snapshot");
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("starts the next holder from the file the last one wrote as it let go", async () => {
    onTestFailed(() => console.log(cluster.logs()));
    const a = await cluster.node("a", LEASE_MS, { snapshotDir: dir });
    await eventually(() => a.slice.servesHere("ws_default"), 15_000, "a holds ws_default");
    const workspaces: { id: string; key: string; segment: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const w = await callJsonRetrying(a.url, ADMIN_KEY, "POST", "/v1/workspaces", { name: `w${i}` });
      expect(w.status).toBe(201);
      const key = w.json.api_key as string;
      const seg = await callJsonRetrying(a.url, key, "POST", "/v1/segments", {
        name: "buyers",
        rule_text: "count(purchase) >= 2",
      });
      expect(seg.status).toBe(201);
      // 30 contacts, of which the 10 with two purchases are buyers.
      const events = Array.from({ length: 40 }, (_, k) => ({
        id: `e${k}`,
        type: "purchase",
        contact: { email: `c${k % 30}@example.com` },
      }));
      expect((await callJsonRetrying(a.url, key, "POST", "/v1/events", events)).status).toBe(200);
      workspaces.push({ id: (w.json.workspace as { id: string }).id, key, segment: seg.json.id as string });
    }
    await eventually(() => workspaces.every((w) => a.slice.servesHere(w.id)), 10_000, "a holds them all");
    const ids = workspaces.map((w) => w.id);
    const joiner = Array.from({ length: 50 }, (_, i) => `b${i}`).find((b) => {
      const n = ids.filter((ws) => preferredNode(["a", b], ws) === b).length;
      return n > 0 && n < ids.length;
    })!;
    const moving = workspaces.filter((w) => preferredNode(["a", joiner], w.id) === joiner);
    for (const w of moving) expect(existsSync(snapshotPath(dir, w.id))).toBe(false);

    const b = await cluster.node(joiner, LEASE_MS, { snapshotDir: dir });
    await eventually(
      () => moving.every((w) => b.slice.servesHere(w.id)),
      LEASE_MS * (2 + moving.length) + 10_000,
      `${joiner} holds the workspaces it is preferred for`,
    );
    for (const w of moving) expect(existsSync(snapshotPath(dir, w.id))).toBe(true);
    // Loaded from the files: restored, then what came after; never read row by row. A
    // lease is held before its load begins, and a load's phases are counted as it ends.
    await eventually(async () => (await phaseSeconds(b, "snapshot")) > 0, 10_000, "a load from a file");
    expect(await phaseSeconds(b, "contacts")).toBe(0);
    expect(await phaseSeconds(b, "events")).toBe(0);
    for (const w of moving) {
      const seg = await callJson(b.url, w.key, "GET", `/v1/segments/${w.segment}`);
      expect(seg.status).toBe(200);
      expect(seg.json.size).toBe(10);
      // A write the new holder takes goes on from the file's state.
      const more = Array.from({ length: 3 }, (_, k) => ({
        id: `more${k}`,
        type: "purchase",
        contact: { email: `c${20 + k}@example.com` },
      }));
      expect((await callJson(b.url, w.key, "POST", "/v1/events", more)).status).toBe(200);
      const after = await callJson(b.url, w.key, "GET", `/v1/segments/${w.segment}`);
      expect(after.json.size).toBe(13);
    }
  }, 120_000);
});
