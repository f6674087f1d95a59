/**
 * Calendar conditions (docs/rules.md, "Calendar conditions"): `during` a calendar
 * period of now, `anniversary_during`, `weekday_in`, and `{ "during": P }` windows, in
 * the workspace zone. Answers at fixed instants, and live membership: as the clock
 * moves across day, week, month, quarter and year boundaries (DST changes included),
 * maintained membership equals a from-scratch evaluation, and every change is
 * reported at the exact millisecond the rule's answer flips.
 */
import { describe, expect, it } from "vitest";
import { Engine, type MembershipChange } from "../../src/engine/index.ts";
import { CALENDAR_PERIODS } from "../../src/rules/calendar.ts";
import type { RuleNode } from "../../src/rules/schema.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const FIELDS = [
  { key: "birthday", type: "date" as const },
  { key: "renewal_at", type: "date" as const },
];

function engineAt(tz: string, now: number): Engine {
  return new Engine({ timeZone: tz, fields: FIELDS, clock: { now: () => now }, defaultSegments: false });
}

const field = (f: string, op: string, value: unknown): RuleNode => ({ type: "field", field: f, op, value });

describe("during a calendar period", () => {
  // Wednesday 15 April 2026, 10:00 in Paris (CEST, UTC+2).
  const now = Date.parse("2026-04-15T08:00:00.000Z");
  const holds = (op: string, value: unknown, t: string | number, tz = "Europe/Paris", at = now) => {
    const eng = engineAt(tz, at);
    eng.upsertContact({ id: "c", fields: { renewal_at: t } });
    const rule = field("renewal_at", op, value);
    const r = eng.matches("c", rule);
    expect(eng.evaluate(rule).has("c")).toBe(r);
    expect(eng.explain("c", rule).result).toBe(r);
    return r;
  };

  it("covers each period from its first to its last millisecond, in the workspace zone", () => {
    const cases: [string, string, string][] = [
      // period, first ms, first ms after (UTC; Paris is UTC+2 in summer, UTC+1 in winter)
      ["today", "2026-04-14T22:00:00.000Z", "2026-04-15T22:00:00.000Z"],
      ["yesterday", "2026-04-13T22:00:00.000Z", "2026-04-14T22:00:00.000Z"],
      ["tomorrow", "2026-04-15T22:00:00.000Z", "2026-04-16T22:00:00.000Z"],
      ["this_week", "2026-04-12T22:00:00.000Z", "2026-04-19T22:00:00.000Z"],
      ["last_week", "2026-04-05T22:00:00.000Z", "2026-04-12T22:00:00.000Z"],
      ["next_week", "2026-04-19T22:00:00.000Z", "2026-04-26T22:00:00.000Z"],
      ["this_month", "2026-03-31T22:00:00.000Z", "2026-04-30T22:00:00.000Z"],
      // March starts in winter time and ends in summer time.
      ["last_month", "2026-02-28T23:00:00.000Z", "2026-03-31T22:00:00.000Z"],
      ["next_month", "2026-04-30T22:00:00.000Z", "2026-05-31T22:00:00.000Z"],
      ["this_quarter", "2026-03-31T22:00:00.000Z", "2026-06-30T22:00:00.000Z"],
      ["last_quarter", "2025-12-31T23:00:00.000Z", "2026-03-31T22:00:00.000Z"],
      ["next_quarter", "2026-06-30T22:00:00.000Z", "2026-09-30T22:00:00.000Z"],
      ["this_year", "2025-12-31T23:00:00.000Z", "2026-12-31T23:00:00.000Z"],
      ["last_year", "2024-12-31T23:00:00.000Z", "2025-12-31T23:00:00.000Z"],
      ["next_year", "2026-12-31T23:00:00.000Z", "2027-12-31T23:00:00.000Z"],
    ];
    expect(cases.map((c) => c[0]).sort()).toEqual([...CALENDAR_PERIODS].sort());
    for (const [period, first, after] of cases) {
      const a = Date.parse(first);
      const b = Date.parse(after);
      expect(holds("during", period, a - 1), `${period} before`).toBe(false);
      expect(holds("during", period, a), `${period} first`).toBe(true);
      expect(holds("during", period, b - 1), `${period} last`).toBe(true);
      expect(holds("during", period, b), `${period} after`).toBe(false);
    }
  });

  it("weeks start on Monday; a date value is its whole day", () => {
    // Sunday 12 April is last week's; Monday 13 April is this week's.
    expect(holds("during", "this_week", "2026-04-12")).toBe(false);
    expect(holds("during", "last_week", "2026-04-12")).toBe(true);
    expect(holds("during", "this_week", "2026-04-13")).toBe(true);
  });

  it("reads UTC days in a UTC workspace", () => {
    expect(holds("during", "today", "2026-04-14T23:00:00.000Z", "UTC")).toBe(false);
    expect(holds("during", "today", "2026-04-15T00:00:00.000Z", "UTC")).toBe(true);
  });

  it("a missing value is in no period", () => {
    const eng = engineAt("UTC", now);
    eng.upsertContact({ id: "c" });
    expect(eng.matches("c", field("renewal_at", "during", "this_year"))).toBe(false);
    expect(eng.matches("c", { type: "not", condition: field("renewal_at", "during", "this_year") })).toBe(
      true,
    );
  });
});

describe("anniversary_during and weekday_in", () => {
  const now = Date.parse("2026-04-15T08:00:00.000Z"); // Wednesday 15 April 2026, Paris
  const birthday = (value: string, period: string, at = now, tz = "Europe/Paris") => {
    const eng = engineAt(tz, at);
    eng.upsertContact({ id: "c", fields: { birthday: value } });
    const rule = field("birthday", "anniversary_during", period);
    expect(eng.evaluate(rule).has("c")).toBe(eng.matches("c", rule));
    return eng.matches("c", rule);
  };

  it("birthday today, this week, this month, next month", () => {
    expect(birthday("1990-04-15", "today")).toBe(true);
    expect(birthday("1990-04-16", "today")).toBe(false);
    expect(birthday("1990-04-16", "tomorrow")).toBe(true);
    expect(birthday("1990-04-13", "this_week")).toBe(true);
    expect(birthday("1990-04-19", "this_week")).toBe(true);
    expect(birthday("1990-04-20", "this_week")).toBe(false);
    expect(birthday("1990-04-01", "this_month")).toBe(true);
    expect(birthday("1990-04-30", "this_month")).toBe(true);
    expect(birthday("1990-05-01", "this_month")).toBe(false);
    expect(birthday("1990-05-01", "next_month")).toBe(true);
    expect(birthday("1990-03-31", "last_month")).toBe(true);
    expect(birthday("1990-12-31", "this_year")).toBe(true);
    expect(birthday("1990-07-01", "next_quarter")).toBe(true);
    expect(birthday("1990-06-30", "next_quarter")).toBe(false);
  });

  it("29 February falls on 28 February in common years", () => {
    const feb2027 = Date.parse("2027-02-10T12:00:00.000Z");
    expect(birthday("2000-02-29", "this_month", feb2027)).toBe(true);
    expect(birthday("2000-02-29", "today", Date.parse("2027-02-28T12:00:00.000Z"), "UTC")).toBe(true);
    expect(birthday("2000-02-29", "today", Date.parse("2028-02-28T12:00:00.000Z"), "UTC")).toBe(false);
    expect(birthday("2000-02-29", "today", Date.parse("2028-02-29T12:00:00.000Z"), "UTC")).toBe(true);
  });

  it("weekday_in reads the day of the week in the workspace zone", () => {
    const eng = engineAt("Europe/Paris", now);
    // Monday 13 April 2026, 00:30 in Paris, is still Sunday in UTC.
    eng.upsertContact({ id: "c", created_at: "2026-04-12T22:30:00.000Z" });
    expect(eng.matches("c", field("created_at", "weekday_in", ["monday"]))).toBe(true);
    expect(eng.matches("c", field("created_at", "weekday_in", ["sunday", "saturday"]))).toBe(false);
    const utc = engineAt("UTC", now);
    utc.upsertContact({ id: "c", created_at: "2026-04-12T22:30:00.000Z" });
    expect(utc.matches("c", field("created_at", "weekday_in", ["sunday"]))).toBe(true);
  });

  it("a scan of the whole population follows every write made after an earlier scan", () => {
    const eng = engineAt("Europe/Paris", now);
    const rule = field("birthday", "anniversary_during", "this_month");
    const agrees = () => {
      const scan = eng.evaluate(rule);
      for (const id of eng.contactIds()) expect([id, scan.has(id)]).toEqual([id, eng.matches(id, rule)]);
      return scan.count;
    };
    eng.upsertContact({ id: "a", fields: { birthday: "1990-04-20" } });
    eng.upsertContact({ id: "b", fields: { birthday: "1990-05-20" } });
    expect(agrees()).toBe(1);
    // After the first scan: a change each way, a removal, a value outside 1900–2199.
    eng.upsertContact({ id: "a", fields: { birthday: "1990-05-02" } });
    eng.upsertContact({ id: "b", fields: { birthday: "1990-04-02" } });
    eng.upsertContact({ id: "c", fields: { birthday: "1850-04-30" } });
    eng.upsertContact({ id: "d", fields: { birthday: "1990-04-30" } });
    expect(agrees()).toBe(3);
    eng.upsertContact({ id: "d", fields: { birthday: null } });
    eng.removeContact("b");
    expect(agrees()).toBe(1);
    // Past the columns' first capacity, then a bulk load.
    for (let i = 0; i < 3000; i++)
      eng.upsertContact({ id: `n${i}`, fields: { birthday: i % 2 ? "2001-04-09" : "2001-06-09" } });
    expect(agrees()).toBe(1501);
    eng.loadContacts([
      { id: "n1", fields: { birthday: "2001-07-01" } },
      { id: "z", fields: { birthday: "1999-04-04" } },
    ]);
    expect(agrees()).toBe(1501);
  });

  it("a scan follows a page of contacts loaded as columns after it ran", () => {
    const eng = engineAt("Europe/Paris", now);
    const rule = field("created_at", "weekday_in", ["monday"]);
    const monday = Date.parse("2026-04-12T22:30:00.000Z"); // 00:30 on Monday in Paris
    eng.upsertContact({ id: "a", created_at: "2026-04-14T10:00:00.000Z" });
    expect(eng.evaluate(rule).count).toBe(0);
    eng.loadContactColumns({
      ids: ["a", "b", "c"],
      columns: { created_at: { numbers: Float64Array.from([monday, monday - 7 * DAY, Number.NaN]) } },
    });
    const scan = eng.evaluate(rule);
    expect([...scan.ids()].sort()).toEqual(["a", "b"]);
    for (const id of ["a", "b", "c"]) expect(eng.matches(id, rule)).toBe(scan.has(id));
  });
});

describe("during windows on events and measures", () => {
  const now = Date.parse("2026-04-15T08:00:00.000Z");
  it("counts the events of a calendar period", () => {
    const eng = engineAt("Europe/Paris", now);
    eng.upsertContact({ id: "c" });
    for (const ts of [
      "2026-03-01T00:00:00+01:00",
      "2026-03-31T23:59:59.999+02:00",
      "2026-04-01T00:00:00+02:00",
    ]) {
      eng.addEvent({ type: "order_placed", contact_id: "c", timestamp: ts });
    }
    const count = (window: object) => {
      const e = eng.explain("c", {
        type: "event",
        event: "order_placed",
        window,
        op: "gte",
        value: 0,
      } as RuleNode);
      return e.type === "event" ? e.measured : null;
    };
    expect(count({ during: "last_month" })).toBe(2);
    expect(count({ during: "this_month" })).toBe(1);
    expect(count({ during: "last_quarter" })).toBe(2);
    expect(count({ during: "this_year" })).toBe(3);
    const last = {
      type: "event",
      event: "order_placed",
      measure: { fn: "last_at" },
      op: "during",
      value: "this_month",
    };
    expect(eng.matches("c", last as RuleNode)).toBe(true);
  });
});

// ---------------------------------------------------------------- live

/** A small deterministic generator, so the walk is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Every rule the live walk follows, by segment id. */
function liveRules(): Record<string, RuleNode> {
  const rules: Record<string, RuleNode> = {};
  for (const p of CALENDAR_PERIODS) {
    rules[`during_${p}`] = field("renewal_at", "during", p);
    rules[`window_${p}`] = { type: "event", event: "email_opened", window: { during: p } };
  }
  for (const p of [
    "today",
    "tomorrow",
    "this_week",
    "this_month",
    "next_month",
    "last_quarter",
    "this_year",
  ]) {
    rules[`anniv_${p}`] = field("birthday", "anniversary_during", p);
  }
  // Rolling anniversary windows, whose day tables hold until either end crosses a day boundary.
  for (const d of ["1d", "36h", "7d", "1mo"])
    rules[`anniv_next_${d}`] = field("birthday", "anniversary_in_next", d);
  rules.last_open = {
    type: "event",
    event: "email_opened",
    measure: { fn: "last_at" },
    op: "during",
    value: "last_week",
  };
  rules.mixed = {
    type: "and",
    conditions: [
      field("created_at", "weekday_in", ["monday", "tuesday", "wednesday"]),
      { type: "not", condition: field("renewal_at", "during", "this_month") },
    ],
  };
  return rules;
}

/**
 * One engine per rule: a contact's timer is the earliest of its segments' estimates,
 * so another rule's day-boundary timer would hide a late one.
 */
function liveCheck(
  tz: string,
  start: string,
  days: number,
  seed: number,
  id: string,
  rule: RuleNode,
): number {
  const t0 = Date.parse(start);
  let now = t0;
  const rnd = lcg(seed);
  const eng = new Engine({ timeZone: tz, fields: FIELDS, clock: { now: () => now }, defaultSegments: false });
  const around = (span: number) => t0 + Math.floor((rnd() * 2 - 1) * span);
  for (let i = 0; i < 30; i++) {
    eng.upsertContact({
      id: `c${i}`,
      created_at: around(200 * DAY),
      fields: {
        renewal_at: around(200 * DAY),
        birthday: i % 7 === 0 ? "2000-02-29" : around(3000 * DAY),
      },
    });
    for (let k = 0; k < 3; k++) {
      eng.addEvent({ type: "email_opened", contact_id: `c${i}`, timestamp: around(60 * DAY) });
    }
  }
  eng.defineSegment({ id, rule });
  const check = (changes: MembershipChange[]) => {
    for (const ch of changes) {
      const at = ch.at;
      const entered = ch.change === "entered";
      expect(eng.matches(ch.contact_id, rule, at), `${JSON.stringify(ch)} at`).toBe(entered);
      expect(eng.matches(ch.contact_id, rule, at - 1), `${JSON.stringify(ch)} just before`).toBe(!entered);
    }
    const live = eng.members(id);
    const scratch = eng.evaluate(rule, now);
    expect(live.count, `${id} at ${new Date(now).toISOString()}`).toBe(scratch.count);
    for (const c of scratch.ids()) expect(live.has(c), `${id} ${c}`).toBe(true);
  };
  check([]);
  const end = t0 + days * DAY;
  let flips = 0;
  while (now < end) {
    // Mostly small steps, sometimes several days at once: every change must still carry its own instant.
    const r = rnd();
    const step =
      r < 0.5 ? Math.floor(rnd() * 6 * HOUR) + 1 : r < 0.9 ? Math.floor(rnd() * 2 * DAY) + 1 : 9 * DAY;
    now = Math.min(end, now + step);
    const changes = eng.advanceTo(now);
    flips += changes.length;
    check(changes);
  }
  return flips;
}

function liveCheckAll(tz: string, start: string, days: number, seed: number): void {
  let flips = 0;
  for (const [id, rule] of Object.entries(liveRules())) flips += liveCheck(tz, start, days, seed, id, rule);
  // The walk has to have moved people, or it proves nothing.
  expect(flips).toBeGreaterThan(200);
}

describe("live membership across calendar boundaries", () => {
  it("Paris, across the spring DST change, a month end and a quarter end", () => {
    liveCheckAll("Europe/Paris", "2026-03-20T10:00:00.000Z", 30, 1);
  });

  it("New York, across the autumn DST change and the year end", () => {
    liveCheckAll("America/New_York", "2026-10-25T10:00:00.000Z", 75, 2);
  });

  it("UTC, across a leap day", () => {
    liveCheckAll("UTC", "2028-02-20T00:00:00.000Z", 20, 3);
  });
});
