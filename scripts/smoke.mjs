#!/usr/bin/env node
// Smoke test of a production tree (the output of scripts/release.sh):
//
//   node scripts/smoke.mjs RELEASE_DIR [sqlite|postgres ...]     (default: both)
//
// For each backend it starts the built server (`node RELEASE_DIR/bin/slice.js serve`) as
// an unprivileged user — `nobody` when run as root — with a fresh data directory that
// user owns, against SQLite, or against a throwaway PostgreSQL (initdb and postgres run
// as the `postgres` user, on a free port; removed afterwards). It waits for /readyz,
// then through the API creates a contact, posts an event, creates a segment and finds
// the contact among its members; checks /readyz, that `GET /` is the web app's HTML and
// that its script asset is served; then stops the server with SIGTERM and expects a
// clean exit. Built-in modules only: a production tree has no test tooling.
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [releaseArg, ...backendArgs] = process.argv.slice(2);
if (!releaseArg) {
  console.error("usage: node scripts/smoke.mjs RELEASE_DIR [sqlite|postgres ...]");
  process.exit(2);
}
const release = resolve(releaseArg);
const backends = backendArgs.length > 0 ? backendArgs : ["sqlite", "postgres"];
for (const b of backends) {
  if (b !== "sqlite" && b !== "postgres")
    throw new Error(`unknown backend ${JSON.stringify(b)}: sqlite or postgres`);
}
if (!existsSync(join(release, "bin", "slice.js")) || !existsSync(join(release, "dist", "cli", "main.js"))) {
  throw new Error(`${release} is not a built tree (bin/slice.js, dist/cli/main.js): run scripts/release.sh`);
}

const asRoot = process.getuid?.() === 0;
const RUN_AS = process.env.SLICE_SMOKE_USER ?? "nobody";
const ADMIN_KEY = "sk_smoke_0123456789abcdef0123456789";
const started = Date.now();
const cleanups = [];

function log(line) {
  console.log(`smoke: ${line} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

function ids(user) {
  const id = (flag) => Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * A command line run as `user` when we are root, else as ourselves. setpriv execs the
 * program itself (runuser would fork and stand between it and our signals), so the
 * child's pid is the server's and SIGTERM reaches it alone.
 */
function as(user, cmd, args) {
  if (!asRoot) return [cmd, args];
  const { uid, gid } = ids(user);
  return ["setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", cmd, ...args]];
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A child whose output is kept (the last 8 KB) for the error message if it fails. */
function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...opts });
  child.output = "";
  const keep = (b) => {
    child.output = (child.output + b.toString()).slice(-8000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  return child;
}

/** Stops a child: `signal`, then SIGKILL to its process group after `ms`. */
async function stop(child, signal = "SIGTERM", ms = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, ms);
  const r = await child.exited;
  clearTimeout(timer);
  return r;
}

function pgBinDir() {
  const dirs = [];
  try {
    dirs.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // no pg_config: Debian's layout below
  }
  if (existsSync("/usr/lib/postgresql")) {
    for (const v of readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a))) {
      dirs.push(`/usr/lib/postgresql/${v}/bin`);
    }
  }
  const found = dirs.find((d) => existsSync(join(d, "initdb")) && existsSync(join(d, "postgres")));
  if (!found)
    throw new Error("PostgreSQL server binaries (initdb, postgres) not found: apt-get install postgresql");
  return found;
}

async function startPostgres() {
  const bin = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), "slice-smoke-pg-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  if (asRoot) {
    const { uid, gid } = ids("postgres");
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const [initCmd, initArgs] = as("postgres", join(bin, "initdb"), [
    ...["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
  ]);
  execFileSync(initCmd, initArgs, { stdio: "pipe", cwd: dir });
  const port = await freePort();
  const [cmd, args] = as("postgres", join(bin, "postgres"), [
    ...["-D", data, "-p", String(port), "-h", "127.0.0.1", "-k", dir, "-c", "fsync=off"],
  ]);
  const pg = start(cmd, args, { cwd: dir });
  cleanups.push(() => stop(pg, "SIGINT"));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (pg.exitCode !== null) throw new Error(`postgres exited (${pg.exitCode}):\n${pg.output}`);
    try {
      execFileSync(join(bin, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)], {
        stdio: "ignore",
      });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`postgres not ready within 30 s:\n${pg.output}`);
      await sleep(100);
    }
  }
  execFileSync(join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "slice"]);
  log(`PostgreSQL on port ${port}`);
  return `postgres://postgres@127.0.0.1:${port}/slice`;
}

async function api(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // checked by the caller through status
  }
  return { status: res.status, json, text };
}

function expect(ok, what, got) {
  if (!ok) throw new Error(`${what}; got ${typeof got === "string" ? got : JSON.stringify(got)}`);
}

/** Starts the built server as RUN_AS and waits for /readyz (it listens before it has loaded). */
async function serve(backend, base, env, args) {
  const [cmd, cmdArgs] = as(RUN_AS, process.execPath, args);
  const server = start(cmd, cmdArgs, { cwd: env.HOME, env });
  cleanups.push(() => stop(server, "SIGKILL"));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null)
      throw new Error(`slice serve exited (${server.exitCode}):\n${server.output}`);
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`not ready (/readyz) within 60 s:\n${server.output}`);
    await sleep(100);
  }
  log(`${backend}: serving on ${base} as ${asRoot ? RUN_AS : "the current user"}`);
  return server;
}

async function stopCleanly(backend, server) {
  const { code, signal } = await stop(server, "SIGTERM");
  expect(code === 0, "slice serve: expected exit code 0 after SIGTERM", {
    code,
    signal,
    output: server.output.slice(-2000),
  });
  log(`${backend}: stopped cleanly on SIGTERM`);
}

async function smoke(backend) {
  const data = mkdtempSync(join(tmpdir(), "slice-smoke-data-"));
  cleanups.push(() => rmSync(data, { recursive: true, force: true }));
  const owner = asRoot ? ids(RUN_AS) : { uid: process.getuid(), gid: process.getgid() };
  if (asRoot) chownSync(data, owner.uid, owner.gid);

  const port = await freePort();
  const env = { PATH: process.env.PATH, HOME: data, SLICE_API_KEY: ADMIN_KEY, NO_COLOR: "1" };
  const args = [join(release, "bin", "slice.js"), "serve", "--host", "127.0.0.1", "--port", String(port)];
  if (backend === "postgres") env.DATABASE_URL = await startPostgres();
  else args.push("--db", join(data, "slice.db"));

  const base = `http://127.0.0.1:${port}`;
  let server = await serve(backend, base, env, args);

  const ready = await fetch(`${base}/readyz`);
  expect(ready.status === 200, "GET /readyz: expected 200", ready.status);

  const email = `smoke-${backend}@example.com`;
  const contact = await api(base, "POST", "/v1/contacts", { email, country: "FR", status: "subscribed" });
  expect(
    contact.status === 201 && contact.json?.id,
    "POST /v1/contacts: expected 201 with an id",
    contact.text,
  );
  const events = await api(base, "POST", "/v1/events", [{ type: "email_opened", contact: { email } }]);
  expect(
    events.status === 200 && events.json?.accepted === 1,
    "POST /v1/events: expected 1 accepted",
    events.text,
  );
  const segment = await api(base, "POST", "/v1/segments", {
    name: "Engaged in France",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "eq", value: "FR" },
        { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 1 },
      ],
    },
  });
  expect(
    segment.status === 201 && segment.json?.size === 1,
    "POST /v1/segments: expected 201, size 1",
    segment.text,
  );
  const members = await api(base, "GET", `/v1/segments/${segment.json.id}/contacts`);
  expect(
    members.status === 200 && members.json?.data?.some((c) => c.id === contact.json.id),
    `GET /v1/segments/${segment.json.id}/contacts: expected ${contact.json.id} among the members`,
    members.text,
  );
  log(`${backend}: contact ${contact.json.id} is in segment ${segment.json.id}`);

  const page = await fetch(`${base}/`);
  const html = await page.text();
  expect(
    page.status === 200 && /text\/html/.test(page.headers.get("content-type") ?? ""),
    "GET /: expected HTML",
    page.status,
  );
  const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
  expect(script, "GET /: expected a <script src=…js> in the web app's HTML", html.slice(0, 300));
  const asset = await fetch(new URL(script, `${base}/`));
  const body = await asset.text();
  expect(
    asset.status === 200 && /javascript/.test(asset.headers.get("content-type") ?? "") && body.length > 1000,
    `GET ${script}: expected the web app's JavaScript`,
    `${asset.status} ${asset.headers.get("content-type")} ${body.length} bytes`,
  );
  log(`${backend}: GET / serves the web app (${script}, ${body.length} bytes)`);

  if (backend === "sqlite") {
    const file = statSync(join(data, "slice.db"));
    expect(file.uid === owner.uid, `${data}/slice.db: expected to be written by uid ${owner.uid}`, file.uid);
  }

  await stopCleanly(backend, server);

  // A restart loads what was written (on SQLite, through the start-up reader's workers).
  server = await serve(backend, base, env, args);
  const again = await api(base, "GET", `/v1/segments/${segment.json.id}/contacts`);
  expect(
    again.status === 200 && again.json?.data?.some((c) => c.id === contact.json.id),
    `after a restart, GET /v1/segments/${segment.json.id}/contacts: expected ${contact.json.id}`,
    again.text,
  );
  log(`${backend}: after a restart the contact is still in the segment`);
  await stopCleanly(backend, server);
}

let failed = false;
try {
  for (const backend of backends) await smoke(backend);
  log(`passed (${backends.join(", ")})`);
} catch (e) {
  failed = true;
  console.error(`smoke: FAILED: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  for (const clean of cleanups.reverse()) await clean();
}
process.exit(failed ? 1 : 0);
