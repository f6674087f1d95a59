/**
 * `slice serve`: the HTTP API (SPEC §5). Settings come from the environment (src/config.ts:
 * `PORT`, `HOST`, `SLICE_DB`, `DATABASE_URL`, `SLICE_API_KEY`, `LOG_LEVEL`, …), checked
 * before anything starts; flags override them. The server listens at once and loads
 * (`/readyz`); a failed load exits 1. SIGINT or SIGTERM stops it cleanly (requests
 * finished, changes logged, the store closed).
 */
import { Command, InvalidArgumentError } from "commander";
import { type LogLevel, loadConfig, settingsHelp } from "../config.ts";
import type { RunningServer, StartOptions } from "../http/start.ts";

/** The demo data's default size (see demo.ts, loaded only when serving). */
export const DEMO_DEFAULTS = { contacts: 20_000, eventsPerContact: 10 } as const;

interface ServeFlags {
  port?: number;
  host?: string;
  db?: string;
  databaseUrl?: string;
  apiKey?: string;
  cluster?: string;
  demo?: boolean;
  demoContacts: number;
  demoEvents?: number;
}

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `expected an integer from ${min.toLocaleString("en")} to ${max.toLocaleString("en")}`,
      );
    }
    return n;
  };
}

/** The start options: the environment's, then the flags over them. */
export async function serveOptions(
  flags: ServeFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StartOptions & { logLevel: LogLevel }> {
  // Every bad setting is reported at once (ConfigError), before anything opens.
  const config = loadConfig(env);
  // The server's modules load only to serve: the client commands start faster without them.
  const { startOptionsFromConfig } = await import("../http/start.ts");
  const opts: StartOptions & { logLevel: LogLevel } = {
    ...startOptionsFromConfig(config),
    logLevel: config.logLevel,
  };
  if (flags.port !== undefined) opts.port = flags.port;
  if (flags.host !== undefined) opts.host = flags.host;
  if (flags.db !== undefined && flags.databaseUrl !== undefined && flags.databaseUrl.trim() !== "") {
    throw new Error("give --db (SQLite) or --database-url (PostgreSQL), not both");
  }
  if (flags.db !== undefined) {
    // An explicit SQLite file wins over a DATABASE_URL of the environment.
    opts.sqlitePath = flags.db;
    delete opts.databaseUrl;
  }
  if (flags.databaseUrl !== undefined) {
    if (flags.databaseUrl.trim() === "") delete opts.databaseUrl;
    else opts.databaseUrl = flags.databaseUrl.trim();
  }
  if (flags.cluster !== undefined) {
    // Checked as the environment's value is: one rule for both.
    const c = loadConfig({ SLICE_CLUSTER: flags.cluster }).cluster;
    if (c) opts.cluster = { ...opts.cluster, servers: c.servers };
  }
  if (flags.apiKey !== undefined) {
    if (flags.apiKey.length < 16 || /\s/.test(flags.apiKey)) {
      throw new Error("--api-key: expected an API key of at least 16 characters, without spaces");
    }
    opts.apiKey = flags.apiKey;
  }
  return opts;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve the HTTP API (and docs at /docs) on an embedded SQLite file or PostgreSQL")
    .option(
      "-p, --port <port>",
      "port to listen on; 0 picks a free one (env PORT; default 8080)",
      intArg(0, 65535),
    )
    .option("--host <host>", "address to listen on (env HOST; default 127.0.0.1)")
    .option("--db <file>", "embedded SQLite database file (env SLICE_DB; default ./data/slice.db)")
    .option(
      "--database-url <url>",
      "use PostgreSQL (postgres://…) instead of the SQLite file (env DATABASE_URL)",
    )
    .option(
      "--api-key <key>",
      "admin API key of the default workspace (env SLICE_API_KEY; otherwise the first start prints a new one)",
    )
    .option(
      "--cluster <urls>",
      "join a Slice cluster: nats:// URLs of its NATS JetStream servers, comma-separated; needs --database-url (env SLICE_CLUSTER)",
    )
    .option(
      "--demo",
      "load generated demo data and example segments into the default workspace if it is empty",
    )
    .option("--demo-contacts <n>", "contacts of the demo data", intArg(1, 10_000_000), DEMO_DEFAULTS.contacts)
    .option(
      "--demo-events <n>",
      `events of the demo data (default ${DEMO_DEFAULTS.eventsPerContact} per contact)`,
      intArg(0, 100_000_000),
    )
    .addHelpText(
      "after",
      `
Examples:
  $ slice serve                                   # http://127.0.0.1:8080, ./data/slice.db
  $ slice serve --port 3000 --db /var/lib/slice/slice.db
  $ DATABASE_URL=postgres://slice@localhost/slice slice serve --host 0.0.0.0
  $ slice serve --demo --db /tmp/demo.db          # 20,000 generated contacts and example segments

Settings (environment; flags override them; an empty value counts as unset):
${settingsHelp()}

The server listens at once: GET /healthz is liveness, GET /readyz answers 503 with the
load's progress until every workspace is loaded, then 200; API requests get 503 with
Retry-After meanwhile. GET /metrics (Prometheus) needs an admin key or SLICE_METRICS_TOKEN.`,
    )
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  const { logLevel, ...opts } = await serveOptions(flags);
  const { startServer } = await import("../http/start.ts");
  const { createLogger } = await import("../observability/logger.ts");
  const logger = createLogger({ level: logLevel });
  const log = (line: string) => logger.info(line);
  let running: RunningServer | null = null;
  let ready = false;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    if (!running || !ready) {
      // Still starting (loading, or loading demo data): every write so far is committed.
      log(`${signal}: interrupted while starting`);
      process.exit(130);
    }
    log(`${signal}: stopping…`);
    running.close().then(
      () => {
        log("stopped");
        process.exit(0);
      },
      (e: unknown) => {
        logger.error({ err: e }, `error: while stopping: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const where = opts.databaseUrl ? "PostgreSQL (DATABASE_URL)" : (opts.sqlitePath ?? "./data/slice.db");
  log(`Slice: starting on ${where}`);
  (await import("./web-build.ts")).ensureWebBuilt(log);
  running = await startServer({
    ...opts,
    logger,
    waitForReady: false,
    ...(flags.demo
      ? {
          beforeReady: async (slice) => {
            const { loadDemo } = await import("./demo.ts");
            const contacts = flags.demoContacts;
            await loadDemo(slice, {
              contacts,
              events: flags.demoEvents ?? contacts * DEMO_DEFAULTS.eventsPerContact,
              log,
            });
          },
        }
      : {}),
  });
  try {
    await running.ready;
  } catch (e) {
    // Logged by the server; the supervisor restarts a process that exits.
    process.stderr.write(`error: loading failed: ${(e as Error).message}\n`);
    process.exit(1);
  }
  ready = true;
  log(`Slice is serving on ${running.url}  (API docs: ${running.url}/docs; Ctrl+C stops it)`);
}
