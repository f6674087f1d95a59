import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import {
  COMPUTED_AT_SEND,
  checkHttpDestinationConfig,
  createHttpConnector,
  HTTP_USER_AGENT,
  httpMessageId,
} from "../../../src/service/destinations/http.ts";
import { HttpCaller, ProviderError } from "../../../src/service/destinations/http-call.ts";
import {
  BatchRejected,
  ConfigError,
  type ConnectorContext,
  type RemoteMember,
  type SyncContact,
} from "../../../src/service/destinations/types.ts";
import { standardSecretKey } from "../../../src/service/standard-webhooks.ts";
import type { JsonObject } from "../../../src/store/types.ts";
import { connectorContext, syncContact } from "../../support/destinations.ts";
import { type HttpStandIn, startHttpStandIn } from "../../support/standins/http.ts";

function contact(id: string, over: Partial<SyncContact> = {}): SyncContact {
  return syncContact({
    email: `${id}@Example.test`,
    tags: ["vip"],
    subscribed_at: "2024-05-01T12:00:00.000Z",
    fields: { plan: "pro" },
    ...over,
    id,
  });
}

const waits: number[] = [];
function context(
  standIn: HttpStandIn,
  destinationId = "dst_test1",
  secret = standIn.secret,
): ConnectorContext {
  return connectorContext({
    destinationId,
    config: { add_url: standIn.config.add_url, remove_url: standIn.config.remove_url },
    secrets: { secret },
    http: new HttpCaller({ hooks: { sleep: async () => {}, onRetry: (r) => waits.push(r.waitMs) } }),
  });
}

const connector = createHttpConnector({ denyPrivate: false });
let standIn: HttpStandIn | null = null;
async function start(opts: Parameters<typeof startHttpStandIn>[0] = {}): Promise<HttpStandIn> {
  standIn = await startHttpStandIn(opts);
  return standIn;
}

afterEach(async () => {
  await standIn?.close();
  standIn = null;
  waits.length = 0;
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no ConfigError");
}

describe("http destination config", () => {
  const urls = { add_url: "https://hooks.example.com/add", remove_url: "https://hooks.example.com/remove" };

  it("names the field that is missing or malformed", () => {
    expect(configError(() => connector.parseConfig({ remove_url: urls.remove_url })).path).toBe("add_url");
    expect(configError(() => connector.parseConfig({ add_url: urls.add_url })).path).toBe("remove_url");
    expect(configError(() => connector.parseConfig({ ...urls, add_url: "/relative" })).path).toBe("add_url");
    const ftp = configError(() => connector.parseConfig({ ...urls, remove_url: "ftp://x.example.com/" }));
    expect([ftp.path, ftp.message]).toEqual(["remove_url", "remove_url must use http or https"]);
    const creds = configError(() =>
      connector.parseConfig({ ...urls, add_url: "https://u:p@x.example.com/" }),
    );
    expect([creds.path, creds.message]).toEqual(["add_url", expect.stringContaining("credentials")]);
    expect(configError(() => connector.parseConfig({ ...urls, add_url: 42 })).path).toBe("add_url");
    expect(configError(() => connector.parseConfig({ ...urls, api_url: "https://x.example.com" })).path).toBe(
      "api_url",
    );
    expect(configError(() => connector.parseConfig({ ...urls, addurl: "x" })).path).toBe("addurl");
    expect(configError(() => connector.parseConfig(null)).path).toBe("");
  });

  it("makes a whsec_ secret when none is given, and keeps it out of config", () => {
    const parsed = connector.parseConfig(urls);
    expect(parsed.config).toEqual(urls);
    expect(standardSecretKey(parsed.secrets.secret)?.length).toBe(32);
    expect(connector.parseConfig(urls).secrets.secret).not.toBe(parsed.secrets.secret);
  });

  it("keeps a given Standard Webhooks secret and refuses any other", () => {
    const secret = `whsec_${Buffer.alloc(24, 1).toString("base64")}`;
    expect(connector.parseConfig({ ...urls, secret })).toEqual({ config: urls, secrets: { secret } });
    for (const bad of ["a long enough plain string", "whsec_c2hvcnQ=", 12345, null]) {
      const e = configError(() => connector.parseConfig({ ...urls, secret: bad }));
      expect([e.path, e.message]).toEqual(["secret", expect.stringContaining("whsec_")]);
    }
  });

  it("refuses private addresses with denyPrivate, and allows them without", async () => {
    const local = { add_url: "http://127.0.0.1:8080/add", remove_url: "https://hooks.example.com/remove" };
    expect(await checkHttpDestinationConfig(local, { denyPrivate: false })).toBeNull();
    const refused = await checkHttpDestinationConfig(local, { denyPrivate: true });
    expect(refused).toEqual({
      path: "add_url",
      message: expect.stringMatching(/^add_url host 127\.0\.0\.1 .*loopback/),
    });

    const resolve = async (host: string) =>
      host === "inside.example.com" ? ["10.1.2.3"] : ["93.184.216.34"];
    const named = {
      add_url: "https://hooks.example.com/add",
      remove_url: "https://inside.example.com/remove",
    };
    expect(await checkHttpDestinationConfig(named, { denyPrivate: true, resolve })).toEqual({
      path: "remove_url",
      // The internal address it resolves to is not echoed back.
      message: "remove_url host inside.example.com resolves to a non-public address (private)",
    });
    expect(await checkHttpDestinationConfig(urls, { denyPrivate: true, resolve })).toBeNull();
    expect(await checkHttpDestinationConfig({ add_url: urls.add_url }, { denyPrivate: false })).toEqual({
      path: "remove_url",
      message: "remove_url is required",
    });
  });

  it("checks the address again before every call", async () => {
    const s = await start();
    const guarded = createHttpConnector({ denyPrivate: true });
    const err = await guarded.add(context(s), [contact("c1")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(/add_url refused: .*loopback/);
    await expect(guarded.remove(context(s), [{ contact_id: "c1", remote_key: "{}" }])).rejects.toThrow(
      /remove_url refused/,
    );
    expect(s.calls).toEqual([]);
  });
});

describe("http destination calls", () => {
  it("adds and removes through a receiver that verifies every call", async () => {
    const s = await start();
    const ctx = context(s);
    const contacts = [
      contact("c1"),
      contact("c2", { status: "unsubscribed" }),
      contact("c3", { email_status: "complained" }),
      contact("c4", { email: null, external_id: "ext-4", status: null }),
    ];
    const added = await connector.add(ctx, contacts);
    expect(added.rows.map((r) => [r.contact_id, r.status])).toEqual([
      ["c1", "ok"],
      ["c2", "ok"],
      ["c3", "ok"],
      ["c4", "ok"],
    ]);
    expect(JSON.parse(added.rows[3].remote_key!)).toEqual({ id: "c4", email: null, external_id: "ext-4" });
    expect(s.audience()).toEqual(new Set(["c1@example.test", "c2@example.test", "c3@example.test"]));
    expect(s.subscribed()).toEqual(new Set(["c1@example.test"]));

    const [call] = s.received;
    expect(call.path).toBe("/add");
    expect(call.body).toEqual({ destination_id: "dst_test1", contacts });
    expect(call.headers.userAgent).toBe(HTTP_USER_AGENT);
    expect(call.headers.contentType).toBe("application/json");
    expect(call.headers.id).toBe(httpMessageId("dst_test1", "add", call.raw));

    const members: RemoteMember[] = added.rows.map((r) => ({
      contact_id: r.contact_id,
      remote_key: r.remote_key!,
    }));
    const removed = await connector.remove(ctx, members.slice(0, 2).concat(members[3]));
    expect(removed.rows.map((r) => r.status)).toEqual(["ok", "ok", "ok"]);
    expect(s.received[1].body.contacts).toEqual([
      { id: "c1", email: "c1@Example.test", external_id: null },
      { id: "c2", email: "c2@Example.test", external_id: null },
      { id: "c4", email: null, external_id: "ext-4" },
    ]);
    expect(s.audience()).toEqual(new Set(["c3@example.test"]));
    expect(s.calls.map((c) => [c.path, c.rows, c.status])).toEqual([
      ["/add", 4, 200],
      ["/remove", 3, 200],
    ]);
    expect(s.violations).toEqual([]);
  });

  it("signs so that standardwebhooks verifies the call, and not a tampered one", async () => {
    const s = await start();
    await connector.add(context(s), [contact("c1")]);
    const { raw, headers } = s.received[0];
    const sent = {
      "webhook-id": headers.id,
      "webhook-timestamp": headers.timestamp,
      "webhook-signature": headers.signature,
    };
    expect(headers.signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(s.secret).verify(raw, sent)).toEqual(JSON.parse(raw));
    expect(() => new Webhook(s.secret).verify(raw.replace("c1@", "c9@"), sent)).toThrow(/signature/i);
  });

  it("is refused by a receiver holding another secret (401, not split)", async () => {
    const s = await start();
    const wrong = context(s, "dst_test1", `whsec_${Buffer.alloc(32, 9).toString("base64")}`);
    const err = await connector.add(wrong, [contact("c1"), contact("c2")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).not.toBeInstanceOf(BatchRejected);
    expect((err as ProviderError).status).toBe(401);
    expect(s.violations).toEqual([expect.stringContaining("signature verification failed")]);
    expect(s.audience().size).toBe(0);
  });

  it("retries a 429 after its Retry-After, with the same webhook-id", async () => {
    const s = await start();
    s.rateLimit(2);
    const result = await connector.add(context(s), [contact("c1")]);
    expect(result.rows[0].status).toBe("ok");
    expect(s.calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(waits).toEqual([1000, 1000]);
    expect(new Set(s.ids).size).toBe(1);
    expect(s.ids[0]).toBe(s.received[0].headers.id);
    expect(s.audience()).toEqual(new Set(["c1@example.test"]));
  });

  it("keeps the webhook-id of a batch sent again, and changes it for another batch", async () => {
    const s = await start();
    const batch = [contact("c1"), contact("c2")];
    await connector.add(context(s), batch);
    await connector.add(
      context(s),
      batch.map((c) => ({ ...c })),
    );
    await connector.add(context(s), [contact("c1")]);
    await connector.add(context(s, "dst_other"), batch);
    await connector.remove(context(s), [{ contact_id: "c1", remote_key: '{"id":"c1"}' }]);
    const ids = s.received.map((r) => r.headers.id);
    expect(ids[0]).toBe(ids[1]);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^msg_[A-Za-z0-9_-]{43}$/);
  });

  it("throws BatchRejected on a 400 and lets the endpoint refusals through", async () => {
    const s = await start();
    s.fail(1, 400);
    const err = await connector.add(context(s), [contact("c1"), contact("c2")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchRejected);
    expect((err as BatchRejected).status).toBe(400);
    expect((err as BatchRejected).message).toContain("told to fail with 400");

    s.fail(1, 410);
    const gone = await connector.add(context(s), [contact("c1")]).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ProviderError);
    expect((gone as ProviderError).retryable).toBe(false);

    s.fail(1, 503);
    await connector.add(context(s), [contact("c1")]);
    expect(s.calls.map((c) => c.status)).toEqual([400, 410, 503, 200]);
  });

  it("counts a redirect as a failure and does not follow it", async () => {
    const s = await start();
    s.fail(1, 302);
    const err = await connector.add(context(s), [contact("c1")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(/^HTTP 302.*redirects are not followed/);
    expect(s.calls).toHaveLength(1);
  });

  it("plans the exact requests, sending nothing and showing no secret", async () => {
    const s = await start();
    const ctx = context(s);
    const contacts = [contact("c1"), contact("c2", { status: "unsubscribed" })];
    const [planned] = connector.planAdd(ctx, contacts);
    const [plannedRemove] = connector.planRemove(ctx, [{ contact_id: "c1", remote_key: "not json" }]);
    expect(connector.planAdd(ctx, [])).toEqual([]);
    expect(s.calls).toEqual([]);

    expect(planned).toEqual({
      method: "POST",
      url: s.config.add_url,
      headers: {
        "User-Agent": HTTP_USER_AGENT,
        "Content-Type": "application/json",
        "webhook-id": expect.stringMatching(/^msg_/),
        "webhook-timestamp": COMPUTED_AT_SEND,
        "webhook-signature": COMPUTED_AT_SEND,
      },
      body: { destination_id: "dst_test1", contacts },
      rows: 2,
    });
    expect(plannedRemove.url).toBe(s.config.remove_url);
    expect(plannedRemove.body).toEqual({
      destination_id: "dst_test1",
      contacts: [{ id: "c1", email: null, external_id: null }],
    });
    const key = s.secret.slice("whsec_".length);
    for (const p of [planned, plannedRemove]) {
      expect(JSON.stringify(p)).not.toContain(key);
      expect(JSON.stringify(p)).not.toContain("v1,");
    }

    await connector.add(ctx, contacts);
    expect(s.received[0].headers.id).toBe(planned.headers["webhook-id"]);
    expect(JSON.parse(s.received[0].raw)).toEqual(planned.body);
  });

  it("sends nothing for an empty batch", async () => {
    const s = await start();
    expect(await connector.add(context(s), [])).toEqual({ rows: [] });
    expect(await connector.remove(context(s), [])).toEqual({ rows: [] });
    expect(s.calls).toEqual([]);
    expect(connector.limits).toEqual({ batchSize: 1000, concurrency: 4 });
    expect(connector.kind).toBe("http");
  });

  it("fails a call for a destination stored without its secret", async () => {
    const s = await start();
    const ctx = {
      ...context(s),
      secrets: {} as Record<string, string>,
      config: s.config as unknown as JsonObject,
    };
    await expect(connector.add(ctx, [contact("c1")])).rejects.toThrow(/no signing secret/);
    expect(s.calls).toEqual([]);
  });
});
