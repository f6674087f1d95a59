/**
 * The text form of rules over the API (SPEC §3.1): segment reads carry `rule_text`
 * beside `rule`, and writes that take `rule` take `rule_text` instead, with syntax
 * errors answered at `rule_text` with their line and column. Also: a segment's own
 * representation, read and sent back with `PUT`, is accepted (GET → edit → PUT).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRuleText } from "../../src/rules/text/index.ts";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  const r = await s.call("POST", "/v1/contacts/batch", {
    contacts: [
      { email: "a@example.com", country: "FR" },
      { email: "b@example.com", country: "BE" },
      { email: "c@example.com", country: "DE" },
    ],
  });
  expect(r.status).toBe(200);
});

afterAll(async () => {
  await s.stop();
});

describe("rule_text", () => {
  it("creates a segment from text; reads carry both forms", async () => {
    const r = await s.call("POST", "/v1/segments", {
      name: "Benelux and France",
      rule_text: 'country in ("FR", "BE")',
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.rule).toEqual({ type: "field", field: "country", op: "in", value: ["FR", "BE"] });
    expect(r.body.size).toBe(2);
    expect(parseRuleText(r.body.rule_text)).toEqual(r.body.rule);

    const list = (await s.call("GET", "/v1/segments")).body.data as Json[];
    for (const seg of list) {
      if (seg.kind === "static") expect(seg.rule_text).toBeNull();
      else expect(parseRuleText(seg.rule_text)).toEqual(seg.rule);
    }
    expect(list.find((x) => x.id === "subscribed").rule_text).toBe('status = "subscribed"');
  });

  it("answers a syntax error at rule_text with its line, column and caret", async () => {
    const r = await s.call("POST", "/v1/segments", {
      name: "broken",
      rule_text: 'country = "FR" and\n  count(email_opened, last 30d) >=',
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("rule_text");
    expect(r.body.error.details.line).toBe(2);
    expect(r.body.error.message).toMatch(/^rule_text: line 2, column \d+: /);
    expect(r.body.error.details.caret).toContain("^");
  });

  it("refuses rule and rule_text that say different things", async () => {
    const r = await s.call("POST", "/v1/segments", {
      name: "x",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
      rule_text: 'country = "DE"',
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("rule_text");
  });

  it("previews a text rule", async () => {
    const r = await s.call("POST", "/v1/segments/preview", { rule_text: 'country = "DE"' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.count).toBe(1);
    const none = await s.call("POST", "/v1/segments/preview", {});
    expect(none.status).toBe(400);
  });

  it("takes a segment's own representation back with PUT, and refuses a change of kind", async () => {
    const created = await s.call("POST", "/v1/segments", { name: "France", rule_text: 'country = "FR"' });
    const seg = (await s.call("GET", `/v1/segments/${created.body.id}`)).body;
    const edited = { ...seg, name: "France (edited)" };
    const put = await s.call("PUT", `/v1/segments/${seg.id}`, edited);
    expect(put.status, put.text).toBe(200);
    expect(put.body.name).toBe("France (edited)");
    expect(put.body.version).toBe(seg.version + 1);

    // A new text with the old JSON: the text must say the same, or be alone.
    const text = await s.call("PUT", `/v1/segments/${seg.id}`, {
      name: "Belgium",
      rule_text: 'country = "BE"',
    });
    expect(text.status, text.text).toBe(200);
    expect(text.body.rule).toEqual({ type: "field", field: "country", op: "eq", value: "BE" });

    const kind = await s.call("PUT", `/v1/segments/${seg.id}`, { ...edited, kind: "static" });
    expect(kind.status).toBe(409);
    expect(kind.body.error.details.path).toBe("kind");
    const id = await s.call("PUT", `/v1/segments/${seg.id}`, { ...edited, id: "seg_other" });
    expect(id.status).toBe(400);

    const stat = await s.call("POST", "/v1/segments", { name: "Static", kind: "static" });
    const statRead = (await s.call("GET", `/v1/segments/${stat.body.id}`)).body;
    const statPut = await s.call("PUT", `/v1/segments/${stat.body.id}`, { ...statRead, name: "Static 2" });
    expect(statPut.status, statPut.text).toBe(200);
  });
});
