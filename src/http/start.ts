/**
 * Starting the service as SPEC §5 says: settings from the environment (flags of
 * `slice serve` override them), the store opened (migrations applied), every workspace
 * rebuilt, then the HTTP server listening.
 */

import { Slice, type SliceOptions } from "../service/slice.ts";
import { openStore, storeOptionsFromEnv } from "../store/index.ts";
import type { OpenStoreOptions } from "../store/types.ts";
import { buildServer, type ServerOptions } from "./server.ts";

export interface StartOptions extends ServerOptions {
  port?: number;
  host?: string;
  /** SQLite file (`SLICE_DB`). */
  sqlitePath?: string;
  /** `DATABASE_URL`: PostgreSQL when non-empty. */
  databaseUrl?: string;
  apiKey?: string;
  denyPrivateWebhooks?: boolean;
  log?: (line: string) => void;
  tickMs?: number;
  webhookPollMs?: number;
  webhookTimeoutMs?: number;
  clock?: SliceOptions["clock"];
  confirmSubscription?: SliceOptions["confirmSubscription"];
  receiverAdapters?: SliceOptions["receiverAdapters"];
  /** Runs after the store is open and before the server listens (the demo data loader). */
  beforeListen?: (slice: Slice) => Promise<void>;
}

export interface RunningServer {
  url: string;
  port: number;
  slice: Slice;
  close(): Promise<void>;
}

/** Settings from the environment (SPEC §5). */
export function startOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StartOptions {
  const store = storeOptionsFromEnv(env);
  return {
    ...(env.PORT ? { port: Number(env.PORT) } : {}),
    ...(env.HOST ? { host: env.HOST } : {}),
    ...(store.sqlitePath ? { sqlitePath: store.sqlitePath } : {}),
    ...(store.databaseUrl ? { databaseUrl: store.databaseUrl } : {}),
    ...(env.SLICE_API_KEY ? { apiKey: env.SLICE_API_KEY } : {}),
    denyPrivateWebhooks: env.SLICE_WEBHOOK_DENY_PRIVATE === "1",
    ...(env.SLICE_RATE_LIMIT ? { rateLimit: { max: Number(env.SLICE_RATE_LIMIT), windowMs: 60_000 } } : {}),
  };
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const storeOpts: OpenStoreOptions = {
    ...(opts.sqlitePath ? { sqlitePath: opts.sqlitePath } : {}),
    ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
  };
  const store = await openStore(storeOpts);
  const slice = await Slice.start({
    store,
    log,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    denyPrivateWebhooks: opts.denyPrivateWebhooks ?? false,
    ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
    ...(opts.webhookPollMs !== undefined ? { webhookPollMs: opts.webhookPollMs } : {}),
    ...(opts.webhookTimeoutMs !== undefined ? { webhookTimeoutMs: opts.webhookTimeoutMs } : {}),
    ...(opts.confirmSubscription ? { confirmSubscription: opts.confirmSubscription } : {}),
    ...(opts.receiverAdapters ? { receiverAdapters: opts.receiverAdapters } : {}),
  });
  if (opts.beforeListen) await opts.beforeListen(slice);
  const app = buildServer(slice, opts);
  const host = opts.host ?? "127.0.0.1";
  await app.listen({ port: opts.port ?? 8080, host });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : (opts.port ?? 8080);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    slice,
    close: async () => {
      await app.close();
      await slice.stop();
    },
  };
}
