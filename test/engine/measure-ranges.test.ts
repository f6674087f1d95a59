/**
 * Ranges on event measures ("opened 2 to 5 times in the last 30 days"): `between`
 * with `[low, high]`, both included, on counts and on the other numeric measures,
 * answered the same by every evaluation path, explained, and maintained live as
 * events age out of the window.
 */
import { describe, expect, it } from "vitest";
import { Engine, type EventInput } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { parseRuleText, printRule } from "../../src/rules/text/index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");

const opened = (value: unknown, extra: object = {}): RuleNode =>
  ({
    type: "event",
    event: "email_opened",
    window: { in_last: "30d" },
    op: "between",
    value,
    ...extra,
  }) as RuleNode;

function opens(id: string, ...ages: number[]): EventInput[] {
  return ages.map((a) => ({ type: "email_opened", contact_id: id, timestamp: NOW - a }));
}

/** Contact k has k opens in the last 30 days (and one older open, outside the window). */
function engine(): Engine {
  const eng = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
  for (let k = 0; k <= 7; k++) {
    eng.upsertContact({ id: `c${k}` });
    const ages = Array.from({ length: k }, (_, i) => (i + 1) * DAY);
    for (const e of opens(`c${k}`, ...ages, 40 * DAY)) eng.addEvent(e);
  }
  return eng;
}

function membersOf(eng: Engine, rule: RuleNode): string[] {
  const all = eng.evaluate(rule);
  const ids = eng.contactIds().filter((id) => all.has(id));
  for (const id of eng.contactIds()) {
    expect(eng.matches(id, rule), `matches(${id})`).toBe(all.has(id));
    expect(eng.explain(id, rule).result, `explain(${id})`).toBe(all.has(id));
  }
  return ids;
}

describe("between on event measures", () => {
  it("count between [2, 5] holds for 2, 3, 4 and 5 events in the window", () => {
    expect(membersOf(engine(), opened([2, 5]))).toEqual(["c2", "c3", "c4", "c5"]);
  });

  it("includes both ends, and a one-value range is eq", () => {
    expect(membersOf(engine(), opened([3, 3]))).toEqual(["c3"]);
    expect(membersOf(engine(), opened([0, 1]))).toEqual(["c0", "c1"]);
  });

  it("a count is a whole number: [1.5, 3.2] is 2 or 3, [2.2, 2.8] is none", () => {
    expect(membersOf(engine(), opened([1.5, 3.2]))).toEqual(["c2", "c3"]);
    expect(membersOf(engine(), opened([2.2, 2.8]))).toEqual([]);
  });

  it("not_between is written with not, and holds outside the range", () => {
    const rule: RuleNode = { type: "not", condition: opened([2, 5]) };
    expect(membersOf(engine(), rule)).toEqual(["c0", "c1", "c6", "c7"]);
  });

  it("works on the other numeric measures, with where filters too", () => {
    const eng = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
    const amounts: Record<string, number[]> = { a: [10, 20], b: [50], c: [5, 200], d: [] };
    for (const [id, list] of Object.entries(amounts)) {
      eng.upsertContact({ id });
      for (const amount of list) {
        eng.addEvent({ type: "order_placed", contact_id: id, timestamp: NOW - DAY, properties: { amount } });
      }
    }
    const order = (fn: string, value: [number, number], extra: object = {}): RuleNode =>
      ({
        type: "event",
        event: "order_placed",
        measure: { fn, property: "amount" },
        op: "between",
        value,
        ...extra,
      }) as RuleNode;
    expect(membersOf(eng, order("sum", [30, 50]))).toEqual(["a", "b"]);
    expect(membersOf(eng, order("sum", [0, 30]))).toEqual(["a", "d"]);
    // avg of no events is missing: not between anything.
    expect(membersOf(eng, order("avg", [0, 1000]))).toEqual(["a", "b", "c"]);
    expect(membersOf(eng, order("max", [20, 50]))).toEqual(["a", "b"]);
    expect(membersOf(eng, order("min", [5, 10]))).toEqual(["a", "c"]);
    expect(
      membersOf(eng, order("sum", [1, 10], { where: [{ property: "amount", op: "lt", value: 100 }] })),
    ).toEqual(["c"]);
  });

  it("explain reports the measured count and needed between [2, 5]", () => {
    const eng = engine();
    const e = eng.explain("c3", opened([2, 5]));
    expect(e).toMatchObject({
      type: "event",
      result: true,
      measured: 3,
      needed: { op: "between", value: [2, 5] },
    });
    expect(eng.explain("c6", opened([2, 5]))).toMatchObject({ result: false, measured: 6 });
  });

  it("is maintained live: entering when events age out above the range, leaving below it", () => {
    let now = NOW;
    const eng = new Engine({ timeZone: "UTC", clock: { now: () => now }, defaultSegments: false });
    eng.upsertContact({ id: "c" });
    // Six opens, 1 to 6 days old: above the range until the oldest leaves the window.
    for (const e of opens("c", DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY)) eng.addEvent(e);
    eng.defineSegment({ id: "s", rule: opened([2, 5]) });
    expect(eng.members("s").has("c")).toBe(false);
    now = NOW + 30 * DAY;
    const changes = eng.advanceTo(now);
    // The 6-day-old open leaves at NOW + 24d (count 5: enters); the 2-day-old one at
    // NOW + 28d (count 1: exits).
    expect(changes).toEqual([
      { segment_id: "s", contact_id: "c", change: "entered", at: NOW + 24 * DAY },
      { segment_id: "s", contact_id: "c", change: "exited", at: NOW + 28 * DAY },
    ]);
  });

  it("has a text form that reads back the same", () => {
    const rule = opened([2, 5]);
    const text = printRule(rule);
    expect(text).toBe("count(email_opened, last 30d) between 2 and 5");
    expect(parseRuleText(text)).toStrictEqual(rule);
    const sum: RuleNode = {
      type: "event",
      event: "order_placed",
      measure: { fn: "sum", property: "amount" },
      op: "between",
      value: [10.5, 99],
    };
    expect(printRule(sum)).toBe("sum(order_placed.amount) between 10.5 and 99");
    expect(parseRuleText(printRule(sum))).toStrictEqual(sum);
  });

  it("refuses a range whose low end is above its high end, or that is not two numbers", () => {
    const eng = engine();
    const refused = (value: unknown) => {
      try {
        eng.validate(opened(value));
      } catch (e) {
        return (e as { issues: { path: string; message: string }[] }).issues[0];
      }
      return null;
    };
    expect(refused([5, 2])).toEqual({ path: "rule.value", message: "low must not be greater than high" });
    expect(refused([2])).toEqual({ path: "rule.value", message: "expected [low, high], two numbers" });
    expect(refused(["2", 5])).toEqual({ path: "rule.value", message: "expected [low, high], two numbers" });
    expect(refused(3)).toEqual({ path: "rule.value", message: "expected [low, high], two numbers" });
  });
});
