/**
 * The cluster answers as one process does (docs/cluster.md, "the correctness anchor"):
 * the same seeded sequence of writes and clock moves, sent to (a) one process, (b) one
 * process with each workspace's contacts in 4 partitions on 2 engine worker threads,
 * and (c) a 3-node cluster (any node, in turn; a node handing its workspaces over
 * midway), must give the same memberships, the same change log per contact and the
 * same webhook deliveries. The rank segment is defined late, in one workspace only: the
 * workers do not maintain ranks, so that workspace moves to one thread in (b) then,
 * and the other two stay on the workers throughout. All run in this process on one
 * test clock, each on a database of its own.
 * Ids differ between the two (they are made at creation), so contacts compare by email
 * and segments by name. The seed is printed with any failure.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rng } from "../../src/demo/random.ts";
import { type RunningServer, type StartOptions, startServer } from "../../src/http/start.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats.ts";
import { type PgServer, startPostgres } from "../support/postgres.ts";
import { ADMIN_KEY } from "../support/server.ts";

const SEED = 4242;
const STEPS = 160;
const DAY = 86_400_000;
/** Defined midway in workspace 0 (see above). */
const RANKED = { name: "top buyers", rule_text: "top 20% by count(order_placed)" };
const RANKED_AT = 120;
const SEGMENTS: Record<string, string> = {
  buyers: "count(order_placed) >= 2",
  engaged: "did(email_opened, last 7d)",
  french: 'country = "FR"',
  "lapsed fr": 'country = "FR" and not did(email_opened, last 3d)',
  spenders: "sum(order_placed.amount, last 10d) > 100",
};

// Ahead of the wall clock, which the store stamps rows with (an outbox row is due when
// the service clock reaches it), and moved only by the test: both deployments stamp the
// same instants.
let t = Math.ceil((Date.now() + DAY) / 60_000) * 60_000;
const clock = { now: () => t };

type Json = Record<string, unknown>;

/** Webhook deliveries as received, by path (`/<deployment>/<workspace index>`). */
const received = new Map<string, Json[]>();
let receiver: http.Server;
let receiverUrl: string;

let pgServer: PgServer;
let nats: NatsCluster;
let single: RunningServer;
let onWorkers: RunningServer;
const cluster: RunningServer[] = [];

const common = (): Partial<StartOptions> => ({
  port: 0,
  host: "127.0.0.1",
  apiKey: ADMIN_KEY,
  log: () => {},
  tickMs: 50,
  webhookPollMs: 50,
  allowPrivateAddresses: true,
  clock,
  rateLimit: { max: 1e9, windowMs: 60_000 },
});

async function clusterNode(id: string, databaseUrl: string): Promise<RunningServer> {
  return startServer({
    ...common(),
    databaseUrl,
    cluster: { servers: nats.urls, nodeId: id, replicas: 1, leaseMs: 4_000 },
  });
}

/** One deployment as the test drives it: requests go to its nodes in turn, retried on 503. */
class Deployment {
  private turn = 0;
  readonly keys: string[] = [];
  /** Per workspace: email → contact id, and segment name → id. */
  readonly contacts: Map<string, string>[] = [];
  readonly segments: Map<string, string>[] = [];

  constructor(
    readonly name: string,
    private readonly urls: () => string[],
  ) {}

  async call(
    ws: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> {
    for (let attempt = 0; ; attempt++) {
      const urls = this.urls();
      const url = urls[this.turn++ % urls.length]!;
      const r = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ws < 0 ? ADMIN_KEY : this.keys[ws]}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }).catch(() => null);
      if (r && r.status !== 503) {
        const text = await r.text();
        return { status: r.status, json: text ? (JSON.parse(text) as Json) : {} };
      }
      if (attempt > 200) throw new Error(`${this.name}: ${method} ${path} unavailable`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async all(ws: number, path: string): Promise<Json[]> {
    const out: Json[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const r = await this.call(ws, "GET", `${path}${sep}limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status, `${this.name} GET ${path}: ${JSON.stringify(r.json)}`).toBe(200);
      out.push(...(r.json.data as Json[]));
      cursor = r.json.next_cursor as string | null;
    } while (cursor);
    return out;
  }

  /** What must be equal between deployments, with ids replaced by emails and names. */
  async observed(ws: number): Promise<Json> {
    const email = new Map([...this.contacts[ws]!].map(([e, id]) => [id, e]));
    const name = new Map([...this.segments[ws]!].map(([n, id]) => [id, n]));
    const members: Record<string, string[]> = {};
    const changes: Record<string, string[]> = {};
    for (const [n, id] of this.segments[ws]!) {
      members[n] = (await this.all(ws, `/v1/segments/${id}/contacts`)).map((c) => String(c.email)).sort();
      changes[n] = (await this.all(ws, `/v1/segments/${id}/changes?since=1970-01-01T00:00:00Z`))
        .map((c) => `${email.get(String(c.contact_id))} ${c.change} ${c.at}`)
        .sort();
    }
    // At least once, as Standard Webhooks receivers expect: a redelivery keeps its `id`
    // (a node stopping mid-attempt leaves it to the next holder), so receivers count it once.
    const byId = new Map((received.get(`/${this.name}/${ws}`) ?? []).map((d) => [String(d.id), d]));
    const deliveries = [...byId.values()]
      .map((d) => {
        const data = d.data as Json;
        return `${d.type} ${name.get(String(data.segment_id))} ${email.get(String(data.contact_id))} ${data.at}`;
      })
      .sort();
    return { members, changes, deliveries };
  }
}

describe("one process, one on engine workers and a 3-node cluster given the same writes and clock moves", () => {
  let a: Deployment;
  let b: Deployment;
  let c: Deployment;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("end", () => {
        const list = received.get(req.url!) ?? [];
        list.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json);
        received.set(req.url!, list);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    [pgServer, nats] = await Promise.all([startPostgres("slice_diff_single"), startNatsCluster({ size: 1 })]);
    const clusterDb = await pgServer.createDatabase("slice_diff_cluster");
    const workersDb = await pgServer.createDatabase("slice_diff_workers");
    single = await startServer({ ...common(), databaseUrl: pgServer.url });
    onWorkers = await startServer({ ...common(), databaseUrl: workersDb, workers: 2, partitions: 4 });
    for (const id of ["a", "b", "c"]) cluster.push(await clusterNode(id, clusterDb));
    a = new Deployment("single", () => [single.url]);
    b = new Deployment("workers", () => [onWorkers.url]);
    c = new Deployment("cluster", () => cluster.map((s) => s.url));
  }, 120_000);

  afterAll(async () => {
    await single?.close();
    await onWorkers?.close();
    for (const s of cluster) await s.close().catch(() => undefined);
    await nats?.stop();
    await pgServer?.stop();
    receiver?.close();
  }, 60_000);

  it(`agree on memberships, change logs and webhook deliveries (seed ${SEED})`, async () => {
    const both = [a, b, c];
    for (const d of both) {
      for (let ws = 0; ws < 3; ws++) {
        if (ws === 0) d.keys.push(ADMIN_KEY);
        else {
          const r = await d.call(-1, "POST", "/v1/workspaces", { name: `w${ws}` });
          expect(r.status).toBe(201);
          d.keys.push(r.json.api_key as string);
        }
        d.contacts.push(new Map());
        d.segments.push(new Map());
        for (const [name, rule] of Object.entries(SEGMENTS)) {
          const s = await d.call(ws, "POST", "/v1/segments", { name, rule_text: rule });
          expect(s.status, JSON.stringify(s.json)).toBe(201);
          d.segments[ws]!.set(name, s.json.id as string);
        }
        const h = await d.call(ws, "POST", "/v1/webhooks", { url: `${receiverUrl}/${d.name}/${ws}` });
        expect(h.status, JSON.stringify(h.json)).toBe(201);
      }
    }

    const random = rng(SEED, 0);
    const pick = <T>(l: readonly T[]) => l[Math.floor(random() * l.length)]!;
    let nextContact = 0;
    const erased = new Set<string>();
    for (let step = 0; step < STEPS; step++) {
      const ws = Math.floor(random() * 3);
      const known = [...a.contacts[ws]!.keys()].filter((e) => !erased.has(`${ws} ${e}`));
      const roll = random();
      // Each step is one request, made the same way to both deployments.
      let request: { method: string; path: (d: Deployment) => string; body: unknown } | null = null;
      let record: ((d: Deployment, json: Json) => void) | null = null;
      if (roll < 0.25 || known.length < 3) {
        const email = random() < 0.8 || known.length === 0 ? `p${nextContact++}@example.com` : pick(known);
        const body = {
          email,
          country: pick(["FR", "DE", "US"]),
          status: pick(["subscribed", "unsubscribed"]),
        };
        request = { method: "POST", path: () => "/v1/contacts", body };
        record = (d, json) => d.contacts[ws]!.set(email, json.id as string);
      } else if (roll < 0.85) {
        const n = 1 + Math.floor(random() * 8);
        const body = Array.from({ length: n }, () => {
          const type = pick(["order_placed", "email_opened", "email_opened", "page_viewed"]);
          return {
            type,
            contact: { email: pick(known) },
            timestamp: new Date(t - Math.floor(random() * 12 * DAY)).toISOString(),
            ...(type === "order_placed" ? { properties: { amount: 10 + Math.floor(random() * 90) } } : {}),
          };
        });
        request = { method: "POST", path: () => "/v1/events", body };
      } else if (roll < 0.92) {
        const email = pick(known);
        const body = { country: pick(["FR", "DE"]) };
        request = { method: "PATCH", path: (d) => `/v1/contacts/${d.contacts[ws]!.get(email)}`, body };
      } else if (roll < 0.95) {
        const email = pick(known);
        request = {
          method: "DELETE",
          path: (d) => `/v1/contacts/${d.contacts[ws]!.get(email)}`,
          body: undefined,
        };
        // Kept in the map: the log still names the erased contact's id.
        record = () => erased.add(`${ws} ${email}`);
      } else {
        // Time moves: both deployments see the same clock; the tick brings the changes.
        t += Math.floor(random() * 3 * DAY);
        await new Promise((r) => setTimeout(r, 150));
      }
      if (request) {
        for (const d of both) {
          const r = await d.call(ws, request.method, request.path(d), request.body);
          expect(r.status, `step ${step} (seed ${SEED}) ${d.name}: ${JSON.stringify(r.json)}`).toBeLessThan(
            300,
          );
          record?.(d, r.json);
        }
      }
      if (step === RANKED_AT) {
        for (const d of both) {
          const r = await d.call(0, "POST", "/v1/segments", RANKED);
          expect(r.status, `${d.name}: ${JSON.stringify(r.json)}`).toBe(201);
          d.segments[0]!.set(RANKED.name, r.json.id as string);
        }
      }
      // Midway, a node stops: its workspaces move to the others.
      if (step === Math.floor(STEPS / 2)) {
        const leaving = cluster.shift()!;
        await leaving.close();
      }
    }
    t += DAY;
    // Two workspaces on the engine workers to the end, the ranked one moved to one thread.
    const served = onWorkers.slice.openWorkspaces();
    expect(served.length).toBe(3);
    expect(served.filter((w) => w.live.onWorkers).length).toBe(2);

    for (let ws = 0; ws < 3; ws++) {
      let last: [Json, Json, Json] = [{}, {}, {}];
      // Changes and deliveries settle within a few ticks and webhook polls.
      for (let i = 0; i < 100; i++) {
        last = [await a.observed(ws), await b.observed(ws), await c.observed(ws)];
        const one = JSON.stringify(last[0]);
        if (JSON.stringify(last[1]) === one && JSON.stringify(last[2]) === one) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(last[1], `workspace ${ws} (seed ${SEED}): engine workers against one process`).toEqual(last[0]);
      expect(last[2], `workspace ${ws} (seed ${SEED}): the cluster against one process`).toEqual(last[0]);
      const seen = last[0] as { changes: Record<string, string[]>; deliveries: string[] };
      expect(Object.values(seen.changes).flat().length, `workspace ${ws}: changes happened`).toBeGreaterThan(
        10,
      );
      expect(seen.deliveries.length, `workspace ${ws}: deliveries happened`).toBeGreaterThan(10);
    }
  }, 300_000);
});
