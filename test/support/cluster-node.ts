/**
 * A Slice cluster node as a child process (`slice serve --cluster`), for the cluster tests
 * and the cluster load test: on a free port of 127.0.0.1, ready once `/readyz` answers
 * 200 (it joined the cluster and took its first share).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "./free-port.ts";

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
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [join(ROOT, "bin/slice.js"), "serve"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: s.databaseUrl,
      SLICE_API_KEY: s.adminKey,
      SLICE_CLUSTER: s.natsUrls.join(","),
      SLICE_NODE_ID: id,
      ...(s.leaseS !== undefined ? { SLICE_LEASE: String(s.leaseS) } : {}),
      // A line per request would cost the nodes more than the test's own work.
      LOG_LEVEL: "warn",
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
  createInterface({ input: proc.stdout! }).on("line", keep);
  let exited: string | null = null;
  proc.once("exit", (code) => {
    exited = `node ${id} exited (${code}):\n${out.join("\n")}`;
  });
  for (let i = 0; ; i++) {
    if (exited) throw new Error(exited);
    const r = await fetch(`${url}/readyz`).catch(() => null);
    if (r?.status === 200) break;
    if (i > 600) throw new Error(`node ${id} not ready:\n${out.join("\n")}`);
    await sleep(100);
  }
  return { id, url, proc, out };
}
