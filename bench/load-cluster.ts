/**
 * Cluster load test (docs/cluster.md): events posted over HTTP to a Slice cluster of N
 * nodes (`slice serve --cluster`, child processes) over 3 nats-servers and PostgreSQL,
 * all on this machine, as fast as `--inflight` concurrent requests go, for `--seconds`.
 * Requests go to the nodes in turn, whatever workspace they are for, as a load balancer
 * would send them: a request reaching a node that does not hold its workspace is
 * forwarded to the holder. Reports events/s, request latency (answered by the node it
 * reached, and forwarded), CPU seconds per kind of process (where the time goes), and
 * the freshness probe (event acknowledged → signed webhook delivered, bench/freshness.ts).
 * Checks that nothing was lost: the database holds every acknowledged event.
 *
 * `--join S` starts one more node S seconds into the load: the holders hand it its share
 * of the workspaces while the load goes on. Reported: when each workspace moved to it,
 * events/s before and after, and the answers of 503 (each retried with the same ids).
 *
 *   npm run load:cluster -- [--nodes 3] [--seconds 30] [--workspaces 6] [--contacts 20000] [--inflight 8] [--join S] [--json]
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { preferredNode } from "../src/cluster/placement.ts";
import { type ClusterNode, startClusterNode } from "../test/support/cluster-node.ts";
import { startNatsCluster } from "../test/support/nats.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { setUpFreshnessProbe } from "./freshness.ts";
import { post } from "./http-server.ts";
import { fmtInt, log, percentile, round, table } from "./util.ts";

const { values: args } = parseArgs({
  options: {
    nodes: { type: "string", default: "3" },
    seconds: { type: "string", default: "30" },
    workspaces: { type: "string", default: "6" },
    contacts: { type: "string", default: "20000" },
    batch: { type: "string", default: "1000" },
    inflight: { type: "string", default: "8" },
    join: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const NODES = Number(args.nodes);
const SECONDS = Number(args.seconds);
const WORKSPACES = Number(args.workspaces);
const CONTACTS = Number(args.contacts);
const BATCH = Number(args.batch);
const INFLIGHT = Number(args.inflight);
const JOIN_S = args.join === undefined ? null : Number(args.join);
if (JOIN_S !== null && !(JOIN_S > 0 && JOIN_S < SECONDS)) {
  throw new Error(`--join: expected seconds between 0 and --seconds (${SECONDS}), got ${args.join}`);
}
const ADMIN = "sk_load_cluster_admin_0123456789";
const TYPES = ["email_sent", "email_opened", "email_clicked", "page_viewed", "order_placed", "cart_added"];
/** Segments of every workspace: engagement, purchase and cart rules of the kinds marketers write. */
const RULES = [
  "did(email_opened, last 30d)",
  "count(email_opened, last 30d) >= 3",
  "count(email_clicked, last 30d) >= 1",
  "did(email_sent, last 90d) and not did(email_opened, last 90d)",
  "did(order_placed, last 180d)",
  "sum(order_placed.amount, last 180d) > 200",
  "count(order_placed) >= 2",
  "did(cart_added, last 7d) and not did(order_placed, last 7d)",
  "count(page_viewed, last 7d) >= 5",
  "did(page_viewed, last 1d)",
];

/** CPU seconds (user + system) of every process, by command name. */
function cpuByCommand(): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(f[11]) + Number(f[12]);
      out.set(comm, (out.get(comm) ?? 0) + ticks / 100);
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

async function api(url: string, key: string, method: string, path: string, body?: unknown) {
  for (;;) {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    // A workspace just created is taken by a node within a lease round.
    if (r.status === 503) {
      await new Promise((res) => setTimeout(res, 200));
      continue;
    }
    const json = (await r.json()) as Record<string, unknown>;
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }
}

async function main() {
  const [pgServer, nats] = await Promise.all([
    startPostgres("slice_load_cluster"),
    startNatsCluster({ size: 3 }),
  ]);
  const nodes: ClusterNode[] = [];
  const startNode = (id: string) =>
    startClusterNode(id, {
      databaseUrl: pgServer.url,
      natsUrls: nats.urls,
      adminKey: ADMIN,
      env: { SLICE_RATE_LIMIT: "10000000", SLICE_WEBHOOK_ALLOW_PRIVATE: "1", LOG_LEVEL: "warn" },
    });
  try {
    for (let i = 0; i < NODES; i++) nodes.push(await startNode(`n${i}`));
    log(`load:cluster: ${NODES} node(s), 3 nats-servers and PostgreSQL up`);
    const keys: string[] = [ADMIN];
    const ids: string[] = ["ws_default"];
    for (let w = 1; w < WORKSPACES; w++) {
      const r = await api(nodes[w % NODES]!.url, ADMIN, "POST", "/v1/workspaces", { name: `load ${w}` });
      keys.push(r.api_key as string);
      ids.push((r.workspace as { id: string }).id);
    }
    for (const key of keys) {
      for (const [k, rule] of RULES.entries()) {
        await api(nodes[0]!.url, key, "POST", "/v1/segments", { name: `s${k}`, rule_text: rule });
      }
      for (let c = 0; c < CONTACTS; c += 10_000) {
        const batch = Array.from({ length: Math.min(10_000, CONTACTS - c) }, (_, j) => ({
          external_id: `c${c + j}`,
          status: "subscribed",
        }));
        await api(nodes[0]!.url, key, "POST", "/v1/contacts/batch", batch);
      }
    }
    log(
      `load:cluster: ${WORKSPACES} workspaces of ${fmtInt(CONTACTS)} contacts and ${RULES.length} segments`,
    );

    let seed = 99;
    const r = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const body = (k: number) => {
      const now = new Date().toISOString();
      return JSON.stringify(
        Array.from({ length: BATCH }, (_, j) => {
          const type = TYPES[Math.floor(r() * r() * TYPES.length)]!;
          return {
            id: `lc-${k}-${j}`,
            type,
            contact: { external_id: `c${Math.floor(r() * CONTACTS)}` },
            timestamp: now,
            properties: type === "order_placed" ? { amount: Math.round(r() * 40000) / 100 } : {},
          };
        }),
      );
    };
    /**
     * Starts node n<NODES> `atS` seconds in, adds it to the nodes requests go to once it is
     * ready, and notes when each workspace is first answered by it, until the load ends.
     */
    async function watchJoin(atS: number, t0: number, end: number) {
      const since = () => round((performance.now() - t0) / 1000, 1);
      await new Promise((res) => setTimeout(res, t0 + atS * 1000 - performance.now()));
      const id = `n${NODES}`;
      const joined = await startNode(id);
      nodes.push(joined);
      const readyS = since();
      const moved: { workspace: string; at_s: number }[] = [];
      while (performance.now() < end && moved.length < keys.length) {
        for (const [i, key] of keys.entries()) {
          if (moved.some((m) => m.workspace === `w${i}`)) continue;
          const res = await fetch(`${joined.url}/v1/fields`, { headers: { authorization: `Bearer ${key}` } });
          await res.arrayBuffer();
          if (res.headers.get("x-slice-node") === id) moved.push({ workspace: `w${i}`, at_s: since() });
        }
        await new Promise((res) => setTimeout(res, 250));
      }
      // What placement converges on: the workspaces rendezvous prefers on the new node.
      const all = Array.from({ length: NODES + 1 }, (_, i) => `n${i}`);
      const expected = ids.flatMap((ws, i) => (preferredNode(all, ws) === id ? [`w${i}`] : []));
      return { readyS, moved, expected, settledS: moved.at(-1)?.at_s ?? null };
    }
    const rate = (at: number[], from: number, to: number) =>
      to > from ? Math.round((at.filter((t) => t >= from && t < to).length * BATCH) / (to - from)) : 0;

    const probe = await setUpFreshnessProbe(nodes[NODES - 1]!.url, ADMIN, Math.ceil(SECONDS * 2) + 10);
    const direct: number[] = [];
    const forwarded: number[] = [];
    let accepted = 0;
    let failures = 0;
    let refused = 0;
    const refusedWhy = new Map<string, number>();
    let k = 0;
    /** When each batch was acknowledged, in seconds from the start. */
    const ackedAt: number[] = [];
    const cpu0 = cpuByCommand();
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    probe.start(500);
    const joining = JOIN_S === null ? null : watchJoin(JOIN_S, t0, end);
    await Promise.all([
      ...Array.from({ length: INFLIGHT }, async () => {
        while (performance.now() < end) {
          const n = k++;
          const key = keys[Math.floor(r() * keys.length)]!;
          const payload = body(n);
          // The same ids until acknowledged: a 503 (a workspace between holders) is retried.
          for (;;) {
            const node = nodes[n % nodes.length]!;
            const s = performance.now();
            const res = await post(`${node.url}/v1/events`, `Bearer ${key}`, payload);
            const ms = performance.now() - s;
            if (res.status === 503) {
              refused++;
              // The message, its workspace id left out: why, counted.
              const why = String(
                (JSON.parse(res.body) as { error?: { message?: string } }).error?.message ?? res.body,
              ).replace(/ws_\w+/g, "ws");
              refusedWhy.set(why, (refusedWhy.get(why) ?? 0) + 1);
              await new Promise((res) => setTimeout(res, 100));
              continue;
            }
            const out = JSON.parse(res.body) as { accepted?: number };
            if (res.status !== 200 || out.accepted !== BATCH) {
              failures++;
              break;
            }
            accepted += BATCH;
            ackedAt.push((performance.now() - t0) / 1000);
            (res.headers["x-slice-node"] === node.id ? direct : forwarded).push(ms);
            break;
          }
        }
      }),
      ...(joining ? [joining] : []),
    ]);
    const elapsed = (performance.now() - t0) / 1000;
    const join = await joining;
    const cpu1 = cpuByCommand();
    const freshness = await probe.finish(30_000);

    const db = new pg.Client({ connectionString: pgServer.url });
    await db.connect();
    const stored = Number(
      (await db.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE idem_key LIKE 'lc-%'")).rows[0]!
        .n,
    );
    await db.end();
    const cpu = (name: string) => round((cpu1.get(name) ?? 0) - (cpu0.get(name) ?? 0), 1);
    const sort = (a: number[]) => Float64Array.from(a).sort();
    const d = sort(direct);
    const f = sort(forwarded);
    const result = {
      nodes: NODES,
      workspaces: WORKSPACES,
      contacts_per_workspace: CONTACTS,
      segments_per_workspace: RULES.length,
      seconds: round(elapsed, 1),
      events_per_s: Math.round(accepted / elapsed),
      failed_requests: failures,
      direct_requests: d.length,
      direct_p50_ms: round(percentile(d, 50), 1),
      direct_p99_ms: round(percentile(d, 99), 1),
      forwarded_requests: f.length,
      forwarded_p50_ms: round(percentile(f, 50), 1),
      forwarded_p99_ms: round(percentile(f, 99), 1),
      cpu_s: { slice_nodes: cpu("node"), postgres: cpu("postgres"), nats: cpu("nats-server") },
      acknowledged: accepted,
      stored,
      lost: accepted - stored,
      refused_503: refused,
      refused_why: Object.fromEntries(refusedWhy),
      freshness,
      ...(join
        ? {
            join: {
              at_s: JOIN_S,
              ready_s: join.readyS,
              moved: join.moved,
              expected: join.expected,
              events_per_s_before: rate(ackedAt, 0, JOIN_S!),
              events_per_s_after: rate(ackedAt, join.settledS ?? JOIN_S!, elapsed),
            },
          }
        : {}),
    };
    for (const line of table([
      ["", "value"],
      ["events/s", `${fmtInt(result.events_per_s)} through ${NODES} node(s), ${result.seconds} s`],
      [
        "answered by the node reached: requests, p50 / p99",
        `${d.length}, ${result.direct_p50_ms} / ${result.direct_p99_ms} ms`,
      ],
      [
        "forwarded to the holder: requests, p50 / p99",
        `${f.length}, ${result.forwarded_p50_ms} / ${result.forwarded_p99_ms} ms`,
      ],
      [
        "CPU s: node processes (Slice and this load) / postgres / nats-server",
        `${result.cpu_s.slice_nodes} / ${result.cpu_s.postgres} / ${result.cpu_s.nats}`,
      ],
      ["failed requests", String(failures)],
      ["answers of 503, retried", String(refused)],
      ...[...refusedWhy].map(([why, n]) => [`  ${why}`, String(n)]),
      ...(result.join
        ? [
            [
              `node n${NODES} joined at ${JOIN_S} s, ready at ${result.join.ready_s} s; workspaces moved to it`,
              result.join.moved.map((m) => `${m.workspace} at ${m.at_s} s`).join(", ") || "none",
            ],
            ["workspaces rendezvous prefers on it", result.join.expected.join(", ") || "none"],
            [
              "events/s before the join / after the last move",
              `${fmtInt(result.join.events_per_s_before)} / ${fmtInt(result.join.events_per_s_after)}`,
            ],
          ]
        : []),
      ["acknowledged = stored", `${fmtInt(accepted)} = ${fmtInt(stored)}`],
      [
        "probe: acknowledged → webhook delivered",
        `${freshness.delivered} / ${freshness.probes}, p50 ${freshness.p50_ms} / p99 ${freshness.p99_ms} / max ${freshness.max_ms} ms`,
      ],
    ]))
      log(line);
    if (args.json) process.stdout.write(`${JSON.stringify({ cluster_load: result })}\n`);
    const joinUnsettled =
      join !== null &&
      join.moved
        .map((m) => m.workspace)
        .sort()
        .join() !== [...join.expected].sort().join();
    if (joinUnsettled) log("load:cluster: the new node does not hold what rendezvous prefers on it");
    if (failures > 0 || result.lost !== 0 || freshness.delivered < freshness.probes || joinUnsettled) {
      process.exitCode = 1;
    }
  } finally {
    for (const n of nodes) n.proc.kill("SIGTERM");
    await Promise.all(
      nodes.map(
        (n) => new Promise((res) => (n.proc.exitCode !== null ? res(null) : n.proc.once("exit", res))),
      ),
    );
    await nats.stop();
    await pgServer.stop();
  }
}

await main();
