/**
 * The server's settings from the environment, checked once at start: every bad value is
 * reported (one line each, naming the variable) before anything opens, instead of a NaN
 * or a typo surfacing later as odd behaviour. `SETTINGS` is the one list of them, which
 * `slice serve --help` and docs/operations.md print.
 */
import { z } from "zod";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every environment setting of `slice serve`, with its default as shown to operators. */
export const SETTINGS: readonly { name: string; flag?: string; default: string; what: string }[] = [
  { name: "PORT", flag: "--port", default: "8080", what: "port to listen on (0 picks a free one)" },
  {
    name: "HOST",
    flag: "--host",
    default: "127.0.0.1",
    what: "address to listen on (0.0.0.0: every interface)",
  },
  { name: "SLICE_DB", flag: "--db", default: "./data/slice.db", what: "embedded SQLite database file" },
  {
    name: "DATABASE_URL",
    flag: "--database-url",
    default: "unset",
    what: "postgres:// or postgresql:// URL: use PostgreSQL instead of SQLite",
  },
  {
    name: "SLICE_SNAPSHOT_DIR",
    default: "snapshots/ beside the SQLite file; unset (off) with DATABASE_URL",
    what: "directory of the workspaces' snapshot files, which make a restart read only what changed since (off: none)",
  },
  {
    name: "SLICE_SNAPSHOT_INTERVAL",
    default: "600",
    what: "seconds between snapshot files of a workspace that changed (also written at every stop)",
  },
  {
    name: "SLICE_WORKERS",
    flag: "--workers",
    default: "1 (each workspace's engine on the main thread)",
    what: "engine worker threads each workspace's contacts are split over (docs/cluster.md); a workspace with a rank segment stays on one thread",
  },
  {
    name: "SLICE_CLUSTER",
    flag: "--cluster",
    default: "unset (one process alone)",
    what: "nats:// URLs (comma-separated) of a NATS JetStream cluster: join a Slice cluster over DATABASE_URL (docs/cluster.md)",
  },
  {
    name: "SLICE_NODE_ID",
    default: "<host name>-<process id>",
    what: "this node's name in the cluster (letters, digits, - and _)",
  },
  {
    name: "SLICE_ADVERTISE_URL",
    default: "http://HOST:PORT (required when HOST is 0.0.0.0 or ::)",
    what: "the URL other nodes of the cluster reach this one at",
  },
  {
    name: "SLICE_LEASE",
    default: "10",
    what: "seconds a node's hold on a workspace lasts unrenewed: a dead node's workspaces move after at most this",
  },
  {
    name: "SLICE_CLUSTER_REPLICAS",
    default: "3",
    what: "copies of the cluster's lease bucket in NATS (1 for a single nats-server)",
  },
  {
    name: "SLICE_API_KEY",
    flag: "--api-key",
    default: "unset (the first start prints a new admin key)",
    what: "admin key of the default workspace, at least 16 characters",
  },
  {
    name: "SLICE_RATE_LIMIT",
    default: "6000",
    what: "requests per minute per API key before 429",
  },
  {
    name: "SLICE_WEBHOOK_ALLOW_PRIVATE",
    default: "0 (refused)",
    what: "1: webhooks, http destinations and scheduled exports may reach loopback, private and link-local addresses (local development and tests)",
  },
  {
    name: "SLICE_PUBLIC_URL",
    default: "unset (the request's own address)",
    what: "the server's public URL, shown in receiver URLs (http:// or https://)",
  },
  {
    name: "SLICE_SECRET_KEY",
    default: "unset (destinations and scheduled exports cannot be created)",
    what: "key that encrypts destination and export credentials at rest, at least 16 characters",
  },
  {
    name: "SLICE_METRICS_TOKEN",
    default: "unset (admin key only)",
    what: "bearer token for GET /metrics, at least 16 characters",
  },
  {
    name: "SLICE_CHECK_RESPONSES",
    default: "0",
    what: "1: every JSON answer is checked against its schema in /v1/openapi.json, a mismatch answers 500 (development and tests)",
  },
  {
    name: "LOG_LEVEL",
    default: "info",
    what: `log level: ${LOG_LEVELS.join(", ")}`,
  },
];

/** Unset and empty are the same: compose files and shells often pass `VAR=`. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema.optional());

const integer = (what: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, {
      message: `expected ${what} (an integer from ${min} to ${max.toLocaleString("en")})`,
    })
    .transform(Number);

const secret = (what: string) =>
  z
    .string()
    .refine((s) => s.length >= 16, { message: `expected ${what} of at least 16 characters` })
    .refine((s) => !/\s/.test(s), { message: `expected ${what} without spaces` });

const EnvSchema = z.object({
  PORT: optional(integer("a port number", 0, 65_535)),
  HOST: optional(
    z
      .string()
      .trim()
      .refine((s) => /^[A-Za-z0-9.:%_-]+$/.test(s), {
        message: "expected a host name or an IP address (e.g. 127.0.0.1, 0.0.0.0, ::)",
      }),
  ),
  SLICE_DB: optional(z.string()),
  SLICE_SNAPSHOT_DIR: optional(z.string().trim()),
  SLICE_SNAPSHOT_INTERVAL: optional(integer("seconds", 10, 86_400)),
  SLICE_WORKERS: optional(integer("a number of threads", 1, 256)),
  DATABASE_URL: optional(
    z
      .string()
      .trim()
      .refine((s) => /^postgres(ql)?:\/\/\S+$/.test(s), {
        message: "expected a postgres:// or postgresql:// URL",
      }),
  ),
  SLICE_CLUSTER: optional(
    z
      .string()
      .trim()
      .transform((s) => s.split(",").map((u) => u.trim()))
      .refine((l) => l.every((u) => /^(nats|tls):\/\/[^\s/]+$/.test(u) && URL.canParse(u)), {
        message: "expected nats://host:port URLs, comma-separated",
      }),
  ),
  SLICE_NODE_ID: optional(
    z
      .string()
      .trim()
      .refine((s) => /^[A-Za-z0-9_-]{1,64}$/.test(s), {
        message: "expected 1 to 64 letters, digits, - or _",
      }),
  ),
  SLICE_ADVERTISE_URL: optional(
    z
      .string()
      .trim()
      .refine((s) => /^https?:\/\/[^\s/]+\/?$/.test(s) && URL.canParse(s), {
        message: "expected an http:// or https:// URL without a path",
      })
      .transform((s) => s.replace(/\/$/, "")),
  ),
  SLICE_LEASE: optional(integer("seconds", 2, 300)),
  SLICE_CLUSTER_REPLICAS: optional(integer("copies", 1, 5)),
  SLICE_API_KEY: optional(secret("an API key")),
  SLICE_RATE_LIMIT: optional(integer("requests per minute", 1, 10_000_000)),
  SLICE_WEBHOOK_ALLOW_PRIVATE: optional(
    z.enum(["0", "1"], { message: "expected 1 (allow private addresses) or 0" }),
  ),
  /** Deprecated: refusing is the default now; 1 is still accepted and means the default. */
  SLICE_WEBHOOK_DENY_PRIVATE: optional(
    z.enum(["0", "1"], { message: "expected 1 (refuse private addresses) or 0" }),
  ),
  SLICE_PUBLIC_URL: optional(
    z
      .string()
      .trim()
      .refine((s) => /^https?:\/\/[^\s/]+/.test(s) && URL.canParse(s), {
        message: "expected an http:// or https:// URL",
      }),
  ),
  SLICE_METRICS_TOKEN: optional(secret("a token")),
  SLICE_SECRET_KEY: optional(secret("a key")),
  SLICE_CHECK_RESPONSES: optional(z.enum(["0", "1"], { message: "expected 1 (check answers) or 0" })),
  LOG_LEVEL: optional(
    z
      .string()
      .trim()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(", ")}` })),
  ),
});

export interface Config {
  port: number;
  host: string;
  sqlitePath?: string;
  databaseUrl?: string;
  /** `SLICE_SNAPSHOT_DIR`: a directory, or null for off (`off`); unset: the default for the store. */
  snapshotDir?: string | null;
  snapshotIntervalMs?: number;
  /** `SLICE_WORKERS`: engine worker threads per workspace (1: the main thread). */
  workers?: number;
  /** `SLICE_CLUSTER` and the node's settings: one node of a cluster (docs/cluster.md). */
  cluster?: ClusterConfig;
  apiKey?: string;
  rateLimit: number;
  /** `SLICE_WEBHOOK_ALLOW_PRIVATE=1`: loopback, private and link-local addresses may be reached. */
  allowPrivateAddresses: boolean;
  publicUrl?: string;
  metricsToken?: string;
  secretKey?: string;
  /** `SLICE_CHECK_RESPONSES=1`: answers are checked against their documented schemas. */
  checkResponses: boolean;
  logLevel: LogLevel;
}

export interface ClusterConfig {
  servers: string[];
  nodeId?: string;
  advertiseUrl?: string;
  leaseMs?: number;
  replicas?: number;
}

/** One or more settings are bad: `problems` has one line per bad value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** A value as it may be shown: secrets are never echoed back, even when wrong. */
function shown(name: string, raw: unknown): string {
  if (/KEY|TOKEN|PASSWORD|SECRET/.test(name)) return "";
  if (name === "DATABASE_URL" && typeof raw === "string") {
    return ` (got ${JSON.stringify(raw.replace(/\/\/[^@/]*@/, "//…@"))})`;
  }
  return typeof raw === "string" ? ` (got ${JSON.stringify(raw)})` : "";
}

/** The settings of `env`, or a ConfigError listing every bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const r = EnvSchema.safeParse(env);
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      const name = String(i.path[0] ?? "environment");
      return `${name}: ${i.message}${shown(name, env[name])}`;
    });
    throw new ConfigError(problems);
  }
  const e = r.data;
  if (e.SLICE_WEBHOOK_ALLOW_PRIVATE === "1" && e.SLICE_WEBHOOK_DENY_PRIVATE === "1") {
    throw new ConfigError([
      "SLICE_WEBHOOK_ALLOW_PRIVATE: 1 contradicts SLICE_WEBHOOK_DENY_PRIVATE=1 (deprecated: refusing is the default); unset one of them",
    ]);
  }
  const nodeSet =
    e.SLICE_NODE_ID !== undefined ||
    e.SLICE_ADVERTISE_URL !== undefined ||
    e.SLICE_LEASE !== undefined ||
    e.SLICE_CLUSTER_REPLICAS !== undefined;
  // The node's settings without SLICE_CLUSTER wait for `--cluster`: `servers` is empty then.
  const cluster: ClusterConfig | undefined =
    e.SLICE_CLUSTER === undefined && !nodeSet
      ? undefined
      : {
          servers: e.SLICE_CLUSTER ?? [],
          ...(e.SLICE_NODE_ID !== undefined ? { nodeId: e.SLICE_NODE_ID } : {}),
          ...(e.SLICE_ADVERTISE_URL !== undefined ? { advertiseUrl: e.SLICE_ADVERTISE_URL } : {}),
          ...(e.SLICE_LEASE !== undefined ? { leaseMs: e.SLICE_LEASE * 1000 } : {}),
          ...(e.SLICE_CLUSTER_REPLICAS !== undefined ? { replicas: e.SLICE_CLUSTER_REPLICAS } : {}),
        };
  return {
    ...(cluster ? { cluster } : {}),
    port: e.PORT ?? 8080,
    host: e.HOST ?? "127.0.0.1",
    ...(e.SLICE_DB !== undefined ? { sqlitePath: e.SLICE_DB } : {}),
    ...(e.DATABASE_URL !== undefined ? { databaseUrl: e.DATABASE_URL } : {}),
    ...(e.SLICE_SNAPSHOT_DIR !== undefined
      ? { snapshotDir: e.SLICE_SNAPSHOT_DIR.toLowerCase() === "off" ? null : e.SLICE_SNAPSHOT_DIR }
      : {}),
    ...(e.SLICE_SNAPSHOT_INTERVAL !== undefined
      ? { snapshotIntervalMs: e.SLICE_SNAPSHOT_INTERVAL * 1000 }
      : {}),
    ...(e.SLICE_WORKERS !== undefined ? { workers: e.SLICE_WORKERS } : {}),
    ...(e.SLICE_API_KEY !== undefined ? { apiKey: e.SLICE_API_KEY } : {}),
    rateLimit: e.SLICE_RATE_LIMIT ?? 6000,
    allowPrivateAddresses: e.SLICE_WEBHOOK_ALLOW_PRIVATE === "1",
    ...(e.SLICE_PUBLIC_URL !== undefined ? { publicUrl: e.SLICE_PUBLIC_URL } : {}),
    ...(e.SLICE_METRICS_TOKEN !== undefined ? { metricsToken: e.SLICE_METRICS_TOKEN } : {}),
    ...(e.SLICE_SECRET_KEY !== undefined ? { secretKey: e.SLICE_SECRET_KEY } : {}),
    checkResponses: e.SLICE_CHECK_RESPONSES === "1",
    logLevel: e.LOG_LEVEL ?? "info",
  };
}

/** The settings as `slice serve --help` lists them. */
export function settingsHelp(): string {
  const width = Math.max(...SETTINGS.map((s) => s.name.length));
  return SETTINGS.map(
    (s) => `  ${s.name.padEnd(width)}  ${s.what}; default ${s.default}${s.flag ? ` (flag ${s.flag})` : ""}`,
  ).join("\n");
}
