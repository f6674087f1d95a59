/**
 * Sequence conditions (SPEC §3.1; docs/semantics.md "Sequences"): steps at strictly
 * increasing timestamps, each a different event, the whole run inside `within`
 * (`t_last ≤ t_first + within`), every step inside the window when there is one.
 *
 * Each answer is computed six ways (events added one by one in reverse order and
 * loaded in bulk; `matches`, `evaluate`, `explain`) and the six must agree.
 */
import { describe, expect, it } from "vitest";
import type { ContactInput, EventInput, JsonValue } from "../../src/engine/index.ts";
import { holdsOnEveryPath } from "./every-path.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const T0 = NOW - 5 * DAY;

type Ev = Omit<EventInput, "contact_id">;

function holds(rule: object, events: Ev[], opts: { now?: number | string; tz?: string } = {}): boolean {
  const now = typeof opts.now === "string" ? Date.parse(opts.now) : (opts.now ?? NOW);
  const contacts: ContactInput[] = [{ id: "x1" }, { id: "c" }];
  // x1 holds the events in the opposite order of time, so its answers differ from c's.
  const all = events.flatMap((e, i) => [
    { ...e, contact_id: "c" },
    { ...events[events.length - 1 - i], timestamp: e.timestamp, contact_id: "x1" },
  ]);
  return holdsOnEveryPath({ rule, now, contacts, events: all, tz: opts.tz });
}

const e = (type: string, timestamp: number | string, properties?: { [k: string]: JsonValue }): Ev =>
  properties === undefined ? { type, timestamp } : { type, timestamp, properties };
const cart = (ts: number | string, p?: { [k: string]: JsonValue }) => e("cart_added", ts, p);
const order = (ts: number | string, p?: { [k: string]: JsonValue }) => e("order_placed", ts, p);
const seq = (steps: (string | { event: string; where?: object[] })[], within: string, window?: object) => ({
  type: "sequence",
  steps: steps.map((s) => (typeof s === "string" ? { event: s } : s)),
  within,
  ...(window ? { window } : {}),
});
const cartThenOrder = seq(["cart_added", "order_placed"], "1d");

describe("sequence: order and timing", () => {
  it("step 2 after step 1 within the duration", () => {
    expect(holds(cartThenOrder, [cart(T0), order(T0 + HOUR)])).toBe(true);
    expect(holds(cartThenOrder, [cart(T0)])).toBe(false);
    expect(holds(cartThenOrder, [order(T0)])).toBe(false);
    expect(holds(cartThenOrder, [])).toBe(false);
    expect(holds({ type: "not", condition: cartThenOrder }, [])).toBe(true);
  });

  it("the other order does not count", () => {
    expect(holds(cartThenOrder, [order(T0), cart(T0 + HOUR)])).toBe(false);
  });

  it("two events at the same millisecond are not one then the other", () => {
    expect(holds(cartThenOrder, [cart(T0), order(T0)])).toBe(false);
    expect(holds(cartThenOrder, [cart(T0), order(T0 + 1)])).toBe(true);
    // A second cart at the order's instant does not stop the first cart from chaining.
    expect(holds(cartThenOrder, [cart(T0), cart(T0 + HOUR), order(T0 + HOUR)])).toBe(true);
  });

  it("within is inclusive: t_last ≤ t_first + within", () => {
    expect(holds(cartThenOrder, [cart(T0), order(T0 + DAY)])).toBe(true);
    expect(holds(cartThenOrder, [cart(T0), order(T0 + DAY + 1)])).toBe(false);
    expect(holds(seq(["cart_added", "order_placed"], "30m"), [cart(T0), order(T0 + 30 * MIN)])).toBe(true);
    expect(holds(seq(["cart_added", "order_placed"], "30m"), [cart(T0), order(T0 + 30 * MIN + 1)])).toBe(
      false,
    );
  });

  it("a later start can complete when an earlier one is too slow", () => {
    expect(holds(cartThenOrder, [cart(T0), cart(T0 + 3 * DAY), order(T0 + 3 * DAY + HOUR)])).toBe(true);
    expect(holds(cartThenOrder, [cart(T0), order(T0 + 2 * DAY), cart(T0 + 3 * DAY)])).toBe(false);
    const three = seq(["page_viewed", "cart_added", "order_placed"], "2h");
    expect(
      holds(three, [
        e("page_viewed", T0),
        cart(T0 + 10 * MIN),
        e("page_viewed", T0 + 2 * HOUR),
        cart(T0 + 2 * HOUR + 30 * MIN),
        order(T0 + 3 * HOUR),
      ]),
    ).toBe(true);
    expect(holds(three, [e("page_viewed", T0), cart(T0 + 10 * MIN), order(T0 + 3 * HOUR)])).toBe(false);
  });

  it("three steps in order, with unrelated events interleaved", () => {
    const three = seq(["page_viewed", "cart_added", "order_placed"], "1d");
    expect(
      holds(three, [e("page_viewed", T0), order(T0 + HOUR), cart(T0 + 2 * HOUR), order(T0 + 3 * HOUR)]),
    ).toBe(true);
    expect(holds(three, [cart(T0), e("page_viewed", T0 + HOUR), order(T0 + 2 * HOUR)])).toBe(false);
    expect(holds(three, [e("page_viewed", T0), order(T0 + HOUR), cart(T0 + 2 * HOUR)])).toBe(false);
    const aba = seq(["a", "b", "a"], "1d");
    expect(holds(aba, [e("a", T0), e("b", T0 + 1), e("a", T0 + 2)])).toBe(true);
    expect(holds(aba, [e("a", T0), e("b", T0 + 1)])).toBe(false);
  });
});

describe("sequence: repeated event types", () => {
  it("each step is a different event at a later instant", () => {
    const twice = seq(["page_viewed", "page_viewed"], "1h");
    expect(holds(twice, [e("page_viewed", T0)])).toBe(false);
    expect(holds(twice, [e("page_viewed", T0), e("page_viewed", T0)])).toBe(false);
    expect(holds(twice, [e("page_viewed", T0), e("page_viewed", T0 + 1)])).toBe(true);
    expect(holds(twice, [e("page_viewed", T0), e("page_viewed", T0 + HOUR + 1)])).toBe(false);
    const thrice = seq(["a", "a", "a"], "1d");
    expect(holds(thrice, [e("a", T0), e("a", T0 + 1)])).toBe(false);
    expect(holds(thrice, [e("a", T0), e("a", T0), e("a", T0 + 1)])).toBe(false);
    expect(holds(thrice, [e("a", T0), e("a", T0 + 1), e("a", T0 + 2)])).toBe(true);
  });

  it("filters per step pick which events can play each step", () => {
    const s = seq(
      [
        { event: "a", where: [{ property: "k", op: "eq", value: 1 }] },
        { event: "a", where: [{ property: "k", op: "eq", value: 2 }] },
      ],
      "1d",
    );
    expect(holds(s, [e("a", T0, { k: 1 }), e("a", T0 + 1, { k: 2 })])).toBe(true);
    expect(holds(s, [e("a", T0, { k: 2 }), e("a", T0 + 1, { k: 1 })])).toBe(false);
    expect(holds(s, [e("a", T0, { k: 1 }), e("a", T0 + 1, { k: 1 })])).toBe(false);
  });
});

describe("sequence: filters", () => {
  it("where filters on any step", () => {
    const s = seq(
      [
        { event: "cart_added", where: [{ property: "sku", op: "eq", value: "A" }] },
        { event: "order_placed", where: [{ property: "total", op: "gt", value: 100 }] },
      ],
      "1d",
    );
    expect(holds(s, [cart(T0, { sku: " a " }), order(T0 + HOUR, { total: 150 })])).toBe(true);
    expect(holds(s, [cart(T0, { sku: "b" }), order(T0 + HOUR, { total: 150 })])).toBe(false);
    expect(holds(s, [cart(T0, { sku: "a" }), order(T0 + HOUR, { total: "150" })])).toBe(false);
    // The first order does not pass the filter; a later one inside `within` does.
    expect(
      holds(s, [
        cart(T0, { sku: "a" }),
        order(T0 + HOUR, { total: 5 }),
        order(T0 + 2 * HOUR, { total: 500 }),
      ]),
    ).toBe(true);
    const middle = seq(["a", { event: "b", where: [{ property: "x", op: "eq", value: 2 }] }, "c"], "3h");
    expect(
      holds(middle, [
        e("a", T0),
        e("b", T0 + HOUR, { x: 1 }),
        e("b", T0 + 2 * HOUR, { x: 2 }),
        e("c", T0 + 3 * HOUR),
      ]),
    ).toBe(true);
    expect(
      holds(middle, [
        e("a", T0),
        e("b", T0 + HOUR, { x: 1 }),
        e("c", T0 + 2 * HOUR),
        e("b", T0 + 3 * HOUR, { x: 2 }),
      ]),
    ).toBe(false);
  });
});

describe("sequence: within in calendar units", () => {
  it("1d across the spring change in Paris is 23 hours", () => {
    // 12:00 CET on 28 March is 11:00Z; 12:00 CEST on 29 March is 10:00Z.
    const paris = { tz: "Europe/Paris", now: "2026-04-01T00:00:00.000Z" };
    const c0 = cart("2026-03-28T11:00:00.000Z");
    expect(holds(cartThenOrder, [c0, order("2026-03-29T10:00:00.000Z")], paris)).toBe(true);
    expect(holds(cartThenOrder, [c0, order("2026-03-29T10:00:00.001Z")], paris)).toBe(false);
    expect(
      holds(seq(["cart_added", "order_placed"], "24h"), [c0, order("2026-03-29T10:30:00.000Z")], paris),
    ).toBe(true);
    // In UTC the same two events are 23 hours apart, well inside 1d.
    expect(holds(cartThenOrder, [c0, order("2026-03-29T10:30:00.000Z")], { now: paris.now })).toBe(true);
  });

  it("1mo from 31 January ends with 28 February", () => {
    const month = seq(["cart_added", "order_placed"], "1mo");
    const c0 = cart("2026-01-31T10:00:00.000Z");
    expect(holds(month, [c0, order("2026-02-28T23:59:59.999Z")])).toBe(true);
    expect(holds(month, [c0, order("2026-03-01T00:00:00.000Z")])).toBe(false);
    // From 28 January, a month is the same clock time on 28 February.
    const c1 = cart("2026-01-28T10:00:00.000Z");
    expect(holds(month, [c1, order("2026-02-28T10:00:00.000Z")])).toBe(true);
    expect(holds(month, [c1, order("2026-02-28T10:00:00.001Z")])).toBe(false);
  });
});

describe("sequence: window", () => {
  it("every step must lie in the window", () => {
    const s = seq(["cart_added", "order_placed"], "3d", { in_last: "7d" });
    expect(holds(s, [cart(NOW - 6 * DAY), order(NOW - 5 * DAY)])).toBe(true);
    expect(holds(s, [cart(NOW - 8 * DAY), order(NOW - 6 * DAY)])).toBe(false);
    expect(holds(s, [cart(NOW - 7 * DAY), order(NOW - 6 * DAY)])).toBe(false);
    expect(holds(s, [cart(NOW - 7 * DAY + 1), order(NOW - 6 * DAY)])).toBe(true);
    // The last step in the future is outside "in the last 7 days".
    expect(holds(s, [cart(NOW - HOUR), order(NOW + HOUR)])).toBe(false);
    expect(holds(s, [cart(NOW - HOUR), order(NOW)])).toBe(true);
    // A start outside the window does not block a later start inside it.
    expect(holds(s, [cart(NOW - 8 * DAY), cart(NOW - 2 * DAY), order(NOW - DAY)])).toBe(true);
  });

  it("absolute windows, both ends included for dates", () => {
    const s = seq(["cart_added", "order_placed"], "1d", { between: ["2026-05-01", "2026-05-02"] });
    expect(holds(s, [cart("2026-05-01T00:00:00.000Z"), order("2026-05-01T12:00:00.000Z")])).toBe(true);
    expect(holds(s, [cart("2026-05-02T20:00:00.000Z"), order("2026-05-02T23:59:59.999Z")])).toBe(true);
    expect(holds(s, [cart("2026-05-02T20:00:00.000Z"), order("2026-05-03T00:00:00.000Z")])).toBe(false);
    expect(holds(s, [cart("2026-04-30T23:59:59.999Z"), order("2026-05-01T01:00:00.000Z")])).toBe(false);
    const before = seq(["cart_added", "order_placed"], "1d", { before: "2026-05-01T10:00:00Z" });
    expect(holds(before, [cart("2026-05-01T08:00:00Z"), order("2026-05-01T09:59:59.999Z")])).toBe(true);
    expect(holds(before, [cart("2026-05-01T08:00:00Z"), order("2026-05-01T10:00:00.000Z")])).toBe(false);
  });
});

describe("sequence in a rule", () => {
  it("'added to cart, then no order within 1 day' is an and of an event and a not", () => {
    const abandoned = {
      type: "and",
      conditions: [
        { type: "event", event: "cart_added", window: { in_last: "7d" } },
        { type: "not", condition: cartThenOrder },
      ],
    };
    expect(holds(abandoned, [cart(NOW - 2 * DAY)])).toBe(true);
    expect(holds(abandoned, [cart(NOW - 2 * DAY), order(NOW - DAY - HOUR)])).toBe(false);
    expect(holds(abandoned, [cart(NOW - 2 * DAY), order(NOW - 2 * DAY - HOUR)])).toBe(true);
    expect(holds(abandoned, [])).toBe(false);
  });
});
