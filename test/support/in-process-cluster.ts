/**
 * Cluster nodes in the test's own process (`startServer` with `cluster`), over one
 * nats-server and a PostgreSQL of their own: for tests that look inside the nodes
 * (`slice.servesHere`, metrics) or drive them on a test clock. The failover test runs
 * nodes as child processes instead (cluster-node.ts), to kill them.
 */
import { type RunningServer, type StartOptions, startServer } from "../../src/http/start.ts";
import { type NatsCluster, startNatsCluster } from "./nats.ts";
import { type PgServer, startPostgres } from "./postgres.ts";
import { ADMIN_KEY } from "./server.ts";

export interface InProcessCluster {
  pg: PgServer;
  nats: NatsCluster;
  /** The nodes started, in order (closing one twice is harmless). */
  servers: RunningServer[];
  /** Starts node `id` with a lease of `leaseMs`; `extra` adds or overrides settings. */
  node(id: string, leaseMs: number, extra?: Partial<StartOptions>): Promise<RunningServer>;
  /** What the nodes logged, each line prefixed with its node (for a failing test to print). */
  logs(): string;
  /** Closes every node, then NATS and PostgreSQL. */
  stop(): Promise<void>;
}

export async function startInProcessCluster(database: string): Promise<InProcessCluster> {
  const [pg, nats] = await Promise.all([startPostgres(database), startNatsCluster({ size: 1 })]);
  const servers: RunningServer[] = [];
  const lines: string[] = [];
  return {
    pg,
    nats,
    servers,
    async node(id, leaseMs, extra = {}) {
      const s = await startServer({
        port: 0,
        host: "127.0.0.1",
        databaseUrl: pg.url,
        apiKey: ADMIN_KEY,
        log: (line) => lines.push(`${new Date().toISOString()} ${id}: ${line}`),
        tickMs: 100,
        cluster: { servers: nats.urls, nodeId: id, replicas: 1, leaseMs },
        ...extra,
      });
      servers.push(s);
      return s;
    },
    logs: () => lines.join("\n"),
    async stop() {
      for (const s of servers) await s.close().catch(() => undefined);
      await nats.stop();
      await pg.stop();
    },
  };
}
