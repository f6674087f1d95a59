/**
 * The typed API client (`slice/client`) against a real server: the main routes round-trip
 * and an error answer becomes a SliceApiError with the SPEC §4 code and message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SliceApiError, SliceClient } from "../../src/client/index.ts";
import { ADMIN_KEY, startTestServer, type TestServer } from "../support/server.ts";

describe("SliceClient", () => {
  let t: TestServer;
  let slice: SliceClient;

  beforeAll(async () => {
    t = await startTestServer({ kind: "sqlite" });
    slice = new SliceClient({ url: `${t.url}/`, key: ADMIN_KEY });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("upserts, lists and reads contacts; sends events; creates, previews and lists segments", async () => {
    const ana = await slice.contacts.upsert({
      email: "ana@example.com",
      country: "FR",
      status: "subscribed",
    });
    expect(ana.id).toMatch(/^ct_/);
    expect(ana.country).toBe("FR");
    await slice.contacts.upsert({ email: "bob@example.com", country: "DE", status: "subscribed" });

    const sent = await slice.events.send([
      { type: "email_opened", contact: { email: "ana@example.com" } },
      { type: "Not A Type", contact: { email: "ana@example.com" } },
    ]);
    expect(sent.accepted).toBe(1);
    expect(sent.errors.map((e) => e.index)).toEqual([1]);

    const rule = {
      type: "and" as const,
      conditions: [
        { type: "field" as const, field: "country", op: "eq", value: "FR" },
        { type: "event" as const, event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 1 },
      ],
    };
    const preview = await slice.segments.preview(rule);
    expect(preview.count).toBe(1);
    expect(preview.sample.map((c) => c.email)).toEqual(["ana@example.com"]);

    const seg = await slice.segments.create({ name: "Engaged in France", rule });
    expect(seg.size).toBe(1);
    expect((await slice.segments.get(seg.id)).name).toBe("Engaged in France");
    expect((await slice.segments.list()).data.map((s) => s.id)).toContain(seg.id);

    const members = await slice.segments.members(seg.id, { limit: 10 });
    expect(members.data.map((c) => c.email)).toEqual(["ana@example.com"]);
    expect((await slice.contacts.get(ana.id)).segments).toContain(seg.id);
    expect((await slice.contacts.list({ segment: seg.id })).data).toHaveLength(1);
    expect((await slice.contacts.list({ limit: 1 })).next_cursor).not.toBeNull();

    const why = await slice.explain(ana.id, seg.id);
    expect(why.member).toBe(true);
    expect(why.rule?.type).toBe("and");
  });

  it("creates, lists and revokes keys; a revoked key is refused", async () => {
    const created = await slice.keys.create({ name: "sync", role: "read_only" });
    expect(created.key).toBeTruthy();
    expect((await slice.keys.list()).data.map((k) => k.id)).toContain(created.id);

    const readOnly = new SliceClient({ url: t.url, key: created.key });
    expect(Array.isArray((await readOnly.segments.list()).data)).toBe(true);
    await slice.keys.revoke(created.id);
    await expect(readOnly.segments.list()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("throws SliceApiError with the error body's code, message and path", async () => {
    const err = await slice.contacts.upsert({ email: "not-an-email" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SliceApiError);
    expect(err).toMatchObject({ status: 400, code: "invalid_request" });
    expect((err as SliceApiError).message).toContain("is not an email address");
    await expect(slice.segments.get("seg_missing")).rejects.toMatchObject({ status: 404, code: "not_found" });
  });

  it("refuses a URL that is not http(s)", () => {
    expect(() => new SliceClient({ url: "ftp://example.com" })).toThrow(/url: expected http/);
    expect(() => new SliceClient({ url: "nope" })).toThrow(/url: not a URL: "nope"/);
  });
});
