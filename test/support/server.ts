/**
 * A real Slice server for end-to-end tests: started on a free port of 127.0.0.1 over a
 * fresh SQLite file or a fresh database of a PostgreSQL server the test started, and
 * driven over HTTP with fetch. Stopped (and its files removed) by the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, type StartOptions, startServer } from "../../src/http/start.ts";

/** Response bodies are read as loosely as a test reads JSON. */
// biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON answers field by field
export type Json = any;

export const ADMIN_KEY = "sk_admin_e2e_0123456789abcdef";

export interface TestServer {
  url: string;
  /** The SQLite file, when the backend is SQLite. */
  sqlitePath: string | null;
  server: RunningServer;
  /** fetch with the admin key (or `key`) and JSON in and out. */
  call(
    method: string,
    path: string,
    body?: unknown,
    opts?: { key?: string | null; headers?: Record<string, string>; raw?: string | Buffer },
  ): Promise<{ status: number; body: Json; text: string; headers: Headers }>;
  stop(): Promise<void>;
}

export type Backend = { kind: "sqlite" } | { kind: "postgres"; url: string };

export async function startTestServer(
  backend: Backend,
  opts: Partial<StartOptions> = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "slice-e2e-"));
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    apiKey: ADMIN_KEY,
    log: () => {},
    tickMs: 100,
    webhookPollMs: 50,
    // Test receivers listen on 127.0.0.1; the tests of the address rule pass false.
    allowPrivateAddresses: true,
    // Every answer of the suite is checked against its documented response schema.
    checkResponses: true,
    ...(backend.kind === "sqlite" ? { sqlitePath: join(dir, "slice.db") } : { databaseUrl: backend.url }),
    ...opts,
  });
  const url = server.url;
  return {
    url,
    sqlitePath: backend.kind === "sqlite" ? join(dir, "slice.db") : null,
    server,
    async call(method, path, body, o = {}) {
      const key = o.key === undefined ? ADMIN_KEY : o.key;
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let payload: string | Buffer | undefined;
      if (o.raw !== undefined) payload = o.raw;
      else if (body !== undefined) {
        payload = JSON.stringify(body);
        headers["content-type"] ??= "application/json";
      }
      const res = await fetch(url + path, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text === "" ? null : JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One request to a server started by the test itself, as the admin: its status and body text. */
export async function callAsAdmin(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, text: await res.text() };
}

async function fetchJson(url: string, key: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: r.status,
    retryAfter: r.headers.get("retry-after"),
    json: (await r.json()) as Record<string, unknown>,
  };
}

/** One JSON request with a bearer key, to a server started by the test: its status and parsed body. */
export async function callJson(
  url: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const { status, json } = await fetchJson(url, key, method, path, body);
  return { status, json };
}

/**
 * `callJson` as a client of a cluster is told to call: a 503 with Retry-After (a
 * workspace between holders, a node whose leases lag under load) is tried again after
 * the seconds it names, for up to `ms`.
 */
export async function callJsonRetrying(
  url: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  ms = 20_000,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const end = Date.now() + ms;
  for (;;) {
    const { status, retryAfter, json } = await fetchJson(url, key, method, path, body);
    const wait = retryAfter === null ? Number.NaN : Number(retryAfter) * 1000;
    if (status !== 503 || !(wait >= 0) || Date.now() + wait > end) return { status, json };
    await new Promise((res) => setTimeout(res, wait));
  }
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 5000, what = "condition"): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
