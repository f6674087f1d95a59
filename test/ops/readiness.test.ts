/**
 * A server started on a 200,000-contact SQLite file (`slice serve` in a child process)
 * listens at once: `/readyz` answers 503 with the load's progress, rising, then 200;
 * `/healthz` is 200 throughout; the API answers 503 with Retry-After until ready.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeDatasetFile } from "../../bench/dataset-file.ts";
import { NOW } from "../../src/demo/generate.ts";
import { startServer } from "../../src/http/start.ts";
import { openStore } from "../../src/store/index.ts";
import type { JsonValue } from "../../src/store/types.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/slice.js");
const KEY = "sk_readyz_test_0123456789";
const CONTACTS = 200_000;
const EVENTS = 600_000;

// biome-ignore lint/suspicious/noExplicitAny: the test reads JSON answers field by field
type Json = any;

let dir: string;
let db: string;
let child: ChildProcess | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-readyz-"));
  db = join(dir, "slice.db");
  await writeDatasetFile(
    db,
    { seed: 5, contacts: CONTACTS, events: EVENTS, now: NOW },
    { ws: "ws_default", label: "readyz" },
  );
}, 120_000);

afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Answers of the server while it loads, in order. */
interface Poll {
  readyz: { status: number; body: Json };
  healthz: number;
}

describe("readiness", () => {
  it("listens at once, reports rising progress, then is ready", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "info" };
    for (const k of ["PORT", "HOST", "SLICE_DB", "DATABASE_URL", "SLICE_API_KEY", "SLICE_METRICS_TOKEN"])
      delete env[k];
    const proc = spawn(process.execPath, [BIN, "serve", "--port", "0", "--db", db, "--api-key", KEY], {
      cwd: ROOT,
      env,
    });
    child = proc;
    let stdout = "";
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    // The first JSON line with a URL: the server listens before it loads.
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL logged:\n${stdout}\n${stderr}`)), 30_000);
      proc.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
        for (const line of stdout.split("\n")) {
          if (!line.startsWith("{")) continue;
          const j = JSON.parse(line) as Json;
          if (typeof j.url === "string" && /listening/.test(j.msg)) {
            clearTimeout(timer);
            resolve(j.url);
            return;
          }
        }
      });
      proc.on("exit", (code) => reject(new Error(`exited with ${code}:\n${stdout}\n${stderr}`)));
    });

    const polls: Poll[] = [];
    let refusedWhileLoading: { status: number; retryAfter: string | null; body: Json } | null = null;
    for (;;) {
      const [r, h] = await Promise.all([fetch(`${url}/readyz`), fetch(`${url}/healthz`)]);
      const poll = { readyz: { status: r.status, body: await r.json() }, healthz: h.status };
      polls.push(poll);
      if (r.status === 200) break;
      if (!refusedWhileLoading) {
        const api = await fetch(`${url}/v1/segments`, { headers: { authorization: `Bearer ${KEY}` } });
        refusedWhileLoading = {
          status: api.status,
          retryAfter: api.headers.get("retry-after"),
          body: await api.json(),
        };
      }
      await new Promise((res) => setTimeout(res, 10));
    }

    expect(polls.every((p) => p.healthz === 200)).toBe(true);
    const loading = polls.filter((p) => p.readyz.status === 503).map((p) => p.readyz.body);
    expect(loading.length).toBeGreaterThan(1);
    for (const b of loading) {
      expect(b.status).toBe("loading");
      expect(typeof b.phase).toBe("string");
      expect(typeof b.done).toBe("number");
      expect(b.workspaces.total).toBe(1);
    }
    // Progress rises: within a phase of the workspace, `done` never goes back and moves at least once.
    let rose = false;
    for (let i = 1; i < loading.length; i++) {
      const [a, b] = [loading[i - 1], loading[i]];
      if (
        a.phase === b.phase &&
        a.workspace === b.workspace &&
        (a.phase === "contacts" || a.phase === "events")
      ) {
        expect(b.done).toBeGreaterThanOrEqual(a.done);
        if (b.done > a.done) rose = true;
      }
    }
    expect(rose).toBe(true);
    // Counted totals: what the phase ends at.
    const contacts = loading.filter((b) => b.phase === "contacts" && b.total !== null);
    for (const b of contacts) expect(b.total).toBe(CONTACTS);
    const events = loading.filter((b) => b.phase === "events" && b.total !== null);
    for (const b of events) {
      expect(b.total).toBe(EVENTS);
      expect(b.done).toBeLessThanOrEqual(EVENTS);
    }

    expect(refusedWhileLoading?.status).toBe(503);
    expect(refusedWhileLoading?.retryAfter).toBe("5");
    expect(refusedWhileLoading?.body.error.code).toBe("unavailable");

    const ready = polls.at(-1)!.readyz.body;
    expect(ready).toMatchObject({ status: "ready", workspaces: { loaded: 1, total: 1 } });
    const segs = await fetch(`${url}/v1/segments/all`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(segs.status).toBe(200);
    expect(((await segs.json()) as Json).size).toBe(CONTACTS);

    // The log: JSON lines, the load's steps, then the line an operator waits for.
    const lines = stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Json);
    const msgs = lines.map((l) => l.msg as string);
    expect(msgs.some((m) => /workspace ws_default loaded/.test(m))).toBe(true);
    expect(msgs.some((m) => /^Slice: ready after/.test(m))).toBe(true);
    expect(msgs.some((m) => /serving on http/.test(m))).toBe(true);
    expect(lines.every((l) => typeof l.level === "number" && typeof l.time === "string")).toBe(true);

    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 120_000);

  it("reports a load that failed, and the CLI exits 1 with its error", async () => {
    // A stored rule the engine refuses stops the load of its workspace.
    const bad = join(dir, "bad.db");
    const store = await openStore({ sqlitePath: bad });
    await store.createWorkspace({ id: "ws_default", name: "Default", time_zone: "UTC" });
    await store.workspace("ws_default").segments.create({
      id: "seg_bad",
      kind: "dynamic",
      name: "bad",
      rule: { type: "nope" } as unknown as JsonValue,
    });
    await store.close();

    const server = await startServer({
      port: 0,
      sqlitePath: bad,
      apiKey: KEY,
      log: () => {},
      waitForReady: false,
    });
    await expect(server.ready).rejects.toThrow(/rule\.type/);
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ status: "failed", error: expect.stringMatching(/rule\.type/) });
    const api = await fetch(`${server.url}/v1/segments`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(api.status).toBe(503);
    expect(((await api.json()) as Json).error.message).toMatch(/^Slice failed to start: rule\.type/);
    await server.close();
    // Resolving once ready (the default) rejects instead.
    await expect(startServer({ port: 0, sqlitePath: bad, apiKey: KEY, log: () => {} })).rejects.toThrow(
      /rule\.type/,
    );

    const proc = spawn(process.execPath, [BIN, "serve", "--port", "0", "--db", bad, "--api-key", KEY], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: "warn" },
    });
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: loading failed: rule\.type/m);
  }, 30_000);
});
