/**
 * Settings are checked at start: each bad value makes `slice serve` exit 1 with a line
 * naming the variable (all of them at once), before anything opens; `--help` lists every
 * setting with its default; a database that cannot be loaded exits 1 too.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { serveOptions } from "../../src/cli/serve.ts";
import { ConfigError, loadConfig, SETTINGS } from "../../src/config.ts";
import { startServer } from "../../src/http/start.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/slice.js");
const dir = mkdtempSync(join(tmpdir(), "slice-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SETTING_NAMES = SETTINGS.map((s) => s.name);

/** The environment without any of Slice's settings, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // SLICE_WEBHOOK_DENY_PRIVATE: deprecated, not listed, still read.
  for (const k of [...SETTING_NAMES, "SLICE_WEBHOOK_DENY_PRIVATE"]) delete env[k];
  return { ...env, ...extra };
}

function serve(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, "serve", ...args], { cwd: ROOT, env: envWith(env) });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(envWith(env));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  return [];
}

const BAD: Record<string, [string, RegExp]> = {
  PORT: ["abc", /^PORT: expected a port number .*\(got "abc"\)$/],
  HOST: ["my host", /^HOST: expected a host name or an IP address/],
  DATABASE_URL: [
    "mysql://u:pw@db/slice",
    /^DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL \(got "mysql:\/\/…@db\/slice"\)$/,
  ],
  SLICE_API_KEY: ["short", /^SLICE_API_KEY: expected an API key of at least 16 characters$/],
  SLICE_RATE_LIMIT: ["abc", /^SLICE_RATE_LIMIT: expected requests per minute .*\(got "abc"\)$/],
  SLICE_WEBHOOK_ALLOW_PRIVATE: ["yes", /^SLICE_WEBHOOK_ALLOW_PRIVATE: expected 1 .* or 0/],
  SLICE_WEBHOOK_DENY_PRIVATE: ["yes", /^SLICE_WEBHOOK_DENY_PRIVATE: expected 1 .* or 0/],
  SLICE_PUBLIC_URL: ["ftp://files.example.com", /^SLICE_PUBLIC_URL: expected an http:\/\/ or https:\/\/ URL/],
  SLICE_METRICS_TOKEN: ["tiny", /^SLICE_METRICS_TOKEN: expected a token of at least 16 characters$/],
  LOG_LEVEL: ["loud", /^LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/],
  SLICE_CLUSTER: ["http://nats:4222", /^SLICE_CLUSTER: expected nats:\/\/host:port URLs, comma-separated/],
  SLICE_NODE_ID: ["node one", /^SLICE_NODE_ID: expected 1 to 64 letters, digits, - or _/],
  SLICE_ADVERTISE_URL: [
    "http://a:1/path",
    /^SLICE_ADVERTISE_URL: expected an http:\/\/ or https:\/\/ URL without a path/,
  ],
  SLICE_LEASE: ["1", /^SLICE_LEASE: expected seconds \(an integer from 2 to 300\)/],
  SLICE_CLUSTER_REPLICAS: ["4x", /^SLICE_CLUSTER_REPLICAS: expected copies/],
  SLICE_WORKERS: ["0", /^SLICE_WORKERS: expected a number of threads \(an integer from 1 to 256\)/],
};

describe("configuration", () => {
  it("reads a cluster node's settings, and refuses them without a cluster or a PostgreSQL database", async () => {
    expect(
      loadConfig(
        envWith({
          SLICE_CLUSTER: "nats://a:4222, nats://b:4222",
          SLICE_NODE_ID: "node-1",
          SLICE_ADVERTISE_URL: "http://10.0.0.5:8080/",
          SLICE_LEASE: "8",
          SLICE_CLUSTER_REPLICAS: "1",
        }),
      ).cluster,
    ).toEqual({
      servers: ["nats://a:4222", "nats://b:4222"],
      nodeId: "node-1",
      advertiseUrl: "http://10.0.0.5:8080",
      leaseMs: 8000,
      replicas: 1,
    });
    // Refused before anything opens: no store, no NATS connection.
    const quiet = { log: () => {} };
    const db = { SLICE_DB: join(dir, "n.db") };
    const noCluster = await serveOptions({ demoContacts: 1 }, envWith({ SLICE_NODE_ID: "n1", ...db }));
    await expect(startServer({ ...noCluster, ...quiet })).rejects.toThrow(
      "apply to a cluster node: set SLICE_CLUSTER or --cluster",
    );
    const noPostgres = await serveOptions({ demoContacts: 1, cluster: "nats://127.0.0.1:1" }, envWith(db));
    await expect(startServer({ ...noPostgres, ...quiet })).rejects.toThrow(
      "a cluster's nodes share one PostgreSQL database: set DATABASE_URL",
    );
    await expect(serveOptions({ demoContacts: 1, cluster: "localhost" }, envWith({}))).rejects.toThrow(
      "expected nats://host:port URLs",
    );
  }, 60_000);

  it("reads defaults, values, and empty values as unset", () => {
    expect(loadConfig(envWith({}))).toEqual({
      port: 8080,
      host: "127.0.0.1",
      rateLimit: 6000,
      allowPrivateAddresses: false,
      checkResponses: false,
      logLevel: "info",
    });
    expect(
      loadConfig(
        envWith({
          PORT: "0",
          HOST: "0.0.0.0",
          DATABASE_URL: "postgresql://slice@db:5432/slice",
          SLICE_API_KEY: "sk_0123456789abcdef",
          SLICE_RATE_LIMIT: " 120 ",
          SLICE_WEBHOOK_ALLOW_PRIVATE: "1",
          SLICE_METRICS_TOKEN: "0123456789abcdef",
          LOG_LEVEL: "DEBUG",
          SLICE_CHECK_RESPONSES: "1",
          SLICE_DB: "",
          SLICE_WORKERS: "2",
        }),
      ),
    ).toMatchObject({
      port: 0,
      host: "0.0.0.0",
      databaseUrl: "postgresql://slice@db:5432/slice",
      apiKey: "sk_0123456789abcdef",
      rateLimit: 120,
      allowPrivateAddresses: true,
      metricsToken: "0123456789abcdef",
      checkResponses: true,
      logLevel: "debug",
      workers: 2,
    });
    expect(problems({ PORT: "", SLICE_RATE_LIMIT: "  " })).toEqual([]);
  });

  it("refuses private addresses unless SLICE_WEBHOOK_ALLOW_PRIVATE=1; the deprecated DENY=1 means the default", () => {
    expect(loadConfig(envWith({ SLICE_WEBHOOK_ALLOW_PRIVATE: "0" })).allowPrivateAddresses).toBe(false);
    expect(loadConfig(envWith({ SLICE_WEBHOOK_DENY_PRIVATE: "1" })).allowPrivateAddresses).toBe(false);
    expect(
      loadConfig(envWith({ SLICE_WEBHOOK_ALLOW_PRIVATE: "1", SLICE_WEBHOOK_DENY_PRIVATE: "0" }))
        .allowPrivateAddresses,
    ).toBe(true);
    const both = problems({ SLICE_WEBHOOK_ALLOW_PRIVATE: "1", SLICE_WEBHOOK_DENY_PRIVATE: "1" });
    expect(both).toHaveLength(1);
    expect(both[0]).toMatch(/^SLICE_WEBHOOK_ALLOW_PRIVATE: .*SLICE_WEBHOOK_DENY_PRIVATE/);
  });

  it("names each bad value, all at once, and never echoes a secret", () => {
    for (const [name, [value, message]] of Object.entries(BAD)) {
      const got = problems({ [name]: value });
      expect(got, name).toHaveLength(1);
      expect(got[0], name).toMatch(message);
    }
    const all = problems(Object.fromEntries(Object.entries(BAD).map(([k, [v]]) => [k, v])));
    expect(all.map((p) => p.split(":")[0]).sort()).toEqual(Object.keys(BAD).sort());
    for (const p of all) expect(p).not.toMatch(/short|tiny|:pw@/);
    expect(problems({ PORT: "70000" })[0]).toMatch(/^PORT: /);
    expect(problems({ SLICE_RATE_LIMIT: "0" })[0]).toMatch(/^SLICE_RATE_LIMIT: /);
    expect(problems({ SLICE_API_KEY: "sixteen chars ok" })[0]).toMatch(/^SLICE_API_KEY: .*without spaces/);
  });

  it("slice serve exits 1 with one line per bad value, before opening anything", async () => {
    const db = join(dir, "never.db");
    const cases = await Promise.all([
      serve(["--db", db], { SLICE_RATE_LIMIT: "abc" }),
      serve(["--db", db], { PORT: "eighty", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x/y" }),
      serve(["--db", db, "--api-key", "short"], {}),
      serve(["--db", db], { SLICE_WEBHOOK_ALLOW_PRIVATE: "1", SLICE_WEBHOOK_DENY_PRIVATE: "1" }),
    ]);
    const [rate, several, flag, contradiction] = cases;
    expect(contradiction.code).toBe(1);
    expect(contradiction.stderr).toMatch(
      /\n {2}SLICE_WEBHOOK_ALLOW_PRIVATE: 1 contradicts SLICE_WEBHOOK_DENY_PRIVATE=1/,
    );
    expect(rate.code).toBe(1);
    expect(rate.stderr).toMatch(
      /^error: invalid configuration:\n {2}SLICE_RATE_LIMIT: expected requests per minute/,
    );
    expect(several.code).toBe(1);
    for (const name of ["PORT", "LOG_LEVEL", "DATABASE_URL"])
      expect(several.stderr).toMatch(new RegExp(`\\n  ${name}: `));
    expect(flag.code).toBe(1);
    expect(flag.stderr).toMatch(/--api-key: expected an API key of at least 16 characters/);
    for (const c of cases) expect(c.stdout).not.toMatch(/listening/);
  }, 60_000);

  it("slice serve --help lists every setting with its default", async () => {
    const help = await serve(["--help"], {});
    expect(help.code).toBe(0);
    for (const s of SETTINGS) {
      const line = help.stdout.split("\n").find((l) => l.trimStart().startsWith(`${s.name} `));
      expect(line, s.name).toBeDefined();
      expect(line).toContain(`default ${s.default}`);
    }
  }, 30_000);

  it("slice serve exits 1 when the database cannot be opened", async () => {
    const junk = join(dir, "junk.db");
    writeFileSync(junk, "this is not a SQLite database, not even close to one".repeat(100));
    const r = await serve(["--port", "0", "--db", junk, "--api-key", "sk_config_test_0123456789"], {
      LOG_LEVEL: "info",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*(not a database|file is not a database)/m);
  }, 30_000);
});
