/**
 * Snapshot files as an operator sees them (docs/operations.md, "Snapshots"): written
 * every interval once the workspace changed, logged and counted in /metrics, written at
 * stop, read by the next start (its `snapshot` phase in /metrics), and off with
 * `SLICE_SNAPSHOT_DIR=off`.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/http/start.ts";
import { ADMIN_KEY, callAsAdmin, eventually } from "../support/server.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-ops-snapshots-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, "slice.db");
const file = join(dir, "snapshots", "ws_default.snap");

const call = (s: RunningServer, method: string, path: string, body?: unknown) =>
  callAsAdmin(s.url, method, path, body);

function start(lines: string[], intervalMs?: number): Promise<RunningServer> {
  return startServer({
    port: 0,
    host: "127.0.0.1",
    apiKey: ADMIN_KEY,
    sqlitePath: db,
    log: (line) => lines.push(line),
    ...(intervalMs !== undefined ? { snapshotIntervalMs: intervalMs } : {}),
  });
}

/** A sample's value in the Prometheus text, or null when absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

describe("snapshot files", () => {
  it("are written each interval once changed, at stop, and read by the next start", async () => {
    const lines: string[] = [];
    const s1 = await start(lines, 300);
    try {
      const put = await call(s1, "POST", "/v1/contacts/batch", [
        { email: "ana@example.com", country: "FR" },
        { email: "bo@example.com", country: "DE" },
      ]);
      expect(put.status, put.text).toBe(200);
      await eventually(
        () => lines.some((l) => l.includes("snapshot of workspace ws_default written")),
        10_000,
      );
      expect(existsSync(file)).toBe(true);
      const metrics = (await call(s1, "GET", "/metrics")).text;
      expect(sample(metrics, "slice_snapshot_writes_total")).toBeGreaterThanOrEqual(1);
      expect(sample(metrics, 'slice_snapshot_bytes{workspace="ws_default"}')).toBeGreaterThan(0);
      expect(sample(metrics, "slice_snapshot_write_seconds_count")).toBeGreaterThanOrEqual(1);
      const fr = await call(s1, "POST", "/v1/contacts/batch", [{ email: "cy@example.com", country: "FR" }]);
      expect(fr.status, fr.text).toBe(200);
    } finally {
      await s1.close();
    }

    const again: string[] = [];
    const s2 = await start(again);
    try {
      const metrics = (await call(s2, "GET", "/metrics")).text;
      expect(sample(metrics, 'slice_startup_phase_seconds{phase="snapshot"}')).toBeGreaterThan(0);
      expect(sample(metrics, 'slice_startup_phase_seconds{phase="contacts"}')).toBe(0);
      const list = await call(s2, "GET", "/v1/contacts?limit=10");
      expect(list.status).toBe(200);
      const emails = (JSON.parse(list.text).data as { email: string }[]).map((c) => c.email).sort();
      // The contact written after the last interval's file came from the stop's file.
      expect(emails).toEqual(["ana@example.com", "bo@example.com", "cy@example.com"]);
    } finally {
      await s2.close();
    }
  });

  it("are off with SLICE_SNAPSHOT_DIR=off, and the interval is checked", () => {
    expect(loadConfig({ SLICE_SNAPSHOT_DIR: "off" }).snapshotDir).toBeNull();
    expect(loadConfig({ SLICE_SNAPSHOT_DIR: "/var/lib/slice/snaps" }).snapshotDir).toBe(
      "/var/lib/slice/snaps",
    );
    expect(loadConfig({ SLICE_SNAPSHOT_INTERVAL: "60" }).snapshotIntervalMs).toBe(60_000);
    expect(() => loadConfig({ SLICE_SNAPSHOT_INTERVAL: "5" })).toThrow(
      /SLICE_SNAPSHOT_INTERVAL: expected seconds \(an integer from 10 to 86,400\)/,
    );
  });
});
