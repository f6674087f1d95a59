/**
 * Calendar tests that depend on a value's local day only (its month and day, or its day
 * of the week), as a table over that day, and the whole-population loop over a column
 * of instants. The per-value predicate and the loop read the same table.
 */
import { Bitset } from "./bitset.ts";
import { isUtcZone, MONTH_DAY_OF_MARCH_DAY, marchDayOf, weekdayOfDays, zoneDays } from "./local-days.ts";

const DAY = 86_400_000;
const MAX_DATE = 8.64e15;

/** Day numbers read from a table rather than computed: 1900-01-01 … 2199-12-31. */
const FIRST_DAY = -25_567;
const SPAN = 109_573;

let marchDays: Uint16Array | null = null;

/** The March-based day of the year of every day in the table's span, computed once. */
function marchDayTable(): Uint16Array {
  if (marchDays === null) {
    marchDays = new Uint16Array(SPAN);
    for (let k = 0; k < SPAN; k++) marchDays[k] = marchDayOf(FIRST_DAY + k);
  }
  return marchDays;
}

/**
 * A value's day as a code into a table's `direct` array: a day in the span is its offset
 * there, and two codes past the span say "not set" (never passes) and "outside the span"
 * (the value itself is asked). A date column keeps these codes beside its values once a
 * scan asks for them, so that the scan is one load per contact and no division.
 */
export const DAY_NOT_SET = SPAN;
export const DAY_OUTSIDE = SPAN + 1;
/** `direct` entries: 1 passes, 0 does not, ASK_VALUE (only at DAY_OUTSIDE) reads the value. */
const ASK_VALUE = 2;

/** The day code of instant `t` in `tz`. */
export function dayCodeOf(t: number, tz: string): number {
  const d = zoneDays(tz).days(t);
  if (Number.isNaN(d)) return DAY_NOT_SET;
  const k = d - FIRST_DAY;
  return k >= 0 && k < SPAN ? k : DAY_OUTSIDE;
}

/** The day codes of a column's values. */
export function dayCodesOf(values: Float64Array, tz: string): Int32Array {
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) codes[i] = dayCodeOf(values[i], tz);
  return codes;
}

/** A `direct` array over the span followed by the entries of the two codes past it. */
function directArray(): Uint8Array {
  const direct = new Uint8Array(SPAN + 2);
  direct[DAY_OUTSIDE] = ASK_VALUE;
  return direct;
}

/**
 * Per-day tables by the days they pass: a rule is compiled for every evaluation, but
 * "this month" or "on a Monday" passes the same days for weeks, so the 110 kB table is
 * built once. A few are kept, the oldest dropped first.
 */
const directs = new Map<string, Uint8Array>();
const KEPT = 32;

function remember(key: string, direct: Uint8Array): void {
  if (directs.size >= KEPT) {
    const oldest = directs.keys().next();
    if (!oldest.done) directs.delete(oldest.value);
  }
  directs.set(key, direct);
}

/**
 * Which local days pass: by month and day (`lut[marchDay]`, 366 entries) or by weekday
 * (`lut[weekday - 1]`), and the same answer per day code (`direct`: day numbers over
 * 1900–2199, then the codes past the span), so that a value in that span costs one
 * load instead of the divisions of the civil date.
 */
export interface DayTable {
  readonly by: "month_day" | "weekday";
  readonly lut: Uint8Array;
  readonly direct: Uint8Array;
}

/** A table by month and day from one indexed by `month * 32 + day`. */
export function monthDayTable(byMonthDay: Uint8Array): DayTable {
  const lut = new Uint8Array(366);
  for (let d = 0; d < 366; d++) lut[d] = byMonthDay[MONTH_DAY_OF_MARCH_DAY[d]];
  const key = `m${String.fromCharCode(...lut)}`;
  let direct = directs.get(key);
  if (direct === undefined) {
    const march = marchDayTable();
    direct = directArray();
    for (let k = 0; k < SPAN; k++) direct[k] = lut[march[k]];
    remember(key, direct);
  }
  return { by: "month_day", lut, direct };
}

/** A table by weekday from ISO weekday numbers (1 Monday … 7 Sunday). */
export function weekdayTable(days: Iterable<number>): DayTable {
  const lut = new Uint8Array(7);
  for (const d of days) if (d >= 1 && d <= 7) lut[d - 1] = 1;
  const key = `w${String.fromCharCode(...lut)}`;
  let direct = directs.get(key);
  if (direct === undefined) {
    direct = directArray();
    for (let k = 0; k < SPAN; k++) direct[k] = lut[weekdayOfDays(FIRST_DAY + k) - 1];
    remember(key, direct);
  }
  return { by: "weekday", lut, direct };
}

/** Whether local day number `d` (not NaN) passes. */
function passes(table: DayTable, d: number): boolean {
  const k = d - FIRST_DAY;
  if (k >= 0 && k < SPAN) return table.direct[k] === 1;
  return table.lut[table.by === "weekday" ? weekdayOfDays(d) - 1 : marchDayOf(d)] === 1;
}

/** The predicate over one instant in `tz`; NaN (missing) never passes. */
export function dayPredicate(table: DayTable, tz: string): (t: number) => boolean {
  const direct = table.direct;
  if (isUtcZone(tz)) {
    return (t) => {
      if (!(t >= -MAX_DATE && t <= MAX_DATE)) return false;
      const d = Math.floor(Math.trunc(t) / DAY);
      const k = d - FIRST_DAY;
      return k >= 0 && k < SPAN ? direct[k] === 1 : passes(table, d);
    };
  }
  const zone = zoneDays(tz);
  return (t) => {
    const d = zone.days(t);
    return !Number.isNaN(d) && passes(table, d);
  };
}

/**
 * Members of `mask` whose instant in `values` passes `table` in `tz`, read from the
 * values' day codes in that zone (`codes`, as `dayCodesOf` makes them). Each word of the
 * mask is tested whole without a branch per contact: the share that passes (a month in
 * twelve) and the values not set fall in no order a branch predictor could learn.
 */
export function selectDays(
  mask: Bitset,
  codes: Int32Array,
  values: Float64Array,
  table: DayTable,
  tz: string,
): Bitset {
  const out = new Bitset(mask.size);
  const mw = mask.words;
  const ow = out.words;
  const n = Math.min(codes.length, values.length);
  const direct = table.direct;
  const words = Math.min(mw.length, (n + 31) >>> 5);
  for (let wi = 0; wi < words; wi++) {
    const m = mw[wi] | 0;
    if (m === 0) continue;
    const base = wi << 5;
    const top = Math.min(32, n - base);
    let res = 0;
    let ask = 0;
    for (let b = 0; b < top; b++) {
      const v = direct[codes[base | b]];
      res |= (v & 1) << b;
      ask |= (v >> 1) << b;
    }
    res &= m;
    ask &= m;
    while (ask !== 0) {
      const low = ask & -ask;
      ask ^= low;
      const d = zoneDays(tz).days(values[base | (31 - Math.clz32(low))]);
      if (!Number.isNaN(d) && passes(table, d)) res |= low;
    }
    ow[wi] = res;
  }
  return out;
}
