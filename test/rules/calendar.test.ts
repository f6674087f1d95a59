/**
 * Calendar conditions in the rule language: validation of periods and weekdays, and
 * their text form.
 */
import { describe, expect, it } from "vitest";
import { RuleValidationError } from "../../src/rules/errors.ts";
import { FieldRegistry } from "../../src/rules/fields.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { parseRuleText, printRule } from "../../src/rules/text/index.ts";
import { validateRule } from "../../src/rules/validate.ts";

const ctx = () => ({
  fields: new FieldRegistry([{ key: "birthday", type: "date" }]),
  timeZone: "Europe/Paris",
  segments: new Map(),
});
const f = (field: string, op: string, value?: unknown): RuleNode =>
  (value === undefined ? { type: "field", field, op } : { type: "field", field, op, value }) as RuleNode;

function issue(rule: unknown): { path: string; message: string } {
  try {
    validateRule(rule, ctx());
  } catch (e) {
    if (e instanceof RuleValidationError) return e.issues[0];
    throw e;
  }
  throw new Error("expected the rule to be refused");
}

const PERIODS =
  "today, yesterday, tomorrow, this_week, last_week, next_week, this_month, last_month, next_month, this_quarter, last_quarter, next_quarter, this_year, last_year, next_year";

describe("calendar conditions: validation", () => {
  it("accepts periods and weekdays on date fields, date measures, filters and windows", () => {
    for (const rule of [
      f("created_at", "during", "last_month"),
      f("birthday", "anniversary_during", "this_month"),
      f("created_at", "weekday_in", ["monday", "sunday"]),
      { type: "event", event: "order_placed", window: { during: "this_quarter" } },
      { type: "event", event: "order_placed", measure: { fn: "last_at" }, op: "during", value: "this_week" },
      {
        type: "event",
        event: "order_placed",
        where: [{ property: "when", op: "weekday_in", value: ["friday"] }],
      },
      {
        type: "sequence",
        steps: [{ event: "a" }, { event: "b" }],
        within: "1d",
        window: { during: "last_year" },
      },
    ]) {
      expect(() => validateRule(rule, ctx()), JSON.stringify(rule)).not.toThrow();
    }
  });

  it("names the bad part", () => {
    expect(issue(f("created_at", "during", "this_decade"))).toEqual({
      path: "rule.value",
      message: `expected a calendar period: ${PERIODS}`,
    });
    expect(issue(f("created_at", "during", "30d")).path).toBe("rule.value");
    expect(issue(f("birthday", "anniversary_during", ["today"])).path).toBe("rule.value");
    expect(issue(f("created_at", "weekday_in", ["Monday"]))).toEqual({
      path: "rule.value",
      message:
        "expected a non-empty array of days: monday, tuesday, wednesday, thursday, friday, saturday, sunday",
    });
    expect(issue(f("created_at", "weekday_in", [])).path).toBe("rule.value");
    expect(issue(f("country", "during", "today"))).toEqual({
      path: "rule.op",
      message: '"during" does not apply to string field "country"',
    });
    expect(issue({ type: "event", event: "x", window: { during: "this_decade" } })).toEqual({
      path: "rule.window.during",
      message: `expected a calendar period: ${PERIODS}`,
    });
    expect(issue({ type: "event", event: "x", op: "during", value: "today" })).toEqual({
      path: "rule.op",
      message: '"during" does not apply to measure "count" (a number)',
    });
  });
});

describe("calendar conditions: text form", () => {
  const cases: [string, RuleNode][] = [
    ["created_at during last_month", f("created_at", "during", "last_month")],
    ["birthday anniversary during today", f("birthday", "anniversary_during", "today")],
    ['created_at weekday in ("monday", "friday")', f("created_at", "weekday_in", ["monday", "friday"])],
    [
      "count(order_placed, during this_quarter) >= 2",
      { type: "event", event: "order_placed", window: { during: "this_quarter" }, op: "gte", value: 2 },
    ],
    [
      "last_at(email_opened) during this_week",
      { type: "event", event: "email_opened", measure: { fn: "last_at" }, op: "during", value: "this_week" },
    ],
    [
      'did(order_placed where when weekday in ("saturday", "sunday"))',
      {
        type: "event",
        event: "order_placed",
        where: [{ property: "when", op: "weekday_in", value: ["saturday", "sunday"] }],
      },
    ],
    ['created_at during "someday"', f("created_at", "during", "someday")],
  ];
  for (const [text, rule] of cases) {
    it(`${text} reads and prints`, () => {
      expect(parseRuleText(text)).toStrictEqual(rule);
      expect(printRule(rule)).toBe(text);
    });
  }

  it("reads the JSON names too, and periods only in lower case", () => {
    expect(parseRuleText("created_at DURING today")).toStrictEqual(f("created_at", "during", "today"));
    expect(parseRuleText("birthday anniversary_during next_month")).toStrictEqual(
      f("birthday", "anniversary_during", "next_month"),
    );
    expect(parseRuleText('created_at weekday_in ("monday")')).toStrictEqual(
      f("created_at", "weekday_in", ["monday"]),
    );
    expect(() => parseRuleText("created_at during Today")).toThrow(/a calendar period/);
    expect(() => parseRuleText("count(order_placed, during this_decade) > 1")).toThrow(/a calendar period/);
  });

  it("still reads fields named during and weekday", () => {
    expect(parseRuleText("during = 1 and weekday in (1, 2)")).toStrictEqual({
      type: "and",
      conditions: [f("during", "eq", 1), f("weekday", "in", [1, 2])],
    });
  });
});
