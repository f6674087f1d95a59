import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGoogleConnector, GOOGLE_KIND } from "../../../src/service/destinations/google.ts";
import { HttpCaller, ProviderError } from "../../../src/service/destinations/http-call.ts";
import {
  ConfigError,
  type Connector,
  type ConnectorContext,
  type RemoteMember,
  type SyncContact,
} from "../../../src/service/destinations/types.ts";
import { connectorContext, syncContact } from "../../support/destinations.ts";
import { type GoogleStandIn, startGoogleStandIn } from "../../support/standins/google.ts";

function contact(id: string, over: Partial<SyncContact> = {}): SyncContact {
  return syncContact({ subscribed_at: "2024-05-01T12:00:00.000Z", ...over, id });
}

let standIn: GoogleStandIn;
let connector: Connector;

/** A context for the stand-in's destination: its OAuth client, or `accessToken` when given. */
function context(extra: Record<string, unknown> = {}, accessToken?: string): ConnectorContext {
  const base = accessToken
    ? { account_id: standIn.accountId, user_list_id: standIn.userListId, access_token: accessToken }
    : standIn.config;
  return connectorContext(connector.parseConfig({ ...base, api_url: standIn.url, ...extra }));
}

function okKeys(rows: { contact_id: string; status: string; remote_key?: string }[]): RemoteMember[] {
  return rows
    .filter((r) => r.status === "ok")
    .map((r) => ({ contact_id: r.contact_id, remote_key: r.remote_key as string }));
}

beforeEach(async () => {
  standIn = await startGoogleStandIn();
  connector = createGoogleConnector();
});

afterEach(async () => {
  await standIn.close();
});

describe("google connector: configuration", () => {
  it("accepts a good config and keeps the credentials out of it", () => {
    expect(connector.kind).toBe(GOOGLE_KIND);
    const parsed = connector.parseConfig({
      account_id: "123-456-7890",
      user_list_id: 42,
      login_account_id: "555-000-1111",
      client_id: "cid.apps.googleusercontent.com",
      client_secret: "GOCSPX-secret",
      refresh_token: "1//refresh",
      consent_ad_user_data: "GRANTED",
      api_url: "http://127.0.0.1:9/",
    });
    expect(parsed.config).toEqual({
      account_id: "1234567890",
      user_list_id: "42",
      login_account_id: "5550001111",
      include_suppressed: false,
      consent_ad_user_data: "granted",
      api_url: "http://127.0.0.1:9",
    });
    expect(parsed.secrets).toEqual({
      client_id: "cid.apps.googleusercontent.com",
      client_secret: "GOCSPX-secret",
      refresh_token: "1//refresh",
    });
    const t = connector.parseConfig({ account_id: "1", user_list_id: "2", access_token: "ya29.x" });
    expect(t.secrets).toEqual({ access_token: "ya29.x" });
    expect(JSON.stringify(t.config)).not.toContain("ya29");
  });

  it.each([
    [{ user_list_id: "2", access_token: "t" }, "account_id"],
    [{ account_id: "12a", user_list_id: "2", access_token: "t" }, "account_id"],
    [{ account_id: "1", user_list_id: "list", access_token: "t" }, "user_list_id"],
    [{ account_id: "1", user_list_id: "2" }, "access_token"],
    [{ account_id: "1", user_list_id: "2", access_token: "t", refresh_token: "r" }, "access_token"],
    [{ account_id: "1", user_list_id: "2", client_id: "c", refresh_token: "r" }, "client_secret"],
    [{ account_id: "1", user_list_id: "2", access_token: "t", api_url: "ftp://x" }, "api_url"],
    [
      { account_id: "1", user_list_id: "2", access_token: "t", consent_ad_personalization: "yes" },
      "consent_ad_personalization",
    ],
    [
      { account_id: "1", user_list_id: "2", access_token: "t", include_suppressed: "yes" },
      "include_suppressed",
    ],
    [{ account_id: "1", user_list_id: "2", access_token: "t", list_id: "3" }, "list_id"],
  ])("refuses %j at %s", (input, path) => {
    let err: unknown;
    try {
      connector.parseConfig(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe(path);
  });
});

describe("google connector against the stand-in", () => {
  it("adds contacts with their remote keys, then removes them with those keys", async () => {
    const ctx = context();
    const people = [
      contact("c1"),
      contact("c2", { email: "John.Doe+news@GMail.com" }),
      contact("c3", {
        email: null,
        phone: "+33 6 12 34 56 78",
        first_name: "Zoë",
        last_name: "Martin",
        country: "FR",
        postal_code: "75001",
      }),
    ];
    const added = await connector.add(ctx, people);
    expect(added.rows).toHaveLength(3);
    expect(added.rows.every((r) => r.status === "ok" && typeof r.remote_key === "string")).toBe(true);
    const audience = standIn.audience();
    expect(audience.has(standIn.keyOf("c1@example.com"))).toBe(true);
    expect(audience.has(standIn.keyOf("johndoe@gmail.com"))).toBe(true);
    expect(standIn.members()).toHaveLength(3);
    // One token for both calls: cached until it expires.
    await connector.add(ctx, [contact("c4")]);
    expect(standIn.tokensIssued).toBe(1);
    expect(standIn.members()).toHaveLength(4);

    const body = standIn.bodies[0].body as { termsOfService: unknown; encoding: unknown; consent?: unknown };
    expect(body.termsOfService).toEqual({ customerMatchTermsOfServiceStatus: 1 });
    expect(body.encoding).toBe(1);
    expect(body.consent).toBeUndefined();

    const removed = await connector.remove(ctx, okKeys(added.rows));
    expect(removed.rows.map((r) => r.status)).toEqual(["ok", "ok", "ok"]);
    expect(standIn.audience()).toEqual(new Set([standIn.keyOf("c4@example.com")]));
    expect(standIn.violations).toEqual([]);
  });

  it("accepts a batch of limits.batchSize; the stand-in refuses one more", async () => {
    const ctx = context({}, standIn.accessToken);
    const n = connector.limits.batchSize;
    expect(n).toBe(10_000);
    const many = Array.from({ length: n }, (_, i) => contact(`c${i}`));
    const res = await connector.add(ctx, many);
    expect(res.rows.filter((r) => r.status === "ok")).toHaveLength(n);
    expect(standIn.audience().size).toBe(n);
    expect(standIn.violations).toEqual([]);

    const members = Array.from({ length: n + 1 }, (_, i) => ({
      userData: { userIdentifiers: [{ emailAddress: standIn.keyOf(`x${i}@example.com`) }] },
    }));
    const over = await fetch(`${standIn.url}/v1/audienceMembers:ingest`, {
      method: "POST",
      headers: { Authorization: `Bearer ${standIn.accessToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        destinations: [
          {
            operatingAccount: { accountType: "GOOGLE_ADS", accountId: standIn.accountId },
            productDestinationId: standIn.userListId,
          },
        ],
        audienceMembers: members,
        encoding: "HEX",
        termsOfService: { customerMatchTermsOfServiceStatus: "ACCEPTED" },
      }),
    });
    expect(over.status).toBe(400);
    const err = (await over.json()) as {
      error: { status: string; details: { fieldViolations?: { reason: string }[] }[] };
    };
    expect(err.error.status).toBe("INVALID_ARGUMENT");
    expect(err.error.details[1].fieldViolations?.[0].reason).toBe("TOO_MANY_AUDIENCE_MEMBERS");
    expect(standIn.violations).toHaveLength(1);
    expect(standIn.audience().size).toBe(n);
  });

  it("retries a 429 RESOURCE_EXHAUSTED and still succeeds", async () => {
    const ctx = context();
    standIn.rateLimit(2);
    const res = await connector.add(ctx, [contact("c1"), contact("c2")]);
    expect(res.rows.map((r) => r.status)).toEqual(["ok", "ok"]);
    const api = standIn.calls.filter((c) => c.path === "/v1/audienceMembers:ingest").map((c) => c.status);
    expect(api).toEqual([429, 429, 200]);
    expect(standIn.audience().size).toBe(2);
  });

  it("fails a member Google refuses alone and adds the others", async () => {
    const ctx = context();
    const bad = contact("bad", {
      email: null,
      first_name: "Ann",
      last_name: "Lee",
      country: "ZZ",
      postal_code: "1000",
    });
    const res = await connector.add(ctx, [contact("c1"), bad, contact("c2")]);
    const byId = new Map(res.rows.map((r) => [r.contact_id, r]));
    expect(byId.get("bad")?.status).toBe("failed");
    expect(byId.get("bad")?.error).toContain("INVALID_REGION_CODE");
    expect(byId.get("bad")?.remote_key).toBeUndefined();
    expect(byId.get("c1")?.status).toBe("ok");
    expect(byId.get("c2")?.status).toBe("ok");
    expect(standIn.audience()).toEqual(
      new Set([standIn.keyOf("c1@example.com"), standIn.keyOf("c2@example.com")]),
    );
    expect(standIn.calls.filter((c) => c.path.startsWith("/v1/")).map((c) => [c.status, c.rows])).toEqual([
      [400, 3],
      [200, 2],
    ]);
  });

  it("skips suppressed contacts unless include_suppressed, and sends no DMA consent unless configured", async () => {
    const people = [
      contact("sub", { status: "subscribed" }),
      contact("non", { status: null, subscribed_at: null }),
      contact("uns", { status: "unsubscribed" }),
      contact("hb", { email_status: "hard_bounced" }),
      contact("cpl", { email_status: "complained" }),
      contact("none", { email: null }),
    ];
    const res = await connector.add(context(), people);
    const byId = Object.fromEntries(res.rows.map((r) => [r.contact_id, [r.status, r.error ?? null]]));
    expect(byId).toEqual({
      sub: ["ok", null],
      non: ["ok", null],
      uns: ["skipped", "suppressed: unsubscribed"],
      hb: ["skipped", "suppressed: hard_bounced"],
      cpl: ["skipped", "suppressed: complained"],
      none: ["skipped", expect.stringContaining("no identifier")],
    });
    expect(standIn.audience().size).toBe(2);
    expect(
      standIn.members().every((m) => m.consent.adUserData === null && m.consent.adPersonalization === null),
    ).toBe(true);

    const all = await connector.add(
      context({
        include_suppressed: true,
        consent_ad_user_data: "granted",
        consent_ad_personalization: "denied",
      }),
      people,
    );
    expect(
      all.rows
        .filter((r) => r.status === "ok")
        .map((r) => r.contact_id)
        .sort(),
    ).toEqual(["cpl", "hb", "non", "sub", "uns"]);
    expect(standIn.audience().size).toBe(5);
    for (const m of standIn.members()) {
      expect(m.consent).toEqual({ adUserData: "CONSENT_GRANTED", adPersonalization: "CONSENT_DENIED" });
    }
  });

  it("plans requests with the credential redacted and sends nothing", () => {
    const ctx = context({ consent_ad_user_data: "denied" });
    const plans = connector.planAdd(ctx, [contact("c1"), contact("u", { status: "unsubscribed" })]);
    expect(plans).toHaveLength(1);
    expect(plans[0].method).toBe("POST");
    expect(plans[0].url).toBe(`${standIn.url}/v1/audienceMembers:ingest`);
    expect(plans[0].headers.Authorization).toBe("<redacted>");
    expect(plans[0].rows).toBe(1);
    expect(plans[0].body).toEqual({
      destinations: [
        {
          operatingAccount: { accountType: "GOOGLE_ADS", accountId: standIn.accountId },
          productDestinationId: standIn.userListId,
        },
      ],
      audienceMembers: [
        { userData: { userIdentifiers: [{ emailAddress: standIn.keyOf("c1@example.com") }] } },
      ],
      consent: { adUserData: "CONSENT_DENIED" },
      encoding: "HEX",
      termsOfService: { customerMatchTermsOfServiceStatus: "ACCEPTED" },
    });
    const key = JSON.stringify([{ emailAddress: standIn.keyOf("c1@example.com") }]);
    const removal = connector.planRemove(ctx, [{ contact_id: "c1", remote_key: key }]);
    expect(removal[0].url).toBe(`${standIn.url}/v1/audienceMembers:remove`);
    expect(removal[0].headers.Authorization).toBe("<redacted>");
    expect(JSON.stringify([...plans, ...removal])).not.toContain(String(standIn.config.client_secret));
    expect(JSON.stringify([...plans, ...removal])).not.toContain(String(standIn.config.refresh_token));
    expect(standIn.calls).toEqual([]);
    expect(standIn.tokensIssued).toBe(0);
  });

  it("the stand-in refuses a missing or wrong token the way Google does", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${standIn.url}/v1/audienceMembers:remove`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: "{}",
      });
    const missing = await post({});
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { status: string } }).error.status).toBe("UNAUTHENTICATED");
    const wrong = await post({ Authorization: "Bearer ya29.wrong" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain("invalid_token");

    const ctx = context({}, "ya29.wrong");
    const err = await connector.add(ctx, [contact("c1")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).retryable).toBe(false);
    expect(standIn.audience().size).toBe(0);
  });

  it("a wrong refresh token fails at the token endpoint without retries", async () => {
    const ctx = context({ refresh_token: "1//not-ours" });
    const err = await connector.add(ctx, [contact("c1")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toContain("invalid_grant");
    expect(standIn.calls.map((c) => [c.path, c.status])).toEqual([["/token", 400]]);
  });

  it("renews a token Google no longer accepts, once", async () => {
    const ctx = context();
    await connector.add(ctx, [contact("c1")]);
    standIn.revokeTokens();
    const res = await connector.add(ctx, [contact("c2")]);
    expect(res.rows[0].status).toBe("ok");
    expect(standIn.tokensIssued).toBe(2);
    expect(standIn.audience().size).toBe(2);
  });

  it("the stand-in refuses unknown fields (consent is not a field of a removal)", async () => {
    const res = await fetch(`${standIn.url}/v1/audienceMembers:remove`, {
      method: "POST",
      headers: { Authorization: `Bearer ${standIn.accessToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        destinations: [
          {
            operatingAccount: { accountType: "GOOGLE_ADS", accountId: standIn.accountId },
            productDestinationId: standIn.userListId,
          },
        ],
        audienceMembers: [{ userData: { userIdentifiers: [{ emailAddress: standIn.keyOf("a@b.c") }] } }],
        encoding: "HEX",
        consent: { adUserData: "CONSENT_GRANTED" },
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain('Unknown name "consent"');
  });

  it("a request Google refuses for the destination fails whole, without splitting the batch", async () => {
    const ctx = context({ user_list_id: "111" });
    const err = await connector.add(ctx, [contact("c1"), contact("c2")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryable).toBe(false);
    expect((err as ProviderError).message).toContain("INVALID_USER_LIST_ID");
    expect(standIn.calls.filter((c) => c.path.startsWith("/v1/"))).toHaveLength(1);
  });

  it("limits.concurrency stays within the 10 requests in flight Google recommends; the stand-in refuses an 11th", async () => {
    expect(connector.limits.concurrency).toBeLessThanOrEqual(10);
    await standIn.close();
    standIn = await startGoogleStandIn({ latencyMs: 300 });
    const post = () =>
      fetch(`${standIn.url}/v1/audienceMembers:ingest`, {
        method: "POST",
        headers: { Authorization: `Bearer ${standIn.accessToken}`, "Content-Type": "application/json" },
        body: "{}",
      }).then((r) => r.status);
    const statuses = await Promise.all(Array.from({ length: 11 }, post));
    expect(statuses).toContain(429);
    expect(standIn.violations.some((v) => v.includes("in flight"))).toBe(true);
  });

  it("a dropped connection is retried, then reported as a retryable ProviderError", async () => {
    const ctx = context({}, standIn.accessToken);
    await standIn.close();
    ctx.http = new HttpCaller({ policy: { baseMs: 5, capMs: 20, attempts: 2 } });
    const err = await connector.add(ctx, [contact("c1")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryable).toBe(true);
    standIn = await startGoogleStandIn(); // for afterEach
  });
});
