/**
 * Rule validation: every kind of error comes back with the path of the bad part and a
 * message a marketer (or the editor showing it) can act on. Paths are what the HTTP
 * layer answers as `details.path`, so they are asserted exactly.
 */
import { describe, expect, it } from "vitest";
import { RuleValidationError } from "../../src/rules/errors.ts";
import { FieldRegistry } from "../../src/rules/fields.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { RULE_LIMITS, segmentRefs, type ValidationContext, validateRule } from "../../src/rules/validate.ts";

const fields = new FieldRegistry([
  { key: "plan", type: "string" },
  { key: "score", type: "number" },
  { key: "vip", type: "boolean" },
  { key: "birthday", type: "date" },
  { key: "interests", type: "string_list" },
]);

const is = (field: string, op: string, value: string): RuleNode => ({ type: "field", field, op, value });

function ctx(over: Partial<ValidationContext> = {}): ValidationContext {
  return { fields, timeZone: "UTC", segments: new Map(), ...over };
}

/** The issues of an invalid rule (fails the test if the rule is accepted). */
function issues(rule: unknown, c: ValidationContext = ctx()): { path: string; message: string }[] {
  try {
    validateRule(rule, c);
  } catch (e) {
    expect(e).toBeInstanceOf(RuleValidationError);
    return (e as RuleValidationError).issues;
  }
  throw new Error(`rule was accepted: ${JSON.stringify(rule)}`);
}

/** The single issue of an invalid rule. */
function issue(rule: unknown, c?: ValidationContext): { path: string; message: string } {
  const all = issues(rule, c);
  expect(all).toHaveLength(1);
  return all[0];
}

const field = (f: string, op: string, value?: unknown) =>
  value === undefined ? { type: "field", field: f, op } : { type: "field", field: f, op, value };
const event = (extra: Record<string, unknown>) => ({ type: "event", event: "order_placed", ...extra });

describe("validateRule: accepted rules", () => {
  it("returns the parsed rule unchanged for a rule using every node kind", () => {
    const rule = {
      type: "and",
      conditions: [
        field("country", "in", ["US", "CA"]),
        { type: "not", condition: field("plan", "eq", "free") },
        {
          type: "or",
          conditions: [
            field("score", "between", [1, 5]),
            field("vip", "eq", true),
            field("birthday", "anniversary_in_next", "7d"),
            field("interests", "contains_any", ["shoes"]),
          ],
        },
        {
          type: "event",
          event: "order_placed",
          where: [{ property: "currency", op: "eq", value: "EUR" }],
          window: { in_last: "180d" },
          measure: { fn: "sum", property: "amount" },
          op: "gt",
          value: 200,
        },
        {
          type: "sequence",
          steps: [
            { event: "cart_added" },
            { event: "order_placed", where: [{ property: "x", op: "is_set" }] },
          ],
          within: "1d",
          window: { between_ago: ["30d", "1d"] },
        },
        { type: "segment", op: "not_in", segment: "vip_list" },
      ],
    };
    const out = validateRule(rule, ctx({ segments: new Map([["vip_list", null]]) }));
    expect(out).toEqual(rule);
  });

  it("accepts every operator of every field type with a value of the right shape", () => {
    const ok: [string, string, unknown?][] = [
      ["country", "is_set"],
      ["country", "is_not_set"],
      ["country", "eq", "US"],
      ["country", "neq", "US"],
      ["country", "in", ["US"]],
      ["country", "not_in", ["US"]],
      ["country", "contains", "U"],
      ["country", "not_contains", "U"],
      ["country", "starts_with", "U"],
      ["country", "ends_with", "S"],
      ["score", "eq", 1],
      ["score", "neq", -1.5],
      ["score", "gt", 0],
      ["score", "gte", 0],
      ["score", "lt", 0],
      ["score", "lte", 0],
      ["score", "between", [2, 2]],
      ["vip", "eq", false],
      ["vip", "is_set"],
      ["created_at", "before", "2026-01-01"],
      ["created_at", "after", "2026-01-01T10:00:00Z"],
      ["created_at", "on", "2024-02-29"],
      ["created_at", "between", ["2026-01-01", "2026-01-01"]],
      ["created_at", "between", ["2026-01-01T00:00:00Z", "2026-01-01"]],
      ["created_at", "in_last", "30d"],
      ["created_at", "more_than_ago", "2mo"],
      ["created_at", "in_next", "1y"],
      ["birthday", "anniversary_in_next", "1w"],
      ["tags", "contains", "vip"],
      ["tags", "not_contains", "vip"],
      ["tags", "contains_any", ["a", "b"]],
      ["tags", "contains_all", ["a"]],
      ["tags", "contains_none", ["a"]],
      ["tags", "is_empty"],
      ["tags", "is_not_empty"],
      ["interests", "is_not_set"],
    ];
    for (const [f, op, v] of ok)
      expect(() => validateRule(field(f, op, v), ctx()), `${f} ${op}`).not.toThrow();
  });
});

describe("validateRule: structure", () => {
  it("names the unknown field", () => {
    expect(issue(field("nope", "eq", "x"))).toEqual({ path: "rule.field", message: 'unknown field "nope"' });
  });

  it("names an operator that does not fit the field's type, inside a group", () => {
    const rule = {
      type: "and",
      conditions: [field("country", "eq", "US"), field("created_at", "contains", "x")],
    };
    expect(issue(rule)).toEqual({
      path: "rule.conditions[1].op",
      message: '"contains" does not apply to date field "created_at"',
    });
  });

  it("rejects operators of other types for each field type", () => {
    const wrong: [string, string, unknown, string][] = [
      ["score", "contains", "3", '"contains" does not apply to number field "score"'],
      ["vip", "neq", true, '"neq" does not apply to boolean field "vip"'],
      ["tags", "eq", "a", '"eq" does not apply to string_list field "tags"'],
      ["country", "gt", "a", '"gt" does not apply to string field "country"'],
      ["plan", "before", "2026-01-01", '"before" does not apply to string field "plan"'],
      ["birthday", "eq", "2026-01-01", '"eq" does not apply to date field "birthday"'],
    ];
    for (const [f, op, v, message] of wrong)
      expect(issue(field(f, op, v))).toEqual({ path: "rule.op", message });
    expect(issue(field("country", "is_empty"))).toEqual({
      path: "rule.op",
      message: '"is_empty" does not apply to string field "country"',
    });
  });

  it("names an unknown operator and an unknown node type", () => {
    expect(issue(field("country", "like", "US"))).toEqual({
      path: "rule.op",
      message: 'unknown operator "like"',
    });
    expect(issue({ type: "bogus" })).toEqual({
      path: "rule.type",
      message: 'expected a node with "type" one of and, or, not, field, segment, event, sequence, bucket',
    });
    expect(issue("hello").path).toBe("rule");
    expect(issue({ type: "not" }).path).toBe("rule.condition");
  });

  it("rejects empty groups", () => {
    for (const type of ["and", "or"]) {
      expect(issue({ type, conditions: [] })).toEqual({
        path: "rule.conditions",
        message: "a group needs at least one condition",
      });
    }
    expect(
      issue({ type: "or", conditions: [field("country", "is_set"), { type: "and", conditions: [] }] }).path,
    ).toBe("rule.conditions[1].conditions");
  });

  it("rejects unknown keys on every kind of object", () => {
    expect(issue({ ...field("country", "eq", "US"), extra: 1 })).toEqual({
      path: "rule",
      message: 'Unrecognized key: "extra"',
    });
    expect(issue(event({ measure: { fn: "sum", property: "x", foo: 1 }, op: "gt", value: 1 }))).toEqual({
      path: "rule.measure",
      message: 'Unrecognized key: "foo"',
    });
    expect(issue(event({ where: [{ property: "x", op: "eq", value: 1, foo: 2 }] }))).toEqual({
      path: "rule.where[0]",
      message: 'Unrecognized key: "foo"',
    });
    expect(
      issue({ type: "sequence", steps: [{ event: "a", foo: 1 }, { event: "b" }], within: "1d" }),
    ).toEqual({ path: "rule.steps[0]", message: 'Unrecognized key: "foo"' });
    expect(issue(event({ window: { in_last: "3d", foo: 1 } }))).toEqual({
      path: "rule.window",
      message: 'Unrecognized key: "foo"',
    });
  });

  it("names the window itself, or its bad key, when a window has the wrong shape", () => {
    const kinds = "expected one of {in_last}, {between_ago}, {after}, {before}, {between}, {during}";
    // The bad part of {after: 5} is `after`, not a key the caller never wrote.
    expect(issue(event({ window: { after: 5 } }))).toEqual({
      path: "rule.window.after",
      message: "expected an ISO 8601 date or instant",
    });
    // Two kinds at once, no kind, or only unknown keys: the window is the bad part.
    expect(issue(event({ window: { in_last: "3d", before: "2026-01-01" } }))).toEqual({
      path: "rule.window",
      message: kinds,
    });
    expect(issue(event({ window: {} }))).toEqual({ path: "rule.window", message: kinds });
    expect(issue(event({ window: { foo: 1 } }))).toEqual({ path: "rule.window", message: kinds });
  });

  it("reports every problem of a rule, not only the first", () => {
    const rule = {
      type: "and",
      conditions: [field("nope", "eq", "x"), field("score", "eq", "3"), field("tags", "is_empty", [])],
    };
    expect(issues(rule)).toEqual([
      { path: "rule.conditions[0].field", message: 'unknown field "nope"' },
      { path: "rule.conditions[1].value", message: "expected a number" },
      { path: "rule.conditions[2].value", message: '"is_empty" takes no value' },
    ]);
  });

  it("uses the root name given in the context, and the error's path is the first issue's", () => {
    try {
      validateRule({ type: "and", conditions: [field("nope", "eq", "x")] }, ctx({ root: "segment.rule" }));
      expect.unreachable();
    } catch (e) {
      const err = e as RuleValidationError;
      expect(err.path).toBe("segment.rule.conditions[0].field");
      expect(err.message).toBe('segment.rule.conditions[0].field: unknown field "nope"');
      expect(err.name).toBe("RuleValidationError");
    }
  });
});

describe("validateRule: values", () => {
  it("checks the shape of values per type", () => {
    const bad: [unknown, string, string][] = [
      [field("country", "eq", 3), "rule.value", "expected a string"],
      [field("country", "in", "US"), "rule.value", "expected a non-empty array of strings"],
      [field("country", "in", []), "rule.value", "expected a non-empty array of strings"],
      [field("country", "not_in", ["a", 3]), "rule.value[1]", "expected a string"],
      [field("score", "eq", "3"), "rule.value", "expected a number"],
      [field("score", "gt", null), "rule.value", "expected a number"],
      [field("score", "between", [3]), "rule.value", "expected [low, high], two numbers"],
      [field("score", "between", [1, "2"]), "rule.value", "expected [low, high], two numbers"],
      [field("score", "between", [3, 1]), "rule.value", "low must not be greater than high"],
      [field("vip", "eq", "true"), "rule.value", "expected true or false"],
      [field("tags", "contains", ["a"]), "rule.value", "expected a string"],
      [field("tags", "contains_any", []), "rule.value", "expected a non-empty array of strings"],
      [field("tags", "contains_all", "a"), "rule.value", "expected a non-empty array of strings"],
      [field("created_at", "before", 1767225600000), "rule.value", "expected an ISO 8601 date or instant"],
      [
        field("created_at", "between", ["2026-01-01"]),
        "rule.value",
        "expected [from, to], two dates or instants",
      ],
      [
        field("created_at", "between", ["2026-02-01", "2026-01-31"]),
        "rule.value",
        "from must not be after to",
      ],
      [
        field("created_at", "in_last", 30),
        "rule.value",
        'expected a duration like "30d" (units m, h, d, w, mo, y)',
      ],
      [
        field("birthday", "anniversary_in_next", "2026-01-01"),
        "rule.value",
        'expected a duration like "30d" (units m, h, d, w, mo, y), got "2026-01-01"',
      ],
    ];
    for (const [rule, path, message] of bad)
      expect(issue(rule), JSON.stringify(rule)).toEqual({ path, message });
  });

  it("rejects a non-finite number", () => {
    expect(issue(field("score", "eq", Number.POSITIVE_INFINITY))).toEqual({
      path: "rule.value",
      message: "expected a number",
    });
  });

  it("rejects a value given to an operator that takes none, and a missing value", () => {
    for (const op of ["is_set", "is_not_set"]) {
      expect(issue(field("country", op, "x"))).toEqual({
        path: "rule.value",
        message: `"${op}" takes no value`,
      });
    }
    for (const op of ["is_empty", "is_not_empty"]) {
      expect(issue(field("tags", op, []))).toEqual({ path: "rule.value", message: `"${op}" takes no value` });
    }
    expect(issue(field("created_at", "before"))).toEqual({
      path: "rule.value",
      message: '"before" needs a value',
    });
    expect(issue(field("tags", "contains"))).toEqual({
      path: "rule.value",
      message: '"contains" needs a value',
    });
  });

  it("rejects malformed durations", () => {
    for (const d of ["0d", "01d", "1000000d", "1M", "1 d", "-1d", "1.5d", "d", "30", "1s", "1mon"]) {
      expect(issue(field("created_at", "in_last", d))).toEqual({
        path: "rule.value",
        message: `expected a duration like "30d" (units m, h, d, w, mo, y), got ${JSON.stringify(d)}`,
      });
    }
    for (const d of ["1m", "1h", "1d", "1w", "1mo", "1y", "999999d"]) {
      expect(() => validateRule(field("created_at", "in_last", d), ctx()), d).not.toThrow();
    }
  });

  it("rejects dates that are not in the calendar, wherever they appear", () => {
    expect(issue(field("created_at", "on", "2026-02-30"))).toEqual({
      path: "rule.value",
      message: '"2026-02-30" is not a calendar date',
    });
    for (const d of ["2025-02-29", "2026-04-31", "2026-00-10", "2026-13-01", "2026-01-32"]) {
      expect(issue(field("created_at", "before", d))).toEqual({
        path: "rule.value",
        message: `${JSON.stringify(d)} is not a calendar date`,
      });
    }
    expect(() => validateRule(field("created_at", "on", "2024-02-29"), ctx())).not.toThrow();
    expect(issue(field("created_at", "between", ["2026-01-01", "2026-02-30"]))).toEqual({
      path: "rule.value[1]",
      message: '"2026-02-30" is not a calendar date',
    });
    expect(issue(event({ window: { after: "2026-13-01" } }))).toEqual({
      path: "rule.window.after",
      message: '"2026-13-01" is not a calendar date',
    });
    expect(issue(event({ measure: { fn: "first_at" }, op: "before", value: "2026-02-30" }))).toEqual({
      path: "rule.value",
      message: '"2026-02-30" is not a calendar date',
    });
    expect(issue(event({ where: [{ property: "d", op: "on", value: "2026-02-29" }] }))).toEqual({
      path: "rule.where[0].value",
      message: '"2026-02-29" is not a calendar date',
    });
  });

  it("rejects instants that do not parse", () => {
    for (const v of ["yesterday", "2026-01-01T25:00:00Z", "20260101", "2026-1-01"]) {
      expect(issue(field("created_at", "after", v))).toEqual({
        path: "rule.value",
        message: `expected an ISO 8601 date or instant, got ${JSON.stringify(v)}`,
      });
    }
  });
});

describe("validateRule: event and sequence conditions", () => {
  it("matches measures with properties", () => {
    for (const fn of ["distinct", "sum", "avg", "min", "max"]) {
      expect(issue(event({ measure: { fn }, op: "gt", value: 1 }))).toEqual({
        path: "rule.measure.property",
        message: `"${fn}" needs a property`,
      });
    }
    for (const fn of ["count", "first_at", "last_at"]) {
      expect(issue(event({ measure: { fn, property: "x" }, op: "is_set" }))).toEqual({
        path: "rule.measure.property",
        message: `"${fn}" takes no property`,
      });
    }
    expect(issue(event({ measure: { fn: "median", property: "x" }, op: "gt", value: 1 }))).toEqual({
      path: "rule.measure.fn",
      message: "expected one of count, distinct, sum, avg, min, max, first_at, last_at, most_frequent",
    });
  });

  it("matches operators with the measure's type", () => {
    expect(issue(event({ measure: { fn: "last_at" }, op: "gt", value: 1 }))).toEqual({
      path: "rule.op",
      message: '"gt" does not apply to measure "last_at" (a date)',
    });
    expect(issue(event({ measure: { fn: "sum", property: "amount" }, op: "in_last", value: "3d" }))).toEqual({
      path: "rule.op",
      message: '"in_last" does not apply to measure "sum" (a number)',
    });
    expect(issue(event({ op: "contains", value: "x" }))).toEqual({
      path: "rule.op",
      message: '"contains" does not apply to measure "count" (a number)',
    });
    expect(issue(event({ measure: { fn: "avg", property: "x" }, op: "eq", value: "1" }))).toEqual({
      path: "rule.value",
      message: "expected a number",
    });
    expect(issue(event({ op: "between", value: [1] }))).toEqual({
      path: "rule.value",
      message: "expected [low, high], two numbers",
    });
    expect(issue(event({ measure: { fn: "first_at" }, op: "in_last", value: 3 }))).toEqual({
      path: "rule.value",
      message: 'expected a duration like "30d" (units m, h, d, w, mo, y)',
    });
    expect(() => validateRule(event({ measure: { fn: "first_at" }, op: "is_set" }), ctx())).not.toThrow();
    expect(() => validateRule(event({ op: "is_not_set" }), ctx())).not.toThrow();
  });

  it("needs an operator for a value or a measure other than count", () => {
    expect(issue(event({ measure: { fn: "sum", property: "amount" } }))).toEqual({
      path: "rule.op",
      message: 'an operator is needed with measure "sum"',
    });
    expect(issue(event({ value: 3 }))).toEqual({
      path: "rule.op",
      message: "an operator is needed with a value",
    });
    expect(() => validateRule(event({}), ctx())).not.toThrow();
  });

  it("checks the event type's spelling", () => {
    for (const e of ["Order", "", "a b", "x".repeat(65)]) {
      expect(issue({ type: "event", event: e })).toEqual({
        path: "rule.event",
        message: "expected an event type matching [a-z0-9_.:-]{1,64}",
      });
    }
    expect(() => validateRule({ type: "event", event: "shop.order:v2-x_1" }, ctx())).not.toThrow();
  });

  it("takes between_ago's durations in either order, and refuses two of the same length", () => {
    for (const pair of [
      ["60d", "90d"],
      ["90d", "60d"],
      ["1d", "2d"],
      ["2d", "1d"],
      ["11mo", "1y"],
      ["23h", "1d"],
    ]) {
      expect(validateRule(event({ window: { between_ago: pair } }), ctx())).toEqual(
        event({ window: { between_ago: pair } }),
      );
    }
    for (const pair of [
      ["1d", "1d"],
      ["24h", "1d"],
      ["1w", "7d"],
    ]) {
      expect(issue(event({ window: { between_ago: pair } }))).toEqual({
        path: "rule.window.between_ago",
        message: "the two durations must differ in length",
      });
    }
    expect(issue(event({ window: { between_ago: ["2x", "1d"] } })).path).toBe("rule.window.between_ago[0]");
  });

  it("checks window dates and their order", () => {
    expect(issue(event({ window: { between: ["2026-02-01", "2026-01-01"] } }))).toEqual({
      path: "rule.window.between",
      message: "from must not be after to",
    });
    // The same day as both ends is a one-day window, not an empty one.
    expect(() =>
      validateRule(event({ window: { between: ["2026-01-01", "2026-01-01"] } }), ctx()),
    ).not.toThrow();
    expect(issue(event({ window: { in_last: "3" } }))).toEqual({
      path: "rule.window.in_last",
      message: 'expected a duration like "30d" (units m, h, d, w, mo, y)',
    });
  });

  it("types where filters by the shape of their value", () => {
    const bad: [Record<string, unknown>, string, string][] = [
      [{ property: "x", op: "gt", value: "3" }, "rule.where[0].value", "expected a number"],
      [
        { property: "x", op: "eq", value: null },
        "rule.where[0].value",
        "expected a string, number or boolean",
      ],
      [
        { property: "x", op: "eq", value: [1] },
        "rule.where[0].value",
        "expected a string, number or boolean",
      ],
      [
        { property: "x", op: "in", value: [true] },
        "rule.where[0].value",
        "expected a non-empty array of strings or numbers",
      ],
      [{ property: "x", op: "starts_with", value: 1 }, "rule.where[0].value", "expected a string"],
      [
        { property: "x", op: "contains_all", value: [] },
        "rule.where[0].value",
        "expected a non-empty array of strings",
      ],
      [
        { property: "x", op: "between", value: [5, 1] },
        "rule.where[0].value",
        "low must not be greater than high",
      ],
      [
        { property: "x", op: "between", value: ["2026-01-01", "2025-01-01"] },
        "rule.where[0].value",
        "from must not be after to",
      ],
      [
        { property: "x", op: "in_last", value: "2026-01-01" },
        "rule.where[0].value",
        'expected a duration like "30d" (units m, h, d, w, mo, y), got "2026-01-01"',
      ],
      [{ property: "x", op: "is_set", value: 1 }, "rule.where[0].value", '"is_set" takes no value'],
      [{ property: "x", op: "gt" }, "rule.where[0].value", '"gt" needs a value'],
      [{ property: "", op: "gt", value: 1 }, "rule.where[0].property", "expected a property name"],
    ];
    for (const [f, path, message] of bad) {
      expect(issue(event({ where: [{ property: "ok", op: "is_set" }, f] })), JSON.stringify(f)).toEqual({
        path: path.replace("where[0]", "where[1]"),
        message,
      });
    }
  });

  it("checks sequences: steps, within and window", () => {
    expect(issue({ type: "sequence", steps: [{ event: "a" }], within: "1d" })).toEqual({
      path: "rule.steps",
      message: "a sequence needs at least 2 steps",
    });
    expect(issue({ type: "sequence", steps: [{ event: "a" }, { event: "b" }], within: "0d" })).toEqual({
      path: "rule.within",
      message: 'expected a duration like "30d" (units m, h, d, w, mo, y)',
    });
    expect(
      issue({
        type: "sequence",
        steps: [{ event: "a" }, { event: "b", where: [{ property: "n", op: "gt", value: "1" }] }],
        within: "1d",
      }),
    ).toEqual({ path: "rule.steps[1].where[0].value", message: "expected a number" });
    expect(
      issue({
        type: "sequence",
        steps: [{ event: "a" }, { event: "b" }],
        within: "1d",
        window: { between_ago: ["2d", "2d"] },
      }),
    ).toEqual({
      path: "rule.window.between_ago",
      message: "the two durations must differ in length",
    });
    expect(issue({ type: "sequence", steps: [{ event: "a" }, { event: "B" }], within: "1d" }).path).toBe(
      "rule.steps[1].event",
    );
  });

  it("checks negative steps: not the first, only after every step done, not: true only", () => {
    const ok = { type: "sequence", steps: [{ event: "a" }, { event: "b", not: true }], within: "1h" };
    expect(validateRule(ok, ctx())).toEqual(ok);
    expect(() =>
      validateRule(
        {
          type: "sequence",
          steps: [{ event: "a" }, { event: "b" }, { event: "c", not: true }, { event: "d", not: true }],
          within: "1h",
        },
        ctx(),
      ),
    ).not.toThrow();
    expect(
      issue({ type: "sequence", steps: [{ event: "a", not: true }, { event: "b" }], within: "1h" }),
    ).toEqual({
      path: "rule.steps[0].not",
      message: "the first step cannot be negative: a sequence starts with something the contact did",
    });
    expect(
      issue({
        type: "sequence",
        steps: [{ event: "a" }, { event: "b", not: true }, { event: "c" }],
        within: "1h",
      }),
    ).toEqual({
      path: "rule.steps[2]",
      message: "a step the contact did cannot follow a negative step (steps[1]): negative steps come last",
    });
    expect(
      issue({ type: "sequence", steps: [{ event: "a" }, { event: "b", not: false }], within: "1h" }),
    ).toEqual({
      path: "rule.steps[1].not",
      message: 'expected true (a step the contact did leaves "not" out)',
    });
    expect(
      issue({
        type: "sequence",
        steps: [{ event: "a" }, { event: "b", not: true, where: [{ property: "n", op: "gt", value: "x" }] }],
        within: "1h",
      }),
    ).toEqual({ path: "rule.steps[1].where[0].value", message: "expected a number" });
  });
});

describe("validateRule: segment references", () => {
  const segs = new Map<string, RuleNode | null>([
    ["a", { type: "field", field: "country", op: "eq", value: "US" }],
    ["b", { type: "segment", op: "in", segment: "a" }],
    [
      "c",
      { type: "and", conditions: [{ type: "not", condition: { type: "segment", op: "in", segment: "b" } }] },
    ],
    ["static_list", null],
  ]);
  const ref = (segment: string, op = "in") => ({ type: "segment", op, segment });

  it("names an unknown segment and a bad op", () => {
    expect(issue(ref("nope"), ctx({ segments: segs }))).toEqual({
      path: "rule.segment",
      message: 'unknown segment "nope"',
    });
    expect(issue(ref("a", "has"), ctx({ segments: segs }))).toEqual({
      path: "rule.op",
      message: 'expected "in" or "not_in"',
    });
  });

  it("accepts references to existing segments, static ones included", () => {
    for (const id of ["a", "b", "c", "static_list"]) {
      expect(() => validateRule(ref(id, "not_in"), ctx({ segments: segs, selfId: "new" }))).not.toThrow();
    }
  });

  it("rejects a segment that refers to itself", () => {
    expect(issue(ref("a"), ctx({ segments: segs, selfId: "a" }))).toEqual({
      path: "rule.segment",
      message: 'segment "a" cannot refer to itself',
    });
  });

  it("rejects longer cycles through other segments' rules, naming the cycle", () => {
    // a is being redefined to refer to c; c → b → a closes the cycle.
    const rule = { type: "or", conditions: [field("country", "is_set"), ref("c", "not_in")] };
    expect(issue(rule, ctx({ segments: segs, selfId: "a" }))).toEqual({
      path: "rule.conditions[1].segment",
      message: 'reference to "c" makes a cycle: a → c → b → a',
    });
    expect(issue(ref("b"), ctx({ segments: segs, selfId: "a" }))).toEqual({
      path: "rule.segment",
      message: 'reference to "b" makes a cycle: a → b → a',
    });
  });

  it("does not see a cycle in a diamond or without selfId", () => {
    const diamond = new Map<string, RuleNode | null>([
      ["base", { type: "field", field: "country", op: "is_set" }],
      ["l", { type: "segment", op: "in", segment: "base" }],
      ["r", { type: "segment", op: "in", segment: "base" }],
    ]);
    const rule = { type: "and", conditions: [ref("l"), ref("r"), ref("base")] };
    expect(() => validateRule(rule, ctx({ segments: diamond, selfId: "top" }))).not.toThrow();
    // A preview (no selfId) may refer to anything that exists.
    expect(() => validateRule(ref("b"), ctx({ segments: segs }))).not.toThrow();
  });

  it("segmentRefs lists direct references only", () => {
    const rule = segs.get("c")!;
    expect([...segmentRefs(rule)]).toEqual(["b"]);
    expect([...segmentRefs({ type: "field", field: "country", op: "is_set" })]).toEqual([]);
  });
});

describe("validateRule: size limits", () => {
  const leaf = field("country", "is_set");
  const nest = (levels: number): unknown => {
    let n: unknown = leaf;
    for (let i = 1; i < levels; i++) n = { type: "not", condition: n };
    return n;
  };

  it(`allows ${RULE_LIMITS.maxDepth} levels and rejects one more, at the too-deep node`, () => {
    expect(RULE_LIMITS.maxDepth).toBe(12);
    expect(() => validateRule(nest(RULE_LIMITS.maxDepth), ctx())).not.toThrow();
    const err = issue(nest(RULE_LIMITS.maxDepth + 1));
    expect(err).toEqual({
      path: `rule${".condition".repeat(RULE_LIMITS.maxDepth)}`,
      message: "rule is nested too deeply (at most 12 levels)",
    });
  });

  it(`allows ${RULE_LIMITS.maxNodes} nodes and rejects more`, () => {
    expect(RULE_LIMITS.maxNodes).toBe(500);
    const group = (n: number) => ({ type: "or", conditions: Array.from({ length: n - 1 }, () => leaf) });
    expect(() => validateRule(group(RULE_LIMITS.maxNodes), ctx())).not.toThrow();
    expect(issue(group(RULE_LIMITS.maxNodes + 1))).toEqual({
      path: "rule",
      message: "too many conditions (501; at most 500)",
    });
  });

  it("limits where filters to 50 and sequence steps to 10", () => {
    const filters = (n: number) => Array.from({ length: n }, () => ({ property: "x", op: "is_set" }));
    expect(() => validateRule(event({ where: filters(50) }), ctx())).not.toThrow();
    expect(issue(event({ where: filters(51) })).path).toBe("rule.where");
    const steps = (n: number) => Array.from({ length: n }, () => ({ event: "a" }));
    expect(() => validateRule({ type: "sequence", steps: steps(10), within: "1d" }, ctx())).not.toThrow();
    expect(issue({ type: "sequence", steps: steps(11), within: "1d" }).path).toBe("rule.steps");
  });
});

describe("validateRule: time zone", () => {
  it("reads date values in the workspace zone, so a date valid anywhere is valid in any zone", () => {
    for (const timeZone of ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]) {
      expect(() => validateRule(is("created_at", "on", "2026-03-29"), ctx({ timeZone }))).not.toThrow();
    }
  });
});
