/**
 * Event conditions (SPEC §3.1, §3.2; docs/semantics.md "Event conditions"): every
 * measure with and without matching events, every window kind at its edges, `where`
 * filters typed by the JSON value of the property, and the default `op`.
 *
 * Each answer is computed six ways (events added one by one in reverse order and
 * loaded in bulk; `matches`, `evaluate`, `explain`) and the six must agree.
 */
import { describe, expect, it } from "vitest";
import { type ContactInput, Engine, type EventInput, type JsonValue } from "../../src/engine/index.ts";
import { RuleValidationError } from "../../src/rules/errors.ts";
import { holdsOnEveryPath } from "./every-path.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");

type Ev = Omit<EventInput, "contact_id">;

interface Scenario {
  events?: Ev[];
  now?: number | string;
  tz?: string;
}

/** Whether `rule` holds for contact "c"; fails the test if the evaluation paths disagree. */
function holds(rule: object, sc: Scenario = {}): boolean {
  const now = typeof sc.now === "string" ? Date.parse(sc.now) : (sc.now ?? NOW);
  const contacts: ContactInput[] = [{ id: "x1" }, { id: "c" }, { id: "x2" }];
  // x1 has the same events shifted a year back, so other contacts' blocks sit around c's.
  const events = (sc.events ?? []).flatMap((e) => [
    { ...e, contact_id: "x1", timestamp: time(e.timestamp) - 365 * DAY },
    { ...e, contact_id: "c" },
  ]);
  return holdsOnEveryPath({ rule, now, contacts, events, tz: sc.tz });
}

/** The measured value explain reports for contact "c". */
function measured(rule: object, sc: Scenario = {}): number | string | null {
  const now = typeof sc.now === "string" ? Date.parse(sc.now) : (sc.now ?? NOW);
  const eng = new Engine({ timeZone: sc.tz ?? "UTC", clock: { now: () => now }, defaultSegments: false });
  eng.upsertContact({ id: "c" });
  for (const e of sc.events ?? []) eng.addEvent({ ...e, contact_id: "c" });
  const e = eng.explain("c", eng.validate(rule));
  if (e.type !== "event") throw new Error(`not an event node: ${e.type}`);
  return e.measured;
}

function time(ts: string | number): number {
  return typeof ts === "number" ? ts : Date.parse(ts);
}

const order = (timestamp: number | string, properties?: { [k: string]: JsonValue }): Ev =>
  properties === undefined
    ? { type: "order_placed", timestamp }
    : { type: "order_placed", timestamp, properties };
const orders = (...props: ({ [k: string]: JsonValue } | undefined)[]): Ev[] =>
  props.map((p, i) => order(NOW - (i + 1) * HOUR, p));
const ev = (extra: object) => ({ type: "event", event: "order_placed", ...extra });

describe("count and the default op", () => {
  it("with no op, the condition is 'has done it at least once'", () => {
    expect(holds(ev({}), { events: [] })).toBe(false);
    expect(holds(ev({}), { events: [order(NOW - DAY)] })).toBe(true);
    expect(holds(ev({}), { events: [{ type: "cart_added", timestamp: NOW - DAY }] })).toBe(false);
    expect(holds({ type: "event", event: "cart_added" }, { events: [order(NOW - DAY)] })).toBe(false);
  });

  it("without a window, all time includes events after now", () => {
    expect(holds(ev({}), { events: [order(NOW + DAY)] })).toBe(true);
    expect(holds(ev({ op: "eq", value: 2 }), { events: [order(NOW - DAY), order(NOW + DAY)] })).toBe(true);
  });

  it("'has not done' is count eq 0", () => {
    expect(holds(ev({ op: "eq", value: 0 }), { events: [] })).toBe(true);
    expect(holds(ev({ op: "eq", value: 0 }), { events: [order(NOW - 400 * DAY)] })).toBe(false);
    expect(holds({ type: "not", condition: ev({}) }, { events: [] })).toBe(true);
  });

  it("numeric operators on the count, bounds included", () => {
    const three = [order(NOW - 3 * HOUR), order(NOW - 2 * HOUR), order(NOW - HOUR)];
    const rows: [string, unknown, boolean][] = [
      ["eq", 3, true],
      ["eq", 2, false],
      ["neq", 3, false],
      ["neq", 0, true],
      ["gt", 2, true],
      ["gt", 3, false],
      ["gte", 3, true],
      ["gte", 4, false],
      ["lt", 4, true],
      ["lt", 3, false],
      ["lte", 3, true],
      ["lte", 2, false],
      ["between", [3, 5], true],
      ["between", [1, 3], true],
      ["between", [4, 5], false],
      ["gt", 2.5, true],
      ["lt", 3.5, true],
      ["eq", 2.5, false],
      ["between", [2.5, 3.5], true],
      ["is_set", undefined, true],
      ["is_not_set", undefined, false],
      ["lt", 0, false],
      ["gt", -1, true],
      ["neq", 2.5, true],
    ];
    for (const [op, value, expected] of rows) {
      expect(
        holds(ev({ op, ...(value === undefined ? {} : { value }) }), { events: three }),
        `${op} ${value}`,
      ).toBe(expected);
    }
  });

  it("an empty count is 0, never missing", () => {
    expect(holds(ev({ op: "lt", value: 1 }), { events: [] })).toBe(true);
    expect(holds(ev({ op: "lte", value: 0 }), { events: [] })).toBe(true);
    expect(holds(ev({ op: "between", value: [0, 2] }), { events: [] })).toBe(true);
    expect(holds(ev({ op: "neq", value: 0 }), { events: [] })).toBe(false);
    expect(holds(ev({ op: "is_set" }), { events: [] })).toBe(true);
    expect(measured(ev({ op: "gte", value: 0 }), { events: [] })).toBe(0);
  });

  it("same-timestamp events each count", () => {
    expect(
      holds(ev({ op: "eq", value: 3 }), { events: [order(NOW - DAY), order(NOW - DAY), order(NOW - DAY)] }),
    ).toBe(true);
  });
});

describe("distinct", () => {
  const d = (op: string, value: number, extra: object = {}) =>
    ev({ measure: { fn: "distinct", property: "product" }, op, value, ...extra });

  it("counts distinct values; strings trimmed and lower-cased; a number is not its string", () => {
    const events = orders(
      { product: "A" },
      { product: " a " },
      { product: "B" },
      { product: 1 },
      { product: "1" },
      { product: 1 },
      { product: null },
      {},
      undefined,
    );
    expect(measured(d("gte", 0), { events })).toBe(4);
    expect(holds(d("eq", 4), { events })).toBe(true);
    expect(holds(d("eq", 5), { events })).toBe(false);
  });

  it("is 0 with no events or no event with the property", () => {
    for (const events of [[], orders({}, { other: "x" }, { product: null })]) {
      expect(holds(d("eq", 0), { events })).toBe(true);
      expect(holds(d("neq", 0), { events })).toBe(false);
      expect(holds(d("lt", 1), { events })).toBe(true);
      expect(measured(d("eq", 0), { events })).toBe(0);
    }
  });

  it("counts only events that pass the where filters", () => {
    const events = orders(
      { product: "a", ok: true },
      { product: "b", ok: false },
      { product: "c", ok: true },
    );
    expect(holds(d("eq", 2, { where: [{ property: "ok", op: "eq", value: true }] }), { events })).toBe(true);
  });
});

describe("sum, avg, min, max", () => {
  const m = (fn: string, op: string, value?: unknown, extra: object = {}) =>
    ev({ measure: { fn, property: "amount" }, op, ...(value === undefined ? {} : { value }), ...extra });
  const mixed = orders(
    { amount: 10 },
    { amount: 20.5 },
    { amount: "30" },
    { amount: null },
    {},
    { amount: -4.5 },
  );

  it("aggregate the numeric values only", () => {
    expect(measured(m("sum", "gt", 0), { events: mixed })).toBe(26);
    expect(measured(m("avg", "gt", 0), { events: mixed })).toBeCloseTo(26 / 3, 12);
    expect(measured(m("min", "gt", 0), { events: mixed })).toBe(-4.5);
    expect(measured(m("max", "gt", 0), { events: mixed })).toBe(20.5);
    expect(holds(m("sum", "eq", 26), { events: mixed })).toBe(true);
    expect(holds(m("sum", "gt", 26), { events: mixed })).toBe(false);
    expect(holds(m("min", "lt", -4), { events: mixed })).toBe(true);
    expect(holds(m("min", "gte", -4.5), { events: mixed })).toBe(true);
    expect(holds(m("max", "between", [20.5, 30]), { events: mixed })).toBe(true);
    expect(holds(m("max", "gt", 20.5), { events: mixed })).toBe(false);
    expect(holds(m("avg", "between", [8, 9]), { events: mixed })).toBe(true);
  });

  it("an empty sum is 0", () => {
    for (const events of [[], orders({ amount: "10" }, {})]) {
      expect(holds(m("sum", "eq", 0), { events })).toBe(true);
      expect(holds(m("sum", "lt", 1), { events })).toBe(true);
      expect(holds(m("sum", "gt", 0), { events })).toBe(false);
      expect(holds(m("sum", "neq", 0), { events })).toBe(false);
      expect(holds(m("sum", "is_not_set"), { events })).toBe(false);
      expect(measured(m("sum", "eq", 0), { events })).toBe(0);
    }
  });

  it("an empty avg, min or max is missing: only the negatives hold", () => {
    for (const events of [[], orders({ amount: "10" }, {}, { amount: null })]) {
      for (const fn of ["avg", "min", "max"]) {
        const rows: [string, unknown, boolean][] = [
          ["neq", 0, true],
          ["is_not_set", undefined, true],
          ["eq", 0, false],
          ["lt", 1e12, false],
          ["lte", 0, false],
          ["gt", -1e12, false],
          ["gte", 0, false],
          ["between", [-1e12, 1e12], false],
          ["is_set", undefined, false],
        ];
        for (const [op, value, expected] of rows) {
          expect(holds(m(fn, op, value), { events }), `${fn} ${op} with ${events.length} events`).toBe(
            expected,
          );
        }
        expect(measured(m(fn, "eq", 0), { events })).toBeNull();
      }
    }
  });

  it("use only events inside the window and passing the where filters", () => {
    const events = [
      order(NOW - 10 * DAY, { amount: 100, currency: "EUR" }),
      order(NOW - 2 * DAY, { amount: 50, currency: "eur " }),
      order(NOW - DAY, { amount: 70, currency: "USD" }),
      order(NOW - HOUR, { amount: 5, currency: "EUR" }),
    ];
    const eur = [{ property: "currency", op: "eq", value: "EUR" }];
    expect(measured(m("sum", "gt", 0, { window: { in_last: "7d" } }), { events })).toBe(125);
    expect(measured(m("sum", "gt", 0, { where: eur }), { events })).toBe(155);
    expect(measured(m("sum", "gt", 0, { where: eur, window: { in_last: "7d" } }), { events })).toBe(55);
    expect(measured(m("max", "gt", 0, { where: eur, window: { in_last: "7d" } }), { events })).toBe(50);
    expect(measured(m("avg", "gt", 0, { window: { in_last: "7d" } }), { events })).toBeCloseTo(125 / 3, 12);
    expect(holds(m("sum", "gt", 200, { window: { in_last: "180d" }, where: eur }), { events })).toBe(false);
    expect(holds(m("sum", "gte", 155, { window: { in_last: "180d" }, where: eur }), { events })).toBe(true);
    // A window with no event in it: the sum is 0, the avg missing.
    expect(holds(m("sum", "eq", 0, { window: { in_last: "30m" } }), { events })).toBe(true);
    expect(holds(m("avg", "neq", 0, { window: { in_last: "30m" } }), { events })).toBe(true);
    expect(holds(m("avg", "gte", 0, { window: { in_last: "30m" } }), { events })).toBe(false);
  });
});

describe("first_at and last_at", () => {
  const at = (fn: string, op: string, value?: unknown, extra: object = {}) =>
    ev({ measure: { fn }, op, ...(value === undefined ? {} : { value }), ...extra });
  const events = [order(NOW - 10 * DAY), order(NOW - 3 * DAY), order(NOW - DAY)];

  it("measure the first and last matching event, as ISO instants", () => {
    expect(measured(at("first_at", "is_set"), { events })).toBe(new Date(NOW - 10 * DAY).toISOString());
    expect(measured(at("last_at", "is_set"), { events })).toBe(new Date(NOW - DAY).toISOString());
  });

  it("take every date operator, at its edges", () => {
    const rows: [string, string, unknown, boolean][] = [
      ["last_at", "in_last", "2d", true],
      ["last_at", "in_last", "1d", false],
      ["first_at", "in_last", "10d", false],
      ["first_at", "in_last", "11d", true],
      ["first_at", "more_than_ago", "10d", true],
      ["first_at", "more_than_ago", "11d", false],
      ["last_at", "more_than_ago", "1d", true],
      ["last_at", "in_next", "1d", false],
      ["first_at", "before", "2026-05-01", true],
      ["first_at", "before", "2026-04-30", false],
      ["first_at", "on", "2026-04-30", true],
      ["last_at", "on", "2026-05-09", true],
      ["last_at", "after", "2026-05-08", true],
      ["last_at", "after", "2026-05-09", false],
      ["last_at", "after", "2026-05-09T11:59:59.999Z", true],
      ["last_at", "after", "2026-05-09T12:00:00Z", false],
      ["first_at", "between", ["2026-04-30T12:00:00Z", "2026-05-01"], true],
      ["first_at", "between", ["2026-04-30T12:00:00.001Z", "2026-05-01"], false],
      ["last_at", "is_set", undefined, true],
      ["last_at", "is_not_set", undefined, false],
    ];
    for (const [fn, op, value, expected] of rows) {
      expect(holds(at(fn, op, value), { events }), `${fn} ${op} ${JSON.stringify(value)}`).toBe(expected);
    }
  });

  it("with no matching event they are missing: only is_not_set holds", () => {
    const none = [{ type: "cart_added", timestamp: NOW - DAY }];
    for (const fn of ["first_at", "last_at"]) {
      for (const [op, value] of [
        ["before", "2100-01-01"],
        ["after", "1900-01-01"],
        ["on", "2026-05-09"],
        ["between", ["1900-01-01", "2100-01-01"]],
        ["in_last", "1000w"],
        ["more_than_ago", "1m"],
        ["in_next", "1000w"],
        ["is_set", undefined],
      ] as [string, unknown][]) {
        expect(holds(at(fn, op, value), { events: none }), `${fn} ${op}`).toBe(false);
      }
      expect(holds(at(fn, "is_not_set"), { events: none })).toBe(true);
      expect(holds({ type: "not", condition: at(fn, "in_last", "30d") }, { events: none })).toBe(true);
      expect(measured(at(fn, "is_set"), { events: none })).toBeNull();
    }
  });

  it("a future event is the last one, and in_next sees it", () => {
    const withFuture = [...events, order(NOW + HOUR)];
    expect(holds(at("last_at", "in_next", "2h"), { events: withFuture })).toBe(true);
    expect(holds(at("last_at", "in_last", "30d"), { events: withFuture })).toBe(false);
    expect(
      holds(at("last_at", "in_last", "30d", { window: { in_last: "30d" } }), { events: withFuture }),
    ).toBe(true);
  });

  it("consider only events passing the where filters and inside the window", () => {
    const tagged = [
      order(NOW - 10 * DAY, { channel: "web" }),
      order(NOW - 3 * DAY, { channel: "app" }),
      order(NOW - DAY, { channel: "web" }),
    ];
    const app = [{ property: "channel", op: "eq", value: "APP" }];
    expect(measured(at("last_at", "is_set", undefined, { where: app }), { events: tagged })).toBe(
      new Date(NOW - 3 * DAY).toISOString(),
    );
    expect(
      measured(at("first_at", "is_set", undefined, { window: { in_last: "5d" } }), { events: tagged }),
    ).toBe(new Date(NOW - 3 * DAY).toISOString());
  });
});

describe("windows at their edges", () => {
  const inWindow = (window: object, ts: number | string, sc: Omit<Scenario, "events"> = {}) =>
    holds(ev({ window }), { ...sc, events: [order(ts)] });

  it("in_last D: now − D < t ≤ now, never the future", () => {
    expect(inWindow({ in_last: "30d" }, NOW - 30 * DAY)).toBe(false);
    expect(inWindow({ in_last: "30d" }, NOW - 30 * DAY + 1)).toBe(true);
    expect(inWindow({ in_last: "30d" }, NOW)).toBe(true);
    expect(inWindow({ in_last: "30d" }, NOW + 1)).toBe(false);
    expect(inWindow({ in_last: "90m" }, NOW - 90 * MIN)).toBe(false);
    expect(inWindow({ in_last: "90m" }, NOW - 90 * MIN + 1)).toBe(true);
  });

  it("a sum over in_last D takes an event at the window's first instant, and not one before", () => {
    const sum = (op: string) =>
      ev({ window: { in_last: "30d" }, measure: { fn: "sum", property: "amount" }, op, value: 0 });
    const first = [order(NOW - 30 * DAY + 1, { amount: 5 })];
    const before = [order(NOW - 30 * DAY, { amount: 5 })];
    expect(holds(sum("gt"), { events: first })).toBe(true);
    expect(holds(sum("eq"), { events: first })).toBe(false);
    expect(holds(sum("gt"), { events: before })).toBe(false);
    expect(holds(sum("eq"), { events: before })).toBe(true);
  });

  it("between_ago [D1, D2]: now − D1 < t ≤ now − D2", () => {
    const w = { between_ago: ["30d", "7d"] };
    expect(inWindow(w, NOW - 30 * DAY)).toBe(false);
    expect(inWindow(w, NOW - 30 * DAY + 1)).toBe(true);
    expect(inWindow(w, NOW - 7 * DAY)).toBe(true);
    expect(inWindow(w, NOW - 7 * DAY + 1)).toBe(false);
    expect(inWindow(w, NOW)).toBe(false);
    // Calendar months: 10 March 12:00 (excluded) to 10 April 12:00 (included).
    const months = { between_ago: ["2mo", "1mo"] };
    expect(inWindow(months, "2026-03-10T12:00:00.000Z")).toBe(false);
    expect(inWindow(months, "2026-03-10T12:00:00.001Z")).toBe(true);
    expect(inWindow(months, "2026-04-10T12:00:00.000Z")).toBe(true);
    expect(inWindow(months, "2026-04-10T12:00:00.001Z")).toBe(false);
  });

  it("between_ago takes its durations in either order", () => {
    for (const w of [{ between_ago: ["30d", "7d"] }, { between_ago: ["7d", "30d"] }]) {
      expect(inWindow(w, NOW - 30 * DAY)).toBe(false);
      expect(inWindow(w, NOW - 30 * DAY + 1)).toBe(true);
      expect(inWindow(w, NOW - 7 * DAY)).toBe(true);
      expect(inWindow(w, NOW - 7 * DAY + 1)).toBe(false);
    }
    // Which end is further back can change with the instant: on the Paris spring-forward
    // day "1d" back is 23 hours, so ["1d", "23h30m"]'s ends swap places.
    const spring = { tz: "Europe/Paris", now: "2026-03-29T10:00:00.000Z" };
    const w = { between_ago: ["1d", "1410m"] };
    const dayAgo = Date.parse("2026-03-28T11:00:00.000Z");
    const ago1410m = Date.parse(spring.now) - 1410 * MIN;
    expect(ago1410m).toBeLessThan(dayAgo);
    expect(inWindow(w, ago1410m, spring)).toBe(false);
    expect(inWindow(w, ago1410m + 1, spring)).toBe(true);
    expect(inWindow(w, dayAgo, spring)).toBe(true);
    expect(inWindow(w, dayAgo + 1, spring)).toBe(false);
    // The same rule a week later, outside the DST change: 1d is the longer one.
    const later = { tz: "Europe/Paris", now: "2026-04-05T10:00:00.000Z" };
    const t = Date.parse(later.now);
    expect(inWindow(w, t - DAY, later)).toBe(false);
    expect(inWindow(w, t - DAY + 1, later)).toBe(true);
    expect(inWindow(w, t - 1410 * MIN, later)).toBe(true);
    expect(inWindow(w, t - 1410 * MIN + 1, later)).toBe(false);
  });

  it("after T: after the last millisecond of a date, after an instant itself; the future counts", () => {
    expect(inWindow({ after: "2026-05-01" }, "2026-05-01T23:59:59.999Z")).toBe(false);
    expect(inWindow({ after: "2026-05-01" }, "2026-05-02T00:00:00.000Z")).toBe(true);
    expect(inWindow({ after: "2026-05-01" }, NOW + 10 * DAY)).toBe(true);
    expect(inWindow({ after: "2026-05-01T10:00:00Z" }, "2026-05-01T10:00:00.000Z")).toBe(false);
    expect(inWindow({ after: "2026-05-01T10:00:00Z" }, "2026-05-01T10:00:00.001Z")).toBe(true);
  });

  it("before T: before the first millisecond of a date, before an instant itself", () => {
    expect(inWindow({ before: "2026-05-01" }, "2026-04-30T23:59:59.999Z")).toBe(true);
    expect(inWindow({ before: "2026-05-01" }, "2026-05-01T00:00:00.000Z")).toBe(false);
    expect(inWindow({ before: "2026-05-01T10:00:00+02:00" }, "2026-05-01T07:59:59.999Z")).toBe(true);
    expect(inWindow({ before: "2026-05-01T10:00:00+02:00" }, "2026-05-01T08:00:00.000Z")).toBe(false);
  });

  it("between [A, B]: from the start of A to the end of B, both included", () => {
    const dates = { between: ["2026-05-01", "2026-05-03"] };
    expect(inWindow(dates, "2026-04-30T23:59:59.999Z")).toBe(false);
    expect(inWindow(dates, "2026-05-01T00:00:00.000Z")).toBe(true);
    expect(inWindow(dates, "2026-05-03T23:59:59.999Z")).toBe(true);
    expect(inWindow(dates, "2026-05-04T00:00:00.000Z")).toBe(false);
    const instants = { between: ["2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"] };
    expect(inWindow(instants, "2026-05-01T09:59:59.999Z")).toBe(false);
    expect(inWindow(instants, "2026-05-01T10:00:00.000Z")).toBe(true);
    expect(inWindow(instants, "2026-05-01T11:00:00.000Z")).toBe(true);
    expect(inWindow(instants, "2026-05-01T11:00:00.001Z")).toBe(false);
    // A window entirely in the future is fine too.
    expect(inWindow({ between: ["2026-06-01", "2026-06-01"] }, "2026-06-01T12:00:00Z")).toBe(true);
  });

  it("windows in a non-UTC workspace use its days, DST days included", () => {
    const paris = { tz: "Europe/Paris" };
    const day = { between: ["2026-03-29", "2026-03-29"] };
    expect(inWindow(day, "2026-03-28T22:59:59.999Z", paris)).toBe(false);
    expect(inWindow(day, "2026-03-28T23:00:00.000Z", paris)).toBe(true);
    expect(inWindow(day, "2026-03-29T21:59:59.999Z", paris)).toBe(true);
    expect(inWindow(day, "2026-03-29T22:00:00.000Z", paris)).toBe(false);
    expect(inWindow({ after: "2026-10-25" }, "2026-10-25T22:59:59.999Z", paris)).toBe(false);
    expect(inWindow({ after: "2026-10-25" }, "2026-10-25T23:00:00.000Z", paris)).toBe(true);
    // in_last 1d from 12:00 CEST on 29 March reaches back to 12:00 CET on 28 March (11:00Z).
    const spring = { tz: "Europe/Paris", now: "2026-03-29T10:00:00.000Z" };
    expect(inWindow({ in_last: "1d" }, "2026-03-28T11:00:00.000Z", spring)).toBe(false);
    expect(inWindow({ in_last: "1d" }, "2026-03-28T11:00:00.001Z", spring)).toBe(true);
    expect(inWindow({ in_last: "24h" }, "2026-03-28T10:30:00.000Z", spring)).toBe(true);
    expect(inWindow({ in_last: "1d" }, "2026-03-28T10:30:00.000Z", spring)).toBe(false);
  });

  it("a count in a window counts only the events inside it", () => {
    const events = [order(NOW - 31 * DAY), order(NOW - 20 * DAY), order(NOW - 5 * DAY), order(NOW + DAY)];
    expect(measured(ev({ window: { in_last: "30d" }, op: "gte", value: 0 }), { events })).toBe(2);
    expect(measured(ev({ window: { between_ago: ["30d", "10d"] }, op: "gte", value: 0 }), { events })).toBe(
      1,
    );
    expect(measured(ev({ window: { after: "2026-04-15" }, op: "gte", value: 0 }), { events })).toBe(3);
    expect(measured(ev({ op: "gte", value: 0 }), { events })).toBe(4);
    expect(holds(ev({ window: { in_last: "30d" }, op: "eq", value: 2 }), { events })).toBe(true);
    expect(holds(ev({ window: { in_last: "30d" }, op: "gt", value: 2 }), { events })).toBe(false);
    expect(holds(ev({ window: { in_last: "1d" }, op: "eq", value: 0 }), { events })).toBe(true);
  });
});

describe("where filters, typed by the property's JSON value", () => {
  const w = (property: string, op: string, value?: unknown) =>
    ev({ where: [value === undefined ? { property, op } : { property, op, value }] });
  const withProps = (properties: { [k: string]: JsonValue }) => [order(NOW - HOUR, properties)];
  const check = (filter: object, properties: { [k: string]: JsonValue }) =>
    holds(filter, { events: withProps(properties) });

  it("numeric operators hold only for number properties", () => {
    expect(check(w("amount", "gt", 100), { amount: 150 })).toBe(true);
    expect(check(w("amount", "gt", 100), { amount: "150" })).toBe(false);
    expect(check(w("amount", "lte", 150), { amount: 150 })).toBe(true);
    expect(check(w("amount", "lt", 150), { amount: 150 })).toBe(false);
    expect(check(w("amount", "gte", 0), { amount: true })).toBe(false);
    expect(check(w("amount", "gt", 0), { amount: [5] })).toBe(false);
    expect(check(w("amount", "between", [10, 20]), { amount: 10 })).toBe(true);
    expect(check(w("amount", "between", [10, 20]), { amount: 20 })).toBe(true);
    expect(check(w("amount", "between", [10, 20]), { amount: 20.01 })).toBe(false);
    expect(check(w("amount", "between", [10, 20]), { amount: "15" })).toBe(false);
    expect(check(w("amount", "gt", 0), {})).toBe(false);
  });

  it("eq compares same-typed values; strings ignore case and spaces", () => {
    expect(check(w("currency", "eq", "EUR"), { currency: " eur " })).toBe(true);
    expect(check(w("currency", "eq", "EUR"), { currency: "EURO" })).toBe(false);
    expect(check(w("amount", "eq", 150), { amount: 150 })).toBe(true);
    expect(check(w("amount", "eq", 150), { amount: "150" })).toBe(false);
    expect(check(w("amount", "eq", "150"), { amount: 150 })).toBe(false);
    expect(check(w("gift", "eq", true), { gift: true })).toBe(true);
    expect(check(w("gift", "eq", true), { gift: "true" })).toBe(false);
    expect(check(w("gift", "eq", false), { gift: false })).toBe(true);
    expect(check(w("gift", "eq", false), {})).toBe(false);
  });

  it("negatives are the negation of their positive twin, so they hold when the property is missing", () => {
    expect(check(w("amount", "neq", 150), { amount: "150" })).toBe(true);
    expect(check(w("amount", "neq", 150), { amount: 150 })).toBe(false);
    expect(check(w("gift", "neq", true), {})).toBe(true);
    expect(check(w("currency", "not_in", ["EUR"]), {})).toBe(true);
    expect(check(w("currency", "not_in", ["EUR"]), { currency: "eur" })).toBe(false);
    expect(check(w("color", "not_contains", "red"), {})).toBe(true);
    expect(check(w("color", "not_contains", "red"), { color: ["RED"] })).toBe(false);
    expect(check(w("colors", "contains_none", ["red"]), {})).toBe(true);
    expect(check(w("colors", "contains_none", ["red"]), { colors: ["blue", "Red"] })).toBe(false);
    expect(check(w("colors", "contains_none", ["red"]), { colors: ["blue"] })).toBe(true);
  });

  it("in matches strings and numbers, each against its own type", () => {
    const f = w("code", "in", [1, "A"]);
    expect(check(f, { code: 1 })).toBe(true);
    expect(check(f, { code: " a" })).toBe(true);
    expect(check(f, { code: "1" })).toBe(false);
    expect(check(f, { code: 2 })).toBe(false);
    expect(check(f, {})).toBe(false);
    expect(check(f, { code: ["a"] })).toBe(false);
  });

  it("contains: a substring of a string, or an element of an array", () => {
    expect(check(w("color", "contains", "RED"), { color: "Reddish" })).toBe(true);
    expect(check(w("color", "contains", "red"), { color: ["Blue", " RED "] })).toBe(true);
    expect(check(w("color", "contains", "red"), { color: ["reddish"] })).toBe(false);
    expect(check(w("color", "contains", "5"), { color: 5 })).toBe(false);
    expect(check(w("color", "contains", "red"), {})).toBe(false);
    expect(check(w("url", "starts_with", "HTTPS://"), { url: "https://x.io/a" })).toBe(true);
    expect(check(w("url", "starts_with", "https"), { url: ["https://x.io"] })).toBe(false);
    expect(check(w("url", "ends_with", "/A"), { url: "https://x.io/a" })).toBe(true);
    expect(check(w("url", "ends_with", "x"), { url: 5 })).toBe(false);
  });

  it("contains_any and contains_all read array properties", () => {
    expect(check(w("colors", "contains_any", ["red", "x"]), { colors: ["RED"] })).toBe(true);
    expect(check(w("colors", "contains_any", ["red"]), { colors: "red" })).toBe(false);
    expect(check(w("colors", "contains_any", ["red"]), { colors: [] })).toBe(false);
    expect(check(w("colors", "contains_all", ["red", "blue"]), { colors: ["blue", "red", "green"] })).toBe(
      true,
    );
    expect(check(w("colors", "contains_all", ["red", "blue"]), { colors: ["red"] })).toBe(false);
    expect(check(w("colors", "contains_all", ["red"]), {})).toBe(false);
  });

  it("is_set: present and not null", () => {
    expect(check(w("coupon", "is_set"), { coupon: "X" })).toBe(true);
    expect(check(w("coupon", "is_set"), { coupon: 0 })).toBe(true);
    expect(check(w("coupon", "is_set"), { coupon: false })).toBe(true);
    expect(check(w("coupon", "is_set"), { coupon: null })).toBe(false);
    expect(check(w("coupon", "is_set"), {})).toBe(false);
    expect(check(w("coupon", "is_not_set"), { coupon: null })).toBe(true);
    expect(check(w("coupon", "is_not_set"), { coupon: [] })).toBe(false);
  });

  it("dotted paths reach nested objects, not into arrays", () => {
    const nested = { order: { total: 250, items: { count: 3 }, tags: ["a"] } };
    expect(check(w("order.total", "gt", 200), nested)).toBe(true);
    expect(check(w("order.items.count", "eq", 3), nested)).toBe(true);
    expect(check(w("order.tags", "contains", "A"), nested)).toBe(true);
    expect(check(w("order.missing", "is_not_set"), nested)).toBe(true);
    expect(check(w("order", "is_set"), nested)).toBe(true);
    expect(check(w("order.total.x", "is_set"), nested)).toBe(false);
    expect(check(w("items.0.sku", "eq", "a"), { items: [{ sku: "a" }] })).toBe(false);
  });

  it("a key that itself contains a dot is not addressable (docs/semantics.md)", () => {
    expect(check(w("order.total", "gt", 200), { "order.total": 250 })).toBe(false);
    expect(check(w("order.total", "is_set"), { "order.total": 250 })).toBe(false);
    // The nested form is still reached when both are present.
    expect(check(w("order.total", "eq", 1), { "order.total": 250, order: { total: 1 } })).toBe(true);
  });

  it("date operators read string properties that parse as ISO dates or instants", () => {
    expect(check(w("shipped_at", "in_last", "7d"), { shipped_at: "2026-05-09T10:00:00Z" })).toBe(true);
    expect(check(w("shipped_at", "in_last", "7d"), { shipped_at: "2026-05-01T10:00:00Z" })).toBe(false);
    expect(check(w("shipped_at", "in_last", "7d"), { shipped_at: "soon" })).toBe(false);
    expect(check(w("shipped_at", "in_last", "7d"), { shipped_at: NOW - HOUR })).toBe(false);
    expect(check(w("shipped_at", "before", "2026-05-01"), { shipped_at: "2026-04-30" })).toBe(true);
    expect(check(w("shipped_at", "on", "2026-04-30"), { shipped_at: "2026-04-30T23:59:59.999Z" })).toBe(true);
    expect(
      check(w("shipped_at", "between", ["2026-04-01", "2026-04-30"]), { shipped_at: "2026-04-30" }),
    ).toBe(true);
    expect(check(w("shipped_at", "in_next", "1d"), { shipped_at: "2026-05-11T11:59:59.999Z" })).toBe(true);
    expect(check(w("shipped_at", "more_than_ago", "1d"), { shipped_at: "2026-05-09T12:00:00Z" })).toBe(true);
  });

  it("several filters must all hold on the same event", () => {
    const f = ev({
      where: [
        { property: "currency", op: "eq", value: "EUR" },
        { property: "amount", op: "gt", value: 100 },
      ],
    });
    expect(holds(f, { events: [order(NOW - HOUR, { currency: "EUR", amount: 150 })] })).toBe(true);
    expect(
      holds(f, {
        events: [
          order(NOW - 2 * HOUR, { currency: "EUR", amount: 50 }),
          order(NOW - HOUR, { currency: "USD", amount: 150 }),
        ],
      }),
    ).toBe(false);
  });

  it("filters combine with a window and a count", () => {
    const f = ev({
      where: [{ property: "currency", op: "eq", value: "EUR" }],
      window: { in_last: "7d" },
      op: "gte",
      value: 2,
    });
    const eur = (ts: number) => order(ts, { currency: "EUR" });
    expect(
      holds(f, { events: [eur(NOW - 8 * DAY), eur(NOW - DAY), order(NOW - HOUR, { currency: "USD" })] }),
    ).toBe(false);
    expect(holds(f, { events: [eur(NOW - 7 * DAY + 1), eur(NOW)] })).toBe(true);
  });

  it("every operator the validator accepts on a property can be evaluated", () => {
    const eng = new Engine({ clock: { now: () => NOW }, defaultSegments: false });
    eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: NOW - HOUR, properties: { list: [] } });
    for (const op of ["is_empty", "is_not_empty"]) {
      let node: ReturnType<Engine["validate"]>;
      try {
        node = eng.validate(w("list", op));
      } catch (e) {
        expect(e).toBeInstanceOf(RuleValidationError);
        continue;
      }
      expect(() => eng.evaluate(node), op).not.toThrow();
    }
  });
});
