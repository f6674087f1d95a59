/**
 * The arithmetic local day (src/engine/local-days.ts, day-scan.ts) against the
 * definitions it replaces: `monthDay` and `weekdayOf` (Luxon per value), and
 * anniversaries and weekdays as docs/rules.md words them, walked day by day over the
 * period. Instants are drawn around what breaks calendar code: 29 February, year ends,
 * local midnights (a date value is one), DST changes, a skipped day (Apia, 30 December
 * 2011), offsets in half and quarter hours and in seconds (Amsterdam before 1937), and
 * fractions of a millisecond.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bitset } from "../../src/engine/bitset.ts";
import { dayCodesOf } from "../../src/engine/day-scan.ts";
import { civilFromDays, weekdayOfDays, zoneDays } from "../../src/engine/local-days.ts";
import { dateTest } from "../../src/engine/predicates.ts";
import { CALENDAR_PERIODS, type CalendarPeriod, periodOf, WEEKDAYS } from "../../src/rules/calendar.ts";
import {
  type CalendarMove,
  calendarShiftByLuxon,
  dayBounds,
  isLeapYear,
  monthDay,
  parseDuration,
  periodStart,
  shift,
  weekdayOf,
} from "../../src/rules/time.ts";
import { CPU_BOUND } from "../support/cpu-bound.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const ZONES = [
  "UTC",
  "Etc/UTC",
  "Europe/Paris",
  "Europe/London",
  "Europe/Amsterdam",
  "America/New_York",
  "America/Sao_Paulo",
  "America/St_Johns",
  "Pacific/Apia",
  "Pacific/Kiritimati",
  "Australia/Lord_Howe",
  "Asia/Kathmandu",
  "Africa/Casablanca",
  "Etc/GMT+5",
] as const;

const zoneArb = fc.constantFrom(...ZONES);

/** Local midnights of days that matter, ± a little, in the zone. */
function edgeInstant(tz: string): fc.Arbitrary<number> {
  const date = fc.record({
    year: fc.integer({ min: 1890, max: 2100 }),
    md: fc.constantFrom<[number, number]>(
      [1, 1],
      [2, 28],
      [2, 29],
      [3, 1],
      [12, 31],
      [3, 31],
      [10, 31],
      [11, 1],
      [12, 30],
    ),
  });
  return fc
    .tuple(date, fc.constantFrom(0, -1, 1, -0.5, 0.5, HOUR - 1, -HOUR, DAY - 1, 12 * HOUR))
    .map(([{ year, md }, delta]) => {
      const [month, day] = md;
      const d = month === 2 && day === 29 && !isLeapYear(year) ? 28 : day;
      return dayBounds(year, month, d, tz).start + delta;
    });
}

function instantArb(tz: string): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min: -5_000_000_000_000, max: 5_000_000_000_000 }),
    // 1950–2030, where most values are, to the millisecond.
    fc.integer({ min: -631_152_000_000, max: 1_893_456_000_000 }),
    fc.double({ min: -3e12, max: 3e12, noNaN: true }),
    edgeInstant(tz),
  );
}

const withZone = <T>(f: (tz: string) => fc.Arbitrary<T>) =>
  zoneArb.chain((tz) => f(tz).map((v) => [tz, v] as const));

describe("local day numbers", CPU_BOUND, () => {
  it("give monthDay's year, month and day and weekdayOf's weekday", () => {
    fc.assert(
      fc.property(withZone(instantArb), ([tz, t]) => {
        const d = zoneDays(tz).days(t);
        const fast = civilFromDays(d);
        const slow = monthDay(t, tz);
        expect([tz, t, fast.year, fast.month, fast.day]).toEqual([tz, t, slow.year, slow.month, slow.day]);
        expect([tz, t, weekdayOfDays(d)]).toEqual([tz, t, weekdayOf(t, tz)]);
      }),
      { seed: 4211, numRuns: 4000 },
    );
  });

  it("read every instant of a skipped day and of DST changes at midnight like Luxon", () => {
    // Apia skipped 30 December 2011; São Paulo's clocks went from 00:00 to 01:00 on 4 November 2018.
    for (const [tz, iso] of [
      ["Pacific/Apia", "2011-12-29T09:00:00Z"],
      ["America/Sao_Paulo", "2018-11-04T02:00:00Z"],
      ["America/Sao_Paulo", "2019-02-17T01:00:00Z"],
      ["Europe/Paris", "2026-03-29T00:00:00Z"],
    ] as const) {
      const from = Date.parse(iso) - 3 * HOUR;
      for (let t = from; t < from + 6 * HOUR; t += 7 * MIN + 13) {
        const fast = civilFromDays(zoneDays(tz).days(t));
        expect([tz, t, fast.month, fast.day]).toEqual([tz, t, monthDay(t, tz).month, monthDay(t, tz).day]);
      }
    }
  });

  it("are NaN where Luxon and Date have no date", () => {
    for (const tz of ["UTC", "Europe/Paris"]) {
      expect(zoneDays(tz).days(Number.NaN)).toBeNaN();
      expect(zoneDays(tz).days(8.64e15 + 1)).toBeNaN();
      expect(zoneDays(tz).days(Number.NEGATIVE_INFINITY)).toBeNaN();
    }
  });
});

/** docs/rules.md's words: the value's month and day, in any year, is one of the period's days. */
function anniversaryDuringSlow(period: CalendarPeriod, now: number, t: number, tz: string): boolean {
  if (Number.isNaN(t)) return false;
  const { unit, offset } = periodOf(period);
  const lo = periodStart(now, unit, offset, tz);
  const hi = periodStart(now, unit, offset + 1, tz);
  return anniversaryIn(lo, hi, t, tz);
}

/** Whether a day overlapping [lo, hi) is t's anniversary; 29 February counts on 28 February of common years. */
function anniversaryIn(lo: number, hi: number, t: number, tz: string): boolean {
  const v = monthDay(t, tz);
  for (let day = periodStart(lo, "day", 0, tz); day < hi; day = periodStart(day, "day", 1, tz)) {
    const d = monthDay(day, tz);
    if (d.month === v.month && d.day === v.day) return true;
    if (v.month === 2 && v.day === 29 && d.month === 2 && d.day === 28 && !isLeapYear(d.year)) return true;
  }
  return false;
}

const nowArb = fc.oneof(
  fc.integer({ min: 946_684_800_000, max: 2_524_608_000_000 }),
  fc
    .record({
      year: fc.integer({ min: 2000, max: 2060 }),
      md: fc.constantFrom<[number, number]>([1, 1], [2, 28], [2, 29], [3, 1], [12, 31], [3, 29], [10, 25]),
    })
    .map(({ year, md }) => Date.UTC(year, md[0] - 1, md[1]) + (year % 5) * 5 * HOUR),
);

describe("calendar operators on date values", CPU_BOUND, () => {
  it("anniversary_during matches the period walked day by day", () => {
    const periods = CALENDAR_PERIODS.filter((p) => !p.endsWith("year"));
    fc.assert(
      fc.property(
        withZone((tz) => fc.tuple(fc.constantFrom(...periods), nowArb, instantArb(tz))),
        ([tz, [period, now, t]]) => {
          const fast = dateTest("anniversary_during", period, tz).at(now)(t);
          expect([tz, period, now, t, fast]).toEqual([
            tz,
            period,
            now,
            t,
            anniversaryDuringSlow(period, now, t, tz),
          ]);
        },
      ),
      { seed: 9917, numRuns: 1500 },
    );
  });

  it("anniversary_during a year holds for every date value; anniversary_in_next matches a walk", () => {
    fc.assert(
      fc.property(
        withZone((tz) =>
          fc.tuple(nowArb, instantArb(tz), fc.constantFrom("1d", "7d", "2w", "1mo", "36h", "90m")),
        ),
        ([tz, [now, t, dur]]) => {
          expect(dateTest("anniversary_during", "this_year", tz).at(now)(t)).toBe(true);
          const end = shift(now, parseDuration(dur), 1, tz);
          const fast = dateTest("anniversary_in_next", dur, tz).at(now)(t);
          expect([tz, now, t, dur, fast]).toEqual([tz, now, t, dur, anniversaryIn(now, end, t, tz)]);
        },
      ),
      { seed: 3120, numRuns: 800 },
    );
  });

  it("weekday_in reads weekdayOf", () => {
    fc.assert(
      fc.property(
        withZone((tz) => fc.tuple(fc.subarray([...WEEKDAYS], { minLength: 1 }), instantArb(tz))),
        ([tz, [days, t]]) => {
          const fast = dateTest("weekday_in", days, tz).at(0)(t);
          const slow = days.map((d) => WEEKDAYS.indexOf(d) + 1).includes(weekdayOf(t, tz));
          expect([tz, days, t, fast]).toEqual([tz, days, t, slow]);
        },
      ),
      { seed: 5521, numRuns: 1500 },
    );
  });

  it("the whole-column loop gives the per-value answer for every member of the mask", () => {
    const opArb = fc.oneof(
      fc.constantFrom(...CALENDAR_PERIODS).map((p) => ["anniversary_during", p as unknown] as const),
      fc.subarray([...WEEKDAYS], { minLength: 1 }).map((d) => ["weekday_in", d as unknown] as const),
      fc.constantFrom("1d", "3w").map((d) => ["anniversary_in_next", d as unknown] as const),
    );
    fc.assert(
      fc.property(
        withZone((tz) =>
          fc.tuple(
            opArb,
            nowArb,
            fc.array(fc.oneof(instantArb(tz), fc.constant(Number.NaN)), { minLength: 0, maxLength: 90 }),
            fc.array(fc.boolean(), { minLength: 0, maxLength: 100 }),
          ),
        ),
        ([tz, [[op, value], now, instants, inMask]]) => {
          const values = Float64Array.from(instants);
          // The mask may be longer than the column (contacts with no value yet).
          const mask = new Bitset(inMask.length);
          inMask.forEach((b, i) => b && mask.set(i));
          const test = dateTest(op, value, tz);
          const selectAt = test.selectAt;
          if (!selectAt) throw new Error(`${op} has no whole-column loop`);
          const got = selectAt(now, mask, values, dayCodesOf(values, tz));
          const p = test.at(now);
          for (let c = 0; c < inMask.length; c++) {
            const want = inMask[c] && c < values.length && p(values[c]);
            expect([c, values[c], got.has(c)]).toEqual([c, values[c], want]);
          }
        },
      ),
      { seed: 77, numRuns: 600 },
    );
  });
});

describe("calendar moves (shift by days, weeks, months, years)", CPU_BOUND, () => {
  const moveArb: fc.Arbitrary<CalendarMove> = fc.oneof(
    fc.integer({ min: -8, max: 8 }).map((days) => ({ days })),
    fc.integer({ min: -800, max: 800 }).map((days) => ({ days })),
    fc.integer({ min: -30, max: 30 }).map((months) => ({ months })),
    fc.integer({ min: -5, max: 5 }).map((years) => ({ years })),
  );
  const unitOf = (m: CalendarMove) =>
    "days" in m
      ? ({ n: Math.abs(m.days), unit: "d" } as const)
      : "months" in m
        ? ({ n: Math.abs(m.months), unit: "mo" } as const)
        : ({ n: Math.abs(m.years), unit: "y" } as const);
  const signOf = (m: CalendarMove): 1 | -1 =>
    ("days" in m ? m.days : "months" in m ? m.months : m.years) < 0 ? -1 : 1;

  // Zones whose clocks fell back at local midnight or 01:00, 21:00–22:00 UTC: an instant
  // early in the next UTC day may be on the repeated hour's second pass.
  const DROPS_LATE_IN_THE_UTC_DAY = ["Asia/Beirut", "Asia/Amman", "Asia/Damascus"];

  // The months in which zones change their offset, at any time of the day, where a move
  // of a few days or a year starts or lands a few hours from a change.
  const nearChanges = (tz: string): fc.Arbitrary<number> =>
    fc
      .record({
        year: fc.integer({ min: 1970, max: 2035 }),
        month: fc.constantFrom(3, 4, 9, 10, 11),
        day: fc.integer({ min: 1, max: 30 }),
        at: fc.integer({ min: -3 * HOUR, max: DAY + 3 * HOUR }),
      })
      .map(({ year, month, day, at }) => dayBounds(year, month, day, tz).start + at);

  it("give Luxon's calendar answer, at DST changes, month ends and skipped days too", () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom(...ZONES, ...DROPS_LATE_IN_THE_UTC_DAY)
          .chain((tz) =>
            fc.tuple(fc.oneof(instantArb(tz), nearChanges(tz)), moveArb).map((v) => [tz, v] as const),
          ),
        ([tz, [t, move]]) => {
          const got = shift(t, unitOf(move), signOf(move), tz);
          // In UTC, days are exact lengths (fractions of a millisecond kept): shift adds them.
          const exact = (tz === "UTC" || tz === "Etc/UTC") && "days" in move;
          expect(got).toBe(exact ? t + move.days * DAY : calendarShiftByLuxon(t, move, tz));
        },
      ),
      { seed: 6131, numRuns: 4000 },
    );
  });
});
