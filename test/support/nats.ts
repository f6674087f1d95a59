/**
 * A throwaway NATS JetStream cluster for tests: `size` nats-server processes on free ports
 * of 127.0.0.1, each with its own config file and JetStream store in a temp directory,
 * routed to each other (no cluster block for a single server). Ready once JetStream
 * answers through the official client and its meta leader counts every server as a
 * current peer (read from the servers' monitoring port).
 *
 * There is no skip: if the binary is missing or the cluster does not come up, this throws
 * and the tests that need it fail. Debian's package (nats-server 2.9.10) is the target.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { freePorts } from "./free-port.ts";

export interface NatsCluster {
  /** `nats://127.0.0.1:<port>` of each server, in server order. */
  urls: string[];
  /** SIGKILLs server `i` and waits for it to exit. */
  kill(i: number): Promise<void>;
  /** Starts server `i` again (after `kill`) with the same ports and store directory. */
  restart(i: number): Promise<void>;
  /** Stops every server and removes the temp directories. */
  stop(): Promise<void>;
}

const READY_MS = 20_000;

function natsServerBin(): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin"];
  const found = dirs.map((d) => join(d, "nats-server")).find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `nats-server not found on PATH or in /usr/sbin: install it (apt-get install -y nats-server)`,
    );
  }
  return found;
}

interface Node {
  name: string;
  dir: string;
  config: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  proc: ChildProcess | null;
  output: string;
}

function running(proc: ChildProcess | null): boolean {
  return proc !== null && proc.exitCode === null && proc.signalCode === null;
}

function exited(proc: ChildProcess): Promise<void> {
  if (!running(proc)) return Promise.resolve();
  return new Promise((resolve) => proc.once("exit", () => resolve()));
}

function configOf(node: Node, clusterName: string, peers: Node[]): string {
  const lines = [
    `server_name: ${node.name}`,
    `host: 127.0.0.1`,
    `port: ${node.clientPort}`,
    `http: "127.0.0.1:${node.httpPort}"`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(join(node.dir, "store"))}`,
    // Small caps: a test machine runs several of these next to each other.
    `  max_mem_store: ${256 * 1024 * 1024}`,
    `  max_file_store: ${1024 * 1024 * 1024}`,
    `}`,
  ];
  if (peers.length > 1) {
    lines.push(
      `cluster {`,
      `  name: ${clusterName}`,
      `  listen: "127.0.0.1:${node.clusterPort}"`,
      `  routes: [`,
      ...peers.filter((p) => p !== node).map((p) => `    "nats-route://127.0.0.1:${p.clusterPort}"`),
      `  ]`,
      `}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function tail(nodes: Node[]): string {
  return nodes
    .map((n) => {
      const lines = n.output.trimEnd().split("\n").slice(-15).join("\n");
      const p = n.proc;
      const state = !p ? "not started" : running(p) ? "running" : `exited (${p.exitCode ?? p.signalCode})`;
      return `--- ${n.name} (${state}) ---\n${lines}`;
    })
    .join("\n");
}

/** Resolves once JetStream answers through `servers`, i.e. there is a meta leader. */
async function waitJetStream(servers: string[], nodes: Node[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const dead = nodes.find((n) => n.proc !== null && !running(n.proc) && servers.includes(urlOf(n)));
    if (dead) throw new Error(`nats-server ${dead.name} exited while starting:\n${tail(nodes)}`);
    let nc: NatsConnection | null = null;
    try {
      nc = await connect({ servers, timeout: 2_000, reconnect: false });
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      await jsm.getAccountInfo();
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await nc?.close().catch(() => {});
    }
  }
  throw new Error(`NATS JetStream not usable within ${timeoutMs} ms: ${String(last)}\n${tail(nodes)}`);
}

interface MetaCluster {
  leader?: string;
  replicas?: { name: string; current: boolean }[];
}

async function metaOf(n: Node): Promise<MetaCluster | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${n.httpPort}/jsz`, { signal: AbortSignal.timeout(2_000) });
    return ((await res.json()) as { meta_cluster?: MetaCluster }).meta_cluster ?? null;
  } catch {
    return null;
  }
}

/**
 * Resolves once the JetStream meta leader counts each of `members` as a current peer. A
 * meta leader needs only a quorum: with one server not yet known to it, creating a stream
 * of 3 replicas fails with "no suitable peers for placement".
 */
async function waitMetaPeers(nodes: Node[], members: Node[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = "no meta leader";
  while (Date.now() < deadline) {
    const up = nodes.filter((n) => running(n.proc));
    const name = (await Promise.all(up.map(metaOf))).find((m) => m?.leader)?.leader;
    const leader = up.find((n) => n.name === name);
    const meta = leader ? await metaOf(leader) : null;
    if (leader && meta?.leader === leader.name) {
      const current = new Set((meta.replicas ?? []).filter((r) => r.current).map((r) => r.name));
      current.add(leader.name);
      const missing = members.filter((m) => !current.has(m.name)).map((m) => m.name);
      if (missing.length === 0) return;
      seen = `meta leader ${leader.name}, not yet current: ${missing.join(", ")}`;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`NATS JetStream peers not current within ${timeoutMs} ms (${seen})\n${tail(nodes)}`);
}

function urlOf(n: Node): string {
  return `nats://127.0.0.1:${n.clientPort}`;
}

export async function startNatsCluster(opts: { size?: number } = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new Error(`bad NATS cluster size ${size}`);
  // Another test's server can bind a port between its allocation here and nats-server's
  // bind: that start is retried on fresh ports; any other failure is the test's.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size);
    } catch (e) {
      if (attempt >= 3 || !String(e).includes("address already in use")) throw e;
    }
  }
}

async function startOnce(size: number): Promise<NatsCluster> {
  const bin = natsServerBin();
  const root = mkdtempSync(join(tmpdir(), "slice-nats-"));
  const clusterName = `slice-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  const nodes: Node[] = [];
  const ports = await freePorts(3 * size);
  const port = (k: number): number => ports[k] as number;
  for (let i = 0; i < size; i++) {
    const dir = join(root, `n${i}`);
    mkdirSync(dir);
    nodes.push({
      name: `n${i}`,
      dir,
      config: join(dir, "nats.conf"),
      clientPort: port(3 * i),
      clusterPort: port(3 * i + 1),
      httpPort: port(3 * i + 2),
      proc: null,
      output: "",
    });
  }
  for (const n of nodes) writeFileSync(n.config, configOf(n, clusterName, nodes));

  const launch = (n: Node): void => {
    n.output += `${n.output ? "\n" : ""}[harness] starting ${bin} -c ${n.config}\n`;
    const proc = spawn(bin, ["-c", n.config], { stdio: ["ignore", "pipe", "pipe"], cwd: n.dir });
    const keep = (b: Buffer) => {
      n.output = (n.output + b.toString()).slice(-8000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    proc.on("error", (e) => keep(Buffer.from(`[harness] spawn error: ${e.message}\n`)));
    n.proc = proc;
  };

  const nodeAt = (i: number): Node => {
    const n = nodes[i];
    if (!n) throw new Error(`no NATS server ${i} in a cluster of ${size}`);
    return n;
  };

  const kill = async (i: number): Promise<void> => {
    const n = nodeAt(i);
    const proc = n.proc;
    if (!proc || !running(proc)) return;
    proc.kill("SIGKILL");
    await exited(proc);
  };

  let stopped = false;
  // A test run that dies without afterAll must not leave servers behind.
  const onExit = () => {
    for (const n of nodes) if (running(n.proc)) n.proc?.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onExit);
    await Promise.all(
      nodes.map(async (n) => {
        const proc = n.proc;
        if (!proc || !running(proc)) return;
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        await exited(proc);
        clearTimeout(timer);
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };

  const restart = async (i: number): Promise<void> => {
    const n = nodeAt(i);
    if (stopped) throw new Error("NATS cluster already stopped");
    if (running(n.proc)) throw new Error(`NATS server ${n.name} is still running: kill(${i}) it first`);
    launch(n);
    // Through this server alone: it is back once it answers JetStream requests itself.
    await waitJetStream([urlOf(n)], nodes, READY_MS);
    if (size > 1) await waitMetaPeers(nodes, [n], READY_MS);
  };

  try {
    for (const n of nodes) launch(n);
    await waitJetStream(nodes.map(urlOf), nodes, READY_MS);
    if (size > 1) await waitMetaPeers(nodes, nodes, READY_MS);
  } catch (e) {
    await stop();
    throw e;
  }

  return { urls: nodes.map(urlOf), kill, restart, stop };
}
