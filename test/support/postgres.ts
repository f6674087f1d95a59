/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temp directory, `postgres` on
 * a free port of 127.0.0.1 (its unix socket inside that directory), one database, and
 * everything removed on `stop()`. PostgreSQL refuses to run as root, so as root the
 * directory belongs to the `postgres` system user and both programs run as that user
 * through `runuser`.
 *
 * There is no skip: if the binaries are missing or the server does not come up, this
 * throws and the tests that need it fail (`.ci/run` installs PostgreSQL where missing).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./free-port.ts";

export interface PgServer {
  /** `postgres://…` of the test database. */
  url: string;
  /** A URL of another database on the same server. */
  urlOf(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // pg_config absent (e.g. only the server package): look where Debian puts the binaries.
  }
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join(root, v, "bin"));
  }
  const found = candidates.find((d) => existsSync(join(d, "initdb")) && existsSync(join(d, "postgres")));
  if (!found) {
    throw new Error(
      `PostgreSQL server binaries (initdb, postgres) not found in ${candidates.join(", ") || "pg_config --bindir or /usr/lib/postgresql/*/bin"}: install them (apt-get install -y postgresql)`,
    );
  }
  return found;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program as the `postgres` user when we are root. */
function command(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
}

async function waitReady(
  url: string,
  proc: ChildProcess,
  log: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`postgres exited with code ${proc.exitCode}:\n${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      return;
    } catch (e) {
      last = e;
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(last)}\n${log()}`);
}

export async function startPostgres(database = "slice_test"): Promise<PgServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "slice-pg-"));
  const data = join(dir, "data");
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const [initCmd, initArgs] = command(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  try {
    execFileSync(initCmd, initArgs, { stdio: "pipe", cwd: dir });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${err.stderr?.toString() ?? err.message}`);
  }

  const port = await freePort();
  // Durability settings are off: this server holds throwaway test data only.
  const [pgCmd, pgArgs] = command(join(bin, "postgres"), [
    "-D",
    data,
    "-p",
    String(port),
    "-h",
    "127.0.0.1",
    "-k",
    dir,
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=50",
  ]);
  const proc = spawn(pgCmd, pgArgs, { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  let output = "";
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-8000);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);

  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onExit);
    // Signal the postmaster itself (runuser may not pass signals on); SIGINT = fast shutdown.
    const pid = postmasterPid(data);
    try {
      if (pid) process.kill(pid, "SIGINT");
      else proc.kill("SIGINT");
    } catch {
      // already gone
    }
    if (proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          try {
            if (pid) process.kill(pid, "SIGKILL");
            proc.kill("SIGKILL");
          } catch {
            // already gone
          }
          resolve();
        }, 10_000);
        proc.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies without afterAll must not leave a server behind.
  const onExit = () => {
    const pid = postmasterPid(data);
    try {
      if (pid) process.kill(pid, "SIGQUIT");
    } catch {
      // already gone
    }
  };
  process.on("exit", onExit);

  try {
    await waitReady(urlOf("postgres"), proc, () => output, 30_000);
    const admin = new pg.Client({ connectionString: urlOf("postgres") });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
  } catch (e) {
    await stop();
    throw e;
  }

  const createDatabase = async (name: string): Promise<string> => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    const admin = new pg.Client({ connectionString: urlOf("postgres") });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return urlOf(name);
  };

  return { url: urlOf(database), urlOf, createDatabase, stop };
}

function postmasterPid(data: string): number | null {
  try {
    const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
