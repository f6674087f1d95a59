/**
 * Time ranges whose ends move with `now` ("in the last 30 days"), and the question
 * live membership needs answered: given a timestamp, when is the earliest instant after
 * now at which it enters or leaves the range? Every bound is a non-decreasing function
 * of now, so a timestamp below the range never comes back, one inside leaves when the
 * lower bound passes it, and one above enters when the upper bound reaches it.
 */

import { type CalendarPeriod, type CalendarUnit, periodOf } from "../rules/calendar.ts";
import type { Op } from "../rules/operators.ts";
import type { Window } from "../rules/schema.ts";
import {
  type Duration,
  parseDuration,
  parseTimeValue,
  periodCeil,
  periodStart,
  shift,
} from "../rules/time.ts";

const DAY = 86_400_000;

/** One end of a range as a function of now. */
export interface Bound {
  at(now: number): number;
  /** The least instant x with at(x) ≥ target (−∞ if always, +∞ if never). */
  first(target: number): number;
  readonly moving: boolean;
}

function constant(v: number): Bound {
  return {
    at: () => v,
    first: (target) => (v >= target ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY),
    moving: false,
  };
}

/** shift(now, d, sign) + k, or now + k when d is null. */
export function relative(d: Duration | null, sign: 1 | -1, k: number, tz: string): Bound {
  const fixed = fixedLength(d, tz);
  if (fixed !== null) {
    // now + a constant: its own exact inverse, with no calendar arithmetic per instant.
    const off = sign * fixed + k;
    return { at: (x) => x + off, moving: true, first: (target) => target - off };
  }
  const at = (x: number) => (d === null ? x : shift(x, d, sign, tz)) + k;
  return {
    at,
    moving: true,
    first: (target) => {
      if (d === null) return target - k;
      // Guess by shifting back, then make it exact: calendar units (month ends, DST)
      // are not exact inverses, so verify and fall back to a binary search.
      const guess = shift(target - k, d, sign === 1 ? -1 : 1, tz);
      if (at(guess) >= target && at(guess - 1) < target) return guess;
      let lo = guess - 4 * DAY;
      let hi = guess + 4 * DAY;
      while (at(lo) >= target) lo -= 4 * DAY;
      while (at(hi) < target) hi += 4 * DAY;
      // invariant: at(lo) < target ≤ at(hi)
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (at(mid) >= target) hi = mid;
        else lo = mid;
      }
      return hi;
    },
  };
}

/** The length of `d` in ms when it is the same at every instant (as `shift` counts it), else null. */
function fixedLength(d: Duration | null, tz: string): number | null {
  if (d === null) return 0;
  const utc = tz === "UTC" || tz === "Etc/UTC";
  switch (d.unit) {
    case "m":
      return d.n * 60_000;
    case "h":
      return d.n * 3_600_000;
    case "d":
      return utc ? d.n * DAY : null;
    case "w":
      return utc ? d.n * 7 * DAY : null;
    default:
      return null;
  }
}

/** min(a, b) of two non-decreasing bounds: it reaches a target once both have. */
function lower(a: Bound, b: Bound): Bound {
  return {
    at: (x) => Math.min(a.at(x), b.at(x)),
    first: (target) => Math.max(a.first(target), b.first(target)),
    moving: a.moving || b.moving,
  };
}

/** max(a, b) of two non-decreasing bounds: it reaches a target as soon as either has. */
function upper(a: Bound, b: Bound): Bound {
  return {
    at: (x) => Math.max(a.at(x), b.at(x)),
    first: (target) => Math.min(a.first(target), b.first(target)),
    moving: a.moving || b.moving,
  };
}

/**
 * The start of the `unit` `k` units after now's, minus `minus` (0 or 1 ms): a step
 * function of now. It reaches a target at the period start m = periodCeil(target +
 * minus) shifted back k units, the first instant whose own period is k before m's.
 */
function periodBound(unit: CalendarUnit, k: number, minus: 0 | 1, tz: string): Bound {
  // Scheduling asks for many targets in the same period: every x in (s, e], with s and
  // e consecutive period starts, has the same ceiling e, so the last answer is kept.
  let s = Number.NaN;
  let e = Number.NaN;
  let answer = Number.NaN;
  // The bound is the same for every x of one period [from, until): each event of a live
  // stream comes at a new instant, and calendar arithmetic per instant is what it costs.
  let from = Number.NaN;
  let until = Number.NaN;
  let value = Number.NaN;
  return {
    at: (x) => {
      if (!(x >= from && x < until)) {
        from = periodStart(x, unit, 0, tz);
        until = periodStart(x, unit, 1, tz);
        value = k === 0 ? from : k === 1 ? until : periodStart(x, unit, k, tz);
      }
      return value - minus;
    },
    first: (target) => {
      const x = target + minus;
      if (x > s && x <= e) return answer;
      const ceil = periodCeil(x, unit, tz);
      const result = periodStart(ceil, unit, -k, tz);
      if (ceil !== x) {
        s = periodStart(x, unit, 0, tz);
        e = ceil;
        answer = result;
      }
      return result;
    },
    moving: true,
  };
}

/** The whole calendar period, relative to now, as [its first ms, its last ms]. */
export function calendarRange(p: CalendarPeriod, tz: string): MovingRange {
  const { unit, offset } = periodOf(p);
  return new MovingRange(periodBound(unit, offset, 0, tz), periodBound(unit, offset + 1, 1, tz));
}

/** An inclusive range [lo(now), hi(now)]. */
export class MovingRange {
  readonly moving: boolean;
  /** The last instant asked for, and its ends (many compiled nodes share one range). */
  private atNow = Number.NaN;
  private atValue: [number, number] = [Number.NaN, Number.NaN];

  constructor(
    readonly lo: Bound,
    readonly hi: Bound,
  ) {
    this.moving = lo.moving || hi.moving;
  }

  /**
   * [lo, hi] at `now`; the array is shared, callers must not change it. A new one per
   * instant: environments at other instants share the range and may hold the last one.
   */
  at(now: number): [number, number] {
    if (now !== this.atNow) {
      this.atValue = [this.lo.at(now), this.hi.at(now)];
      this.atNow = now;
    }
    return this.atValue;
  }

  /** Earliest instant after `now` at which `t`'s being inside the range can change; +∞ if never. */
  nextChange(t: number, now: number): number {
    if (Number.isNaN(t) || !this.moving) return Number.POSITIVE_INFINITY;
    const [lo, hi] = this.at(now);
    if (t < lo) return Number.POSITIVE_INFINITY;
    if (t <= hi) return this.lo.first(t + 1);
    return this.hi.first(t);
  }

  static all(): MovingRange {
    return new MovingRange(constant(Number.NEGATIVE_INFINITY), constant(Number.POSITIVE_INFINITY));
  }
}

/** The range a date operator accepts (SPEC §3.2), or null for anniversaries and weekdays. */
export function dateOpRange(op: Op, value: unknown, tz: string): MovingRange | null {
  const span = (v: unknown) => parseTimeValue(v as string, tz);
  const NEG = constant(Number.NEGATIVE_INFINITY);
  const POS = constant(Number.POSITIVE_INFINITY);
  switch (op) {
    case "before":
      return new MovingRange(NEG, constant(span(value).start - 1));
    case "after":
      return new MovingRange(constant(span(value).end + 1), POS);
    case "on": {
      const s = span(value);
      return new MovingRange(constant(s.start), constant(s.end));
    }
    case "between": {
      const [a, b] = value as [string, string];
      return new MovingRange(constant(span(a).start), constant(span(b).end));
    }
    case "in_last":
      // now − D < t ≤ now
      return new MovingRange(relative(parseDuration(value as string), -1, 1, tz), relative(null, 1, 0, tz));
    case "more_than_ago":
      // t ≤ now − D
      return new MovingRange(NEG, relative(parseDuration(value as string), -1, 0, tz));
    case "in_next":
      // now ≤ t < now + D
      return new MovingRange(relative(null, 1, 0, tz), relative(parseDuration(value as string), 1, -1, tz));
    case "during":
      return calendarRange(value as CalendarPeriod, tz);
    case "is_set":
      return MovingRange.all();
    default:
      return null;
  }
}

const windowRanges = new Map<string, MovingRange>();

/**
 * The range of an event window (SPEC §3.1); all time without one. One object per
 * window and time zone, so the nodes and plans that share a window compute its ends
 * once per instant.
 */
export function windowRange(w: Window | undefined, tz: string): MovingRange {
  const key = `${tz} ${JSON.stringify(w ?? null)}`;
  let r = windowRanges.get(key);
  if (!r) {
    r = makeWindowRange(w, tz);
    if (windowRanges.size >= 10_000) windowRanges.clear(); // rules are few; bound it anyway
    windowRanges.set(key, r);
  }
  return r;
}

function makeWindowRange(w: Window | undefined, tz: string): MovingRange {
  if (!w) return MovingRange.all();
  if ("in_last" in w) return dateOpRange("in_last", w.in_last, tz)!;
  if ("between_ago" in w) {
    // The durations may come in either order, and with calendar units which one
    // reaches further back can depend on the instant ("1d" vs "23h" on a DST day), so
    // the ends are taken per instant: min(now − D1, now − D2) < t ≤ max(…).
    const [a, b] = w.between_ago.map(parseDuration);
    return new MovingRange(
      lower(relative(a, -1, 1, tz), relative(b, -1, 1, tz)),
      upper(relative(a, -1, 0, tz), relative(b, -1, 0, tz)),
    );
  }
  if ("after" in w) return dateOpRange("after", w.after, tz)!;
  if ("before" in w) return dateOpRange("before", w.before, tz)!;
  if ("during" in w) return calendarRange(w.during, tz);
  return dateOpRange("between", w.between, tz)!;
}

/** Caches a value computed from `now` until now changes. */
export function perInstant<T>(now: () => number, f: (now: number) => T): () => T {
  let at = Number.NaN;
  let v: T | undefined;
  return () => {
    const n = now();
    if (n !== at) {
      v = f(n);
      at = n;
    }
    return v as T;
  };
}
