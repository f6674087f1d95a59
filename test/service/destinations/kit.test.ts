import { afterEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../../src/service/destinations/http-call.ts";
import {
  createKitConnector,
  KIT_KIND,
  type KitConnectorOptions,
} from "../../../src/service/destinations/kit.ts";
import { RollingWindow } from "../../../src/service/destinations/kit-pacer.ts";
import {
  ConfigError,
  type Connector,
  type ConnectorContext,
  type RemoteMember,
  type SyncContact,
} from "../../../src/service/destinations/types.ts";
import type { JsonObject } from "../../../src/store/types.ts";
import { connectorContext, syncContact } from "../../support/destinations.ts";
import { type KitStandIn, type KitStandInOptions, startKitStandIn } from "../../support/standins/kit.ts";

const open: KitStandIn[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function standIn(opts: KitStandInOptions = {}): Promise<KitStandIn> {
  const s = await startKitStandIn(opts);
  open.push(s);
  return s;
}

function contact(
  id: string,
  email: string | null,
  status: string | null = "subscribed",
  emailStatus: string | null = "deliverable",
  firstName: string | null = null,
): SyncContact {
  return syncContact({ id, email, status, email_status: emailStatus, first_name: firstName });
}

function many(n: number, prefix = "c"): SyncContact[] {
  return Array.from({ length: n }, (_, i) => contact(`${prefix}${i}`, `${prefix}${i}@example.com`));
}

interface Harness {
  connector: Connector;
  ctx: ConnectorContext;
  saved: JsonObject[];
}

function harness(s: KitStandIn, config: Record<string, unknown>, opts: KitConnectorOptions = {}): Harness {
  const connector = createKitConnector(opts);
  const parsed = connector.parseConfig({ ...config, api_url: s.url });
  const ctx = connectorContext({ ...parsed, destinationId: "dst_kit" });
  return { connector, ctx, saved: ctx.saved };
}

const oauth = (s: KitStandIn) => ({ access_token: s.accessToken, tag_id: s.tagId });
const apiKey = (s: KitStandIn) => ({ api_key: s.apiKey, tag_id: s.tagId });

function members(rows: { contact_id: string; status: string; remote_key?: string }[]): RemoteMember[] {
  return rows
    .filter((r) => r.status === "ok")
    .map((r) => ({ contact_id: r.contact_id, remote_key: r.remote_key! }));
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("Kit connector: configuration", () => {
  const connector = createKitConnector();

  it("accepts an API key or an OAuth token with a tag, and keeps the credential out of config", () => {
    const a = connector.parseConfig({ api_key: " kit_key_1 ", tag_id: 12 });
    expect(a).toEqual({ config: { tag_id: 12 }, secrets: { api_key: "kit_key_1" } });
    const b = connector.parseConfig({
      access_token: "tok",
      tag_name: " VIP ",
      api_url: "http://127.0.0.1:9/v4/",
    });
    expect(b).toEqual({
      config: { tag_name: "VIP", api_url: "http://127.0.0.1:9/v4" },
      secrets: { access_token: "tok" },
    });
    expect(connector.kind).toBe(KIT_KIND);
    expect(connector.limits.batchSize).toBe(100);
  });

  it("refuses bad configs with the path at fault", () => {
    const cases: [unknown, string][] = [
      [null, ""],
      [{ tag_id: 1 }, "api_key"],
      [{ api_key: "", tag_id: 1 }, "api_key"],
      [{ api_key: "a", access_token: "b", tag_id: 1 }, "access_token"],
      [{ api_key: "a" }, "tag_id"],
      [{ api_key: "a", tag_id: "12" }, "tag_id"],
      [{ api_key: "a", tag_id: -3 }, "tag_id"],
      [{ api_key: "a", tag_id: 1.5 }, "tag_id"],
      [{ api_key: "a", tag_id: 1, tag_name: "x" }, "tag_name"],
      [{ api_key: "a", tag_name: "  " }, "tag_name"],
      [{ api_key: "a", tag_id: 1, api_url: "ftp://example.com" }, "api_url"],
      [{ api_key: "a", tag_id: 1, api_url: "not a url" }, "api_url"],
      [{ api_key: "a", tag_id: 1, list_id: 3 }, "list_id"],
    ];
    for (const [input, path] of cases) {
      expect(configError(() => connector.parseConfig(input)).path, JSON.stringify(input)).toBe(path);
    }
  });
});

describe("Kit connector against the stand-in", () => {
  for (const mode of ["oauth", "api_key"] as const) {
    it(`${mode}: add tags the contacts and returns their subscriber ids; remove takes the tag off`, async () => {
      const s = await standIn();
      const { connector, ctx } = harness(s, mode === "oauth" ? oauth(s) : apiKey(s));
      const contacts = [
        contact("c1", "Ann@Example.com", "subscribed", "deliverable", "Ann"),
        contact("c2", "bob@example.com"),
        contact("c3", null),
      ];
      const added = await connector.add(ctx, contacts);
      const byId = new Map(added.rows.map((r) => [r.contact_id, r]));
      expect(byId.get("c3")).toMatchObject({ status: "skipped", error: "no email" });
      for (const id of ["c1", "c2"]) {
        expect(byId.get(id)?.status).toBe("ok");
        expect(byId.get(id)?.remote_key).toMatch(/^\d+$/);
      }
      expect(s.audience()).toEqual(new Set(["ann@example.com", "bob@example.com"]));
      expect(s.firstNameOf("ann@example.com")).toBe("Ann");
      const bulk = s.calls.filter((c) => c.path.startsWith("/v4/bulk/"));
      expect(bulk.length > 0).toBe(mode === "oauth");

      // Adding again is harmless and answers the same ids.
      const again = await connector.add(ctx, contacts.slice(0, 2));
      expect(members(again.rows)).toEqual(members(added.rows));

      const removed = await connector.remove(ctx, members(added.rows).slice(0, 1));
      expect(removed.rows).toEqual([{ contact_id: "c1", status: "ok" }]);
      expect(s.audience()).toEqual(new Set(["bob@example.com"]));
      // Removing an absent member, or one whose subscriber is gone, is harmless too.
      const twice = await connector.remove(ctx, [
        ...members(added.rows),
        { contact_id: "x", remote_key: "999999" },
      ]);
      expect(twice.rows.every((r) => r.status === "ok")).toBe(true);
      expect(s.audience().size).toBe(0);
      expect(await connector.remoteSize?.(ctx)).toBe(0);
      expect(s.violations).toEqual([]);
    });
  }

  it("sends a full batch of 100 in two bulk calls, and the stand-in refuses 101 the way Kit does", async () => {
    const s = await standIn();
    const { connector, ctx } = harness(s, oauth(s));
    const result = await connector.add(ctx, many(connector.limits.batchSize));
    expect(result.rows.filter((r) => r.status === "ok")).toHaveLength(100);
    expect(s.calls.map((c) => [c.path, c.rows, c.status])).toEqual([
      ["/v4/bulk/subscribers", 100, 200],
      ["/v4/bulk/tags/subscribers", 100, 200],
    ]);
    expect(s.audience().size).toBe(100);
    expect(await connector.remoteSize?.(ctx)).toBe(100);
    expect(s.violations).toEqual([]);

    const auth = { Authorization: `Bearer ${s.accessToken}` };
    const over = many(101, "o").map((c) => ({ email_address: c.email }));
    const res = await s.request("POST", "/v4/bulk/subscribers", { subscribers: over }, auth);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({});
    expect(s.violations).toHaveLength(1);
    expect(s.stateOf("o0@example.com")).toBeUndefined();
  });

  it("retries Kit's 429 (plain text, no Retry-After) and still succeeds", async () => {
    const s = await standIn({ auth: "api_key" });
    const { connector, ctx } = harness(s, apiKey(s));
    s.rateLimit(3);
    const result = await connector.add(ctx, many(2));
    expect(result.rows.map((r) => r.status)).toEqual(["ok", "ok"]);
    expect(s.calls.filter((c) => c.status === 429)).toHaveLength(3);
    expect(s.audience().size).toBe(2);
  });

  for (const mode of ["oauth", "api_key"] as const) {
    it(`${mode}: an address Kit refuses fails alone`, async () => {
      const s = await standIn();
      const { connector, ctx } = harness(s, mode === "oauth" ? oauth(s) : apiKey(s));
      const contacts = [
        contact("a", "a@example.com"),
        contact("bad", "not-an-email"),
        contact("b", "b@example.com"),
      ];
      const result = await connector.add(ctx, contacts);
      const byId = new Map(result.rows.map((r) => [r.contact_id, r]));
      expect(byId.get("bad")).toMatchObject({ status: "failed", error: "Email address is invalid" });
      expect(byId.get("a")?.status).toBe("ok");
      expect(byId.get("b")?.status).toBe("ok");
      expect(s.audience()).toEqual(new Set(["a@example.com", "b@example.com"]));
    });
  }

  for (const mode of ["oauth", "api_key"] as const) {
    it(`${mode}: consent is never raised: only subscribed contacts are created active, existing states stay`, async () => {
      const s = await standIn();
      s.seed("was-cancelled@example.com", "cancelled");
      s.seed("was-bounced@example.com", "bounced");
      const { connector, ctx } = harness(s, mode === "oauth" ? oauth(s) : apiKey(s));
      const contacts = [
        contact("sub", "sub@example.com", "subscribed", "deliverable"),
        contact("non", "non@example.com", "non_subscribed", null),
        contact("none", "none@example.com", null, null),
        contact("unsub", "unsub@example.com", "unsubscribed", "deliverable"),
        contact("hard", "hard@example.com", "subscribed", "hard_bounced"),
        contact("comp", "comp@example.com", "subscribed", "complained"),
        contact("back", "was-cancelled@example.com", "subscribed", "deliverable"),
        contact("back2", "was-bounced@example.com", "subscribed", "soft_bouncing"),
      ];
      const result = await connector.add(ctx, contacts);
      expect(result.rows.every((r) => r.status === "ok")).toBe(true);
      expect(s.stateOf("sub@example.com")).toBe("active");
      expect(s.stateOf("non@example.com")).toBe("inactive");
      expect(s.stateOf("none@example.com")).toBe("inactive");
      expect(s.stateOf("unsub@example.com")).toBe("cancelled");
      expect(s.stateOf("hard@example.com")).toBe("bounced");
      expect(s.stateOf("comp@example.com")).toBe("complained");
      expect(s.stateOf("was-cancelled@example.com")).toBe("cancelled");
      expect(s.stateOf("was-bounced@example.com")).toBe("bounced");
      expect(s.subscribed()).toEqual(new Set(["sub@example.com"]));
      // Every contact is in the segment's tag, whatever its consent.
      expect(s.audience().size).toBe(contacts.length);

      // What is sent: never `state: "active"`; no state at all for the subscribed.
      const sent = JSON.stringify(connector.planAdd(ctx, contacts).map((p) => p.body));
      expect(sent).not.toContain('"active"');
      const plan = connector.planAdd(ctx, [contacts[0]]);
      expect(JSON.stringify(plan[0].body)).not.toContain("state");
    });
  }

  it("plans requests with the credential redacted and sends nothing", async () => {
    const s = await standIn();
    for (const config of [oauth(s), apiKey(s), { access_token: s.accessToken, tag_name: "Newcomers" }]) {
      const { connector, ctx } = harness(s, config);
      const contacts = [contact("a", "a@example.com"), contact("n", null)];
      const adds = connector.planAdd(ctx, contacts);
      const removes = connector.planRemove(ctx, [{ contact_id: "a", remote_key: "1001" }]);
      expect(adds.length).toBeGreaterThan(0);
      expect(removes.length).toBeGreaterThan(0);
      for (const p of [...adds, ...removes]) {
        const text = JSON.stringify(p);
        expect(text).not.toContain(s.apiKey);
        expect(text).not.toContain(s.accessToken);
        expect(Object.values(p.headers)).toContain("<redacted>");
        expect(p.url.startsWith(s.url)).toBe(true);
      }
      if ("tag_name" in config)
        expect(adds[0]).toMatchObject({ method: "POST", body: { name: "Newcomers" } });
      expect(removes.at(-1)).toMatchObject({ method: "DELETE", rows: 1 });
    }
    const { connector, ctx } = harness(s, oauth(s));
    const [create, tag] = connector.planAdd(ctx, many(3));
    expect(create).toMatchObject({ method: "POST", url: `${s.url}/bulk/subscribers`, rows: 3 });
    expect(tag).toMatchObject({ method: "POST", url: `${s.url}/bulk/tags/subscribers`, rows: 3 });
    expect(s.calls).toEqual([]);
  });

  it("finds or makes a named tag once and keeps its id in the destination state", async () => {
    const s = await standIn();
    const { connector, ctx, saved } = harness(s, { access_token: s.accessToken, tag_name: "Slice: buyers" });
    await Promise.all([connector.add(ctx, many(2, "x")), connector.add(ctx, many(2, "y"))]);
    expect(s.calls.filter((c) => c.path === "/v4/tags")).toHaveLength(1);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ tag_name: "Slice: buyers", tag_id: expect.any(Number) });
    expect(s.membersOfTag("Slice: buyers")?.size).toBe(4);
    expect(s.audience().size).toBe(0);

    // An existing tag of that name is reused, not duplicated.
    const other = harness(s, { api_key: s.apiKey, tag_name: "slice segment" });
    const result = await other.connector.add(other.ctx, [contact("z", "z@example.com")]);
    expect(result.rows[0].status).toBe("ok");
    expect(other.ctx.state.tag_id).toBe(s.tagId);
    expect(s.tagNames()).toHaveLength(2);
  });

  it("stops with a ProviderError when the configured tag does not exist", async () => {
    const s = await standIn();
    for (const config of [
      { access_token: s.accessToken, tag_id: 777 },
      { api_key: s.apiKey, tag_id: 777 },
    ]) {
      const { connector, ctx } = harness(s, config);
      const err = await connector.add(ctx, many(2)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).status).toBe(404);
      expect((err as ProviderError).retryable).toBe(false);
    }
  });

  it("refuses a wrong or missing credential, and API keys on bulk endpoints, as Kit does", async () => {
    const s = await standIn();
    const body = { subscribers: [{ email_address: "a@example.com" }] };
    const wrongKey = await s.request(
      "POST",
      "/v4/subscribers",
      { email_address: "a@example.com" },
      {
        "X-Kit-Api-Key": "nope",
      },
    );
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body).toEqual({ errors: [expect.any(String)] });
    const none = await s.request("POST", "/v4/bulk/subscribers", body);
    expect(none.status).toBe(401);
    const keyOnBulk = await s.request("POST", "/v4/bulk/subscribers", body, { "X-Kit-Api-Key": s.apiKey });
    expect(keyOnBulk.status).toBe(401);
    const unknownField = await s.request(
      "POST",
      "/v4/subscribers",
      { email: "a@example.com" },
      {
        "X-Kit-Api-Key": s.apiKey,
      },
    );
    expect(unknownField.status).toBe(422);
    expect(s.stateOf("a@example.com")).toBeUndefined();

    const { connector, ctx } = harness(s, { api_key: "wrong_key", tag_id: s.tagId });
    const err = await connector.add(ctx, many(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).retryable).toBe(false);
  });

  it("keeps under Kit's rolling request budget instead of running into 429s", async () => {
    // The connector paces request starts, the stand-in counts arrivals: with a limit twice
    // the budget, a window of arrivals overflows only if latency varies by a whole window.
    const s = await standIn({ auth: "api_key", rate: { api_key: 16, oauth: 60, windowMs: 500 } });
    const { connector, ctx } = harness(s, apiKey(s), { budget: { api_key: 8, oauth: 30 }, windowMs: 500 });
    const result = await connector.add(ctx, many(12));
    expect(result.rows.filter((r) => r.status === "ok")).toHaveLength(12);
    expect(s.calls).toHaveLength(24);
    expect(s.calls.filter((c) => c.status === 429)).toEqual([]);
    expect(s.violations).toEqual([]);
  });

  it("fails a remote_key that is not a Kit subscriber id without sending it", async () => {
    const s = await standIn();
    const { connector, ctx } = harness(s, oauth(s));
    const result = await connector.remove(ctx, [{ contact_id: "a", remote_key: "a@example.com" }]);
    expect(result.rows).toEqual([
      { contact_id: "a", status: "failed", error: expect.stringContaining("remote_key") },
    ]);
    expect(s.calls).toEqual([]);
  });
});

describe("RollingWindow", () => {
  it("lets `limit` requests start per window and holds the next until the oldest leaves it", async () => {
    let t = 0;
    const sleeps: number[] = [];
    const clock = {
      now: () => t,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
    };
    const w = new RollingWindow(2, 1000, clock);
    await w.acquire();
    t = 100;
    await w.acquire();
    expect(sleeps).toEqual([]);
    await w.acquire();
    expect(sleeps).toEqual([900]);
    expect(t).toBe(1000);
    await w.acquire();
    expect(sleeps).toEqual([900, 100]);
  });
});
