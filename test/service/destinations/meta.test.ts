import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HttpCaller, ProviderError } from "../../../src/service/destinations/http-call.ts";
import {
  createMetaConnector,
  META_DEFAULT_API_VERSION,
  META_KIND,
  META_MAX_ROWS,
  META_SCHEMA,
  metaCellsOf,
  REDACTED,
} from "../../../src/service/destinations/meta.ts";
import { classifyGraphAnswer, regainAccessMs } from "../../../src/service/destinations/meta-graph.ts";
import {
  BatchRejected,
  ConfigError,
  type ConnectorContext,
  type RemoteMember,
  type SyncContact,
} from "../../../src/service/destinations/types.ts";
import { metaHash, sha256Hex } from "../../../src/service/export-meta.ts";
import { connectorContext, syncContact } from "../../support/destinations.ts";
import { type MetaStandIn, startMetaStandIn } from "../../support/standins/meta.ts";

// biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON answers field by field
type Json = any;

function contact(id: string, over: Partial<SyncContact> = {}): SyncContact {
  return syncContact({ ...over, id });
}

const connector = createMetaConnector();

function context(
  standIn: MetaStandIn,
  extra: Record<string, unknown> = {},
  http?: HttpCaller,
): ConnectorContext {
  const parsed = connector.parseConfig({ ...standIn.config, api_url: standIn.url, ...extra });
  return connectorContext({ ...parsed, destinationId: "dst_meta", http });
}

function keysOf(rows: { contact_id: string; remote_key?: string }[]): RemoteMember[] {
  return rows.map((r) => ({ contact_id: r.contact_id, remote_key: r.remote_key ?? "" }));
}

describe("meta connector: config", () => {
  it("accepts a good config and keeps the token out of it", () => {
    const parsed = connector.parseConfig({
      access_token: "EAAGtoken",
      audience_id: "23851234567890123",
      api_version: "v23.0",
      include_suppressed: true,
      api_url: "https://proxy.example.com/graph/",
    });
    expect(parsed.secrets).toEqual({ access_token: "EAAGtoken" });
    expect(parsed.config).toEqual({
      audience_id: "23851234567890123",
      api_version: "v23.0",
      include_suppressed: true,
      api_url: "https://proxy.example.com/graph",
    });
    expect(JSON.stringify(parsed.config)).not.toContain("EAAGtoken");
    expect(connector.kind).toBe(META_KIND);
    expect(connector.limits.batchSize).toBe(10_000);
    expect(connector.limits.concurrency).toBeLessThanOrEqual(4);
  });

  it("defaults include_suppressed to false and leaves the version to the connector", () => {
    const parsed = connector.parseConfig({ access_token: "t", audience_id: "1" });
    expect(parsed.config).toEqual({ audience_id: "1", include_suppressed: false });
  });

  it.each([
    [null, ""],
    [{ audience_id: "1" }, "access_token"],
    [{ access_token: "t" }, "audience_id"],
    [{ access_token: "t", audience_id: 2385123456 }, "audience_id"],
    [{ access_token: "t", audience_id: "act_123" }, "audience_id"],
    [{ access_token: "has space", audience_id: "1" }, "access_token"],
    [{ access_token: "t", audience_id: "1", api_version: "24" }, "api_version"],
    [{ access_token: "t", audience_id: "1", include_suppressed: "yes" }, "include_suppressed"],
    [{ access_token: "t", audience_id: "1", api_url: "graph.facebook.com" }, "api_url"],
    [{ access_token: "t", audience_id: "1", api_url: "ftp://graph.facebook.com" }, "api_url"],
    [{ access_token: "t", audience_id: "1", api_url: "https://u:p@graph.facebook.com" }, "api_url"],
    [{ access_token: "t", audience_id: "1", list_id: "x" }, "list_id"],
  ])("refuses %j at %s", (input, path) => {
    let error: unknown = null;
    try {
      connector.parseConfig(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).path).toBe(path);
  });
});

describe("meta connector against the stand-in", () => {
  let standIn: MetaStandIn;

  beforeEach(async () => {
    standIn = await startMetaStandIn();
  });

  afterEach(async () => {
    await standIn.close();
  });

  it("adds contacts with the export's hashed cells, returns keys, and removes them with those keys", async () => {
    const ctx = context(standIn);
    const full = contact("c_full", {
      email: " Ada@Example.com ",
      phone: "+1 (415) 555-2671",
      first_name: "Ada",
      last_name: "Lovelace",
      city: "San Francisco",
      region: "California",
      postal_code: "94103-1234",
      country: "US",
      external_id: "crm-42",
    });
    const plain = contact("c_plain");
    const result = await connector.add(ctx, [full, plain]);

    expect(result.rows).toHaveLength(2);
    for (const r of result.rows) {
      expect(r.status).toBe("ok");
      expect(typeof r.remote_key).toBe("string");
    }
    expect(standIn.audience()).toEqual(
      new Set([standIn.keyOf("ada@example.com"), standIn.keyOf("c_plain@example.com")]),
    );

    const sent = standIn.rows.get(standIn.keyOf("ada@example.com"))!;
    expect(sent).toEqual(metaCellsOf(full));
    expect(sent).toEqual([
      sha256Hex("ada@example.com"),
      sha256Hex("14155552671"),
      sha256Hex("ada"),
      sha256Hex("lovelace"),
      sha256Hex("sanfrancisco"),
      sha256Hex("ca"),
      sha256Hex("94103"),
      sha256Hex("us"),
      "crm-42",
    ]);
    const body = standIn.bodies[0] as Json;
    expect(body.payload.schema).toEqual([
      "EMAIL",
      "PHONE",
      "FN",
      "LN",
      "CT",
      "ST",
      "ZIP",
      "COUNTRY",
      "EXTERN_ID",
    ]);
    expect(body.session).toMatchObject({ batch_seq: 1, last_batch_flag: true, estimated_num_total: 2 });
    expect(standIn.calls[0]).toMatchObject({
      method: "POST",
      path: `/${META_DEFAULT_API_VERSION}/${standIn.audienceId}/users`,
      rows: 2,
      status: 200,
    });
    expect(result.stats).toEqual({ received: 2, matched: 2, invalid: 0 });
    expect(standIn.calls[1]).toMatchObject({
      method: "GET",
      path: `/${META_DEFAULT_API_VERSION}/${standIn.audienceId}/sessions`,
    });

    const removed = await connector.remove(ctx, keysOf(result.rows));
    expect(removed.rows.map((r) => r.status)).toEqual(["ok", "ok"]);
    expect(standIn.audience().size).toBe(0);
    expect(standIn.calls.at(-1)).toMatchObject({ method: "DELETE", rows: 2, status: 200 });
    expect(standIn.violations).toEqual([]);
  });

  it("removes by the row it added even after the contact changed", async () => {
    const ctx = context(standIn);
    const before = contact("c1", { phone: "+44 20 7946 0018" });
    const added = await connector.add(ctx, [before]);
    expect(standIn.audience().size).toBe(1);
    const removed = await connector.remove(ctx, keysOf(added.rows));
    expect(removed.rows[0].status).toBe("ok");
    expect(standIn.audience().size).toBe(0);
  });

  it("skips contacts with no identifier and fails unreadable remote keys", async () => {
    const ctx = context(standIn);
    const result = await connector.add(ctx, [contact("c_none", { email: null, country: "not a country" })]);
    expect(result.rows).toEqual([{ contact_id: "c_none", status: "skipped", error: "no identifier" }]);
    expect(standIn.calls).toEqual([]);

    const removed = await connector.remove(ctx, [{ contact_id: "c_x", remote_key: "ada@example.com" }]);
    expect(removed.rows[0]).toMatchObject({ contact_id: "c_x", status: "failed" });
    expect(standIn.calls).toEqual([]);
  });

  it("sends a batch of limits.batchSize rows, and the stand-in refuses one more", async () => {
    const ctx = context(standIn);
    const contacts = Array.from({ length: connector.limits.batchSize }, (_, i) => contact(`c${i}`));
    const result = await connector.add(ctx, contacts);
    expect(result.rows.filter((r) => r.status === "ok")).toHaveLength(META_MAX_ROWS);
    expect(standIn.audience().size).toBe(META_MAX_ROWS);
    expect(standIn.violations).toEqual([]);

    const data = Array.from({ length: META_MAX_ROWS + 1 }, (_, i) => [sha256Hex(`x${i}@example.com`)]);
    const res = await fetch(`${standIn.url}/v24.0/${standIn.audienceId}/users`, {
      method: "POST",
      headers: { Authorization: `Bearer ${standIn.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ payload: { schema: ["EMAIL"], data } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.error).toMatchObject({ code: 100, type: "OAuthException" });
    expect(typeof body.error.fbtrace_id).toBe("string");
    expect(standIn.violations).toHaveLength(1);
    expect(standIn.audience().size).toBe(META_MAX_ROWS);
  });

  it("retries Meta's throttling answers and still succeeds", async () => {
    const retries: string[] = [];
    const http = new HttpCaller({
      policy: { baseMs: 5, capMs: 2000 },
      hooks: { onRetry: (info) => retries.push(info.reason) },
    });
    const ctx = context(standIn, {}, http);
    standIn.rateLimit(2);
    const result = await connector.add(ctx, [contact("c1"), contact("c2")]);
    expect(result.rows.every((r) => r.status === "ok")).toBe(true);
    expect(standIn.audience().size).toBe(2);
    expect(standIn.calls.slice(0, 3).map((c) => c.status)).toEqual([400, 400, 200]);
    expect(retries).toHaveLength(2);
    expect(retries[0]).toContain("80003");
    expect(retries.join(" ")).not.toContain(standIn.token);
  });

  it("fails a row Meta names as invalid alone, and adds the others", async () => {
    const ctx = context(standIn);
    const badHash = metaHash("email", "bad@example.com");
    standIn.refuseEntry(badHash, "unusable email");
    const result = await connector.add(ctx, [contact("good"), contact("bad"), contact("good2")]);
    const byId = new Map(result.rows.map((r) => [r.contact_id, r]));
    expect(byId.get("bad")).toMatchObject({ status: "failed", error: "invalid entry: unusable email" });
    expect(byId.get("bad")?.remote_key).toBeUndefined();
    expect(byId.get("good")?.status).toBe("ok");
    expect(byId.get("good2")?.status).toBe("ok");
    expect(standIn.audience()).toEqual(
      new Set([standIn.keyOf("good@example.com"), standIn.keyOf("good2@example.com")]),
    );
    expect(result.stats).toMatchObject({ received: 3, invalid: 1 });
  });

  it("skips unsubscribed, complained and hard-bounced contacts unless include_suppressed", async () => {
    const contacts = [
      contact("subscribed", { status: "subscribed" }),
      contact("non_subscribed", { status: null }),
      contact("unsubscribed", { status: "unsubscribed" }),
      contact("complained", { status: "subscribed", email_status: "complained" }),
      contact("hard_bounced", { status: "subscribed", email_status: "hard_bounced" }),
    ];
    const result = await connector.add(context(standIn), contacts);
    const byId = new Map(result.rows.map((r) => [r.contact_id, r]));
    expect(byId.get("subscribed")?.status).toBe("ok");
    expect(byId.get("non_subscribed")?.status).toBe("ok");
    for (const id of ["unsubscribed", "complained", "hard_bounced"]) {
      expect(byId.get(id)).toEqual({ contact_id: id, status: "skipped", error: `suppressed: ${id}` });
    }
    expect(standIn.audience()).toEqual(
      new Set([standIn.keyOf("subscribed@example.com"), standIn.keyOf("non_subscribed@example.com")]),
    );
    expect(standIn.subscribed().size).toBe(0);

    const all = await connector.add(context(standIn, { include_suppressed: true }), contacts);
    expect(all.rows.every((r) => r.status === "ok")).toBe(true);
    expect(standIn.audience().size).toBe(5);
  });

  it("plans requests with the token redacted and sends nothing", () => {
    const ctx = context(standIn);
    const plans = connector.planAdd(ctx, [contact("c1"), contact("c2", { status: "unsubscribed" })]);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({
      method: "POST",
      url: `${standIn.url}/${META_DEFAULT_API_VERSION}/${standIn.audienceId}/users`,
      rows: 1,
    });
    expect(plans[0].headers.Authorization).toBe(REDACTED);
    const body = plans[0].body as Json;
    expect(body.payload.schema).toEqual(META_SCHEMA);
    expect(body.payload.data).toEqual([metaCellsOf(contact("c1"))]);

    const removals = connector.planRemove(ctx, [
      { contact_id: "c1", remote_key: JSON.stringify(metaCellsOf(contact("c1"))) },
    ]);
    expect(removals).toHaveLength(1);
    expect(removals[0]).toMatchObject({ method: "DELETE", rows: 1 });
    expect(removals[0].headers.Authorization).toBe(REDACTED);
    expect(JSON.stringify([plans, removals])).not.toContain(standIn.token);
    expect(standIn.calls).toEqual([]);
  });

  it("is refused with a wrong token, once, as a ProviderError", async () => {
    const ctx = context(standIn, { access_token: "EAAGwrong" });
    const error = await connector.add(ctx, [contact("c1")]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).status).toBe(400);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as ProviderError).message).toContain('"code":190');
    expect(standIn.calls).toHaveLength(1);
    expect(standIn.audience().size).toBe(0);
  });

  it("refuses a missing or wrong credential the way Graph does", async () => {
    const url = `${standIn.url}/v24.0/${standIn.audienceId}/users`;
    const body = JSON.stringify({ payload: { schema: ["EMAIL"], data: [[sha256Hex("a@example.com")]] } });
    const headers = { "Content-Type": "application/json" };
    const none = await fetch(url, { method: "POST", headers, body });
    expect(none.status).toBe(400);
    expect(((await none.json()) as Json).error).toMatchObject({ code: 104, type: "OAuthException" });
    const wrong = await fetch(url, {
      method: "POST",
      headers: { ...headers, Authorization: "Bearer nope" },
      body,
    });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as Json).error).toMatchObject({ code: 190, type: "OAuthException" });
    const inBody = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ access_token: standIn.token, ...JSON.parse(body) }),
    });
    expect(inBody.status).toBe(200);
    expect(standIn.audience()).toEqual(new Set([sha256Hex("a@example.com")]));
  });

  it("counts calls in flight: the connector's concurrency passes, one more is a violation", async () => {
    const limit = connector.limits.concurrency;
    const held = await startMetaStandIn({ maxConcurrent: limit, delayMs: 250 });
    try {
      const noSessions = createMetaConnector({ readSessions: false });
      const ctx = context(held);
      const batch = (n: number) =>
        Promise.all(Array.from({ length: n }, (_, i) => noSessions.add(ctx, [contact(`c${n}_${i}`)])));
      await batch(limit);
      expect(held.maxInFlight).toBeLessThanOrEqual(limit);
      expect(held.violations).toEqual([]);

      const results = await batch(limit + 1);
      expect(held.violations.length).toBeGreaterThan(0);
      expect(results.flatMap((r) => r.rows).every((r) => r.status === "ok")).toBe(true);
      expect(held.audience().size).toBe(2 * limit + 1);
    } finally {
      await held.close();
    }
  });

  it("lets an unknown audience propagate instead of splitting the batch", async () => {
    const ctx = context(standIn, { audience_id: "999" });
    const error = await connector.add(ctx, [contact("c1"), contact("c2")]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).not.toBeInstanceOf(BatchRejected);
    expect((error as ProviderError).message).toContain("does not exist");
  });
});

describe("meta connector: Graph answers", () => {
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers(headers),
    body,
  });

  it("retries throttling and temporary codes, not token errors", () => {
    for (const code of [4, 17, 32, 613, 80003, 1, 2]) {
      expect(classifyGraphAnswer(answer(400, { error: { message: "x", code } }))).toEqual({
        retry: true,
        afterMs: null,
      });
    }
    expect(classifyGraphAnswer(answer(400, { error: { message: "x", code: 190 } }))).toEqual({
      retry: false,
    });
    expect(classifyGraphAnswer(answer(400, { error: { message: "x", code: 100 } }))).toBeUndefined();
    expect(classifyGraphAnswer(answer(502, "Bad gateway"))).toBeUndefined();
  });

  it("waits the time Meta estimates to regain access", () => {
    const usage = JSON.stringify({
      "123": [
        { type: "custom_audience", call_count: 100, estimated_time_to_regain_access: 5 },
        { type: "ads_management", call_count: 10, estimated_time_to_regain_access: 0 },
      ],
    });
    const headers = new Headers({ "X-Business-Use-Case-Usage": usage });
    expect(regainAccessMs(headers)).toBe(300_000);
    expect(
      classifyGraphAnswer(answer(400, { error: { code: 80003 } }, { "X-Business-Use-Case-Usage": usage })),
    ).toEqual({
      retry: true,
      afterMs: 300_000,
    });
    expect(regainAccessMs(new Headers({ "X-Business-Use-Case-Usage": "not json" }))).toBeNull();
  });

  it("turns a (#100) naming no row into BatchRejected", async () => {
    const fakeFetch: typeof fetch = async () =>
      new Response(
        JSON.stringify({
          error: {
            message: "(#100) Invalid parameter",
            type: "OAuthException",
            code: 100,
            fbtrace_id: "Abc",
          },
        }),
        {
          status: 400,
          headers: { "Content-Type": "application/json" },
        },
      );
    const http = new HttpCaller({ fetch: fakeFetch, policy: { baseMs: 1, capMs: 5 } });
    const ctx = connectorContext({
      destinationId: "d",
      config: { audience_id: "1", include_suppressed: false },
      secrets: { access_token: "t" },
      http,
    });
    const error = await connector.add(ctx, [contact("c1")]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatchRejected);
    expect((error as BatchRejected).message).toContain("Invalid parameter");
    expect((error as BatchRejected).message).toContain("Abc");
  });
});
