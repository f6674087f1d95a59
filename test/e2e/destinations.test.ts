/**
 * Every destination kind against its provider stand-in (test/support/standins), driven
 * through the API of a real server: a segment of 10,000 contacts syncs fully; 1,000
 * live changes then reach the provider as incremental calls only; a storm of 429s is
 * ridden out within the provider's limits; unsubscribed and never-subscribed contacts
 * are never sent as subscribed; a dry run sends nothing; and a server killed with
 * SIGKILL in the middle of the first sync resumes and ends with the remote audience
 * equal to the segment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBrevoConnector } from "../../src/service/destinations/brevo.ts";
import { createKitConnector } from "../../src/service/destinations/kit.ts";
import type { Connector, DestinationKind } from "../../src/service/destinations/types.ts";
import { type DelayProxy, startDelayProxy } from "../support/delay-proxy.ts";
import { eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";
import { startBrevoStandIn } from "../support/standins/brevo.ts";
import { startGoogleStandIn } from "../support/standins/google.ts";
import { startHttpStandIn } from "../support/standins/http.ts";
import { startKitStandIn } from "../support/standins/kit.ts";
import { startMailchimpStandIn } from "../support/standins/mailchimp.ts";
import { startMetaStandIn } from "../support/standins/meta.ts";
import type { StandIn } from "../support/standins/types.ts";

const SECRET_KEY = "e2e-destinations-secret-key";
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/slice.js");

interface Kind {
  kind: DestinationKind;
  start(): Promise<StandIn>;
  /** Connectors with test settings for the in-process server (quick polling). */
  connectors?: () => Partial<Record<DestinationKind, Connector>>;
  /** The provider has a subscription status (email platforms). */
  email: boolean;
  /** The provider's API tells the audience's size. */
  sizeKnown?: boolean;
  /** Provider requests to let through before the kill (one call carries a whole 2,000 for Meta and Google). */
  killAfter?: number;
}

/**
 * Kit's budget (120 requests per rolling 60 s for an API key, 600 for OAuth) over a window
 * a tenth as long, on both sides: the live changes still wait for the window to roll, for
 * 6 s rather than a minute.
 */
const KIT_RATE = { api_key: 120, oauth: 600 };
const KIT_WINDOW_MS = 6_000;

const KINDS: Kind[] = [
  { kind: "http", start: () => startHttpStandIn(), email: false, killAfter: 1 },
  {
    kind: "brevo",
    start: () => startBrevoStandIn(),
    connectors: () => ({ brevo: createBrevoConnector({ importWait: { pollMs: 5 } }) }),
    email: true,
    sizeKnown: true,
  },
  { kind: "mailchimp", start: () => startMailchimpStandIn(), email: true, sizeKnown: true },
  {
    kind: "kit",
    start: () => startKitStandIn({ rate: { ...KIT_RATE, windowMs: KIT_WINDOW_MS } }),
    connectors: () => ({ kit: createKitConnector({ windowMs: KIT_WINDOW_MS }) }),
    email: true,
    sizeKnown: true,
  },
  { kind: "meta", start: () => startMetaStandIn(), email: false, killAfter: 1 },
  { kind: "google", start: () => startGoogleStandIn(), email: false, killAfter: 1 },
];

const SIZE = 10_000;
/** The kill test's segment: big enough that the kill lands mid-sync, small enough to stay quick. */
const KILL_SIZE = 2_000;
const email = (i: number) => `c${i}@example.com`;

/** The destination's config, every provider URL through `proxy` when one is given. */
function configOf(k: Kind, stand: StandIn, proxy?: DelayProxy): Record<string, unknown> {
  const via = (u: string) => (proxy ? proxy.via(u) : u);
  const c: Record<string, unknown> = { ...stand.config };
  for (const key of ["add_url", "remove_url", "token_url"]) {
    if (typeof c[key] === "string") c[key] = via(c[key] as string);
  }
  if (k.kind !== "http") c.api_url = via(stand.url);
  return c;
}

/** `size` subscribed contacts in France (the segment) and 500 in Germany. */
async function seed(call: TestServer["call"], size = SIZE): Promise<string> {
  for (let from = 0; from < size + 500; from += 10_000) {
    const contacts = [];
    for (let i = from; i < Math.min(size + 500, from + 10_000); i++) {
      contacts.push({ email: email(i), country: i < size ? "FR" : "DE", status: "subscribed" });
    }
    const r = await call("POST", "/v1/contacts/batch", { contacts });
    expect(r.status, r.text).toBe(200);
    expect(r.body.errors).toEqual([]);
  }
  const seg = await call("POST", "/v1/segments", {
    name: "France",
    rule: { type: "field", field: "country", op: "eq", value: "FR" },
  });
  expect(seg.status).toBe(201);
  return seg.body.id;
}

/** The keys the segment's members should have remotely. */
function expected(stand: StandIn, emails: string[]): Set<string> {
  return new Set(emails.map((e) => stand.keyOf(e)));
}

function same(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

const rowsSent = (stand: StandIn, from = 0) =>
  stand.calls.slice(from).reduce((n, c) => n + (c.status < 300 ? c.rows : 0), 0);

describe.each(KINDS)("destination $kind", (k) => {
  let s: TestServer;
  let stand: StandIn;
  let seg: string;
  let dest: Json;
  const members = new Set<string>();

  beforeAll(async () => {
    stand = await k.start();
    s = await startTestServer(
      { kind: "sqlite" },
      {
        secretKey: SECRET_KEY,
        destinationPollMs: 100,
        destinationHttp: { policy: { baseMs: 20, capMs: 2000 } },
        ...(k.connectors ? { destinationConnectors: k.connectors() } : {}),
      },
    );
    seg = await seed(s.call);
    for (let i = 0; i < SIZE; i++) members.add(email(i));
  }, 120_000);

  afterAll(async () => {
    await s?.stop();
    await stand?.close();
  });

  it("a dry run sends nothing", async () => {
    const r = await s.call("POST", "/v1/destinations", {
      name: `${k.kind} audience`,
      kind: k.kind,
      segment_id: seg,
      config: configOf(k, stand),
      paused: true,
    });
    expect(r.status, r.text).toBe(201);
    dest = r.body;
    const dry = await s.call("POST", `/v1/destinations/${dest.id}/dry-run`);
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body.would_add).toBe(SIZE);
    expect(dry.body.requests.length).toBeGreaterThan(0);
    expect(JSON.stringify(dry.body)).not.toContain(SECRET_KEY);
    expect(stand.calls).toEqual([]);
  });

  it("syncs 10,000 contacts fully", async () => {
    expect((await s.call("POST", `/v1/destinations/${dest.id}/resume`)).status).toBe(200);
    await eventually(() => same(stand.audience(), expected(stand, [...members])), 90_000, "full sync");
    await eventually(
      async () => (await s.call("GET", `/v1/destinations/${dest.id}`)).body.state === "live",
      10_000,
    );
    expect(stand.violations).toEqual([]);
  }, 120_000);

  it("sends 1,000 live changes as incremental calls only", async () => {
    const before = stand.calls.length;
    const moves = [];
    for (let i = 0; i < 500; i++) {
      moves.push({ email: email(i), country: "DE" });
      members.delete(email(i));
      moves.push({ email: email(SIZE + i), country: "FR" });
      members.add(email(SIZE + i));
    }
    const r = await s.call("POST", "/v1/contacts/batch", { contacts: moves });
    expect(r.status).toBe(200);
    // Kit's budget of 120 requests per rolling window is spent by the full sync just before:
    // its live calls wait for the window to roll (KIT_WINDOW_MS), the others' take about 1 s.
    await eventually(() => same(stand.audience(), expected(stand, [...members])), 150_000, "changes");
    // Only the changed contacts travelled (a provider may need two calls per row, e.g. upsert then tag).
    const rows = rowsSent(stand, before);
    expect(rows).toBeGreaterThanOrEqual(1000);
    expect(rows).toBeLessThanOrEqual(3000);
    expect(stand.violations).toEqual([]);
  }, 180_000);

  it("rides out a storm of 429s", async () => {
    stand.rateLimit(6);
    const moves = [];
    for (let i = 500; i < 600; i++) {
      moves.push({ email: email(i), country: "DE" });
      members.delete(email(i));
    }
    await s.call("POST", "/v1/contacts/batch", { contacts: moves });
    await eventually(() => same(stand.audience(), expected(stand, [...members])), 60_000, "after the storm");
    // Each provider's own "slow down" answer (Meta's is a 400 with a throttling code).
    expect(stand.calls.filter((c) => c.status === 429 || c.status === 400).length).toBeGreaterThan(0);
    expect(stand.violations).toEqual([]);
  }, 90_000);

  it("never sends an unsubscribed or never-subscribed contact as subscribed", async () => {
    const r = await s.call("POST", "/v1/contacts/batch", {
      contacts: [
        { email: "gone@example.com", country: "FR", status: "unsubscribed" },
        { email: "never@example.com", country: "FR", status: "non_subscribed" },
        { email: "bounced@example.com", country: "FR", status: "subscribed", email_status: "hard_bounced" },
      ],
    });
    expect(r.status).toBe(200);
    await eventually(async () => {
      const d = (await s.call("GET", `/v1/destinations/${dest.id}`)).body;
      return d.pending.adds === 0 && d.pending.removes === 0 && d.state === "live";
    }, 30_000);
    const subscribed = stand.subscribed();
    for (const e of ["gone@example.com", "never@example.com", "bounced@example.com"]) {
      expect(subscribed.has(stand.keyOf(e))).toBe(false);
    }
    if (k.email) expect(subscribed.has(stand.keyOf(email(SIZE - 1)))).toBe(true);
  }, 60_000);
});

describe.each(KINDS)("destination $kind after kill -9", (k) => {
  let child: ChildProcess | null = null;
  let stand: StandIn;
  let proxy: DelayProxy | null = null;
  const dir = mkdtempSync(join(tmpdir(), "slice-dest-kill-"));
  const KEY = "sk_admin_kill_0123456789abcdef";

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await proxy?.close();
    await stand?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(): Promise<{ proc: ChildProcess; url: string }> {
    // The stand-in listens on 127.0.0.1: loopback receivers must be allowed.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: "info",
      SLICE_SECRET_KEY: SECRET_KEY,
      SLICE_WEBHOOK_ALLOW_PRIVATE: "1",
    };
    for (const v of [
      "PORT",
      "HOST",
      "SLICE_DB",
      "DATABASE_URL",
      "SLICE_API_KEY",
      "SLICE_WEBHOOK_DENY_PRIVATE",
    ])
      delete env[v];
    const proc = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--db", join(dir, "slice.db"), "--api-key", KEY],
      { cwd: ROOT, env },
    );
    let out = "";
    const url = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no URL logged:\n${out}`)), 60_000);
      proc.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
        if (m) {
          clearTimeout(timer);
          res(m[1]);
        }
      });
      proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      proc.on("exit", (code) => rej(new Error(`exited with ${code}:\n${out}`)));
    });
    await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, "ready");
    return { proc, url };
  }

  it("resumes the first sync and ends equal to the segment", async () => {
    stand = await k.start();
    proxy = await startDelayProxy(stand.url, 150);
    let { proc, url } = await serve();
    child = proc;
    const call: TestServer["call"] = async (method, path, body) => {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${KEY}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, text, headers: res.headers };
    };
    const seg = await seed(call, KILL_SIZE);
    // The call that makes the kill's condition true is held, so it is in flight at the kill.
    proxy.holdAfter((k.killAfter ?? 3) - 1);
    const r = await call("POST", "/v1/destinations", {
      name: "killed",
      kind: k.kind,
      segment_id: seg,
      config: configOf(k, stand, proxy!),
    });
    expect(r.status, r.text).toBe(201);
    // Killed with provider calls in flight (each waits in the proxy), after a few went through.
    await eventually(() => proxy!.received >= (k.killAfter ?? 3), 60_000, "provider calls");
    proc.kill("SIGKILL");
    await new Promise((res) => proc.once("exit", res));
    const partial = stand.audience().size;
    expect(partial).toBeLessThan(KILL_SIZE);

    ({ proc, url } = await serve());
    child = proc;
    // By now the killed server's connections are closed: its held calls are dropped.
    proxy!.release();
    const want = new Set(Array.from({ length: KILL_SIZE }, (_, i) => stand.keyOf(email(i))));
    await eventually(() => same(stand.audience(), want), 120_000, "resumed sync");
    const runs = (await call("GET", `/v1/destinations/${r.body.id}/runs`)).body.data;
    expect(runs.some((x: Json) => x.state === "failed" && /interrupted/.test(x.error))).toBe(true);
    // Resumed, not restarted: far fewer than two full uploads reached the provider.
    expect(rowsSent(stand)).toBeLessThan(2 * KILL_SIZE * 2);
    expect(stand.violations).toEqual([]);
    proc.kill("SIGTERM");
    await new Promise((res) => proc.once("exit", res));
  }, 240_000);
});
