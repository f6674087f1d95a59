/**
 * Explain (SPEC §3.4, §4 "Explain answers"): every node of the rule comes back with
 * `result`; event nodes also with `measured` (a number, an ISO instant or null) and
 * `needed: {op, value}`. Every node's result is what that sub-rule alone evaluates to,
 * and the root's is what `matches` says.
 */
import { describe, expect, it } from "vitest";
import { Engine, type ExplainNode } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/schema.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");

function build(): Engine {
  const eng = new Engine({
    fields: [
      { key: "plan", type: "string" },
      { key: "score", type: "number" },
      { key: "vip", type: "boolean" },
      { key: "birthday", type: "date" },
    ],
    clock: { now: () => NOW },
    defaultSegments: false,
  });
  eng.upsertContact({
    id: "ann",
    email: " Ann@Example.com ",
    country: "FR",
    tags: ["VIP", "news"],
    created_at: "2026-01-15",
    fields: { plan: "Pro", score: 7, vip: true, birthday: "1990-05-12" },
  });
  eng.upsertContact({ id: "bob", country: "US", fields: { score: 2 } });
  eng.upsertContact({ id: "cyd" });
  const order = (c: string, ago: number, amount: number | string, currency = "EUR") =>
    eng.addEvent({
      type: "order_placed",
      contact_id: c,
      timestamp: NOW - ago,
      properties: { amount, currency },
    });
  order("ann", 40 * DAY, 100);
  order("ann", 10 * DAY, 50);
  order("ann", 2 * DAY, 25, "USD");
  order("bob", HOUR, 500);
  order("bob", 2 * HOUR, "n/a");
  eng.addEvent({ type: "cart_added", contact_id: "ann", timestamp: NOW - 4 * DAY });
  eng.addEvent({ type: "cart_added", contact_id: "bob", timestamp: NOW - 3 * HOUR });
  eng.addEvent({ type: "email_opened", contact_id: "cyd", timestamp: NOW - 5 * DAY });
  eng.defineSegment({ id: "french", rule: { type: "field", field: "country", op: "eq", value: "fr" } });
  return eng;
}

const CONTACTS = ["ann", "bob", "cyd"];

const field = (f: string, op: string, value?: unknown): RuleNode =>
  (value === undefined
    ? { type: "field", field: f, op }
    : { type: "field", field: f, op, value }) as RuleNode;
const orders = (extra: object = {}): RuleNode =>
  ({ type: "event", event: "order_placed", ...extra }) as RuleNode;

const RULES: RuleNode[] = [
  field("country", "eq", "FR"),
  field("plan", "neq", "pro"),
  field("score", "between", [2, 5]),
  field("vip", "eq", true),
  field("birthday", "anniversary_in_next", "7d"),
  field("created_at", "more_than_ago", "90d"),
  field("tags", "contains_any", ["vip"]),
  field("tags", "is_empty"),
  orders(),
  orders({ op: "gte", value: 3 }),
  orders({ window: { in_last: "30d" }, op: "eq", value: 0 }),
  orders({
    measure: { fn: "sum", property: "amount" },
    where: [{ property: "currency", op: "eq", value: "eur" }],
    op: "gt",
    value: 100,
  }),
  orders({ measure: { fn: "avg", property: "amount" }, op: "gte", value: 50 }),
  orders({ measure: { fn: "avg", property: "amount" }, op: "neq", value: 50 }),
  orders({
    measure: { fn: "max", property: "amount" },
    window: { between_ago: ["30d", "1d"] },
    op: "lt",
    value: 60,
  }),
  orders({ measure: { fn: "distinct", property: "currency" }, op: "eq", value: 2 }),
  orders({ measure: { fn: "last_at" }, op: "in_last", value: "1d" }),
  orders({ measure: { fn: "first_at" }, op: "is_not_set" }),
  {
    type: "sequence",
    steps: [{ event: "cart_added" }, { event: "order_placed" }],
    within: "1d",
  },
  { type: "segment", op: "in", segment: "french" },
  { type: "segment", op: "not_in", segment: "french" },
  { type: "bucket", seed: "holdout-1", op: "lt", value: 50 },
  { type: "bucket", seed: "holdout-1", op: "neq", value: 0 },
  {
    type: "and",
    conditions: [{ type: "bucket", seed: "x", op: "between", value: [20, 80] }, field("vip", "eq", true)],
  },
  {
    type: "and",
    conditions: [
      { type: "or", conditions: [field("country", "in", ["fr", "us"]), field("tags", "contains", "news")] },
      { type: "not", condition: orders({ window: { in_last: "7d" } }) },
      { type: "segment", op: "not_in", segment: "french" },
    ],
  },
  {
    type: "or",
    conditions: [
      { type: "not", condition: { type: "not", condition: field("email", "ends_with", "EXAMPLE.COM") } },
      orders({ measure: { fn: "min", property: "amount" }, op: "is_set" }),
    ],
  },
];

/** Walks the rule and its explanation together; each explained node must be the sub-rule's own answer. */
function checkTree(eng: Engine, contact: string, rule: RuleNode, node: ExplainNode, path: string): void {
  expect(node.type, path).toBe(rule.type);
  expect(typeof node.result, path).toBe("boolean");
  expect(node.result, `${path} result vs matches`).toBe(eng.matches(contact, rule));
  if (node.type === "and" || node.type === "or") {
    const children = (rule as { conditions: RuleNode[] }).conditions;
    expect(node.conditions, path).toHaveLength(children.length);
    children.forEach((c, i) => checkTree(eng, contact, c, node.conditions[i], `${path}.conditions[${i}]`));
    const rs = node.conditions.map((c) => c.result);
    expect(node.result, path).toBe(node.type === "and" ? rs.every(Boolean) : rs.some(Boolean));
  } else if (node.type === "not") {
    checkTree(eng, contact, (rule as { condition: RuleNode }).condition, node.condition, `${path}.condition`);
    expect(node.result, path).toBe(!node.condition.result);
  } else if (node.type === "event") {
    const m = node.measured;
    expect(m === null || typeof m === "number" || typeof m === "string", path).toBe(true);
    if (typeof m === "string") expect(new Date(m).toISOString(), path).toBe(m);
    expect(typeof node.needed.op, path).toBe("string");
  } else if (node.type === "bucket") {
    expect(node.actual, path).toBeGreaterThanOrEqual(0);
    expect(node.actual, path).toBeLessThan(100);
  }
}

describe("explain", () => {
  it("every node's result is its sub-rule's answer, for every rule and contact", () => {
    const eng = build();
    for (const rule of RULES) {
      for (const c of CONTACTS)
        checkTree(eng, c, rule, eng.explain(c, rule), `${c}: ${JSON.stringify(rule)}`);
    }
  });

  it("the root result equals matches and membership, by rule and by segment id", () => {
    const eng = build();
    for (const rule of RULES) {
      const members = eng.evaluate(rule);
      for (const c of CONTACTS) {
        const r = eng.explain(c, rule).result;
        expect(r).toBe(eng.matches(c, rule));
        expect(r).toBe(members.has(c));
      }
    }
    expect(eng.explain("ann", "french").result).toBe(true);
    expect(eng.explain("bob", "french").result).toBe(false);
  });

  it("an event node reports the measured count and what was needed (count = 2, needed >= 3)", () => {
    const eng = build();
    const e = eng.explain("bob", orders({ op: "gte", value: 3 }));
    expect(e).toMatchObject({
      type: "event",
      event: "order_placed",
      measure: { fn: "count" },
      result: false,
      measured: 2,
      needed: { op: "gte", value: 3 },
    });
  });

  it("the default op is reported as needing count >= 1", () => {
    const eng = build();
    expect(eng.explain("cyd", orders())).toMatchObject({
      result: false,
      measured: 0,
      needed: { op: "gte", value: 1 },
    });
    expect(eng.explain("ann", orders())).toMatchObject({
      result: true,
      measured: 3,
      needed: { op: "gte", value: 1 },
    });
  });

  it("measured is a number for numeric measures, an ISO instant for dates, null when missing", () => {
    const eng = build();
    const measuredOf = (c: string, r: RuleNode) => {
      const e = eng.explain(c, r);
      if (e.type !== "event") throw new Error(e.type);
      return e.measured;
    };
    const sum = orders({ measure: { fn: "sum", property: "amount" }, op: "gt", value: 0 });
    const avg = orders({ measure: { fn: "avg", property: "amount" }, op: "gt", value: 0 });
    const last = orders({ measure: { fn: "last_at" }, op: "is_set" });
    const eur = orders({
      measure: { fn: "sum", property: "amount" },
      where: [{ property: "currency", op: "eq", value: "EUR" }],
      window: { in_last: "30d" },
      op: "gt",
      value: 0,
    });
    expect(measuredOf("ann", sum)).toBe(175);
    expect(measuredOf("ann", eur)).toBe(50);
    expect(measuredOf("bob", avg)).toBe(500);
    expect(measuredOf("cyd", sum)).toBe(0);
    expect(measuredOf("cyd", avg)).toBeNull();
    expect(measuredOf("ann", last)).toBe(new Date(NOW - 2 * DAY).toISOString());
    expect(measuredOf("cyd", last)).toBeNull();
  });

  it("needed echoes the operator and its value; operators without a value have none", () => {
    const eng = build();
    const e = eng.explain("cyd", orders({ measure: { fn: "first_at" }, op: "is_not_set" }));
    expect(e).toMatchObject({ result: true, measured: null, needed: { op: "is_not_set" } });
    if (e.type !== "event") throw new Error(e.type);
    expect("value" in e.needed).toBe(false);
    const between = eng.explain("ann", orders({ op: "between", value: [1, 2] }));
    expect(between).toMatchObject({ result: false, measured: 3, needed: { op: "between", value: [1, 2] } });
    const dated = eng.explain("ann", orders({ measure: { fn: "last_at" }, op: "in_last", value: "7d" }));
    expect(dated).toMatchObject({ result: true, needed: { op: "in_last", value: "7d" } });
  });

  it("event nodes keep their where, window and measure", () => {
    const eng = build();
    const rule = orders({
      where: [{ property: "currency", op: "eq", value: "EUR" }],
      window: { in_last: "30d" },
      measure: { fn: "max", property: "amount" },
      op: "gte",
      value: 50,
    });
    expect(eng.explain("ann", rule)).toMatchObject({
      where: [{ property: "currency", op: "eq", value: "EUR" }],
      window: { in_last: "30d" },
      measure: { fn: "max", property: "amount" },
      measured: 50,
      result: true,
    });
  });

  it("field nodes show the contact's value as rules see it", () => {
    const eng = build();
    expect(eng.explain("ann", field("email", "ends_with", "example.com"))).toMatchObject({
      type: "field",
      field: "email",
      op: "ends_with",
      value: "example.com",
      result: true,
      actual: "ann@example.com",
    });
    expect(eng.explain("ann", field("created_at", "is_set"))).toMatchObject({
      result: true,
      actual: "2026-01-15T00:00:00.000Z",
    });
    expect(eng.explain("ann", field("score", "gt", 5))).toMatchObject({ result: true, actual: 7 });
    expect(eng.explain("cyd", field("score", "neq", 5))).toMatchObject({ result: true, actual: null });
    expect(eng.explain("cyd", field("vip", "eq", false))).toMatchObject({ result: false, actual: null });
  });

  it("group, not, segment and sequence nodes carry their results", () => {
    const eng = build();
    const rule: RuleNode = {
      type: "and",
      conditions: [
        { type: "segment", op: "in", segment: "french" },
        { type: "not", condition: field("plan", "eq", "pro") },
      ],
    };
    const out = eng.explain("ann", rule);
    expect(out).toEqual({
      type: "and",
      result: false,
      conditions: [
        { type: "segment", op: "in", segment: "french", result: true },
        {
          type: "not",
          result: false,
          condition: { type: "field", field: "plan", op: "eq", value: "pro", result: true, actual: "pro" },
        },
      ],
    });
    const sequence = eng.explain("bob", RULES[18]);
    expect(sequence).toMatchObject({ type: "sequence", result: true });
    expect(eng.explain("ann", RULES[18]).result).toBe(false);
  });

  it("is plain JSON", () => {
    const eng = build();
    for (const rule of RULES) {
      const out = eng.explain("ann", rule);
      expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    }
  });

  it("explains at a given instant", () => {
    const eng = build();
    const recent = orders({ window: { in_last: "1d" } });
    expect(eng.explain("bob", recent).result).toBe(true);
    expect(eng.explain("bob", recent, NOW + DAY).result).toBe(false);
    expect(eng.explain("bob", recent, NOW + DAY)).toMatchObject({ measured: 0 });
  });

  it("refuses an unknown contact", () => {
    const eng = build();
    expect(() => eng.explain("nobody", RULES[0])).toThrow();
  });
});
