/**
 * Calendar days of instants in a workspace zone, without a `Date` or a Luxon
 * `DateTime` per value: the calendar conditions on date values (`anniversary_*`,
 * `weekday_in`) read a million of them per evaluation.
 *
 * The answers are exactly those of `monthDay` and `weekdayOf` in src/rules/time.ts,
 * which stay the definition (the property tests compare the two): the local day is
 * `floor(trunc(t + offset(t)) / DAY)` as Luxon computes it, with the offset from the
 * same Luxon zone object, and the civil date follows from the day number by Howard
 * Hinnant's `civil_from_days`.
 */
import { Info, type Zone } from "luxon";
import { luxonZone } from "../rules/zone-offsets.ts";

const DAY = 86_400_000;
/** The range of `Date` (and of Luxon's instants). */
const MAX_DATE = 8.64e15;

/** Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar. */
const EPOCH_SHIFT = 719_468;
const DAYS_PER_ERA = 146_097;

/**
 * Day of the year counted from 1 March (0 … 365) of a day number: the month and day
 * depend on it alone, which is why Hinnant's algorithm starts the year in March (29
 * February, when there is one, is the year's last day).
 */
export function marchDayOf(days: number): number {
  const z = days + EPOCH_SHIFT;
  const doe = z - Math.floor(z / DAYS_PER_ERA) * DAYS_PER_ERA;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  return doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
}

/** Month (1–12) and day (1–31) of a March-based day of the year, as `month * 32 + day`. */
export const MONTH_DAY_OF_MARCH_DAY: Uint16Array = (() => {
  const table = new Uint16Array(366);
  for (let doy = 0; doy < 366; doy++) {
    const mp = Math.floor((5 * doy + 2) / 153);
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    table[doy] = month * 32 + day;
  }
  return table;
})();

/** The civil date of a day number (days since 1970-01-01). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + EPOCH_SHIFT;
  const era = Math.floor(z / DAYS_PER_ERA);
  const doe = z - era * DAYS_PER_ERA;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const md = MONTH_DAY_OF_MARCH_DAY[doy];
  const month = md >> 5;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day: md & 31 };
}

/** Day of the week of a day number: 1 Monday … 7 Sunday (1970-01-01 was a Thursday). */
export function weekdayOfDays(days: number): number {
  return ((((days + 3) % 7) + 7) % 7) + 1;
}

/** The day number of `t` in UTC, NaN outside the range of `Date` (where `Date` is invalid too). */
export function utcDays(t: number): number {
  if (!(t >= -MAX_DATE && t <= MAX_DATE)) return Number.NaN;
  return Math.floor(Math.trunc(t) / DAY);
}

/**
 * Local day numbers in one zone, with Luxon's offsets kept per UTC hour
 * (`src/rules/zone-offsets.ts`).
 */
export class ZoneDays {
  private readonly zone: Zone;
  /** Offset of every instant, for zones with one (UTC, fixed offsets). */
  private readonly fixed: number | null;

  constructor(tz: string) {
    this.zone = luxonZone(tz);
    this.fixed = this.zone.isUniversal ? this.zone.offset(0) : null;
  }

  /** Local day number of `t` (epoch ms), NaN for NaN and for instants Luxon refuses. */
  days(t: number): number {
    if (!(t >= -MAX_DATE && t <= MAX_DATE)) return Number.NaN;
    const off = this.fixed ?? this.zone.offset(t);
    // The same floating-point steps as Luxon's tsToObj, then `Date`'s truncation.
    const local = t + off * 60 * 1000;
    if (!(local >= -MAX_DATE && local <= MAX_DATE)) return Number.NaN;
    return Math.floor(Math.trunc(local) / DAY);
  }
}

const zones = new Map<string, ZoneDays>();

/** The shared day reader of a zone (zone rules do not change while the process runs). */
export function zoneDays(tz: string): ZoneDays {
  let z = zones.get(tz);
  if (z === undefined) {
    z = new ZoneDays(tz);
    zones.set(tz, z);
  }
  return z;
}

/** Whether day numbers in `tz` are UTC day numbers, so that a loop may inline `utcDays`. */
export function isUtcZone(tz: string): boolean {
  const zone = Info.normalizeZone(tz);
  return zone.isUniversal && zone.offset(0) === 0;
}
