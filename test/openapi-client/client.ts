/**
 * A client of the Slice API written only against the types openapi-typescript generates
 * from `GET /v1/openapi.json` (./generated/api.d.ts, written by
 * test/e2e/openapi-client.test.ts). Every answer's fields are read off the typed `data`,
 * so a response schema that does not match what the client needs fails type-checking,
 * and a request the document does not describe (a body, a query parameter) fails too.
 * At run time each status is checked, and each operation called is recorded.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./generated/api.d.ts";

/** An openapi-fetch answer: the typed body on success, the typed error otherwise. */
type Answer<D, E> = { data?: D; error?: E; response: Response };

function fail(what: string, r: Answer<unknown, unknown>, expected: number): never {
  const body = r.error ?? r.data;
  throw new Error(`${what}: expected ${expected}, got ${r.response.status} ${JSON.stringify(body)}`);
}

/** The body of an answer with the `status` expected; throws naming the call otherwise. */
function body<D, E>(what: string, r: Answer<D, E>, status: number): D {
  if (r.response.status !== status || r.data === undefined) fail(what, r, status);
  return r.data;
}

/** An answer with no body (204). */
function empty<D, E>(what: string, r: Answer<D, E>): void {
  if (r.response.status !== 204) fail(what, r, 204);
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`unexpected answer: ${what}`);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

/**
 * Walks one realistic scenario through every operation of the document and returns the
 * operations called, as `METHOD /path/{template}`. `receiverUrl` is an http server of
 * the caller that answers 2xx to anything (webhook, destination and export target).
 */
export async function exerciseEveryRoute(
  baseUrl: string,
  adminKey: string,
  receiverUrl: string,
): Promise<string[]> {
  const called = new Set<string>();
  const record: Middleware = {
    onResponse({ request, schemaPath }) {
      called.add(`${request.method} ${schemaPath}`);
    },
  };
  const api = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${adminKey}` } });
  api.use(record);

  // ---------------------------------------------------------------- workspaces and keys
  const own = body("GET /v1/workspace", await api.GET("/v1/workspace"), 200);
  check(own.id === "ws_default", `admin workspace ${own.id}`);

  const created = body(
    "POST /v1/workspaces",
    await api.POST("/v1/workspaces", { body: { name: "Typed client", time_zone: "Europe/Paris" } }),
    201,
  );
  const other = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${created.api_key}` } });
  other.use(record);
  const seen = body("GET /v1/workspace (new key)", await other.GET("/v1/workspace"), 200);
  check(seen.id === created.workspace.id && seen.time_zone === "Europe/Paris", "the new workspace's key");

  const ingestKey = body(
    "POST /v1/keys",
    await api.POST("/v1/keys", { body: { name: "sdk", role: "ingest" } }),
    201,
  );
  check(ingestKey.role === "ingest" && ingestKey.key.startsWith(ingestKey.prefix), "ingest key");
  const keys = body("GET /v1/keys", await api.GET("/v1/keys"), 200);
  check(
    keys.data.some((k) => k.id === ingestKey.id),
    "the ingest key is listed",
  );

  // ---------------------------------------------------------------- fields and contacts
  const field = body(
    "POST /v1/fields",
    await api.POST("/v1/fields", { body: { key: "plan", type: "string", label: "Plan" } }),
    201,
  );
  const fields = body("GET /v1/fields", await api.GET("/v1/fields"), 200);
  check(
    fields.data.some((f) => f.key === field.key && !f.builtin),
    "the custom field is listed",
  );

  const anaAnswer = await api.POST("/v1/contacts", {
    body: { email: "ana@example.com", country: "FR", status: "subscribed", fields: { plan: "pro" } },
  });
  const ana = body("POST /v1/contacts", anaAnswer, 201);
  check(anaAnswer.response.headers.get("etag") !== null, "a contact's ETag");

  const batch = body(
    "POST /v1/contacts/batch",
    await api.POST("/v1/contacts/batch", {
      body: [{ email: "bo@example.com", country: "DE" }, { email: "cy@example.com" }],
    }),
    200,
  );
  check(batch.accepted === 2 && batch.errors.length === 0, "two contacts upserted");

  const lookup = body(
    "GET /v1/contacts",
    await api.GET("/v1/contacts", { params: { query: { email: "bo@example.com" } } }),
    200,
  );
  const bo = lookup.data[0];
  check(bo !== undefined && bo.country === "DE", "bo found by email");
  const boId = bo?.id ?? "";

  const read = await api.GET("/v1/contacts/{id}", { params: { path: { id: ana.id } } });
  const anaRead = body("GET /v1/contacts/{id}", read, 200);
  check(anaRead.email === "ana@example.com", "ana read back");
  const patched = body(
    "PATCH /v1/contacts/{id}",
    await api.PATCH("/v1/contacts/{id}", {
      params: { path: { id: ana.id }, header: { "If-Match": read.response.headers.get("etag") ?? "" } },
      body: { first_name: "Ana" },
    }),
    200,
  );
  check(patched.first_name === "Ana", "ana renamed");

  // ---------------------------------------------------------------- events
  const ingested = body(
    "POST /v1/events",
    await api.POST("/v1/events", {
      body: {
        id: "ord-1",
        type: "order_placed",
        contact: { email: "ana@example.com" },
        properties: { amount: 250, currency: "EUR" },
      },
    }),
    200,
  );
  check(ingested.accepted === 1, "one event accepted");
  const events = body(
    "GET /v1/contacts/{id}/events",
    await api.GET("/v1/contacts/{id}/events", { params: { path: { id: ana.id }, query: { limit: 10 } } }),
    200,
  );
  check(events.data[0]?.type === "order_placed", "ana's order is listed");
  const eventTypes = body("GET /v1/event-types", await api.GET("/v1/event-types"), 200);
  check(
    eventTypes.data.some((t) => t.type === "order_placed" && t.properties.some((p) => p.name === "amount")),
    "event types name order_placed and its amount",
  );
  const ltv = body(
    "POST /v1/fields",
    await api.POST("/v1/fields", {
      body: {
        key: "lifetime_value",
        type: "number",
        computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
      },
    }),
    201,
  );
  check(ltv.key === "lifetime_value", "a computed field is declared");
  empty(
    "DELETE /v1/fields/{key}",
    await api.DELETE("/v1/fields/{key}", { params: { path: { key: "lifetime_value" } } }),
  );

  // ---------------------------------------------------------------- segments
  const templates = body("GET /v1/segment-templates", await api.GET("/v1/segment-templates"), 200);
  check(templates.data.length > 0 && templates.data.every((t) => t.name !== ""), "templates");

  const ruleText = "sum(order_placed.amount, last 180d) > 200";
  const preview = body(
    "POST /v1/segments/preview",
    await api.POST("/v1/segments/preview", { body: { rule_text: ruleText } }),
    200,
  );
  check(preview.count === 1 && preview.sample[0]?.id === ana.id, "preview finds ana");

  const big = body(
    "POST /v1/segments",
    await api.POST("/v1/segments", { body: { name: "Big buyers", rule_text: ruleText } }),
    201,
  );
  check(big.kind === "dynamic" && big.version === 1, "dynamic segment created");
  const vip = body(
    "POST /v1/segments",
    await api.POST("/v1/segments", { body: { name: "VIP", kind: "static" } }),
    201,
  );
  check(vip.kind === "static" && vip.rule === null, "static segment created");

  const list = body("GET /v1/segments", await api.GET("/v1/segments"), 200);
  check(
    list.data.some((s) => s.id === big.id) && list.data.some((s) => s.default),
    "segments listed with the defaults",
  );
  const got = await api.GET("/v1/segments/{id}", { params: { path: { id: big.id } } });
  const bigRead = body("GET /v1/segments/{id}", got, 200);
  check(bigRead.rule_text === ruleText, "rule text read back");

  const replaced = body(
    "PUT /v1/segments/{id}",
    await api.PUT("/v1/segments/{id}", {
      params: { path: { id: big.id }, header: { "If-Match": got.response.headers.get("etag") ?? "" } },
      body: { ...bigRead, name: "Big buyers (EUR)" },
    }),
    200,
  );
  check(replaced.version === 2 && replaced.name === "Big buyers (EUR)", "segment replaced");
  const versions = body(
    "GET /v1/segments/{id}/versions",
    await api.GET("/v1/segments/{id}/versions", { params: { path: { id: big.id } } }),
    200,
  );
  check(versions.data.map((v) => v.version).join() === "2,1", "two versions, newest first");
  const restored = body(
    "POST /v1/segments/{id}/versions/{version}/restore",
    await api.POST("/v1/segments/{id}/versions/{version}/restore", {
      params: { path: { id: big.id, version: "1" } },
    }),
    200,
  );
  check(restored.version === 3 && restored.name === "Big buyers", "version 1 restored as 3");

  const member = await until("ana in Big buyers", async () => {
    const r = body(
      "GET /v1/segments/{id}/contacts",
      await api.GET("/v1/segments/{id}/contacts", {
        params: { path: { id: big.id }, query: { email: "ana@example.com" } },
      }),
      200,
    );
    return r.data[0];
  });
  check(member.id === ana.id, "ana is a member");

  const explained = body(
    "GET /v1/contacts/{id}/explain",
    await api.GET("/v1/contacts/{id}/explain", {
      params: { path: { id: ana.id }, query: { segment: big.id } },
    }),
    200,
  );
  check(explained.member && explained.rule?.result === true, "explain says in");

  const added = body(
    "POST /v1/segments/{id}/members",
    await api.POST("/v1/segments/{id}/members", {
      params: { path: { id: vip.id } },
      body: { contacts: [{ email: "ana@example.com" }, { id: boId }] },
    }),
    200,
  );
  check(added.added === 2, "two static members");
  const removed = body(
    "DELETE /v1/segments/{id}/members",
    await api.DELETE("/v1/segments/{id}/members", {
      params: { path: { id: vip.id } },
      body: { contacts: [{ id: boId }] },
    }),
    200,
  );
  check(removed.removed === 1, "one static member removed");

  // A contact added by hand to a dynamic segment is an override.
  body(
    "POST /v1/segments/{id}/members",
    await api.POST("/v1/segments/{id}/members", {
      params: { path: { id: big.id } },
      body: { contacts: [{ id: boId }] },
    }),
    200,
  );
  const overrides = body(
    "GET /v1/segments/{id}/overrides",
    await api.GET("/v1/segments/{id}/overrides", { params: { path: { id: big.id } } }),
    200,
  );
  check(
    overrides.data.some((o) => o.contact_id === boId && o.action === "added"),
    "bo's override is listed",
  );
  const lifted = body(
    "DELETE /v1/segments/{id}/overrides",
    await api.DELETE("/v1/segments/{id}/overrides", {
      params: { path: { id: big.id } },
      body: { contacts: [{ id: boId }] },
    }),
    200,
  );
  check(lifted.lifted === 1, "override lifted");

  const action = body(
    "POST /v1/segments/{id}/actions",
    await api.POST("/v1/segments/{id}/actions", {
      params: { path: { id: big.id } },
      body: { tag_add: ["big-buyer"] },
    }),
    200,
  );
  check(action.changed === 1, "ana tagged");

  const changes = body(
    "GET /v1/segments/{id}/changes",
    await api.GET("/v1/segments/{id}/changes", { params: { path: { id: big.id }, query: { limit: 100 } } }),
    200,
  );
  check(
    changes.data.some((c) => c.contact_id === ana.id && c.change === "entered"),
    "ana's entry is logged",
  );

  const analytics = body(
    "GET /v1/segments/{id}/analytics",
    await api.GET("/v1/segments/{id}/analytics", {
      params: { path: { id: big.id }, query: { days: 7, breakdown: "country" } },
    }),
    200,
  );
  check(analytics.size === 1 && analytics.daily.length === 7, "analytics of one member over 7 days");
  check(
    analytics.breakdown?.values.some((v) => v.value?.toUpperCase() === "FR" && v.count === 1) === true,
    `breakdown by country: ${JSON.stringify(analytics.breakdown)}`,
  );

  const exported = body(
    "GET /v1/segments/{id}/export",
    await api.GET("/v1/segments/{id}/export", {
      params: { path: { id: big.id }, query: { format: "csv" } },
      parseAs: "text",
    }),
    200,
  );
  check(exported.includes("ana@example.com"), "export lists ana");

  // ---------------------------------------------------------------- webhooks
  const hook = body(
    "POST /v1/webhooks",
    await api.POST("/v1/webhooks", {
      body: { url: `${receiverUrl}/webhook`, events: ["segment.entered"], segment_id: big.id },
    }),
    201,
  );
  check(hook.secret.startsWith("whsec_"), "webhook secret shown once");
  const hooks = body("GET /v1/webhooks", await api.GET("/v1/webhooks"), 200);
  check(
    hooks.data.some((h) => h.id === hook.id),
    "webhook listed",
  );
  const hookRead = body(
    "GET /v1/webhooks/{id}",
    await api.GET("/v1/webhooks/{id}", { params: { path: { id: hook.id } } }),
    200,
  );
  check(hookRead.segment_id === big.id && hookRead.previous_secret_expires_at === null, "webhook read");
  const tested = body(
    "POST /v1/webhooks/{id}/test",
    await api.POST("/v1/webhooks/{id}/test", { params: { path: { id: hook.id } } }),
    200,
  );
  check(tested.ok && tested.status_code === 200 && tested.delivery.status === "delivered", "test delivery");
  const deliveries = body(
    "GET /v1/webhooks/{id}/deliveries",
    await api.GET("/v1/webhooks/{id}/deliveries", { params: { path: { id: hook.id } } }),
    200,
  );
  check(
    deliveries.data.some((d) => d.id === tested.delivery.id),
    "the test delivery is logged",
  );
  const redelivered = body(
    "POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    await api.POST("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", {
      params: { path: { id: hook.id, delivery_id: String(tested.delivery.id) } },
    }),
    202,
  );
  check(redelivered.redelivery_of === tested.delivery.id, "redelivery queued");
  const rotated = body(
    "POST /v1/webhooks/{id}/rotate-secret",
    await api.POST("/v1/webhooks/{id}/rotate-secret", { params: { path: { id: hook.id } } }),
    200,
  );
  check(rotated.secret !== hook.secret && rotated.previous_secret_expires_at !== null, "secret rotated");

  const uses = body(
    "GET /v1/segments/{id}/uses",
    await api.GET("/v1/segments/{id}/uses", { params: { path: { id: big.id } } }),
    200,
  );
  check(
    uses.data.some((u) => u.type === "webhook" && u.id === hook.id),
    "the webhook uses Big buyers",
  );

  // ---------------------------------------------------------------- the live stream
  const abort = new AbortController();
  const stream = await api.GET("/v1/stream", { parseAs: "stream", signal: abort.signal });
  const reader = body("GET /v1/stream", stream, 200)?.getReader();
  check(reader !== undefined, "a stream body");
  const first = await reader?.read();
  check(new TextDecoder().decode(first?.value).startsWith(": connected"), "stream opened");
  abort.abort();
  await reader?.cancel().catch(() => undefined);

  // ---------------------------------------------------------------- imports
  const csv = "email,first_name,plan\ndee@example.com,Dee,free\neve@example.com,Eve,pro\n";
  const started = body(
    "POST /v1/imports",
    await api.POST("/v1/imports", {
      params: { query: { segment_id: vip.id } },
      body: csv,
      bodySerializer: (b) => b,
      headers: { "content-type": "text/csv" },
    }),
    202,
  );
  check(started.kind === "contacts", "contact import started");
  const job = await until("the import to finish", async () => {
    const j = body(
      "GET /v1/imports/{id}",
      await api.GET("/v1/imports/{id}", { params: { path: { id: started.id } } }),
      200,
    );
    return j.status === "done" || j.status === "failed" ? j : undefined;
  });
  check(job.status === "done" && job.accepted === 2 && job.rejected === 0, "two rows imported");
  const imports = body("GET /v1/imports", await api.GET("/v1/imports"), 200);
  check(imports.data[0]?.id === started.id, "newest import first");

  // ---------------------------------------------------------------- receivers and sources
  const receiver = body(
    "POST /v1/receivers",
    await api.POST("/v1/receivers", { body: { provider: "postmark", name: "Postmark" } }),
    201,
  );
  check(receiver.url.endsWith(`/hooks/${receiver.id}`) && receiver.stats.accepted === 0, "receiver made");
  const receivers = body("GET /v1/receivers", await api.GET("/v1/receivers"), 200);
  check(
    receivers.data.some((r) => r.id === receiver.id),
    "receiver listed",
  );
  const receiverRead = body(
    "GET /v1/receivers/{id}",
    await api.GET("/v1/receivers/{id}", { params: { path: { id: receiver.id } } }),
    200,
  );
  check(receiverRead.provider === "postmark" && receiverRead.recent.length === 0, "receiver read");
  const renamed = body(
    "PATCH /v1/receivers/{id}",
    await api.PATCH("/v1/receivers/{id}", {
      params: { path: { id: receiver.id } },
      body: { name: "Postmark (marketing)" },
    }),
    200,
  );
  check(renamed.name === "Postmark (marketing)", "receiver renamed");

  // ---------------------------------------------------------------- Segment-compatible ingest
  const sdk = { authorization: basic(ingestKey.key) };
  const identify = body(
    "POST /segment/v1/identify",
    await api.POST("/segment/v1/identify", {
      headers: sdk,
      body: {
        type: "identify",
        messageId: "m-1",
        userId: "u-1",
        traits: { email: "fay@example.com", plan: "pro" },
      },
    }),
    200,
  );
  check(identify.success && identify.errors.length === 0, "identify applied");
  const track = body(
    "POST /segment/v1/track",
    await api.POST("/segment/v1/track", {
      headers: sdk,
      body: {
        type: "track",
        messageId: "m-2",
        userId: "u-1",
        event: "Order Completed",
        properties: { revenue: 30 },
      },
    }),
    200,
  );
  check(track.accepted >= 1 && track.errors.length === 0, `track stored: ${JSON.stringify(track)}`);
  for (const [type, extra] of [
    ["page", { name: "Pricing" }],
    ["screen", { name: "Home" }],
    ["group", { groupId: "acme", traits: { name: "Acme" } }],
    ["alias", { previousId: "anon-1" }],
  ] as const) {
    const path = `/segment/v1/${type}` as const;
    const r = body(
      `POST ${path}`,
      await api.POST(path, { headers: sdk, body: { type, messageId: `m-${type}`, userId: "u-1", ...extra } }),
      200,
    );
    check(r.success && r.errors.length === 0, `${type} applied`);
  }
  const segBatch = body(
    "POST /segment/v1/batch",
    await api.POST("/segment/v1/batch", {
      headers: sdk,
      body: {
        batch: [
          { type: "track", messageId: "m-b1", userId: "u-1", event: "Product Viewed" },
          { type: "track", messageId: "m-2", userId: "u-1", event: "Order Completed" },
        ],
      },
    }),
    200,
  );
  check(
    segBatch.accepted >= 1 && segBatch.duplicates >= 1,
    `a batch with one repeat: ${JSON.stringify(segBatch)}`,
  );
  // `/import` is the batch route's other name in Segment's HTTP API.
  const imported = body(
    "POST /segment/v1/import",
    await api.POST("/segment/v1/import", {
      headers: sdk,
      body: { batch: [{ type: "identify", messageId: "m-i1", userId: "u-2", traits: { plan: "free" } }] },
    }),
    200,
  );
  check(imported.success && imported.errors.length === 0, "an import batch applied");
  const sources = body("GET /v1/sources", await api.GET("/v1/sources"), 200);
  const segmentSource = sources.data.find((s) => s.type === "segment");
  check(segmentSource !== undefined && segmentSource.accepted > 0, "segment source counted");

  // ---------------------------------------------------------------- destinations
  const dest = body(
    "POST /v1/destinations",
    await api.POST("/v1/destinations", {
      body: {
        name: "Big buyers audience",
        kind: "http",
        segment_id: big.id,
        paused: true,
        config: { add_url: `${receiverUrl}/add`, remove_url: `${receiverUrl}/remove` },
      },
    }),
    201,
  );
  check(dest.state === "paused" && dest.secret !== undefined, "paused destination with its secret");
  const dests = body("GET /v1/destinations", await api.GET("/v1/destinations"), 200);
  check(
    dests.data.some((d) => d.id === dest.id),
    "destination listed",
  );
  const destRenamed = body(
    "PATCH /v1/destinations/{id}",
    await api.PATCH("/v1/destinations/{id}", {
      params: { path: { id: dest.id } },
      body: { name: "Big buyers (sync)" },
    }),
    200,
  );
  check(destRenamed.name === "Big buyers (sync)", "destination renamed");
  const dry = body(
    "POST /v1/destinations/{id}/dry-run",
    await api.POST("/v1/destinations/{id}/dry-run", { params: { path: { id: dest.id } } }),
    200,
  );
  check(dry.would_add === 1 && dry.requests[0]?.method === "POST", "dry run would add ana");
  const resumed = body(
    "POST /v1/destinations/{id}/resume",
    await api.POST("/v1/destinations/{id}/resume", { params: { path: { id: dest.id } } }),
    200,
  );
  check(resumed.state !== "paused", "destination resumed");
  const synced = await until("the first sync", async () => {
    const d = body(
      "GET /v1/destinations/{id}",
      await api.GET("/v1/destinations/{id}", { params: { path: { id: dest.id } } }),
      200,
    );
    return d.counters.added === 1 ? d : undefined;
  });
  check(synced.remote_size === 1 && synced.last_error === null, "ana synced");
  const runs = body(
    "GET /v1/destinations/{id}/runs",
    await api.GET("/v1/destinations/{id}/runs", { params: { path: { id: dest.id } } }),
    200,
  );
  const full = runs.data.find((r) => r.kind !== "dry_run" && r.added === 1);
  check(full !== undefined && runs.data.some((r) => r.id === dry.run_id), "the sync and the dry run");
  const runId = full?.id ?? dry.run_id;
  const run = body(
    "GET /v1/destinations/{id}/runs/{run}",
    await api.GET("/v1/destinations/{id}/runs/{run}", { params: { path: { id: dest.id, run: runId } } }),
    200,
  );
  check(run.destination_id === dest.id, "one run");
  const outcomes = body(
    "GET /v1/destinations/{id}/runs/{run}/outcomes",
    await api.GET("/v1/destinations/{id}/runs/{run}/outcomes", {
      params: { path: { id: dest.id, run: runId }, query: { limit: 10 } },
    }),
    200,
  );
  check(
    outcomes.data.some((o) => o.contact_id === ana.id && o.op === "add" && o.status === "ok"),
    "ana added remotely",
  );
  const paused = body(
    "POST /v1/destinations/{id}/pause",
    await api.POST("/v1/destinations/{id}/pause", { params: { path: { id: dest.id } } }),
    200,
  );
  check(paused.state === "paused", "destination paused");

  // ---------------------------------------------------------------- export schedules
  const schedule = body(
    "POST /v1/export-schedules",
    await api.POST("/v1/export-schedules", {
      body: {
        segment_id: big.id,
        format: "ndjson",
        cron: "0 2 * * *",
        target: {
          kind: "http",
          url: `${receiverUrl}/exports/{date}.ndjson`,
          headers: { Authorization: "Bearer files" },
        },
      },
    }),
    201,
  );
  check(schedule.state === "active" && schedule.target.kind === "http", "schedule created");
  const schedules = body("GET /v1/export-schedules", await api.GET("/v1/export-schedules"), 200);
  check(
    schedules.data.some((s) => s.id === schedule.id),
    "schedule listed",
  );
  const schedulePaused = body(
    "PATCH /v1/export-schedules/{id}",
    await api.PATCH("/v1/export-schedules/{id}", {
      params: { path: { id: schedule.id } },
      body: { state: "paused" },
    }),
    200,
  );
  check(schedulePaused.state === "paused", "schedule paused");
  const runNow = body(
    "POST /v1/export-schedules/{id}/run",
    await api.POST("/v1/export-schedules/{id}/run", { params: { path: { id: schedule.id } } }),
    202,
  );
  check(runNow.schedule_id === schedule.id, "run started");
  const exportRun = await until("the export run", async () => {
    const r = body(
      "GET /v1/export-schedules/{id}/runs",
      await api.GET("/v1/export-schedules/{id}/runs", { params: { path: { id: schedule.id } } }),
      200,
    );
    const found = r.data.find((x) => x.id === runNow.id);
    return found && found.state !== "running" ? found : undefined;
  });
  check(exportRun.state === "succeeded" && exportRun.rows === 1, "one row exported");
  const scheduleRead = body(
    "GET /v1/export-schedules/{id}",
    await api.GET("/v1/export-schedules/{id}", { params: { path: { id: schedule.id } } }),
    200,
  );
  check(scheduleRead.last_run_at !== null, "schedule remembers its run");

  // ---------------------------------------------------------------- clean-up deletes
  empty(
    "DELETE /v1/export-schedules/{id}",
    await api.DELETE("/v1/export-schedules/{id}", { params: { path: { id: schedule.id } } }),
  );
  empty(
    "DELETE /v1/destinations/{id}",
    await api.DELETE("/v1/destinations/{id}", { params: { path: { id: dest.id } } }),
  );
  empty(
    "DELETE /v1/receivers/{id}",
    await api.DELETE("/v1/receivers/{id}", { params: { path: { id: receiver.id } } }),
  );
  empty(
    "DELETE /v1/webhooks/{id}",
    await api.DELETE("/v1/webhooks/{id}", { params: { path: { id: hook.id } } }),
  );
  empty(
    "DELETE /v1/segments/{id}",
    await api.DELETE("/v1/segments/{id}", { params: { path: { id: big.id } } }),
  );
  const cy = body(
    "GET /v1/contacts",
    await api.GET("/v1/contacts", { params: { query: { email: "cy@example.com" } } }),
    200,
  ).data[0];
  check(cy !== undefined, "cy found");
  empty(
    "DELETE /v1/contacts/{id}",
    await api.DELETE("/v1/contacts/{id}", { params: { path: { id: cy?.id ?? "" } } }),
  );
  empty(
    "DELETE /v1/keys/{id}",
    await api.DELETE("/v1/keys/{id}", { params: { path: { id: ingestKey.id } } }),
  );
  const gone = await api.GET("/v1/segments/{id}", { params: { path: { id: big.id } } });
  check(gone.response.status === 404 && gone.error?.error.code === "not_found", "deleted segment is 404");

  return [...called].sort();
}
