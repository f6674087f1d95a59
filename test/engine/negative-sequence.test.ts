/**
 * Sequences with negative steps (docs/rules.md "Negative steps"): "cart_added then not
 * order_placed within 1h" holds once the deadline (the cart's instant + 1h) has come
 * with no order after the cart and at or before the deadline. An order after the
 * deadline changes nothing; the contact enters at the deadline itself, by a timer.
 *
 * Each answer is computed six ways (events added one by one in reverse order and
 * loaded in bulk; `matches`, `evaluate`, `explain`) and the six must agree.
 */
import { describe, expect, it } from "vitest";
import {
  type ContactInput,
  Engine,
  type EventInput,
  type ExplainNode,
  type JsonValue,
  type MembershipChange,
} from "../../src/engine/index.ts";
import { holdsOnEveryPath } from "./every-path.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");

type Ev = Omit<EventInput, "contact_id">;

function holds(rule: object, events: Ev[], opts: { now?: number; tz?: string } = {}): boolean {
  const now = opts.now ?? NOW;
  const contacts: ContactInput[] = [{ id: "c" }];
  const all = events.map((e) => ({ ...e, contact_id: "c" }));
  return holdsOnEveryPath({ rule, now, contacts, events: all, tz: opts.tz });
}

const e = (type: string, timestamp: number, properties?: { [k: string]: JsonValue }): Ev =>
  properties === undefined ? { type, timestamp } : { type, timestamp, properties };
const cart = (ts: number, p?: { [k: string]: JsonValue }) => e("cart_added", ts, p);
const order = (ts: number, p?: { [k: string]: JsonValue }) => e("order_placed", ts, p);
const view = (ts: number) => e("page_viewed", ts);

type Step = string | { event: string; where?: object[]; not?: true };
const seq = (steps: Step[], within: string, window?: object) => ({
  type: "sequence",
  steps: steps.map((s) => (typeof s === "string" ? { event: s } : s)),
  within,
  ...(window ? { window } : {}),
});
const not = (event: string, where?: object[]) => ({ event, not: true as const, ...(where ? { where } : {}) });
const abandoned = seq(["cart_added", not("order_placed")], "1h");

describe("negative steps: the deadline", () => {
  it("holds once within has passed after the start with no order", () => {
    expect(holds(abandoned, [cart(NOW - 2 * HOUR)])).toBe(true);
    expect(holds(abandoned, [cart(NOW - 2 * HOUR), order(NOW - HOUR - 30 * MIN)])).toBe(false);
    expect(holds(abandoned, [])).toBe(false);
    expect(holds(abandoned, [order(NOW - 2 * HOUR)])).toBe(false);
  });

  it("holds from the deadline itself, not before", () => {
    expect(holds(abandoned, [cart(NOW - HOUR)])).toBe(true);
    expect(holds(abandoned, [cart(NOW - HOUR + 1)])).toBe(false);
    expect(holds(abandoned, [cart(NOW - 10 * MIN)])).toBe(false);
    // A start in the future is not abandoned yet.
    expect(holds(abandoned, [cart(NOW + HOUR)])).toBe(false);
  });

  it("an order at the deadline cancels (within is inclusive); one after it changes nothing", () => {
    const t = NOW - 3 * HOUR;
    expect(holds(abandoned, [cart(t), order(t + HOUR)])).toBe(false);
    expect(holds(abandoned, [cart(t), order(t + HOUR + 1)])).toBe(true);
    expect(holds(abandoned, [cart(t), order(t + 2 * HOUR)])).toBe(true);
  });

  it("an order at the start's own millisecond is not after it, and one before it does not count", () => {
    const t = NOW - 3 * HOUR;
    expect(holds(abandoned, [cart(t), order(t)])).toBe(true);
    expect(holds(abandoned, [order(t - 1), cart(t)])).toBe(true);
    expect(holds(abandoned, [cart(t), order(t + 1)])).toBe(false);
  });

  it("some start abandoned is enough: a later cart left alone", () => {
    const t = NOW - 5 * HOUR;
    expect(holds(abandoned, [cart(t), order(t + 10 * MIN), cart(t + 2 * HOUR)])).toBe(true);
    // The second cart is ordered too.
    expect(
      holds(abandoned, [cart(t), order(t + 10 * MIN), cart(t + 2 * HOUR), order(t + 2 * HOUR + 5 * MIN)]),
    ).toBe(false);
    // One order cancels every cart before it within the hour.
    expect(holds(abandoned, [cart(t), cart(t + 10 * MIN), order(t + 20 * MIN)])).toBe(false);
  });

  it("within in calendar units: 1d across the spring change in Paris is 23 hours", () => {
    const rule = seq(["cart_added", not("order_placed")], "1d");
    const t = Date.parse("2026-03-28T11:00:00.000Z"); // 12:00 CET
    const deadline = Date.parse("2026-03-29T10:00:00.000Z"); // 12:00 CEST
    const tz = "Europe/Paris";
    expect(holds(rule, [cart(t)], { now: deadline, tz })).toBe(true);
    expect(holds(rule, [cart(t)], { now: deadline - 1, tz })).toBe(false);
    expect(holds(rule, [cart(t), order(deadline)], { now: deadline + DAY, tz })).toBe(false);
    expect(holds(rule, [cart(t), order(deadline + 1)], { now: deadline + DAY, tz })).toBe(true);
  });
});

describe("negative steps after several steps", () => {
  const browse = seq(["page_viewed", "cart_added", not("order_placed")], "2h");

  it("the absence runs from the last step done to the deadline, first step + within", () => {
    const t = NOW - 5 * HOUR;
    expect(holds(browse, [view(t), cart(t + HOUR)])).toBe(true);
    expect(holds(browse, [view(t), cart(t + HOUR), order(t + 90 * MIN)])).toBe(false);
    expect(holds(browse, [view(t), cart(t + HOUR), order(t + 2 * HOUR)])).toBe(false);
    expect(holds(browse, [view(t), cart(t + HOUR), order(t + 2 * HOUR + 1)])).toBe(true);
    // An order between the view and the cart is before the cart: it does not cancel.
    expect(holds(browse, [view(t), order(t + 30 * MIN), cart(t + HOUR)])).toBe(true);
    // The cart must come within 2h of the view.
    expect(holds(browse, [view(t), cart(t + 2 * HOUR + 1)])).toBe(false);
  });

  it("the last step done is the latest that fits: an order after an early cart is not after a later one", () => {
    const t = NOW - 5 * HOUR;
    expect(holds(browse, [view(t), cart(t + 10 * MIN), order(t + 20 * MIN), cart(t + 30 * MIN)])).toBe(true);
    expect(holds(browse, [view(t), cart(t + 10 * MIN), order(t + 20 * MIN)])).toBe(false);
  });

  it("several negative steps: none of them may happen", () => {
    const rule = seq(["cart_added", not("order_placed"), not("cart_removed")], "1h");
    const t = NOW - 3 * HOUR;
    expect(holds(rule, [cart(t)])).toBe(true);
    expect(holds(rule, [cart(t), e("cart_removed", t + MIN)])).toBe(false);
    expect(holds(rule, [cart(t), order(t + MIN)])).toBe(false);
  });

  it("the same type as the step before: no further view for 30 minutes", () => {
    const rule = seq(["page_viewed", not("page_viewed")], "30m");
    const t = NOW - 2 * HOUR;
    expect(holds(rule, [view(t), view(t + 10 * MIN)])).toBe(true);
    expect(holds(rule, [view(t)])).toBe(true);
    expect(holds(rule, [view(NOW - 10 * MIN)])).toBe(false);
    expect(holds(rule, [view(NOW - 40 * MIN), view(NOW - 20 * MIN)])).toBe(false);
  });
});

describe("negative steps: filters and windows", () => {
  it("where on a negative step: only matching events cancel", () => {
    const rule = seq(
      ["cart_added", not("order_placed", [{ property: "currency", op: "eq", value: "EUR" }])],
      "1h",
    );
    const t = NOW - 3 * HOUR;
    expect(holds(rule, [cart(t), order(t + MIN, { currency: "USD" })])).toBe(true);
    expect(holds(rule, [cart(t), order(t + MIN, { currency: "eur" })])).toBe(false);
  });

  it("the window holds the steps done; a negative event outside it still cancels", () => {
    const rule = seq(["cart_added", not("order_placed")], "1d", { between_ago: ["10d", "5d"] });
    const t = NOW - 5 * DAY - HOUR;
    expect(holds(rule, [cart(t)])).toBe(true);
    // The order is 4 days and 1 hour ago, above the window: the cart was still not abandoned.
    expect(holds(rule, [cart(t), order(t + 2 * HOUR)])).toBe(false);
    expect(holds(rule, [cart(NOW - 11 * DAY)])).toBe(false);
  });

  it("in the last 30 days: the cart leaves with the window", () => {
    const rule = seq(["cart_added", not("order_placed")], "1h", { in_last: "30d" });
    expect(holds(rule, [cart(NOW - 29 * DAY)])).toBe(true);
    expect(holds(rule, [cart(NOW - 30 * DAY)])).toBe(false);
  });
});

function live(now: number, tz = "UTC") {
  let t = now;
  const eng = new Engine({ timeZone: tz, clock: { now: () => t }, defaultSegments: false });
  return {
    eng,
    /** Moves the clock to `to` and returns the changes on the way. */
    to(to: number): MembershipChange[] {
      t = to;
      return eng.advanceTo(to);
    },
  };
}

const change = (kind: "entered" | "exited", at: number): MembershipChange => ({
  segment_id: "s",
  contact_id: "c",
  change: kind,
  at,
});

describe("negative steps, maintained live", () => {
  const t0 = NOW;

  it("enters at the deadline exactly, by a timer", () => {
    const { eng, to } = live(t0);
    eng.defineSegment({ id: "s", rule: abandoned });
    expect(eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 })).toEqual([]);
    expect(to(t0 + HOUR - 1)).toEqual([]);
    expect(to(t0 + 5 * HOUR)).toEqual([change("entered", t0 + HOUR)]);
    // A later order does not undo the abandonment.
    expect(eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: t0 + 5 * HOUR })).toEqual([]);
    expect(eng.members("s").has("c")).toBe(true);
  });

  it("an order before the deadline cancels the entry", () => {
    const { eng, to } = live(t0);
    eng.defineSegment({ id: "s", rule: abandoned });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 });
    to(t0 + 30 * MIN);
    expect(eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: t0 + 30 * MIN })).toEqual([]);
    expect(to(t0 + 5 * HOUR)).toEqual([]);
  });

  it("a late order stamped before the deadline takes the contact out when it arrives", () => {
    const { eng, to } = live(t0);
    eng.defineSegment({ id: "s", rule: abandoned });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 });
    expect(to(t0 + 2 * HOUR)).toEqual([change("entered", t0 + HOUR)]);
    expect(eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: t0 + HOUR })).toEqual([
      change("exited", t0 + 2 * HOUR),
    ]);
  });

  it("a late start with an earlier deadline moves the timer forward", () => {
    const { eng, to } = live(t0 + 35 * MIN);
    eng.defineSegment({ id: "s", rule: abandoned });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 + 30 * MIN });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 });
    expect(to(t0 + 3 * HOUR)).toEqual([change("entered", t0 + HOUR)]);
  });

  it("a cancelled start leaves the next one's deadline", () => {
    const { eng, to } = live(t0);
    eng.defineSegment({ id: "s", rule: abandoned });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 });
    to(t0 + 10 * MIN);
    eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: t0 + 10 * MIN });
    to(t0 + 20 * MIN);
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 + 20 * MIN });
    expect(to(t0 + 3 * HOUR)).toEqual([change("entered", t0 + 80 * MIN)]);
  });

  it("with a window, enters at the deadline and leaves when the cart leaves the window", () => {
    const { eng, to } = live(t0);
    eng.defineSegment({ id: "s", rule: seq(["cart_added", not("order_placed")], "1h", { in_last: "1d" }) });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: t0 });
    expect(to(t0 + 2 * DAY)).toEqual([change("entered", t0 + HOUR), change("exited", t0 + DAY)]);
  });
});

describe("negative steps: explain", () => {
  const sequenceNode = (n: ExplainNode) => {
    if (n.type !== "sequence") throw new Error(`expected a sequence node, got ${n.type}`);
    return n;
  };

  it("shows the pending deadline, then when the run completed", () => {
    let now = NOW;
    const eng = new Engine({ timeZone: "UTC", clock: { now: () => now }, defaultSegments: false });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: NOW - 20 * MIN });
    const rule = eng.validate(abandoned);
    expect(sequenceNode(eng.explain("c", rule))).toMatchObject({
      result: false,
      completed_at: null,
      pending_until: new Date(NOW + 40 * MIN).toISOString(),
    });
    now = NOW + 40 * MIN;
    expect(sequenceNode(eng.explain("c", rule))).toMatchObject({
      result: true,
      completed_at: new Date(NOW + 40 * MIN).toISOString(),
      pending_until: null,
    });
  });

  it("nothing pending once an order came, nor when the cart will have left the window", () => {
    const eng = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: NOW - 20 * MIN });
    eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: NOW - 10 * MIN });
    expect(sequenceNode(eng.explain("c", eng.validate(abandoned))).pending_until).toBeNull();
    eng.addEvent({ type: "cart_added", contact_id: "d", timestamp: NOW - 20 * MIN });
    const short = eng.validate(seq(["cart_added", not("order_placed")], "1h", { in_last: "30m" }));
    expect(sequenceNode(eng.explain("d", short)).pending_until).toBeNull();
    const wide = eng.validate(seq(["cart_added", not("order_placed")], "1h", { in_last: "2h" }));
    expect(sequenceNode(eng.explain("d", wide)).pending_until).toBe(new Date(NOW + 40 * MIN).toISOString());
  });

  it("sequences without a negative step carry no pending_until", () => {
    const eng = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
    eng.addEvent({ type: "cart_added", contact_id: "c", timestamp: NOW - 20 * MIN });
    const node = sequenceNode(eng.explain("c", eng.validate(seq(["cart_added", "order_placed"], "1h"))));
    expect("pending_until" in node).toBe(false);
  });
});
