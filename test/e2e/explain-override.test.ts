/**
 * Explain names a hand override in force (`override`: its action and expiry) beside what
 * the rule alone says, and drops it once lifted or expired; a preview answers its rule in
 * both forms, JSON and text, whichever it was given.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  const r = await s.call("POST", "/v1/contacts/batch", [
    { email: "fr@example.com", country: "FR" },
    { email: "de@example.com", country: "DE" },
    { email: "us@example.com", country: "US" },
  ]);
  expect(r.status, r.text).toBe(200);
  for (const c of (await s.call("GET", "/v1/contacts?limit=10")).body.data as Json[]) ids[c.email] = c.id;
});

afterAll(async () => {
  await s?.stop();
});

const explain = async (contact: string, segment: string) => {
  const r = await s.call("GET", `/v1/contacts/${ids[contact]}/explain?segment=${segment}`);
  expect(r.status, r.text).toBe(200);
  return r.body;
};

describe("explain with overrides", () => {
  it("names an added override with its expiry and a removed one, the rule tree as the rule alone says", async () => {
    const seg = await s.call("POST", "/v1/segments", {
      name: "France",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(seg.status, seg.text).toBe(201);
    const id = seg.body.id as string;
    const until = "2027-01-12T09:00:00.000Z";
    const add = await s.call("POST", `/v1/segments/${id}/members`, {
      contacts: [{ email: "de@example.com" }],
      expires_at: until,
    });
    expect(add.status, add.text).toBe(200);
    const out = await s.call("DELETE", `/v1/segments/${id}/members`, {
      contacts: [{ email: "fr@example.com" }],
    });
    expect(out.status, out.text).toBe(200);

    const de = await explain("de@example.com", id);
    expect(de.member).toBe(true);
    expect(de.rule.result).toBe(false);
    expect(de.override).toEqual({ action: "added", expires_at: until });

    const fr = await explain("fr@example.com", id);
    expect(fr.member).toBe(false);
    expect(fr.rule.result).toBe(true);
    expect(fr.override).toEqual({ action: "removed", expires_at: null });

    // No override: the answer is the rule's, with no `override` key.
    const us = await explain("us@example.com", id);
    expect(us).toEqual({ member: false, rule: expect.objectContaining({ result: false }) });
    expect("override" in us).toBe(false);

    const lift = await s.call("DELETE", `/v1/segments/${id}/overrides`, {
      contacts: [{ id: ids["de@example.com"] }],
    });
    expect(lift.status, lift.text).toBe(200);
    const lifted = await explain("de@example.com", id);
    expect(lifted.member).toBe(false);
    expect("override" in lifted).toBe(false);
  });

  it("drops an override once it has expired", async () => {
    const seg = await s.call("POST", "/v1/segments", {
      name: "Germany",
      rule: { type: "field", field: "country", op: "eq", value: "DE" },
    });
    const id = seg.body.id as string;
    const until = new Date(Date.now() + 1500).toISOString();
    const add = await s.call("POST", `/v1/segments/${id}/members`, {
      contacts: [{ email: "us@example.com" }],
      expires_at: until,
    });
    expect(add.status, add.text).toBe(200);
    const before = await explain("us@example.com", id);
    expect(before.member).toBe(true);
    expect(before.override).toEqual({ action: "added", expires_at: until });
    await eventually(async () => !(await explain("us@example.com", id)).member, 10_000, "expiry");
    const after = await explain("us@example.com", id);
    expect("override" in after).toBe(false);
  });

  it("a static segment's members are not overrides", async () => {
    const st = await s.call("POST", "/v1/segments", { name: "Picked", kind: "static" });
    await s.call("POST", `/v1/segments/${st.body.id}/members`, { contacts: [{ email: "fr@example.com" }] });
    expect(await explain("fr@example.com", st.body.id)).toEqual({ member: true, rule: null });
  });
});

describe("preview answers its rule in both forms", () => {
  it("gives the text of a JSON rule and the JSON of a text rule", async () => {
    const rule = { type: "field", field: "country", op: "in", value: ["FR", "DE"] };
    const a = await s.call("POST", "/v1/segments/preview", { rule });
    expect(a.status, a.text).toBe(200);
    expect(a.body.rule).toEqual(rule);
    expect(a.body.rule_text).toBe('country in ("FR", "DE")');
    const b = await s.call("POST", "/v1/segments/preview", { rule_text: a.body.rule_text });
    expect(b.status, b.text).toBe(200);
    expect(b.body.rule).toEqual(rule);
    expect(b.body.count).toBe(2);
  });

  it("answers a text's syntax error with its line, column and caret", async () => {
    const r = await s.call("POST", "/v1/segments/preview", { rule_text: 'country = "FR"\nand score >' });
    expect(r.status).toBe(400);
    expect(r.body.error.details).toMatchObject({ path: "rule_text", line: 2 });
    expect(typeof r.body.error.details.column).toBe("number");
    expect(typeof r.body.error.details.caret).toBe("string");
  });

  it("answers 404 for a contact erased since, as for one never created", async () => {
    const made = await s.call("POST", "/v1/contacts", { email: "gone@example.com", country: "FR" });
    expect(made.status, made.text).toBe(201);
    const id = made.body.id as string;
    expect((await s.call("DELETE", `/v1/contacts/${id}`)).status).toBe(204);
    for (const segment of ["all", "subscribed"]) {
      const r = await s.call("GET", `/v1/contacts/${id}/explain?segment=${segment}`);
      expect(r.status, r.text).toBe(404);
      expect(r.body.error.message).toContain(id);
    }
  });
});
