/**
 * The reference evaluator checked by hand on the points where a plausible reading of
 * the SPEC goes wrong: window edges to the millisecond, DST, month ends, 29 February,
 * missing values, empty aggregates, sequences at the same instant.
 */
import { describe, expect, it } from "vitest";
import type { ContactInput, EventInput } from "../../src/engine/types.ts";
import { defaultSegments } from "../../src/rules/defaults.ts";
import { FieldRegistry } from "../../src/rules/fields.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { referenceMatches } from "./evaluate.ts";

const fields = new FieldRegistry([
  { key: "plan", type: "string" },
  { key: "score", type: "number" },
  { key: "vip", type: "boolean" },
  { key: "birthday", type: "date" },
  { key: "interests", type: "string_list" },
]);

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function ref(
  rule: RuleNode,
  opts: {
    now: number | string;
    contact?: Partial<ContactInput>;
    events?: Omit<EventInput, "contact_id">[];
    tz?: string;
    segments?: Map<string, RuleNode>;
  },
): boolean {
  const now = typeof opts.now === "number" ? opts.now : Date.parse(opts.now);
  return referenceMatches(
    rule,
    { id: "c", ...opts.contact },
    (opts.events ?? []).map((e) => ({ ...e, contact_id: "c" })),
    { now, timeZone: opts.tz ?? "UTC", fields, segments: opts.segments ?? new Map() },
  );
}

const opened = (inLast: string): RuleNode => ({
  type: "event",
  event: "email_opened",
  window: { in_last: inLast },
});

describe("reference: windows and durations", () => {
  const now = Date.parse("2026-05-10T12:00:00.000Z");

  it("in_last excludes now − D itself, includes now, excludes the future", () => {
    const at = (t: number) => ref(opened("30d"), { now, events: [{ type: "email_opened", timestamp: t }] });
    expect(at(now - 30 * DAY)).toBe(false);
    expect(at(now - 30 * DAY + 1)).toBe(true);
    expect(at(now)).toBe(true);
    expect(at(now + 1)).toBe(false);
  });

  it("more_than_ago includes now − D; in_next includes now and excludes now + D", () => {
    const field = (op: string, value: string, t: number) =>
      ref({ type: "field", field: "birthday", op, value }, { now, contact: { fields: { birthday: t } } });
    expect(field("more_than_ago", "1h", now - HOUR)).toBe(true);
    expect(field("more_than_ago", "1h", now - HOUR + 1)).toBe(false);
    expect(field("in_next", "1h", now)).toBe(true);
    expect(field("in_next", "1h", now + HOUR - 1)).toBe(true);
    expect(field("in_next", "1h", now + HOUR)).toBe(false);
    expect(field("in_next", "1h", now - 1)).toBe(false);
  });

  it("between_ago [D1, D2] is now − D1 < t ≤ now − D2", () => {
    const rule: RuleNode = { type: "event", event: "x", window: { between_ago: ["2d", "1d"] } };
    const at = (t: number) => ref(rule, { now, events: [{ type: "x", timestamp: t }] });
    expect(at(now - 2 * DAY)).toBe(false);
    expect(at(now - 2 * DAY + 1)).toBe(true);
    expect(at(now - DAY)).toBe(true);
    expect(at(now - DAY + 1)).toBe(false);
  });

  it("between_ago [D2, D1] is the same window as [D1, D2]", () => {
    const rule: RuleNode = { type: "event", event: "x", window: { between_ago: ["1d", "2d"] } };
    const at = (t: number) => ref(rule, { now, events: [{ type: "x", timestamp: t }] });
    expect(at(now - 2 * DAY)).toBe(false);
    expect(at(now - 2 * DAY + 1)).toBe(true);
    expect(at(now - DAY)).toBe(true);
    expect(at(now - DAY + 1)).toBe(false);
  });

  it("1d back across the spring DST change in Paris is 23 hours", () => {
    // 29 March 2026 is the spring change in Paris: 10:00 CEST is 08:00Z, 10:00 CET the day before is 09:00Z.
    const paris = { now: "2026-03-29T08:00:00.000Z", tz: "Europe/Paris" };
    const ev = (ts: string) => [{ type: "email_opened", timestamp: ts }];
    expect(ref(opened("1d"), { ...paris, events: ev("2026-03-28T09:00:00.000Z") })).toBe(false);
    expect(ref(opened("1d"), { ...paris, events: ev("2026-03-28T09:00:00.001Z") })).toBe(true);
    expect(ref(opened("1d"), { ...paris, events: ev("2026-03-28T08:30:00.000Z") })).toBe(false);
    expect(ref(opened("24h"), { ...paris, events: ev("2026-03-28T08:30:00.000Z") })).toBe(true);
  });

  it("1d back across the autumn DST change in New York is 25 hours", () => {
    // 1 November 2026: 12:00 EST is 17:00Z; 12:00 EDT the day before is 16:00Z.
    const ny = { now: "2026-11-01T17:00:00.000Z", tz: "America/New_York" };
    const ev = [{ type: "email_opened", timestamp: "2026-10-31T16:30:00.000Z" }];
    expect(ref(opened("1d"), { ...ny, events: ev })).toBe(true);
    expect(ref(opened("24h"), { ...ny, events: ev })).toBe(false);
  });

  it("a month back from 31 March is the end of 28 February, from 28 March the same clock time", () => {
    const rule = opened("1mo");
    const ev = (ts: string) => [{ type: "email_opened", timestamp: ts }];
    let now = "2026-03-31T10:00:00.000Z";
    expect(ref(rule, { now, events: ev("2026-02-28T23:59:59.999Z") })).toBe(false);
    expect(ref(rule, { now, events: ev("2026-03-01T00:00:00.000Z") })).toBe(true);
    now = "2026-03-28T10:00:00.000Z";
    expect(ref(rule, { now, events: ev("2026-02-28T10:00:00.000Z") })).toBe(false);
    expect(ref(rule, { now, events: ev("2026-02-28T10:00:00.001Z") })).toBe(true);
  });

  it("date windows: after a date is after its last millisecond, before is before its first", () => {
    const tz = "Europe/Paris";
    // 2026-06-01 in Paris runs from 2026-05-31T22:00Z to 2026-06-01T21:59:59.999Z.
    const after: RuleNode = { type: "event", event: "x", window: { after: "2026-06-01" } };
    const before: RuleNode = { type: "event", event: "x", window: { before: "2026-06-01" } };
    const between: RuleNode = {
      type: "event",
      event: "x",
      window: { between: ["2026-06-01", "2026-06-01"] },
    };
    const at = (rule: RuleNode, ts: string) =>
      ref(rule, { now: "2026-07-01T00:00:00Z", tz, events: [{ type: "x", timestamp: ts }] });
    expect(at(after, "2026-06-01T21:59:59.999Z")).toBe(false);
    expect(at(after, "2026-06-01T22:00:00.000Z")).toBe(true);
    expect(at(before, "2026-05-31T22:00:00.000Z")).toBe(false);
    expect(at(before, "2026-05-31T21:59:59.999Z")).toBe(true);
    expect(at(between, "2026-05-31T22:00:00.000Z")).toBe(true);
    expect(at(between, "2026-06-01T21:59:59.999Z")).toBe(true);
    expect(at(between, "2026-06-01T22:00:00.000Z")).toBe(false);
  });
});

describe("reference: date fields", () => {
  it("a date-only value is the start of that day in the workspace zone", () => {
    const rule: RuleNode = {
      type: "field",
      field: "birthday",
      op: "before",
      value: "2026-01-01T00:00:00+01:00",
    };
    // In Paris "2025-12-31" starts at 2025-12-30T23:00Z, before 2025-12-31T23:00Z.
    expect(ref(rule, { now: 0, tz: "Europe/Paris", contact: { fields: { birthday: "2025-12-31" } } })).toBe(
      true,
    );
    const onDay: RuleNode = { type: "field", field: "birthday", op: "on", value: "2025-12-31" };
    expect(ref(onDay, { now: 0, tz: "Europe/Paris", contact: { fields: { birthday: "2025-12-31" } } })).toBe(
      true,
    );
    expect(ref(onDay, { now: 0, tz: "UTC", contact: { fields: { birthday: "2025-12-30T23:30:00Z" } } })).toBe(
      false,
    );
    expect(
      ref(onDay, { now: 0, tz: "Europe/Paris", contact: { fields: { birthday: "2025-12-30T23:30:00Z" } } }),
    ).toBe(true);
  });

  it("29 February anniversaries fall on 28 February in common years, and today counts", () => {
    const rule: RuleNode = { type: "field", field: "birthday", op: "anniversary_in_next", value: "1d" };
    const born = { fields: { birthday: "2000-02-29" } };
    expect(ref(rule, { now: "2027-02-28T23:59:59.999Z", contact: born })).toBe(true);
    expect(ref(rule, { now: "2027-03-01T00:00:00.000Z", contact: born })).toBe(false);
    expect(ref(rule, { now: "2027-02-27T00:00:00.001Z", contact: born })).toBe(true);
    expect(ref(rule, { now: "2027-02-27T00:00:00.000Z", contact: born })).toBe(false);
    // In a leap year the day is the 29th itself, not the 28th.
    expect(ref(rule, { now: "2028-02-28T00:00:00.000Z", contact: born })).toBe(false);
    expect(ref(rule, { now: "2028-02-29T12:00:00.000Z", contact: born })).toBe(true);
  });

  it("anniversaries cross the year end and use the workspace zone's calendar day", () => {
    const rule: RuleNode = { type: "field", field: "birthday", op: "anniversary_in_next", value: "1w" };
    expect(ref(rule, { now: "2026-12-30T12:00:00Z", contact: { fields: { birthday: "1990-01-03" } } })).toBe(
      true,
    );
    expect(ref(rule, { now: "2026-12-30T12:00:00Z", contact: { fields: { birthday: "1990-01-07" } } })).toBe(
      false,
    );
    // 1990-01-06T23:30Z is 7 January in Paris, 6 January in UTC.
    const late = { fields: { birthday: "1990-01-06T23:30:00Z" } };
    expect(ref(rule, { now: "2026-12-30T12:00:00Z", contact: late })).toBe(true);
    expect(ref(rule, { now: "2026-12-30T12:00:00Z", tz: "Europe/Paris", contact: late })).toBe(false);
  });

  it("between with dates includes both end days", () => {
    const rule: RuleNode = {
      type: "field",
      field: "created_at",
      op: "between",
      value: ["2026-01-01", "2026-01-31"],
    };
    const at = (t: string) => ref(rule, { now: 0, contact: { created_at: t } });
    expect(at("2026-01-31T23:59:59.999Z")).toBe(true);
    expect(at("2026-02-01T00:00:00.000Z")).toBe(false);
    expect(at("2026-01-01T00:00:00.000Z")).toBe(true);
    expect(at("2025-12-31T23:59:59.999Z")).toBe(false);
  });
});

describe("reference: missing values", () => {
  const f = (field: string, op: string, value?: unknown): RuleNode =>
    value === undefined ? { type: "field", field, op } : { type: "field", field, op, value };

  it("a missing value satisfies only is_not_set, is_empty and the negatives", () => {
    const none = { now: 0 };
    expect(ref(f("country", "neq", "US"), none)).toBe(true);
    expect(ref(f("country", "not_in", ["US"]), none)).toBe(true);
    expect(ref(f("country", "not_contains", "U"), none)).toBe(true);
    expect(ref(f("country", "is_not_set"), none)).toBe(true);
    expect(ref(f("tags", "contains_none", ["a"]), none)).toBe(true);
    expect(ref(f("tags", "is_empty"), none)).toBe(true);
    expect(ref(f("country", "eq", "US"), none)).toBe(false);
    expect(ref(f("country", "starts_with", ""), none)).toBe(false);
    expect(ref(f("score", "neq", 1), none)).toBe(true);
    expect(ref(f("score", "lt", 1), none)).toBe(false);
    expect(ref(f("vip", "eq", false), none)).toBe(false);
    expect(ref(f("birthday", "before", "2100-01-01"), none)).toBe(false);
    expect(ref(f("tags", "contains_all", ["a"]), none)).toBe(false);
  });

  it("blank strings and empty lists are not set; comparisons ignore case and spaces", () => {
    expect(ref(f("city", "is_not_set"), { now: 0, contact: { city: "   " } })).toBe(true);
    expect(ref(f("tags", "is_empty"), { now: 0, contact: { tags: [] } })).toBe(true);
    expect(ref(f("tags", "is_empty"), { now: 0, contact: { tags: [" "] } })).toBe(true);
    expect(ref(f("country", "eq", " us "), { now: 0, contact: { country: "US" } })).toBe(true);
    expect(ref(f("tags", "contains", "VIP"), { now: 0, contact: { tags: [" vip "] } })).toBe(true);
    // List contains is whole elements, not substrings.
    expect(ref(f("tags", "contains", "vi"), { now: 0, contact: { tags: ["vip"] } })).toBe(false);
    expect(ref(f("plan", "contains", "RO"), { now: 0, contact: { fields: { plan: "Pro" } } })).toBe(true);
  });

  it("number and boolean values are compared exactly, between inclusive", () => {
    expect(ref(f("score", "between", [1, 2]), { now: 0, contact: { fields: { score: 2 } } })).toBe(true);
    expect(ref(f("score", "between", [1, 2]), { now: 0, contact: { fields: { score: 2.5 } } })).toBe(false);
    expect(ref(f("vip", "eq", false), { now: 0, contact: { fields: { vip: false } } })).toBe(true);
  });
});

describe("reference: event measures and property filters", () => {
  const now = Date.parse("2026-05-10T12:00:00Z");
  const orders = (props: EventInput["properties"][]) =>
    props.map((p, i) => ({ type: "order_placed", timestamp: now - (i + 1) * HOUR, properties: p }));

  it("empty aggregates: count, distinct and sum are 0; avg, min, max, first_at, last_at missing", () => {
    const m = (fn: string, op: string, value?: unknown, property?: string): RuleNode => ({
      type: "event",
      event: "order_placed",
      measure: property ? { fn: fn as "sum", property } : { fn: fn as "count" },
      op,
      ...(value === undefined ? {} : { value }),
    });
    expect(ref(m("count", "eq", 0), { now })).toBe(true);
    expect(ref(m("sum", "eq", 0, "amount"), { now })).toBe(true);
    expect(ref(m("distinct", "eq", 0, "amount"), { now })).toBe(true);
    expect(ref(m("avg", "lt", 100, "amount"), { now })).toBe(false);
    expect(ref(m("avg", "neq", 100, "amount"), { now })).toBe(true);
    expect(ref(m("max", "is_not_set", undefined, "amount"), { now })).toBe(true);
    expect(ref(m("last_at", "before", "2100-01-01"), { now })).toBe(false);
    expect(ref(m("first_at", "is_set"), { now })).toBe(false);
    // Events whose amount is not a number do not make avg defined.
    expect(ref(m("avg", "is_set", undefined, "amount"), { now, events: orders([{ amount: "12" }]) })).toBe(
      false,
    );
    expect(ref(m("sum", "eq", 0, "amount"), { now, events: orders([{ amount: "12" }]) })).toBe(true);
  });

  it("sum, avg, min, max use only numeric properties; distinct normalises strings", () => {
    const events = orders([{ amount: 10, c: " EUR " }, { amount: "5", c: "eur" }, { amount: 4, c: 5 }, {}]);
    const m = (fn: string, property: string, value: number): RuleNode => ({
      type: "event",
      event: "order_placed",
      measure: { fn: fn as "sum", property },
      op: "eq",
      value,
    });
    expect(ref(m("sum", "amount", 14), { now, events })).toBe(true);
    expect(ref(m("avg", "amount", 7), { now, events })).toBe(true);
    expect(ref(m("min", "amount", 4), { now, events })).toBe(true);
    expect(ref(m("max", "amount", 10), { now, events })).toBe(true);
    expect(ref(m("distinct", "c", 2), { now, events })).toBe(true);
    expect(ref(m("distinct", "amount", 3), { now, events })).toBe(true);
  });

  it("where filters are typed by the property's JSON value", () => {
    const events = orders([{ amount: 5, cur: " Eur ", items: ["A", 3], order: { total: 7 }, "a.b": 1 }]);
    const w = (property: string, op: string, value?: unknown): RuleNode => ({
      type: "event",
      event: "order_placed",
      where: [value === undefined ? { property, op } : { property, op, value }],
    });
    expect(ref(w("amount", "eq", "5"), { now, events })).toBe(false);
    expect(ref(w("amount", "neq", "5"), { now, events })).toBe(true);
    expect(ref(w("amount", "in", [5]), { now, events })).toBe(true);
    expect(ref(w("cur", "eq", "EUR"), { now, events })).toBe(true);
    expect(ref(w("cur", "gt", 1), { now, events })).toBe(false);
    expect(ref(w("items", "contains", "a"), { now, events })).toBe(true);
    expect(ref(w("items", "contains", "3"), { now, events })).toBe(false);
    expect(ref(w("items", "contains_all", ["a", "b"]), { now, events })).toBe(false);
    expect(ref(w("items", "contains_any", ["a", "b"]), { now, events })).toBe(true);
    expect(ref(w("order.total", "between", [7, 8]), { now, events })).toBe(true);
    expect(ref(w("a.b", "is_set"), { now, events })).toBe(false);
    expect(ref(w("missing", "not_in", ["x"]), { now, events })).toBe(true);
    expect(ref(w("missing", "starts_with", ""), { now, events })).toBe(false);
  });

  it("date operators on properties read ISO strings only", () => {
    const events = orders([{ d: "2026-05-01", n: 1777000000000 }]);
    const w = (property: string, op: string, value: unknown): RuleNode => ({
      type: "event",
      event: "order_placed",
      where: [{ property, op, value }],
    });
    expect(ref(w("d", "on", "2026-05-01"), { now, events })).toBe(true);
    expect(ref(w("d", "in_last", "10d"), { now, events })).toBe(true);
    expect(ref(w("d", "in_last", "9d"), { now, events })).toBe(false);
    expect(ref(w("n", "before", "2100-01-01"), { now, events })).toBe(false);
  });
});

describe("reference: sequences", () => {
  const now = Date.parse("2026-05-10T12:00:00Z");
  const seq: RuleNode = {
    type: "sequence",
    steps: [{ event: "cart_added" }, { event: "order_placed" }],
    within: "1h",
  };

  it("steps at the same millisecond are not one then the other", () => {
    const t = now - DAY;
    const events = [
      { type: "cart_added", timestamp: t },
      { type: "order_placed", timestamp: t },
    ];
    expect(ref(seq, { now, events })).toBe(false);
  });

  it("within is inclusive: t_last ≤ t_first + within", () => {
    const t = now - DAY;
    const at = (dt: number) =>
      ref(seq, {
        now,
        events: [
          { type: "order_placed", timestamp: t + dt },
          { type: "cart_added", timestamp: t },
        ],
      });
    expect(at(HOUR)).toBe(true);
    expect(at(HOUR + 1)).toBe(false);
    expect(at(1)).toBe(true);
  });

  it("a later first step can complete a run an earlier one could not", () => {
    const events = [
      { type: "cart_added", timestamp: now - 5 * HOUR },
      { type: "cart_added", timestamp: now - 3 * HOUR },
      { type: "order_placed", timestamp: now - 2 * HOUR - 30 * MIN },
    ];
    expect(ref(seq, { now, events })).toBe(true);
  });

  it("with a window, every step must be inside it", () => {
    const events = [
      { type: "cart_added", timestamp: now - DAY - 1 },
      { type: "order_placed", timestamp: now - DAY + 1 },
    ];
    expect(ref({ ...seq, window: { in_last: "1d" } } as RuleNode, { now, events })).toBe(false);
    expect(ref({ ...seq, window: { in_last: "2d" } } as RuleNode, { now, events })).toBe(true);
  });
});

describe("reference: segments and default segments", () => {
  const defaults = new Map(defaultSegments().map((s) => [s.id, s.rule]));
  const now = Date.parse("2026-05-10T12:00:00Z");
  const seg = (id: string): RuleNode => ({ type: "segment", op: "in", segment: id });

  it("all holds for a contact with no fields at all", () => {
    expect(ref(seg("all"), { now, segments: defaults })).toBe(true);
  });

  it("inactive: subscribed more than 90 days ago (or created then) and no open in 90 days", () => {
    const base = { status: "subscribed", subscribed_at: now - 90 * DAY };
    expect(ref(seg("inactive"), { now, segments: defaults, contact: base })).toBe(true);
    expect(
      ref(seg("inactive"), {
        now,
        segments: defaults,
        contact: { ...base, subscribed_at: now - 90 * DAY + 1 },
      }),
    ).toBe(false);
    expect(
      ref(seg("inactive"), {
        now,
        segments: defaults,
        contact: { status: "subscribed", created_at: now - 91 * DAY },
      }),
    ).toBe(true);
    expect(
      ref(seg("inactive"), {
        now,
        segments: defaults,
        contact: base,
        events: [{ type: "email_opened", timestamp: now - 90 * DAY + 1 }],
      }),
    ).toBe(false);
    expect(
      ref(seg("inactive"), {
        now,
        segments: defaults,
        contact: base,
        events: [{ type: "email_opened", timestamp: now - 90 * DAY }],
      }),
    ).toBe(true);
  });

  it("excluded: inactive and never opened nor clicked with at least 5 sends", () => {
    const contact = { status: "subscribed", subscribed_at: now - 100 * DAY };
    const sends = (n: number) =>
      Array.from({ length: n }, () => ({ type: "email_sent", timestamp: now - DAY }));
    expect(ref(seg("excluded"), { now, segments: defaults, contact, events: sends(5) })).toBe(true);
    expect(ref(seg("excluded"), { now, segments: defaults, contact, events: sends(4) })).toBe(false);
    expect(
      ref(seg("excluded"), {
        now,
        segments: defaults,
        contact,
        events: [...sends(5), { type: "email_clicked", timestamp: now - 200 * DAY }],
      }),
    ).toBe(false);
    expect(
      ref(seg("excluded"), {
        now,
        segments: defaults,
        contact: { ...contact, email_status: "soft_bouncing" },
      }),
    ).toBe(true);
  });

  it("not_in is the negation of in", () => {
    const segments = new Map<string, RuleNode>([
      ["s", { type: "field", field: "country", op: "eq", value: "fr" }],
    ]);
    const notIn: RuleNode = { type: "segment", op: "not_in", segment: "s" };
    expect(ref(notIn, { now, segments })).toBe(true);
    expect(ref(notIn, { now, segments, contact: { country: "FR" } })).toBe(false);
  });
});

describe("reference: profile effects of events (SPEC §2)", () => {
  const now = Date.parse("2026-05-10T12:00:00Z");
  const is = (field: string, value: string): RuleNode => ({ type: "field", field, op: "eq", value });
  const effect = (
    contact: Partial<ContactInput>,
    events: Omit<EventInput, "contact_id">[],
    writtenAt = Number.NEGATIVE_INFINITY,
  ) => {
    const ctx = { now, timeZone: "UTC", fields, segments: new Map(), writtenAt };
    return (rule: RuleNode) =>
      referenceMatches(
        rule,
        { id: "c", ...contact },
        events.map((e) => ({ ...e, contact_id: "c" })),
        ctx,
      );
  };
  const bounce = (t: number, bounce_type?: string) => ({
    type: "email_bounced",
    timestamp: t,
    ...(bounce_type === undefined ? {} : { properties: { bounce_type } }),
  });

  it("a hard bounce sticks; a soft one is cleared by a strictly later open or click", () => {
    expect(effect({}, [bounce(1, "hard"), bounce(2, "soft")])(is("email_status", "hard_bounced"))).toBe(true);
    expect(
      effect({}, [bounce(1, "hard"), { type: "email_opened", timestamp: 2 }])(
        is("email_status", "hard_bounced"),
      ),
    ).toBe(true);
    expect(effect({}, [bounce(1)])(is("email_status", "soft_bouncing"))).toBe(true);
    expect(
      effect({}, [bounce(1, "soft"), { type: "email_clicked", timestamp: 2 }])(
        is("email_status", "deliverable"),
      ),
    ).toBe(true);
    expect(
      effect({}, [{ type: "email_opened", timestamp: 1 }, bounce(1, "soft")])(
        is("email_status", "soft_bouncing"),
      ),
    ).toBe(true);
    expect(
      effect({}, [{ type: "email_opened", timestamp: 0 }, bounce(1, " HARD ")])(
        is("email_status", "hard_bounced"),
      ),
    ).toBe(true);
  });

  it("unsubscribes and complaints set status = unsubscribed; a complaint outranks later soft bounces", () => {
    const ev = [{ type: "email_complained", timestamp: 1 }, bounce(2, "soft")];
    expect(effect({ status: "subscribed" }, ev)(is("status", "unsubscribed"))).toBe(true);
    expect(effect({}, ev)(is("email_status", "complained"))).toBe(true);
    expect(
      effect({}, [{ type: "email_complained", timestamp: 3 }, bounce(2, "hard")])(
        is("email_status", "hard_bounced"),
      ),
    ).toBe(true);
    expect(
      effect({ status: "subscribed" }, [{ type: "email_unsubscribed", timestamp: 1 }])(
        is("status", "unsubscribed"),
      ),
    ).toBe(true);
  });

  it("an explicit write blocks the effects of older events, not of events at or after it", () => {
    const unsub = (t: number) => [{ type: "email_unsubscribed", timestamp: t }];
    expect(effect({ status: "subscribed" }, unsub(now - 1), now)(is("status", "subscribed"))).toBe(true);
    expect(effect({ status: "subscribed" }, unsub(now), now)(is("status", "unsubscribed"))).toBe(true);
    // A key left out is no write: it blocks nothing.
    expect(effect({ email_status: "deliverable" }, unsub(now - 1), now)(is("status", "unsubscribed"))).toBe(
      true,
    );
    // Explicitly written as not set still counts as a write.
    const none: RuleNode = { type: "field", field: "status", op: "is_not_set" };
    expect(effect({ status: null }, unsub(now - 1), now)(none)).toBe(true);
    expect(effect({ status: "  " }, unsub(now - 1), now)(none)).toBe(true);
  });
});
