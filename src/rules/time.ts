/**
 * Durations, dates and instants exactly as SPEC §3.2. Everything is epoch
 * milliseconds; calendar arithmetic happens in the workspace time zone (IANA name)
 * through Luxon, which reads the zone rules from Intl rather than from a table of
 * our own.
 *
 * Choice (documented in docs/rules.md): `m` and `h` are exact lengths of time;
 * `d`, `w`, `mo` and `y` are calendar units in the workspace time zone, so "in the
 * last 1d" across a DST change means "since the same wall-clock time yesterday".
 * A month back from 31 March is the last day of February.
 */
import { DateTime } from "luxon";
import type { CalendarUnit } from "./calendar.ts";
import { DURATION_RE } from "./schema.ts";
import { ianaZone, isIanaZone, luxonZone } from "./zone-offsets.ts";

export type DurationUnit = "m" | "h" | "d" | "w" | "mo" | "y";
export interface Duration {
  n: number;
  unit: DurationUnit;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export function parseDuration(s: string): Duration {
  const m = DURATION_RE.exec(s);
  if (!m)
    throw new Error(`expected a duration like "30d" (units m, h, d, w, mo, y), got ${JSON.stringify(s)}`);
  return { n: Number(m[1]), unit: m[2] as DurationUnit };
}

export function isValidTimeZone(tz: string): boolean {
  return isIanaZone(tz);
}

function isUtc(tz: string): boolean {
  return tz === "UTC" || tz === "Etc/UTC";
}

/**
 * `t + sign·d`, in the zone `tz`: the same wall-clock time `d` later or earlier, made a
 * non-decreasing function of `t` so that a window's moving edge never walks back and
 * an event that has left "the last 1d" never returns (live timers and `moving.ts`
 * rely on it). Three cases would break that with plain calendar arithmetic:
 * - the wall time lands in a spring-forward gap (02:30 on the switch day does not
 *   exist): the answer is the instant of the switch, which every time in the gap maps
 *   to, instead of Luxon's "an hour later" that the next real time would undercut;
 * - `t` is in the second pass of a repeated autumn hour, whose wall times were already
 *   shifted on the first pass: the answer holds at the first pass's last one until the
 *   wall clock moves past it;
 * - a month or year lands on a day its target month lacks: the answer is the end of
 *   that month's last day, which 28 March's answer cannot pass.
 */
export function shift(t: number, d: Duration, sign: 1 | -1, tz: string): number {
  switch (d.unit) {
    case "m":
      return t + sign * d.n * MINUTE;
    case "h":
      return t + sign * d.n * HOUR;
    case "d":
    case "w": {
      const days = d.unit === "w" ? d.n * 7 : d.n;
      if (isUtc(tz)) return t + sign * days * DAY;
      return calendarShift(t, { days: sign * days }, tz);
    }
    case "mo":
      return calendarShift(t, { months: sign * d.n }, tz);
    case "y":
      return calendarShift(t, { years: sign * d.n }, tz);
  }
}

export type CalendarMove = { days: number } | { months: number } | { years: number };

/** Longer than any DST overlap on record (Lord Howe's is 30 min, the usual one 1 h). */
const OVERLAP_REACH = 3 * HOUR;

function calendarShift(t: number, move: CalendarMove, tz: string): number {
  const quick = steadyShift(t, move, tz);
  return Number.isNaN(quick) ? calendarShiftByLuxon(t, move, tz) : quick;
}

/** The UTC offset (ms) around `t` when it is the same at the four UTC midnights about it, else NaN. */
function steadyOffset(t: number, tz: string): number {
  const day = Math.floor(t / DAY);
  const o = offsetAtDay(day, tz);
  // Zones change offset at most once a day: four equal midnights leave none from a day
  // before `t` to a day after it, so no gap, no repeated hour and no drop to look back for.
  if (offsetAtDay(day - 1, tz) !== o || offsetAtDay(day + 1, tz) !== o || offsetAtDay(day + 2, tz) !== o) {
    return Number.NaN;
  }
  // Minutes (in seconds' fractions before 1937 in places) to ms as Luxon converts them.
  return o * 60 * 1000;
}

/**
 * `calendarShift` by arithmetic on the wall clock, where the zone's offset is steady
 * around both `t` and the answer (nearly always); NaN elsewhere, for Luxon to answer.
 * Luxon takes tens of µs a move through Intl, and moving windows shift every event's time.
 */
function steadyShift(t: number, move: CalendarMove, tz: string): number {
  const before = steadyOffset(t, tz);
  if (Number.isNaN(before)) return Number.NaN;
  // Whole milliseconds of wall time, truncated as Date (and so Luxon) truncates them.
  const wallMs = Math.trunc(t + before);
  const wall = new Date(wallMs);
  const y = wall.getUTCFullYear();
  // Date.UTC reads years 0–99 as 1900–1999.
  if (y < 100) return Number.NaN;
  const m = wall.getUTCMonth();
  const d = wall.getUTCDate();
  const timeOfDay = wallMs - Date.UTC(y, m, d);
  let to: number;
  if ("days" in move) {
    to = Date.UTC(y, m, d + move.days) + timeOfDay;
  } else {
    const months = "months" in move ? move.months : 12 * move.years;
    const last = new Date(Date.UTC(y, m + months + 1, 0)).getUTCDate();
    // A day its month lacks clamps to the month's last day, and to that day's end (as Luxon's path does).
    to = d > last ? Date.UTC(y, m + months, last) + DAY - 1 : Date.UTC(y, m + months, d) + timeOfDay;
  }
  if (!Number.isFinite(to)) return Number.NaN;
  const after = steadyOffset(to - before, tz);
  if (Number.isNaN(after)) return Number.NaN;
  return to - after;
}

/** `calendarShift` through Luxon's calendar: any offset change, gaps and repeated hours. */
export function calendarShiftByLuxon(t: number, move: CalendarMove, tz: string): number {
  const from = DateTime.fromMillis(t, { zone: luxonZone(tz) });
  const before = offsetDropsBefore(t, tz) ? ianaZone(tz).offset(t - OVERLAP_REACH) : from.offset;
  if (before > from.offset) {
    // An offset drop in the last few hours: is `t` on the repeated hour's second pass?
    const fall = offsetChange(t - OVERLAP_REACH, t, tz);
    const repeated = (before - from.offset) * MINUTE;
    if (t < fall + repeated) return calendarShiftByLuxon(fall - 1, move, tz);
  }
  const to = from.plus(move);
  // A month or year that lacks the day (31 March less a month) clamps to its last day;
  // its end, not the same wall time, keeps 29–31 March from answering before 28 March.
  if (to.day < from.day && !("days" in move)) return to.endOf("day").toMillis();
  if (to.hour === from.hour && to.minute === from.minute) return to.toMillis();
  // Luxon moved a wall time that does not exist past the gap: the switch is in between.
  return offsetChange(to.toMillis() - OVERLAP_REACH, to.toMillis(), tz);
}

/** The zone's UTC offset at the start of UTC day `day` (from the hourly cache of offsets). */
function offsetAtDay(day: number, tz: string): number {
  return ianaZone(tz).offset(day * DAY);
}

/**
 * Whether the offset may drop in the hours before `t`: the exact question costs an Intl
 * call, so ask it only when the offsets at the surrounding UTC midnights differ (zones
 * change offset at most once a day).
 */
function offsetDropsBefore(t: number, tz: string): boolean {
  const first = Math.floor((t - OVERLAP_REACH) / DAY);
  return offsetAtDay(first, tz) > offsetAtDay(Math.floor(t / DAY) + 1, tz);
}

/** The first instant in (lo, hi] whose UTC offset differs from `lo`'s (one change there). */
function offsetChange(lo: number, hi: number, tz: string): number {
  const zone = ianaZone(tz);
  const before = zone.offset(lo);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The length in ms of `d` when `shift` moves every instant by that same length in `tz`
 * (minutes and hours; days and weeks in UTC), else NaN.
 */
export function fixedLength(d: Duration, tz: string): number {
  switch (d.unit) {
    case "m":
      return d.n * MINUTE;
    case "h":
      return d.n * HOUR;
    case "d":
    case "w":
      return isUtc(tz) ? (d.unit === "w" ? d.n * 7 : d.n) * DAY : Number.NaN;
    default:
      return Number.NaN;
  }
}

/** A span of time: an instant has start = end; a calendar day runs to its last millisecond. */
export interface TimeSpan {
  start: number;
  end: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The days already asked for, by zone and date (`dayBounds`). A date field repeats few
 * values across many contacts (a birthday: about 36,500 in a century), and reading one
 * through Luxon costs about 12 µs: at start-up that was 3.4 s of loading 300,000
 * contacts with a birthday.
 */
const dayCache = new Map<string, TimeSpan>();
const DAY_CACHE_MAX = 100_000;

/**
 * A date (`YYYY-MM-DD`, a whole day in `tz`) or an instant (ISO 8601; without an
 * offset it is read in `tz`). Throws with a clear message on anything else,
 * including dates that are not in the calendar (2026-02-30).
 */
export function parseTimeValue(s: string, tz: string): TimeSpan {
  if (typeof s !== "string") throw new Error("expected an ISO 8601 date or instant");
  const trimmed = s.trim();
  const dm = DATE_RE.exec(trimmed);
  if (dm) {
    const span = dayBounds(Number(dm[1]), Number(dm[2]), Number(dm[3]), tz);
    // Luxon answers NaN for a day that is not in the calendar.
    if (Number.isNaN(span.start)) throw new Error(`${JSON.stringify(s)} is not a calendar date`);
    return span;
  }
  if (!trimmed.includes("T"))
    throw new Error(`expected an ISO 8601 date or instant, got ${JSON.stringify(s)}`);
  const dt = DateTime.fromISO(trimmed, { zone: luxonZone(tz) });
  if (!dt.isValid) throw new Error(`expected an ISO 8601 date or instant, got ${JSON.stringify(s)}`);
  const ms = dt.toMillis();
  return { start: ms, end: ms };
}

/**
 * A contact's date value as one instant: a date-only value is the start of that day
 * in the workspace zone; numbers are epoch milliseconds.
 */
export function toInstant(v: unknown, tz: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v.getTime();
  if (typeof v === "string") return parseTimeValue(v, tz).start;
  throw new Error("expected an ISO 8601 date or instant");
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Month (1–12) and day of `t` in `tz`. */
export function monthDay(t: number, tz: string): { month: number; day: number; year: number } {
  if (isUtc(tz)) {
    const d = new Date(t);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
  }
  const dt = DateTime.fromMillis(t, { zone: luxonZone(tz) });
  return { year: dt.year, month: dt.month, day: dt.day };
}

/**
 * The calendar day (year, month, day) in `tz`: its first and last millisecond (NaN for
 * a day not in the calendar). A copy of a cached answer, which the caller may change.
 */
export function dayBounds(year: number, month: number, day: number, tz: string): TimeSpan {
  const key = `${tz} ${year}-${month}-${day}`;
  let span = dayCache.get(key);
  if (span === undefined) {
    const d = DateTime.fromObject({ year, month, day }, { zone: luxonZone(tz) }).startOf("day");
    span = { start: d.toMillis(), end: d.plus({ days: 1 }).toMillis() - 1 };
    if (dayCache.size >= DAY_CACHE_MAX) dayCache.clear();
    dayCache.set(key, span);
  }
  return { start: span.start, end: span.end };
}

export function formatInstant(t: number): string {
  return new Date(t).toISOString();
}

/** The start of the `unit` that is `n` units after the one containing `t`, in `tz`. */
export function periodStart(t: number, unit: CalendarUnit, n: number, tz: string): number {
  const start = DateTime.fromMillis(t, { zone: luxonZone(tz) }).startOf(unit);
  if (n === 0) return start.toMillis();
  // Plus, then start again: a day that begins at 01:00 (DST at midnight) still starts at its first instant.
  const unitKey = `${unit}s` as "days" | "weeks" | "months" | "quarters" | "years";
  return start
    .plus({ [unitKey]: n })
    .startOf(unit)
    .toMillis();
}

/** The least period start ≥ t. */
export function periodCeil(t: number, unit: CalendarUnit, tz: string): number {
  const s = periodStart(t, unit, 0, tz);
  return s === t ? s : periodStart(t, unit, 1, tz);
}

/** Day of the week of `t` in `tz`: 1 Monday … 7 Sunday. */
export function weekdayOf(t: number, tz: string): number {
  return DateTime.fromMillis(t, { zone: luxonZone(tz) }).weekday;
}
