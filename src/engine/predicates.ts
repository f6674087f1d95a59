/**
 * Scalar predicates for operators, built once per compiled condition. Only positive
 * operators are built here; a negative operator is the negation of its positive twin
 * (docs/semantics.md), which gives SPEC §3.2's missing-value rule for free.
 */

import { type CalendarPeriod, periodOf, WEEKDAYS } from "../rules/calendar.ts";
import { NEGATION_OF, type Op } from "../rules/operators.ts";
import { dayBounds, isLeapYear, monthDay, parseDuration, periodStart, shift } from "../rules/time.ts";
import type { Bitset } from "./bitset.ts";
import { type DayTable, dayPredicate, monthDayTable, selectDays, weekdayTable } from "./day-scan.ts";
import { normalize } from "./dictionary.ts";
import { calendarRange, dateOpRange, type MovingRange, relative } from "./moving.ts";

export function splitNegation(op: string): { pos: Op; negate: boolean } {
  const twin = NEGATION_OF[op as Op];
  return twin ? { pos: twin, negate: true } : { pos: op as Op, negate: false };
}

/** A predicate over normalised strings. */
export function stringPredicate(op: Op, value: unknown): (s: string) => boolean {
  switch (op) {
    case "eq": {
      const v = normalize(value as string);
      return (s) => s === v;
    }
    case "in": {
      const set = new Set((value as string[]).map(normalize));
      return (s) => set.has(s);
    }
    case "contains": {
      const v = normalize(value as string);
      return (s) => s.includes(v);
    }
    case "starts_with": {
      const v = normalize(value as string);
      return (s) => s.startsWith(v);
    }
    case "ends_with": {
      const v = normalize(value as string);
      return (s) => s.endsWith(v);
    }
    default:
      throw new Error(`operator "${op}" does not apply to strings`);
  }
}

/** A predicate over numbers; NaN (missing) never satisfies it. */
export function numberPredicate(op: Op, value: unknown): (x: number) => boolean {
  switch (op) {
    case "eq": {
      const v = value as number;
      return (x) => x === v;
    }
    case "gt": {
      const v = value as number;
      return (x) => x > v;
    }
    case "gte": {
      const v = value as number;
      return (x) => x >= v;
    }
    case "lt": {
      const v = value as number;
      return (x) => x < v;
    }
    case "lte": {
      const v = value as number;
      return (x) => x <= v;
    }
    case "between": {
      const [lo, hi] = value as [number, number];
      return (x) => x >= lo && x <= hi;
    }
    case "is_set":
      return (x) => !Number.isNaN(x);
    default:
      throw new Error(`operator "${op}" does not apply to numbers`);
  }
}

/** A date operator: its predicate at an instant, and when a value's answer can next change. */
export interface DateTest {
  /** Null for anniversaries, which do not fit one range. */
  readonly range: MovingRange | null;
  readonly moving: boolean;
  /** The predicate at instant `now`; NaN (missing) never satisfies it. */
  at(now: number): (t: number) => boolean;
  /** Earliest instant after `now` at which the answer for `t` can change. */
  next(t: number, now: number): number;
  /**
   * For the operators that read a value's local day only (anniversaries, weekdays): the
   * members of `mask` whose instant in `values` passes at `now`, in one loop over the
   * values' day codes in the test's zone (`dayCodesOf`); the same answers as `at(now)`
   * per value.
   */
  selectAt?(now: number, mask: Bitset, values: Float64Array, codes: Int32Array): Bitset;
}

/**
 * The `at` and `selectAt` of a test by local day. A day table holds for a span of
 * instants (a whole period, or until either end of a window crosses a day boundary), and
 * both an evaluation (the same `now` a million times) and the timers of one advance (a
 * different `now` per contact, inside one span) reuse it rather than walk the days again.
 */
function byDay(
  tz: string,
  tableAt: (now: number) => { table: DayTable; from: number; until: number },
): Pick<DateTest, "at" | "selectAt"> {
  let from = Number.NaN;
  let until = Number.NaN;
  let cached: DayTable | null = null;
  const table = (now: number): DayTable => {
    if (cached === null || !(now >= from && now < until)) {
      const built = tableAt(now);
      cached = built.table;
      from = built.from;
      until = built.until;
    }
    return cached;
  };
  return {
    at: (now) => dayPredicate(table(now), tz),
    selectAt: (now, mask, values, codes) => selectDays(mask, codes, values, table(now), tz),
  };
}

export function dateTest(op: Op, value: unknown, tz: string): DateTest {
  const range = dateOpRange(op, value, tz);
  if (range) {
    return {
      range,
      moving: range.moving,
      at: (now) => {
        const [lo, hi] = range.at(now);
        return (t) => t >= lo && t <= hi;
      },
      next: (t, now) => range.nextChange(t, now),
    };
  }
  if (op === "anniversary_in_next") {
    const d = parseDuration(value as string);
    const endBound = relative(d, 1, 0, tz);
    // The window's ends move continuously but an anniversary day only changes at a day
    // boundary of either end: now's day leaves when the next day starts; the next day
    // at or after the end (start S) enters once the end passes S, at first(S + 1).
    // The same for every instant from one it was computed at up to itself, so the timers
    // of one advance (a different instant per contact) reuse it.
    let boundaryFrom = Number.NaN;
    let boundary = Number.NaN;
    const nextBoundary = (now: number): number => {
      if (!(now >= boundaryFrom && now < boundary)) {
        boundaryFrom = now;
        const entering = nextDayStart(endBound.at(now) - 1, tz);
        boundary = Math.min(nextDayStart(now, tz), endBound.first(entering + 1));
      }
      return boundary;
    };
    return {
      range: null,
      moving: true,
      ...byDay(tz, (now) => ({
        table: monthDayTable(anniversaryTable(now, shift(now, d, 1, tz), tz)),
        from: now,
        until: nextBoundary(now),
      })),
      next: (t, now) => (Number.isNaN(t) ? Number.POSITIVE_INFINITY : nextBoundary(now)),
    };
  }
  if (op === "anniversary_during") {
    const period = calendarRange(value as CalendarPeriod, tz);
    const { unit } = periodOf(value as CalendarPeriod);
    // Now's own period, kept while now stays in it.
    let start = Number.NaN;
    let end = Number.NaN;
    const periodEnd = (now: number): number => {
      if (!(now >= start && now < end)) {
        start = periodStart(now, unit, 0, tz);
        end = periodStart(now, unit, 1, tz);
      }
      return end;
    };
    return {
      range: null,
      moving: true,
      ...byDay(tz, (now) => {
        const [lo, hi] = period.at(now);
        const until = periodEnd(now);
        return { table: monthDayTable(anniversaryTable(lo, hi + 1, tz)), from: start, until };
      }),
      // The period, and so the days it covers, changes only when now's own period ends.
      next: (t, now) => (Number.isNaN(t) ? Number.POSITIVE_INFINITY : periodEnd(now)),
    };
  }
  if (op === "weekday_in") {
    const table = weekdayTable(
      (value as string[]).map((d) => WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number]) + 1),
    );
    return {
      range: null,
      moving: false,
      ...byDay(tz, () => ({ table, from: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY })),
      next: () => Number.POSITIVE_INFINITY,
    };
  }
  throw new Error(`operator "${op}" does not apply to dates`);
}

function nextDayStart(t: number, tz: string): number {
  const { year, month, day } = monthDay(t, tz);
  return dayBounds(year, month, day, tz).end + 1;
}

/**
 * Which (month, day) anniversaries fall on a day overlapping [now, end): one entry per
 * month*32+day. Walking the days of the window once makes the per-contact test a
 * lookup; a 29 February value matches 28 February in common years (SPEC §3.2).
 */
function anniversaryTable(now: number, end: number, tz: string): Uint8Array {
  const table = new Uint8Array(13 * 32);
  let { year, month, day } = monthDay(now, tz);
  for (let k = 0; k < 370; k++) {
    const b = dayBounds(year, month, day, tz);
    if (b.start >= end) break;
    table[month * 32 + day] = 1;
    if (month === 2 && day === 28 && !isLeapYear(year)) table[2 * 32 + 29] = 1;
    const next = monthDay(b.end + 1, tz);
    year = next.year;
    month = next.month;
    day = next.day;
  }
  return table;
}
