/**
 * GET /metrics after a scripted workload: the counters moved by exactly what was sent,
 * the gauges read the service's state, the output parses as the Prometheus text format,
 * and only an admin key or the metrics token may read it.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgServer, startPostgres } from "../support/postgres.ts";
import { ADMIN_KEY, eventually, startTestServer, type TestServer } from "../support/server.ts";

const TOKEN = "metrics-token-0123456789";

interface Sample {
  labels?: Record<string, string>;
  value?: string;
  count?: string;
  buckets?: Record<string, string>;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

let s: TestServer;

type Scrape = Map<string, Family> & { text: string };

/** The parser throws on a malformed line; families and their samples come back by name. */
async function scrape(key = TOKEN): Promise<Scrape> {
  const r = await s.call("GET", "/metrics", undefined, { key });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(r.text) as Family[];
  return Object.assign(new Map(families.map((f) => [f.name, f])), { text: r.text });
}

/** Polls for a scrape that satisfies `ok`. */
async function scrapeUntil(ok: (m: Scrape) => boolean, what: string, ms = 10_000): Promise<Scrape> {
  let last: Scrape | null = null;
  await eventually(
    async () => {
      last = await scrape();
      return ok(last);
    },
    ms,
    what,
  );
  return last!;
}

/**
 * A labelled histogram's `_count`: the parser folds a histogram's series into one
 * without labels, so the count is read from its sample line.
 */
function histogramCount(m: Scrape, name: string, labels: Record<string, string>): number {
  expect(m.get(name)?.type).toBe("HISTOGRAM");
  const want = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  for (const line of m.text.split("\n")) {
    const hit = /^(\w+)_count\{([^}]*)\} (\S+)$/.exec(line);
    if (!hit || hit[1] !== name) continue;
    const got = hit[2]!.split(",").sort().join(",");
    if (got === want) return Number(hit[3]);
  }
  return 0;
}

/** The value of the sample of `name` whose labels include `labels` (0 when absent). */
function value(m: Scrape, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name);
  if (!f) throw new Error(`no metric ${name}`);
  const hit = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  if (!hit) return 0;
  return Number(hit.value ?? hit.count);
}

const N = 25;
const BAD_CONTACTS = 2;
const K = 7; // contacts in France
const M = 40;
const DUPLICATES = 5;
const BAD_EVENTS = 3;

describe.each(["sqlite", "postgres"] as const)("GET /metrics (%s)", (kind) => {
  let pgServer: PgServer | null = null;
  beforeAll(async () => {
    if (kind === "postgres") pgServer = await startPostgres();
    s = await startTestServer(pgServer ? { kind: "postgres", url: pgServer.url } : { kind: "sqlite" }, {
      metricsToken: TOKEN,
    });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
    await pgServer?.stop();
  });

  it("refuses callers without the admin key or the token", async () => {
    expect((await s.call("GET", "/metrics", undefined, { key: null })).status).toBe(401);
    expect((await s.call("GET", "/metrics", undefined, { key: "metrics-token-wrong-012345" })).status).toBe(
      401,
    );
    const rw = await s.call("POST", "/v1/keys", { name: "rw", role: "read_write" });
    expect(rw.status).toBe(201);
    expect((await s.call("GET", "/metrics", undefined, { key: rw.body.key })).status).toBe(401);
    // The admin key reads it too.
    expect((await scrape(ADMIN_KEY)).size).toBeGreaterThan(0);
  });

  it("counts a scripted workload exactly", async () => {
    const before = await scrape();
    const httpBefore = histogramCount(before, "slice_http_request_duration_seconds", {
      method: "POST",
      route: "/v1/events",
      status_class: "2xx",
    });

    // N good contacts (K of them in France) and 2 refused.
    const contacts = Array.from({ length: N }, (_, i) => ({
      email: `c${i}@example.com`,
      country: i < K ? "FR" : "DE",
    }));
    const batch = await s.call("POST", "/v1/contacts/batch", [
      ...contacts,
      { email: "not an email" },
      { email: "x@example.com", status: "nope" },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.body.accepted).toBe(N);
    expect(batch.body.errors).toHaveLength(BAD_CONTACTS);

    // M events, then 5 of them again (duplicates by id) and 3 refused.
    const events = Array.from({ length: M }, (_, i) => ({
      id: `ev-${i}`,
      type: "email_opened",
      contact: { email: `c${i % N}@example.com` },
    }));
    expect((await s.call("POST", "/v1/events", events.slice(0, 20))).body.accepted).toBe(20);
    expect((await s.call("POST", "/v1/events", events.slice(20))).body.accepted).toBe(M - 20);
    const again = await s.call("POST", "/v1/events", [
      ...events.slice(0, DUPLICATES),
      { type: "BAD TYPE", contact: { email: "c1@example.com" } },
      { type: "email_opened", contact: {} },
      { type: "email_opened" },
    ]);
    expect(again.status).toBe(200);
    expect(again.body.duplicates).toBe(DUPLICATES);
    expect(again.body.errors).toHaveLength(BAD_EVENTS);

    // The changes of those writes (the built-in segments) are logged, then a segment
    // that K contacts enter.
    // Every contact enters the default segment "all" and no other; a flush in flight
    // holds changes that are neither pending nor counted yet, so wait for all N.
    const logged = await scrapeUntil(
      (m) =>
        value(m, "slice_changelog_pending") === 0 &&
        value(m, "slice_membership_changes_total", { change: "entered" }) >= N,
      "the writes' changes to be logged",
      10_000,
    );
    const entered0 = value(logged, "slice_membership_changes_total", { change: "entered" });
    expect(entered0).toBe(N);
    const seg = await s.call("POST", "/v1/segments", {
      name: "France",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(seg.status).toBe(201);
    expect((await s.call("GET", `/v1/segments/${seg.body.id}?x=1`)).status).toBe(200);

    // A change-stream client is counted while connected.
    const stream = new AbortController();
    const open = await fetch(`${s.url}/v1/stream`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      signal: stream.signal,
    });
    expect(open.status).toBe(200);

    const after = await scrapeUntil(
      (m) => value(m, "slice_membership_changes_total", { change: "entered" }) >= entered0 + K,
      "the entered changes to be logged",
      10_000,
    );
    const ingest = (kind: string, outcome: string) =>
      value(after, "slice_ingest_items_total", { kind, source: "api", outcome });
    expect(ingest("contacts", "accepted")).toBe(N);
    expect(ingest("contacts", "rejected")).toBe(BAD_CONTACTS);
    expect(ingest("events", "accepted")).toBe(M);
    expect(ingest("events", "duplicate")).toBe(DUPLICATES);
    expect(ingest("events", "rejected")).toBe(BAD_EVENTS);
    expect(value(after, "slice_membership_changes_total", { change: "entered" })).toBe(entered0 + K);
    expect(value(after, "slice_membership_changes_total", { change: "exited" })).toBe(0);
    expect(value(after, "slice_engine_contacts")).toBe(N);
    expect(value(after, "slice_engine_events")).toBe(M);
    expect(value(after, "slice_stream_clients")).toBe(1);
    expect(value(after, "slice_ready")).toBe(1);
    expect(value(after, "slice_changelog_pending")).toBe(0);
    expect(
      histogramCount(after, "slice_http_request_duration_seconds", {
        method: "POST",
        route: "/v1/events",
        status_class: "2xx",
      }) - httpBefore,
    ).toBe(3);
    // Route patterns, never raw URLs: no label holds an id or a query.
    const routes = [...after.text.matchAll(/route="([^"]*)"/g)].map((x) => x[1]);
    expect(routes).toContain("/v1/segments/:id");
    for (const r of routes) expect(r).not.toMatch(/seg_|ct_|\?/);
    expect(value(after, "process_resident_memory_bytes")).toBeGreaterThan(0);
    stream.abort();
    await eventually(async () => value(await scrape(), "slice_stream_clients") === 0, 5000, "stream closed");
  });

  it("counts Segment-compatible ingest by source kind", async () => {
    const before = await scrape();
    const auth = `Basic ${Buffer.from(`${ADMIN_KEY}:`).toString("base64")}`;
    const post = (path: string, body: unknown) =>
      fetch(`${s.url}${path}`, {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await post("/segment/v1/batch", {
      batch: [
        { type: "track", userId: "u-1", event: "Signed Up", messageId: "m-1" },
        { type: "track", userId: "u-2", event: "Signed Up", messageId: "m-2" },
        { type: "track", userId: "u-3", messageId: "m-3" },
      ],
    });
    expect(ok.status).toBe(200);
    const after = await scrape();
    const d = (labels: Record<string, string>, name = "slice_ingest_items_total") =>
      value(after, name, labels) - value(before, name, labels);
    expect(d({ kind: "events", source: "segment", outcome: "accepted" })).toBe(2);
    expect(d({ kind: "events", source: "segment", outcome: "rejected" })).toBe(1);
    expect(d({ source: "segment", outcome: "accepted" }, "slice_source_requests_total")).toBe(1);
  });

  it("reports the webhook outbox and delivery outcomes", async () => {
    // Nothing listens on port 9: every attempt fails and is retried later.
    const hook = await s.call("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" });
    expect(hook.status).toBe(201);
    const seg = await s.call("POST", "/v1/segments", {
      name: "Germany",
      rule: { type: "field", field: "country", op: "eq", value: "DE" },
    });
    expect(seg.status).toBe(201);
    const m = await scrapeUntil(
      (x) => value(x, "slice_webhook_deliveries_total", { outcome: "retry" }) >= N - K,
      "failed attempts",
      15_000,
    );
    expect(value(m, "slice_webhook_outbox_pending")).toBe(N - K);
    expect(value(m, "slice_webhook_outbox_oldest_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(value(m, "slice_webhook_deliveries_total", { outcome: "delivered" })).toBe(0);
  });
});
