/**
 * A Slice cluster node as a child process (`slice serve --cluster`), for the cluster tests
 * and the cluster load test: its URL read from its "listening" log line, ready once
 * `/readyz` answers 200 (it joined the cluster and took its first share).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const ROOT = resolve(import.meta.dirname, "../..");

export interface ClusterNode {
  id: string;
  url: string;
  proc: ChildProcess;
  /** The last 200 lines it printed. */
  out: string[];
}

export interface NodeSettings {
  databaseUrl: string;
  natsUrls: string[];
  adminKey: string;
  /** `SLICE_LEASE`, seconds. */
  leaseS?: number;
  /** More environment (e.g. `SLICE_RATE_LIMIT`). */
  env?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startClusterNode(id: string, s: NodeSettings): Promise<ClusterNode> {
  const proc = spawn(process.execPath, [join(ROOT, "bin/slice.js"), "serve"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: s.databaseUrl,
      SLICE_API_KEY: s.adminKey,
      SLICE_CLUSTER: s.natsUrls.join(","),
      SLICE_NODE_ID: id,
      ...(s.leaseS !== undefined ? { SLICE_LEASE: String(s.leaseS) } : {}),
      LOG_LEVEL: "info",
      NO_COLOR: "1",
      ...s.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: string[] = [];
  const keep = (line: string) => {
    out.push(line);
    if (out.length > 200) out.shift();
  };
  proc.stderr!.on("data", (d: Buffer) => keep(d.toString()));
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`node ${id} did not listen:\n${out.join("\n")}`)), 60_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      keep(line);
      const m = /"url":"(http:\/\/[^"]+)"/.exec(line);
      if (m && line.includes("listening on")) {
        clearTimeout(timer);
        done(m[1]!);
      }
    });
    proc.once("exit", (code) => fail(new Error(`node ${id} exited (${code}):\n${out.join("\n")}`)));
  });
  for (let i = 0; ; i++) {
    const r = await fetch(`${url}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    if (i > 300) throw new Error(`node ${id} not ready:\n${out.join("\n")}`);
    await sleep(100);
  }
  return { id, url, proc, out };
}
