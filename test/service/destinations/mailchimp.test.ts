import { afterEach, describe, expect, it } from "vitest";
import { HttpCaller, ProviderError } from "../../../src/service/destinations/http-call.ts";
import { createMailchimpConnector, MAILCHIMP_KIND } from "../../../src/service/destinations/mailchimp.ts";
import { ConfigError, type RowOutcome, type SyncContact } from "../../../src/service/destinations/types.ts";
import type { JsonObject } from "../../../src/store/types.ts";
import { connectorContext, syncContact, type TestContext } from "../../support/destinations.ts";
import {
  type MailchimpStandIn,
  type MailchimpStandInOptions,
  startMailchimpStandIn,
} from "../../support/standins/mailchimp.ts";

const open: MailchimpStandIn[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function standIn(opts: MailchimpStandInOptions = {}): Promise<MailchimpStandIn> {
  const s = await startMailchimpStandIn(opts);
  open.push(s);
  return s;
}

function contextFor(s: MailchimpStandIn, over: Record<string, unknown> = {}): TestContext {
  const parsed = createMailchimpConnector().parseConfig({ ...s.config, api_url: s.url, ...over });
  return connectorContext(parsed);
}

let seq = 0;
function contact(
  email: string | null,
  status: string | null = "subscribed",
  email_status: string | null = null,
): SyncContact {
  seq++;
  return syncContact({ id: `ct_${seq}`, email, first_name: "Ada", status, email_status });
}

const byId = (rows: RowOutcome[]) => new Map(rows.map((r) => [r.contact_id, r]));

function basic(key: string): string {
  return `Basic ${Buffer.from(`anyone:${key}`).toString("base64")}`;
}

describe("mailchimp connector: config", () => {
  const c = createMailchimpConnector();

  it("accepts a good config and keeps the API key out of it", () => {
    const p = c.parseConfig({
      api_key: "0123456789abcdef0123456789abcdef-us21",
      list_id: "a1b2c3d4e5",
      tag: " VIP ",
      api_url: "http://127.0.0.1:9/3.0/",
    });
    expect(c.kind).toBe(MAILCHIMP_KIND);
    expect(p.config).toEqual({ list_id: "a1b2c3d4e5", tag: "VIP", api_url: "http://127.0.0.1:9/3.0" });
    expect(p.secrets).toEqual({ api_key: "0123456789abcdef0123456789abcdef-us21" });
    expect(JSON.stringify(p.config)).not.toContain("0123456789abcdef");
  });

  it.each([
    [{ list_id: "a1", tag: "t" }, "api_key"],
    [{ api_key: "0123456789abcdef", list_id: "a1", tag: "t" }, "api_key"],
    [{ api_key: "0123456789abcdef-us1", tag: "t" }, "list_id"],
    [{ api_key: "0123456789abcdef-us1", list_id: "a/1", tag: "t" }, "list_id"],
    [{ api_key: "0123456789abcdef-us1", list_id: "a1", tag: "  " }, "tag"],
    [{ api_key: "0123456789abcdef-us1", list_id: "a1", tag: "x".repeat(101) }, "tag"],
    [{ api_key: "0123456789abcdef-us1", list_id: "a1", tag: "t", api_url: "ftp://x" }, "api_url"],
    [{ api_key: "0123456789abcdef-us1", list_id: "a1", tag: "t", api_url: "not a url" }, "api_url"],
    [{ api_key: "0123456789abcdef-us1", list_id: "a1", tag: "t", segment: 1 }, "segment"],
    ["a string", ""],
  ])("refuses %j at %s", (input, path) => {
    let err: unknown;
    try {
      c.parseConfig(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe(path);
  });

  it("keeps the syncer within Mailchimp's limits", () => {
    expect(c.limits.batchSize).toBe(500);
    expect(c.limits.concurrency).toBeLessThanOrEqual(10);
    expect(createMailchimpConnector({ batchSize: 900, concurrency: 40 }).limits).toEqual({
      batchSize: 500,
      concurrency: 10,
    });
  });
});

describe("mailchimp connector against the stand-in", () => {
  it("adds members, tags them, remembers the tag and removes the tag again", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const c = createMailchimpConnector();
    const a = contact("Ada@Example.com");
    const b = contact("bob@example.com");
    const res = await c.add(ctx, [a, b]);
    const rows = byId(res.rows);
    expect(rows.get(a.id)).toEqual({ contact_id: a.id, status: "ok", remote_key: "ada@example.com" });
    expect(rows.get(b.id)?.remote_key).toBe("bob@example.com");
    expect(s.audience()).toEqual(new Set(["ada@example.com", "bob@example.com"]));
    expect(s.segmentNames()).toEqual(["Slice segment"]);
    expect(s.member("ada@example.com")?.merge_fields).toEqual({ FNAME: "Ada" });
    expect(ctx.state.mailchimp_segment).toMatchObject({ list_id: s.listId, tag: "Slice segment" });
    expect(await c.remoteSize!(ctx)).toBe(2);

    // The tag id comes from the state now: no listing, no creation.
    const before = s.calls.length;
    await c.add(ctx, [contact("cy@example.com")]);
    expect(s.calls.slice(before).map((x) => `${x.method} ${x.path}`)).toEqual([
      `POST /3.0/lists/${s.listId}`,
      `POST /3.0/lists/${s.listId}/segments/${(ctx.state.mailchimp_segment as JsonObject).id}`,
    ]);

    const removed = await c.remove(ctx, [
      { contact_id: a.id, remote_key: rows.get(a.id)!.remote_key! },
      { contact_id: b.id, remote_key: rows.get(b.id)!.remote_key! },
      { contact_id: "ct_gone", remote_key: "never@example.com" },
    ]);
    expect(removed.rows.every((r) => r.status === "ok")).toBe(true);
    expect(s.audience()).toEqual(new Set(["cy@example.com"]));
    // Untagged, not deleted nor unsubscribed.
    expect(s.member("ada@example.com")?.status).toBe("subscribed");
    expect(await c.remoteSize!(ctx)).toBe(1);
    expect(s.violations).toEqual([]);
  });

  it("finds an existing tag by name instead of creating a second one", async () => {
    const s = await standIn({ tag: "vip" });
    const first = contextFor(s);
    const c = createMailchimpConnector();
    await c.add(first, [contact("a@example.com")]);
    const second = contextFor(s, { tag: "VIP" });
    await c.add(second, [contact("b@example.com")]);
    expect(s.segmentNames()).toEqual(["vip"]);
    expect(s.tagged("vip")).toEqual(new Set(["a@example.com", "b@example.com"]));
  });

  it("creates the tag again when it was deleted on Mailchimp", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const c = createMailchimpConnector();
    await c.add(ctx, [contact("a@example.com")]);
    const firstId = (ctx.state.mailchimp_segment as JsonObject).id;
    s.deleteTag("Slice segment");
    expect(await c.remoteSize!(ctx)).toBe(0);
    const res = await c.add(ctx, [contact("b@example.com")]);
    expect(res.rows[0]?.status).toBe("ok");
    expect(s.audience()).toEqual(new Set(["b@example.com"]));
    expect((ctx.state.mailchimp_segment as JsonObject).id).not.toBe(firstId);
    expect(await c.remoteSize!(ctx)).toBe(1);
  });

  it("remove before any add finds no tag and sends no segment call", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const res = await createMailchimpConnector().remove(ctx, [
      { contact_id: "ct_x", remote_key: "x@example.com" },
    ]);
    expect(res.rows).toEqual([{ contact_id: "ct_x", status: "ok" }]);
    expect(s.segmentNames()).toEqual([]);
    expect(s.calls.map((x) => x.method)).toEqual(["GET"]);
  });

  it("sends a batch of limits.batchSize in one call each; the stand-in refuses one more", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const c = createMailchimpConnector();
    const batch = Array.from({ length: c.limits.batchSize }, (_, i) => contact(`user${i}@example.com`));
    const res = await c.add(ctx, batch);
    expect(res.rows.filter((r) => r.status === "ok")).toHaveLength(500);
    expect(s.audience().size).toBe(500);
    expect(s.calls.filter((x) => x.rows > 0).map((x) => x.rows)).toEqual([500, 500]);
    expect(s.violations).toEqual([]);

    const members = Array.from({ length: 501 }, (_, i) => ({
      email_address: `o${i}@example.com`,
      status: "subscribed",
    }));
    const over = await fetch(`${s.url}/lists/${s.listId}`, {
      method: "POST",
      headers: { Authorization: basic(s.apiKey), "Content-Type": "application/json" },
      body: JSON.stringify({ members, update_existing: false }),
    });
    expect(over.status).toBe(400);
    expect(await over.json()).toMatchObject({
      status: 400,
      title: "Invalid Resource",
      errors: [{ field: "members" }],
    });
    const segId = (ctx.state.mailchimp_segment as JsonObject).id;
    const overTag = await fetch(`${s.url}/lists/${s.listId}/segments/${segId}`, {
      method: "POST",
      headers: { Authorization: basic(s.apiKey), "Content-Type": "application/json" },
      body: JSON.stringify({ members_to_remove: members.map((m) => m.email_address) }),
    });
    expect(overTag.status).toBe(400);
    expect(s.violations).toHaveLength(2);
  });

  it("retries a 429 and still succeeds", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    s.rateLimit(3);
    const a = contact("a@example.com");
    const res = await createMailchimpConnector().add(ctx, [a]);
    expect(res.rows).toEqual([{ contact_id: a.id, status: "ok", remote_key: "a@example.com" }]);
    expect(s.calls.filter((x) => x.status === 429)).toHaveLength(3);
    expect(s.audience()).toEqual(new Set(["a@example.com"]));
  });

  it("honours a Retry-After on a 429 when one is sent", async () => {
    const s = await standIn({ retryAfter: "1" });
    const ctx = contextFor(s);
    s.rateLimit(1);
    const res = await createMailchimpConnector().add(ctx, [contact("a@example.com")]);
    expect(res.rows[0]?.status).toBe("ok");
    expect(s.calls.map((x) => x.status)).toEqual([429, 200, 200, 200, 200]);
  });

  it("gives up after the retries with a retryable ProviderError", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    ctx.http = new HttpCaller({ policy: { baseMs: 1, capMs: 5, attempts: 3 } });
    s.rateLimit(10);
    const err = await createMailchimpConnector()
      .add(ctx, [contact("a@example.com")])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(429);
    expect((err as ProviderError).retryable).toBe(true);
    expect(s.calls).toHaveLength(3);
  });

  it("fails a refused address alone", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const good = contact("good@example.com");
    const bad = contact("not-an-email");
    const none = contact(null);
    const res = await createMailchimpConnector().add(ctx, [good, bad, none]);
    const rows = byId(res.rows);
    expect(rows.get(good.id)?.status).toBe("ok");
    expect(rows.get(bad.id)).toMatchObject({
      status: "failed",
      error: expect.stringContaining("valid email"),
    });
    expect(rows.get(none.id)).toEqual({ contact_id: none.id, status: "skipped", error: "no email" });
    expect(s.audience()).toEqual(new Set(["good@example.com"]));
  });

  it("sends two contacts sharing an address once, the stricter consent winning", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const a = contact("Same@example.com", "subscribed");
    const b = contact("same@example.com", "unsubscribed");
    const res = await createMailchimpConnector().add(ctx, [a, b]);
    expect(res.rows.map((r) => r.status)).toEqual(["ok", "ok"]);
    expect(s.member("same@example.com")?.status).toBe("unsubscribed");
    expect(s.calls.filter((x) => x.rows > 0).map((x) => x.rows)).toEqual([1, 1]);
  });

  it("lowers consent but never raises it", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    s.seed("was-unsub@example.com", "unsubscribed");
    s.seed("was-trans@example.com", "transactional");
    s.seed("was-cleaned@example.com", "cleaned");
    s.seed("was-sub-now-unsub@example.com", "subscribed");
    s.seed("was-sub-now-bounced@example.com", "subscribed");
    s.seed("was-sub-now-non@example.com", "subscribed");
    const cases: [SyncContact, string][] = [
      [contact("new-sub@example.com", "subscribed"), "subscribed"],
      [contact("new-soft@example.com", "subscribed", "soft_bouncing"), "subscribed"],
      [contact("new-non@example.com", "non_subscribed"), "transactional"],
      [contact("new-null@example.com", null), "transactional"],
      [contact("new-unsub@example.com", "unsubscribed"), "unsubscribed"],
      [contact("new-bounced@example.com", "subscribed", "hard_bounced"), "unsubscribed"],
      [contact("new-complained@example.com", "subscribed", "complained"), "unsubscribed"],
      [contact("was-unsub@example.com", "subscribed"), "unsubscribed"],
      [contact("was-trans@example.com", "subscribed"), "transactional"],
      [contact("was-cleaned@example.com", "subscribed"), "cleaned"],
      [contact("was-sub-now-unsub@example.com", "unsubscribed"), "unsubscribed"],
      [contact("was-sub-now-bounced@example.com", "subscribed", "hard_bounced"), "unsubscribed"],
      [contact("was-sub-now-non@example.com", "non_subscribed"), "subscribed"],
    ];
    const res = await createMailchimpConnector().add(
      ctx,
      cases.map(([c]) => c),
    );
    expect(res.rows.filter((r) => r.status !== "ok")).toEqual([]);
    for (const [c, status] of cases)
      expect({ email: c.email, status: s.member(c.email!)?.status }).toEqual({ email: c.email, status });
    expect(s.raised).toEqual([]);
    expect(s.audience().size).toBe(cases.length);
    expect(s.subscribed()).toEqual(
      new Set(["new-sub@example.com", "new-soft@example.com", "was-sub-now-non@example.com"]),
    );
    expect(res.stats).toMatchObject({ created: 7, updated: 2, existing: 4, tagged: 13 });
  });

  it("plans requests without credentials and sends nothing", async () => {
    const s = await standIn();
    const ctx = contextFor(s);
    const c = createMailchimpConnector();
    const plan = c.planAdd(ctx, [
      contact("a@example.com"),
      contact("b@example.com", "unsubscribed"),
      contact(null),
    ]);
    expect(plan.map((p) => [p.method, p.url, p.rows])).toEqual([
      ["POST", `${s.url}/lists/${s.listId}?skip_merge_validation=true`, 1],
      ["POST", `${s.url}/lists/${s.listId}?skip_merge_validation=true`, 1],
      ["POST", `${s.url}/lists/${s.listId}/segments/{segment_id}`, 2],
    ]);
    expect(plan[0]?.body).toEqual({
      members: [{ email_address: "a@example.com", status: "subscribed", merge_fields: { FNAME: "Ada" } }],
      update_existing: false,
    });
    expect(plan[1]?.body).toMatchObject({ members: [{ status: "unsubscribed" }], update_existing: true });
    const removal = c.planRemove(ctx, [{ contact_id: "ct_a", remote_key: "a@example.com" }]);
    expect(removal).toHaveLength(1);
    expect(removal[0]?.body).toEqual({ members_to_remove: ["a@example.com"] });
    const all = JSON.stringify([...plan, ...removal]);
    expect(all).not.toContain(s.apiKey);
    for (const p of [...plan, ...removal]) expect(p.headers.Authorization).toBe("<redacted>");
    expect(s.calls).toEqual([]);
  });

  it("refuses a wrong or missing credential the way Mailchimp does", async () => {
    const s = await standIn();
    const wrong = await fetch(`${s.url}/lists/${s.listId}/segments`, {
      headers: { Authorization: basic("ffff-us99") },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("content-type")).toContain("application/problem+json");
    expect(await wrong.json()).toMatchObject({ status: 401, title: "API Key Invalid" });
    const missing = await fetch(`${s.url}/lists/${s.listId}/segments`);
    expect(await missing.json()).toMatchObject({ status: 401, title: "API Key Missing" });

    const ctx = contextFor(s, { api_key: "ffffffffffffffffffffffffffffffff-us99" });
    const err = await createMailchimpConnector()
      .add(ctx, [contact("a@example.com")])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).retryable).toBe(false);
    expect((err as ProviderError).message).toContain("API Key Invalid");
    expect(s.audience().size).toBe(0);
  });

  it("an unknown audience is a non-retryable error", async () => {
    const s = await standIn();
    const ctx = contextFor(s, { list_id: "nope000000" });
    const err = await createMailchimpConnector()
      .add(ctx, [contact("a@example.com")])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(404);
  });

  it("concurrent first batches create the tag once and stay within 10 connections", async () => {
    const s = await standIn({ latencyMs: 20 });
    const ctx = contextFor(s);
    const c = createMailchimpConnector();
    const batches = Array.from({ length: c.limits.concurrency }, (_, b) =>
      Array.from({ length: 3 }, (_, i) => contact(`b${b}-${i}@example.com`)),
    );
    const results = await Promise.all(batches.map((batch) => c.add(ctx, batch)));
    expect(results.flatMap((r) => r.rows).every((r) => r.status === "ok")).toBe(true);
    expect(s.segmentNames()).toEqual(["Slice segment"]);
    expect(s.calls.filter((x) => x.method === "POST" && x.path.endsWith("/segments"))).toHaveLength(1);
    expect(s.audience().size).toBe(3 * c.limits.concurrency);
    expect(s.maxInFlight).toBeGreaterThan(1);
    expect(s.maxInFlight).toBeLessThanOrEqual(10);
    expect(s.violations).toEqual([]);
  });

  it("the stand-in answers more than 10 simultaneous connections with a 429", async () => {
    const s = await standIn({ latencyMs: 50 });
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${s.url}/lists/${s.listId}/segments`, { headers: { Authorization: basic(s.apiKey) } }),
      ),
    );
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    expect(s.violations.length).toBeGreaterThan(0);
  });
});
