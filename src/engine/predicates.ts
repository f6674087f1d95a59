/**
 * Scalar predicates for operators, built once per compiled condition. Only positive
 * operators are built here; a negative operator is the negation of its positive twin
 * (docs/semantics.md), which gives SPEC §3.2's missing-value rule for free.
 */
import { NEGATION_OF, type Op } from "../rules/operators.ts";
import {
  dayBounds,
  isLeapYear,
  monthDay,
  parseDuration,
  parseTimeValue,
  shift,
  type TimeSpan,
} from "../rules/time.ts";
import { normalize } from "./dictionary.ts";

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

function span(v: unknown, tz: string): TimeSpan {
  return parseTimeValue(v as string, tz);
}

/** The inclusive [lo, hi] instants a date operator accepts, or null for anniversaries. */
export function dateRange(op: Op, value: unknown, now: number, tz: string): [number, number] | null {
  switch (op) {
    case "before":
      return [Number.NEGATIVE_INFINITY, span(value, tz).start - 1];
    case "after":
      return [span(value, tz).end + 1, Number.POSITIVE_INFINITY];
    case "on": {
      const s = span(value, tz);
      return [s.start, s.end];
    }
    case "between": {
      const [a, b] = value as [string, string];
      return [span(a, tz).start, span(b, tz).end];
    }
    case "in_last":
      return [shift(now, parseDuration(value as string), -1, tz) + 1, now];
    case "more_than_ago":
      return [Number.NEGATIVE_INFINITY, shift(now, parseDuration(value as string), -1, tz)];
    case "in_next":
      return [now, shift(now, parseDuration(value as string), 1, tz) - 1];
    case "is_set":
      return [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
    default:
      return null;
  }
}

/** A predicate over instants (epoch ms); NaN (missing) never satisfies it. */
export function datePredicate(op: Op, value: unknown, now: number, tz: string): (t: number) => boolean {
  const range = dateRange(op, value, now, tz);
  if (range) {
    const [lo, hi] = range;
    return (t) => t >= lo && t <= hi;
  }
  if (op === "anniversary_in_next") {
    const table = anniversaryTable(now, shift(now, parseDuration(value as string), 1, tz), tz);
    return (t) => {
      if (Number.isNaN(t)) return false;
      const md = monthDay(t, tz);
      return table[md.month * 32 + md.day] === 1;
    };
  }
  throw new Error(`operator "${op}" does not apply to dates`);
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
