import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BREVO_KIND, createBrevoConnector } from "../../../src/service/destinations/brevo.ts";
import { brevoVerdict } from "../../../src/service/destinations/brevo-client.ts";
import { ProviderError } from "../../../src/service/destinations/http-call.ts";
import {
  ConfigError,
  type ConnectorContext,
  type SyncContact,
} from "../../../src/service/destinations/types.ts";
import { connectorContext, syncContact } from "../../support/destinations.ts";
import { type BrevoStandIn, startBrevoStandIn } from "../../support/standins/brevo.ts";

const connector = createBrevoConnector({ importWait: { pollMs: 5, maxPollMs: 20, timeoutMs: 10_000 } });

function contact(
  id: string,
  email: string | null,
  status: string | null = "subscribed",
  email_status: string | null = "deliverable",
): SyncContact {
  return syncContact({ id, email, first_name: "Ada", status, email_status });
}

function ctxFor(s: BrevoStandIn, over: Record<string, unknown> = {}): ConnectorContext {
  const parsed = connector.parseConfig({ ...s.config, api_url: s.url, ...over });
  return connectorContext({ ...parsed, destinationId: "dst_brevo" });
}

let s: BrevoStandIn;
beforeEach(async () => {
  s = await startBrevoStandIn();
});
afterEach(async () => {
  await s.close();
});

describe("brevo config", () => {
  it("accepts a good config and keeps the key out of it", () => {
    const p = connector.parseConfig({
      api_key: " xkeysib-1 ",
      list_id: 12,
      api_url: "http://127.0.0.1:9/v3/",
    });
    expect(connector.kind).toBe(BREVO_KIND);
    expect(p.config).toEqual({ list_id: 12, api_url: "http://127.0.0.1:9/v3" });
    expect(p.secrets).toEqual({ api_key: "xkeysib-1" });
    expect(connector.parseConfig({ api_key: "k", list_id: 3 }).config).toEqual({ list_id: 3 });
  });

  it.each([
    [null, ""],
    [{ list_id: 3 }, "api_key"],
    [{ api_key: "", list_id: 3 }, "api_key"],
    [{ api_key: "k" }, "list_id"],
    [{ api_key: "k", list_id: "3" }, "list_id"],
    [{ api_key: "k", list_id: 0 }, "list_id"],
    [{ api_key: "k", list_id: 1.5 }, "list_id"],
    [{ api_key: "k", list_id: 3, api_url: "ftp://x" }, "api_url"],
    [{ api_key: "k", list_id: 3, api_url: "not a url" }, "api_url"],
    [{ api_key: "k", list_id: 3, listId: 3 }, "listId"],
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

describe("brevo add and remove", () => {
  it("creates unknown contacts in the list and returns the lower-cased email as remote key", async () => {
    const ctx = ctxFor(s);
    const res = await connector.add(ctx, [
      contact("c1", "Ann@Example.com"),
      contact("c2", "bob@example.com"),
    ]);
    expect(res.rows).toEqual(
      expect.arrayContaining([
        { contact_id: "c1", status: "ok", remote_key: "ann@example.com" },
        { contact_id: "c2", status: "ok", remote_key: "bob@example.com" },
      ]),
    );
    expect(s.audience()).toEqual(new Set(["ann@example.com", "bob@example.com"]));
    expect(s.subscribed()).toEqual(new Set(["ann@example.com", "bob@example.com"]));
    expect(s.contacts.get("ann@example.com")?.attributes).toEqual({ FIRSTNAME: "Ada" });
    // The import's process was polled until it said completed.
    expect(s.calls.some((c) => c.path.startsWith("/v3/processes/"))).toBe(true);
    expect(await connector.remoteSize?.(ctx)).toBe(2);
  });

  it("adds existing contacts with the list call alone", async () => {
    s.seed("old@example.com", { inList: false });
    const res = await connector.add(ctxFor(s), [contact("c1", "old@example.com")]);
    expect(res.rows).toEqual([{ contact_id: "c1", status: "ok", remote_key: "old@example.com" }]);
    expect(s.imports).toHaveLength(0);
    expect(s.audience()).toEqual(new Set(["old@example.com"]));
  });

  it("removes members by their remote keys, and removing again is harmless", async () => {
    const ctx = ctxFor(s);
    const added = await connector.add(ctx, [contact("c1", "a@example.com"), contact("c2", "b@example.com")]);
    const members = added.rows.map((r) => ({ contact_id: r.contact_id, remote_key: r.remote_key ?? "" }));
    const removed = await connector.remove(ctx, members);
    expect(removed.rows.every((r) => r.status === "ok")).toBe(true);
    expect(s.audience().size).toBe(0);
    // Still in the account, only out of the list.
    expect(s.contacts.has("a@example.com")).toBe(true);
    const again = await connector.remove(ctx, members);
    expect(again.rows.map((r) => r.status)).toEqual(["ok", "ok"]);
    expect(s.calls.at(-1)?.status).toBe(400);
  });

  it("skips contacts without an email", async () => {
    const res = await connector.add(ctxFor(s), [contact("c1", null)]);
    expect(res.rows).toEqual([{ contact_id: "c1", status: "skipped", error: "no email" }]);
    expect(s.calls).toHaveLength(0);
  });

  it("sends a batch of limits.batchSize in one list call; the stand-in refuses one more", async () => {
    const n = connector.limits.batchSize;
    const batch: SyncContact[] = [];
    for (let i = 0; i < n; i++) {
      s.seed(`u${i}@example.com`, { inList: false });
      batch.push(contact(`c${i}`, `u${i}@example.com`));
    }
    const res = await connector.add(ctxFor(s), batch);
    expect(res.rows.filter((r) => r.status === "ok")).toHaveLength(n);
    expect(s.calls).toEqual([
      { method: "POST", path: `/v3/contacts/lists/${s.config.list_id}/contacts/add`, rows: n, status: 201 },
    ]);
    expect(s.violations).toEqual([]);

    const emails = Array.from({ length: n + 1 }, (_, i) => `v${i}@example.com`);
    const over = await fetch(`${s.url}/contacts/lists/${s.config.list_id}/contacts/add`, {
      method: "POST",
      headers: { "api-key": String(s.config.api_key), "content-type": "application/json" },
      body: JSON.stringify({ emails }),
    });
    expect(over.status).toBe(400);
    expect(((await over.json()) as { code: string }).code).toBe("invalid_parameter");
    expect(s.violations).toHaveLength(1);
  });

  it("waits out 429s and still succeeds", async () => {
    s.seed("old@example.com", { inList: false });
    s.rateLimit(2);
    const res = await connector.add(ctxFor(s), [
      contact("c1", "old@example.com"),
      contact("c2", "new@example.com"),
    ]);
    expect(res.rows.every((r) => r.status === "ok")).toBe(true);
    expect(s.calls.slice(0, 3).map((c) => c.status)).toEqual([429, 429, 201]);
    expect(s.audience()).toEqual(new Set(["old@example.com", "new@example.com"]));
  });

  it("reads Brevo's rate-limit reset when there is no Retry-After", () => {
    expect(brevoVerdict(429, new Headers({ "x-sib-ratelimit-reset": "3" }))).toEqual({
      retry: true,
      afterMs: 3000,
    });
    expect(brevoVerdict(429, new Headers({ "retry-after": "2", "x-sib-ratelimit-reset": "9" }))).toEqual({
      retry: true,
      afterMs: 2000,
    });
    expect(brevoVerdict(400, new Headers())).toEqual({ retry: false });
    expect(brevoVerdict(503, new Headers())).toEqual({ retry: true, afterMs: null });
  });

  it("fails an address the import refuses, alone", async () => {
    const res = await connector.add(ctxFor(s), [
      contact("c1", "good@example.com"),
      contact("c2", "not-an-email"),
      contact("c3", "fine@example.com", "unsubscribed"),
    ]);
    const byId = new Map(res.rows.map((r) => [r.contact_id, r]));
    expect(byId.get("c1")?.status).toBe("ok");
    expect(byId.get("c3")?.status).toBe("ok");
    expect(byId.get("c2")).toMatchObject({
      status: "failed",
      error: expect.stringContaining("invalid email"),
    });
    expect(s.audience()).toEqual(new Set(["good@example.com", "fine@example.com"]));
  });

  it("gives up waiting on an import that does not finish, for the pass to be tried again", async () => {
    const slow = await startBrevoStandIn({ importDelayMs: 60_000 });
    try {
      const impatient = createBrevoConnector({ importWait: { pollMs: 5, maxPollMs: 10, timeoutMs: 50 } });
      const err = await impatient.add(ctxFor(slow), [contact("c1", "new@example.com")]).catch((e) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ retryable: true });
      expect(slow.audience().size).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it("surfaces an unknown list as a provider error", async () => {
    s.seed("old@example.com", { inList: false });
    const err = await connector
      .add(ctxFor(s, { list_id: 999 }), [contact("c1", "old@example.com")])
      .catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(404);
  });
});

describe("brevo consent", () => {
  it("creates contacts that may not be mailed as blocklisted", async () => {
    await connector.add(ctxFor(s), [
      contact("c1", "sub@example.com", "subscribed"),
      contact("c2", "never@example.com", "non_subscribed"),
      contact("c3", "nostatus@example.com", null),
      contact("c4", "unsub@example.com", "unsubscribed"),
      contact("c5", "bounced@example.com", "subscribed", "hard_bounced"),
      contact("c6", "spam@example.com", "subscribed", "complained"),
    ]);
    expect(s.audience().size).toBe(6);
    expect(s.subscribed()).toEqual(new Set(["sub@example.com"]));
  });

  it("never takes an existing contact off the blocklist", async () => {
    s.seed("blocked-out@example.com", { blacklisted: true, inList: false });
    s.seed("blocked-in@example.com", { blacklisted: true, inList: true });
    const res = await connector.add(ctxFor(s), [
      contact("c1", "blocked-out@example.com", "subscribed"),
      contact("c2", "blocked-in@example.com", "subscribed"),
    ]);
    expect(res.rows.every((r) => r.status === "ok")).toBe(true);
    expect(s.audience()).toEqual(new Set(["blocked-out@example.com", "blocked-in@example.com"]));
    expect(s.subscribed().size).toBe(0);
    for (const body of s.imports) {
      // An import that may touch existing contacts only ever blocklists.
      if (body.updateExistingContacts !== false) expect(body.emailBlacklist).toBe(true);
    }
  });

  it("blocklists an existing mailable contact who opted out, and leaves a non-subscribed one as it is", async () => {
    s.seed("left@example.com", { inList: true });
    s.seed("quiet@example.com", { inList: false });
    await connector.add(ctxFor(s), [
      contact("c1", "left@example.com", "unsubscribed"),
      contact("c2", "quiet@example.com", "non_subscribed"),
    ]);
    expect(s.blocklisted()).toEqual(new Set(["left@example.com"]));
    expect(s.subscribed()).toEqual(new Set(["quiet@example.com"]));
  });
});

describe("brevo dry runs and credentials", () => {
  it("plans requests with the key redacted and sends nothing", () => {
    const ctx = ctxFor(s);
    const plans = connector.planAdd(ctx, [
      contact("c1", "a@example.com"),
      contact("c2", "b@example.com", "unsubscribed"),
    ]);
    expect(plans.map((p) => [p.method, p.url, p.rows])).toEqual([
      ["POST", `${s.url}/contacts/lists/${s.config.list_id}/contacts/add`, 1],
      ["POST", `${s.url}/contacts/import`, 1],
      ["POST", `${s.url}/contacts/import`, 1],
    ]);
    expect(plans[0].body).toEqual({ emails: ["a@example.com"] });
    expect(plans[1].body).toMatchObject({ emailBlacklist: true, updateExistingContacts: true });
    expect(plans[2].body).toMatchObject({ emailBlacklist: false, updateExistingContacts: false });
    const removal = connector.planRemove(ctx, [{ contact_id: "c1", remote_key: "a@example.com" }]);
    expect(removal[0].body).toEqual({ emails: ["a@example.com"] });
    for (const p of [...plans, ...removal]) expect(p.headers["api-key"]).toBe("<redacted>");
    expect(JSON.stringify([plans, removal])).not.toContain(String(s.config.api_key));
    expect(s.calls).toHaveLength(0);
  });

  it("is refused with a wrong key, without retrying", async () => {
    const err = await connector
      .add(ctxFor(s, { api_key: "wrong" }), [contact("c1", "a@example.com")])
      .catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 401, retryable: false });
    expect(s.calls.map((c) => c.status)).toEqual([401]);
    const bare = await fetch(`${s.url}/contacts/lists/${s.config.list_id}`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({ code: "unauthorized", message: "Key not found" });
  });
});
