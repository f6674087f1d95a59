/**
 * The rule text form (docs/rules.md, "Text form"): each construct read and printed,
 * precedence, quoting, the escape to JSON, errors with their exact position, and
 * random input that must only ever fail with a RuleTextError.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type RuleNode, RuleSchema } from "../../src/rules/schema.ts";
import { parseRuleText, printRule, RuleTextError } from "../../src/rules/text/index.ts";

const f = (field: string, op: string, value?: unknown): RuleNode =>
  value === undefined ? { type: "field", field, op } : { type: "field", field, op, value };

function parsed(text: string): RuleNode {
  const rule = parseRuleText(text);
  expect(RuleSchema.safeParse(rule).success).toBe(true);
  return rule;
}

/** Canonical text and its rule: read one way, printed the other. */
const BOTH_WAYS: [string, RuleNode][] = [
  // field operators, every one
  ['country = "FR"', f("country", "eq", "FR")],
  ['country != "FR"', f("country", "neq", "FR")],
  ["score > 10", f("score", "gt", 10)],
  ["score >= -2.5", f("score", "gte", -2.5)],
  ["score < 0.001", f("score", "lt", 0.001)],
  ["score <= 1e+21", f("score", "lte", 1e21)],
  ["score = -0", f("score", "eq", -0)],
  ['country in ("FR", "BE")', f("country", "in", ["FR", "BE"])],
  ['country not in ("US")', f("country", "not_in", ["US"])],
  ['email contains "@acme."', f("email", "contains", "@acme.")],
  ['email not contains "test"', f("email", "not_contains", "test")],
  ['phone starts with "+33"', f("phone", "starts_with", "+33")],
  ['email ends with "@gmail.com"', f("email", "ends_with", "@gmail.com")],
  ["score between 10 and 20", f("score", "between", [10, 20])],
  ["created_at between 2026-01-01 and 2026-01-31", f("created_at", "between", ["2026-01-01", "2026-01-31"])],
  ["created_at before 2026-01-01", f("created_at", "before", "2026-01-01")],
  ["created_at after 2026-01-01T09:00:00Z", f("created_at", "after", "2026-01-01T09:00:00Z")],
  ["subscribed_at on 2026-03-29", f("subscribed_at", "on", "2026-03-29")],
  ["created_at after 2026-05-10T14:00:00+02:00", f("created_at", "after", "2026-05-10T14:00:00+02:00")],
  ["created_at in last 30d", f("created_at", "in_last", "30d")],
  ["created_at more than 1y ago", f("created_at", "more_than_ago", "1y")],
  ["renewal_at in next 2w", f("renewal_at", "in_next", "2w")],
  ["birthday anniversary in next 7d", f("birthday", "anniversary_in_next", "7d")],
  ['tags contains "vip"', f("tags", "contains", "vip")],
  ['tags contains any ("vip", "press")', f("tags", "contains_any", ["vip", "press"])],
  ['tags contains all ("vip", "press")', f("tags", "contains_all", ["vip", "press"])],
  ['tags contains none ("unsubscribed")', f("tags", "contains_none", ["unsubscribed"])],
  ["tags is empty", f("tags", "is_empty")],
  ["tags is not empty", f("tags", "is_not_empty")],
  ["phone is set", f("phone", "is_set")],
  ["phone is not set", f("phone", "is_not_set")],
  ["vip = true", f("vip", "eq", true)],
  ["vip = false", f("vip", "eq", false)],
  ["plan = null", f("plan", "eq", null)],
  // values
  ['plan = "say \\"hi\\"\\n\\ttab \\\\ é \\u0001"', f("plan", "eq", 'say "hi"\n\ttab \\ é \u0001')],
  ['plan = "2026-01-01"', f("plan", "eq", "2026-01-01")],
  ['plan = "30d"', f("plan", "eq", "30d")],
  ['created_at before "yesterday"', f("created_at", "before", "yesterday")],
  ['created_at in last "30x"', f("created_at", "in_last", "30x")],
  ["score in (1, -2, 3.5)", f("score", "in", [1, -2, 3.5])],
  ["plan in ()", f("plan", "in", [])],
  ['plan = {"a": [1, "b"], "c": {}}', f("plan", "eq", { a: [1, "b"], c: {} })],
  // segments
  ["in segment customers", { type: "segment", op: "in", segment: "customers" }],
  ['not in segment "seg-vip"', { type: "segment", op: "not_in", segment: "seg-vip" }],
  // events: every measure, every window
  ["did(email_opened)", { type: "event", event: "email_opened" }],
  ["did(email_opened, last 30d)", { type: "event", event: "email_opened", window: { in_last: "30d" } }],
  ["count(order_placed) >= 3", { type: "event", event: "order_placed", op: "gte", value: 3 }],
  [
    "count(email_opened, between 60d and 30d ago) = 0",
    { type: "event", event: "email_opened", window: { between_ago: ["60d", "30d"] }, op: "eq", value: 0 },
  ],
  // either order, kept as written
  [
    "count(email_opened, between 30d and 60d ago) = 0",
    { type: "event", event: "email_opened", window: { between_ago: ["30d", "60d"] }, op: "eq", value: 0 },
  ],
  [
    "count(email_opened, after 2026-01-01) > 1",
    { type: "event", event: "email_opened", window: { after: "2026-01-01" }, op: "gt", value: 1 },
  ],
  [
    "count(email_opened, before 2026-01-01T00:00:00Z) < 5",
    { type: "event", event: "email_opened", window: { before: "2026-01-01T00:00:00Z" }, op: "lt", value: 5 },
  ],
  [
    "count(email_opened, between 2026-01-01 and 2026-01-31) != 2",
    {
      type: "event",
      event: "email_opened",
      window: { between: ["2026-01-01", "2026-01-31"] },
      op: "neq",
      value: 2,
    },
  ],
  [
    "distinct(page_viewed.url) >= 5",
    {
      type: "event",
      event: "page_viewed",
      measure: { fn: "distinct", property: "url" },
      op: "gte",
      value: 5,
    },
  ],
  [
    'sum(order_placed.amount where currency = "EUR", last 180d) > 200',
    {
      type: "event",
      event: "order_placed",
      where: [{ property: "currency", op: "eq", value: "EUR" }],
      window: { in_last: "180d" },
      measure: { fn: "sum", property: "amount" },
      op: "gt",
      value: 200,
    },
  ],
  [
    "avg(order_placed.amount) between 50 and 100",
    {
      type: "event",
      event: "order_placed",
      measure: { fn: "avg", property: "amount" },
      op: "between",
      value: [50, 100],
    },
  ],
  [
    "min(order_placed.order.total) < 10",
    {
      type: "event",
      event: "order_placed",
      measure: { fn: "min", property: "order.total" },
      op: "lt",
      value: 10,
    },
  ],
  [
    "max(order_placed.amount) is set",
    { type: "event", event: "order_placed", measure: { fn: "max", property: "amount" }, op: "is_set" },
  ],
  [
    "first_at(order_placed) in last 30d",
    { type: "event", event: "order_placed", measure: { fn: "first_at" }, op: "in_last", value: "30d" },
  ],
  [
    "last_at(email_opened) more than 90d ago",
    { type: "event", event: "email_opened", measure: { fn: "last_at" }, op: "more_than_ago", value: "90d" },
  ],
  [
    'did(order_placed where order.total > 100 and order.currency in ("EUR", "USD"))',
    {
      type: "event",
      event: "order_placed",
      where: [
        { property: "order.total", op: "gt", value: 100 },
        { property: "order.currency", op: "in", value: ["EUR", "USD"] },
      ],
    },
  ],
  [
    "count(order_placed.items) > 1",
    { type: "event", event: "order_placed", measure: { fn: "count", property: "items" }, op: "gt", value: 1 },
  ],
  // sequences
  [
    "sequence(cart_added then order_placed within 1d, last 30d)",
    {
      type: "sequence",
      steps: [{ event: "cart_added" }, { event: "order_placed" }],
      within: "1d",
      window: { in_last: "30d" },
    },
  ],
  [
    'sequence(page_viewed where url starts with "/cart" then page_viewed then order_placed within 2h)',
    {
      type: "sequence",
      steps: [
        { event: "page_viewed", where: [{ property: "url", op: "starts_with", value: "/cart" }] },
        { event: "page_viewed" },
        { event: "order_placed" },
      ],
      within: "2h",
    },
  ],
  [
    "sequence(cart_added then not order_placed within 1h, last 30d)",
    {
      type: "sequence",
      steps: [{ event: "cart_added" }, { event: "order_placed", not: true }],
      within: "1h",
      window: { in_last: "30d" },
    },
  ],
  [
    'sequence(page_viewed then cart_added then not order_placed where currency = "EUR" then not "not" within 1d)',
    {
      type: "sequence",
      steps: [
        { event: "page_viewed" },
        { event: "cart_added" },
        { event: "order_placed", where: [{ property: "currency", op: "eq", value: "EUR" }], not: true },
        { event: "not", not: true },
      ],
      within: "1d",
    },
  ],
  // groups
  [
    "a = 1 and b = 2 and c = 3",
    { type: "and", conditions: [f("a", "eq", 1), f("b", "eq", 2), f("c", "eq", 3)] },
  ],
  [
    "(a = 1 and b = 2) and c = 3",
    {
      type: "and",
      conditions: [{ type: "and", conditions: [f("a", "eq", 1), f("b", "eq", 2)] }, f("c", "eq", 3)],
    },
  ],
  [
    "a = 1 or (b = 2 and c = 3)",
    {
      type: "or",
      conditions: [f("a", "eq", 1), { type: "and", conditions: [f("b", "eq", 2), f("c", "eq", 3)] }],
    },
  ],
  ["all of (a = 1)", { type: "and", conditions: [f("a", "eq", 1)] }],
  ["any of (a = 1)", { type: "or", conditions: [f("a", "eq", 1)] }],
  ["not (a = 1)", { type: "not", condition: f("a", "eq", 1) }],
  ["not (in segment vip)", { type: "not", condition: { type: "segment", op: "in", segment: "vip" } }],
  ["not did(email_opened)", { type: "not", condition: { type: "event", event: "email_opened" } }],
  [
    "not (count(email_opened) = 0)",
    { type: "not", condition: { type: "event", event: "email_opened", op: "eq", value: 0 } },
  ],
  ["not (not (a = 1))", { type: "not", condition: { type: "not", condition: f("a", "eq", 1) } }],
  // quoting
  ['"and" = 1', f("and", "eq", 1)],
  ['"Not" = 1', f("Not", "eq", 1)],
  ['"first name" = "Ann"', f("first name", "eq", "Ann")],
  ["order.total = 1", f("order.total", "eq", 1)],
  ['did("order.placed")', { type: "event", event: "order.placed" }],
  ['did("shop:cart-added")', { type: "event", event: "shop:cart-added" }],
  [
    'sum("123".amount) > 1',
    { type: "event", event: "123", measure: { fn: "sum", property: "amount" }, op: "gt", value: 1 },
  ],
  [
    'did(order_placed where "line items" is set)',
    { type: "event", event: "order_placed", where: [{ property: "line items", op: "is_set" }] },
  ],
  // shapes with no readable spelling
  ['json {"type": "field", "field": "x", "op": "eq"}', { type: "field", field: "x", op: "eq" } as RuleNode],
  [
    'json {"type": "event", "event": "order_placed", "measure": {"fn": "count"}, "op": "gte", "value": 1}',
    { type: "event", event: "order_placed", measure: { fn: "count" }, op: "gte", value: 1 },
  ],
];

describe("rule text: each construct both ways", () => {
  it.each(BOTH_WAYS)("%s", (text, rule) => {
    expect(parsed(text)).toStrictEqual(rule);
    expect(printRule(rule)).toBe(text);
  });
});

describe("rule text: the example of docs/rules.md", () => {
  it("reads as the JSON shown beside it and prints back the same", async () => {
    const { readFile } = await import("node:fs/promises");
    const doc = await readFile(new URL("../../docs/rules.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## Text form"));
    const text = section.match(/```text\n([\s\S]*?)\n```/)?.[1] ?? "";
    const json = JSON.parse(section.match(/```json\n([\s\S]*?)\n```/)?.[1] ?? "null");
    expect(parsed(text)).toStrictEqual(json);
    expect(printRule(json)).toBe(text);
  });
});

describe("rule text: other spellings read the same", () => {
  const SAME: [string, string][] = [
    ['country eq "FR" AND score GTE 3', 'country = "FR" and score >= 3'],
    ['tags contains_any ["a", "b"]', 'tags contains any ("a", "b")'],
    ["created_at in_last 30d", "created_at in last 30d"],
    ["created_at more_than_ago 90d", "created_at more than 90d ago"],
    ["birthday anniversary_in_next 7d", "birthday anniversary in next 7d"],
    ["phone is_not_set OR tags is_empty", "phone is not set or tags is empty"],
    ["count(email_opened, in last 30d) >= 1", "count(email_opened, last 30d) >= 1"],
    [
      'plan = "2026-01-01" or created_at before "2026-01-01"',
      'plan = "2026-01-01" or created_at before 2026-01-01',
    ],
    ["  # comment\n  a = 1   # why\n  AND b = 2\n", "a = 1 and b = 2"],
    ["((a = 1))", "a = 1"],
    ["Not In Segment vip", "not in segment vip"],
    ["score = 1.50", "score = 1.5"],
  ];
  it.each(SAME)("%j", (text, canonical) => {
    expect(parsed(text)).toStrictEqual(parsed(canonical));
  });
});

describe("rule text: precedence", () => {
  it("and binds tighter than or, not tighter than and", () => {
    expect(parsed("a = 1 or b = 2 and c = 3")).toStrictEqual(parsed("a = 1 or (b = 2 and c = 3)"));
    expect(parsed("not a = 1 and b = 2")).toStrictEqual({
      type: "and",
      conditions: [{ type: "not", condition: f("a", "eq", 1) }, f("b", "eq", 2)],
    });
    expect(parsed("not in segment x or in segment y")).toStrictEqual({
      type: "or",
      conditions: [
        { type: "segment", op: "not_in", segment: "x" },
        { type: "segment", op: "in", segment: "y" },
      ],
    });
  });

  it("between's 'and' is the operator's, the next one joins conditions", () => {
    expect(parsed('score between 1 and 2 and plan = "x"')).toStrictEqual({
      type: "and",
      conditions: [f("score", "between", [1, 2]), f("plan", "eq", "x")],
    });
  });

  it("the and of where filters stays inside the event condition", () => {
    expect(parsed("count(e where a = 1 and b = 2, last 1d) > 0 and c = 3")).toStrictEqual({
      type: "and",
      conditions: [
        {
          type: "event",
          event: "e",
          where: [
            { property: "a", op: "eq", value: 1 },
            { property: "b", op: "eq", value: 2 },
          ],
          window: { in_last: "1d" },
          op: "gt",
          value: 0,
        },
        f("c", "eq", 3),
      ],
    });
  });

  it("a long rule is printed on several lines and reads back the same", () => {
    const rule: RuleNode = {
      type: "and",
      conditions: [
        f("status", "eq", "subscribed"),
        {
          type: "or",
          conditions: [
            f("subscribed_at", "more_than_ago", "90d"),
            {
              type: "and",
              conditions: [f("subscribed_at", "is_not_set"), f("created_at", "more_than_ago", "90d")],
            },
          ],
        },
        { type: "event", event: "email_opened", window: { in_last: "90d" }, op: "eq", value: 0 },
      ],
    };
    const text = printRule(rule);
    expect(text).toBe(
      [
        'status = "subscribed"',
        "and (",
        "  subscribed_at more than 90d ago",
        "  or (subscribed_at is not set and created_at more than 90d ago)",
        ")",
        "and count(email_opened, last 90d) = 0",
      ].join("\n"),
    );
    expect(parsed(text)).toStrictEqual(rule);
  });
});

function failure(text: string): Pick<RuleTextError, "line" | "column" | "message" | "caret"> {
  try {
    parseRuleText(text);
  } catch (e) {
    expect(e).toBeInstanceOf(RuleTextError);
    const { line, column, message, caret } = e as RuleTextError;
    return { line, column, message, caret };
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`);
}

describe("rule text: errors", () => {
  it("unknown operator", () => {
    expect(failure('status = "subscribed"\nand country is like "FR"')).toEqual({
      line: 2,
      column: 13,
      message: 'expected an operator but found "is"',
      caret: 'and country is like "FR"\n            ^',
    });
    expect(failure('country equals "FR"')).toMatchObject({
      line: 1,
      column: 9,
      message: 'expected an operator but found "equals"',
    });
  });

  it("missing value", () => {
    expect(failure("country = and x = 1")).toEqual({
      line: 1,
      column: 11,
      message: 'expected a value but found "and"',
      caret: "country = and x = 1\n          ^",
    });
    expect(failure('country in ("FR",)')).toMatchObject({
      column: 18,
      message: 'expected a value but found ")"',
    });
    expect(failure("score >=")).toMatchObject({
      column: 9,
      message: "expected a value but found the end of the rule",
    });
  });

  it("unquoted text value", () => {
    expect(failure("status = subscribed")).toMatchObject({
      column: 10,
      message: 'expected a value but found "subscribed"; text values need double quotes: "subscribed"',
    });
  });

  it("unclosed parenthesis", () => {
    expect(failure("(a = 1 and b = 2")).toEqual({
      line: 1,
      column: 17,
      message: 'expected "and", "or" or ")" but found the end of the rule',
      caret: "(a = 1 and b = 2\n                ^",
    });
    expect(failure('country in ("FR", "BE"\nand x = 1')).toEqual({
      line: 2,
      column: 1,
      message: 'expected "," or ")" but found "and"',
      caret: "and x = 1\n^",
    });
  });

  it("bad duration", () => {
    expect(failure("created_at in last 30x")).toEqual({
      line: 1,
      column: 20,
      message:
        '"30x" is not a duration: expected a whole number from 1 to 999999 and a unit m, h, d, w, mo or y, like 30d',
      caret: "created_at in last 30x\n                   ^",
    });
    expect(failure("count(email_opened, last 0d) >= 1")).toMatchObject({ column: 26 });
    expect(failure("count(email_opened, last 30) >= 1")).toMatchObject({
      column: 26,
      message: 'expected a duration but found "30"',
    });
    expect(failure("sequence(a then b within 1000000d)")).toMatchObject({ column: 26 });
  });

  it("negative steps: NOT in any case, and a place validation refuses still reads", () => {
    expect(parsed("sequence(cart_added then NOT order_placed within 1h)")).toEqual({
      type: "sequence",
      steps: [{ event: "cart_added" }, { event: "order_placed", not: true }],
      within: "1h",
    });
    // Shape only: that a negative step cannot come first is validation's to say.
    expect(parsed("sequence(not a then b within 1h)")).toMatchObject({
      steps: [{ event: "a", not: true }, { event: "b" }],
    });
    // "not" needs an event after it; here "within" is read as one.
    expect(failure("sequence(a then not within 1h)")).toMatchObject({
      column: 28,
      message: 'expected "where", "then" or "within" but found "1h"',
    });
  });

  it("trailing garbage", () => {
    expect(failure("a = 1 garbage")).toEqual({
      line: 1,
      column: 7,
      message: 'expected "and", "or" or the end of the rule but found "garbage"',
      caret: "a = 1 garbage\n      ^",
    });
    expect(failure("a = 1)")).toMatchObject({ column: 6 });
  });

  it("the caret keeps tabs so it lines up", () => {
    expect(failure("a = 1 and\n\t\tb ~ 2")).toEqual({
      line: 2,
      column: 5,
      message: 'expected an operator but found "~"',
      caret: "\t\tb ~ 2\n\t\t  ^",
    });
  });

  it("shape errors point at their token", () => {
    expect(failure('a = "abc')).toMatchObject({ column: 5, message: 'this text has no closing quote (")' });
    expect(failure('a = "x\\q"')).toMatchObject({ column: 8 });
    expect(failure("count(Bad, last 3d) > 1")).toMatchObject({
      column: 7,
      message: '"Bad" is not an event type: expected lower-case letters, digits and _ . : - (at most 64)',
    });
    expect(failure("sequence(a within 1d)")).toMatchObject({
      column: 1,
      message: 'a sequence needs at least 2 steps joined by "then"',
    });
    expect(failure(`sequence(${Array(11).fill("a").join(" then ")} within 1d)`).message).toBe(
      "a sequence has at most 10 steps",
    );
    expect(failure("sequence(a then b)")).toMatchObject({
      column: 18,
      message: 'expected "where", "then" or "within" but found ")"',
    });
    expect(failure("count(email_opened)")).toMatchObject({ column: 20 });
    expect(failure("did(order_placed.amount)").message).toMatch(/did\(…\) takes no property/);
    expect(failure('"" = 1').message).toBe("a name cannot be empty");
    expect(failure('json {"type": "field"}')).toMatchObject({
      column: 1,
      message: "not a rule node: field: expected a field key",
    });
    expect(failure("")).toMatchObject({
      line: 1,
      column: 1,
      message: "expected a condition but found the end of the rule",
    });
    expect(failure("all of ()")).toMatchObject({ column: 9, message: 'expected a condition but found ")"' });
  });

  it("deep nesting fails as a RuleTextError, not a stack overflow", () => {
    expect(failure(`${"(".repeat(20_000)}a = 1${")".repeat(20_000)}`).message).toBe(
      "the rule is nested too deeply",
    );
  });
});

describe("rule text: random input", () => {
  function onlyRuleTextErrors(text: string): void {
    try {
      const rule = parseRuleText(text);
      expect(RuleSchema.safeParse(rule).success).toBe(true);
    } catch (e) {
      if (!(e instanceof RuleTextError)) throw e;
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.column).toBeGreaterThanOrEqual(1);
      expect(e.caret).toContain("^");
    }
  }

  it("random strings", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), onlyRuleTextErrors), {
      seed: 41,
      numRuns: 2000,
    });
  });

  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) =>
        onlyRuleTextErrors(new TextDecoder("utf-8").decode(bytes)),
      ),
      { seed: 42, numRuns: 2000 },
    );
  });

  it("random sequences of the language's own tokens", () => {
    const token = fc.constantFrom(
      "a",
      "x.y",
      '"q"',
      "(",
      ")",
      ",",
      "and",
      "or",
      "not",
      "in",
      "segment",
      "=",
      ">=",
      "between",
      "last",
      "30d",
      "0d",
      "2026-01-01",
      "-1.5",
      "did",
      "count",
      "sum",
      "e.p",
      "where",
      "then",
      "within",
      "sequence",
      "ago",
      "more",
      "than",
      "is",
      "set",
      "json",
      "{",
      "}",
      ":",
      "all",
      "of",
      "[",
      "]",
      "\n",
      "#",
      '"\\',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 25 }), (ts) => onlyRuleTextErrors(ts.join(" "))),
      { seed: 43, numRuns: 3000 },
    );
  });
});
