/**
 * Calendar periods relative to now and days of the week, read in the workspace zone
 * (docs/rules.md, "Calendar conditions"). Weeks run Monday to Sunday (ISO 8601);
 * quarters start in January, April, July and October. The arithmetic is in time.ts;
 * this module has no imports so that the schema can list the names.
 */
export const CALENDAR_PERIODS = [
  "today",
  "yesterday",
  "tomorrow",
  "this_week",
  "last_week",
  "next_week",
  "this_month",
  "last_month",
  "next_month",
  "this_quarter",
  "last_quarter",
  "next_quarter",
  "this_year",
  "last_year",
  "next_year",
] as const;
export type CalendarPeriod = (typeof CALENDAR_PERIODS)[number];
export type CalendarUnit = "day" | "week" | "month" | "quarter" | "year";

export function isCalendarPeriod(p: unknown): p is CalendarPeriod {
  return typeof p === "string" && (CALENDAR_PERIODS as readonly string[]).includes(p);
}

/** A period as the unit and how many units after now's (−1 last, 0 this, 1 next). */
export function periodOf(p: CalendarPeriod): { unit: CalendarUnit; offset: -1 | 0 | 1 } {
  if (p === "today") return { unit: "day", offset: 0 };
  if (p === "yesterday") return { unit: "day", offset: -1 };
  if (p === "tomorrow") return { unit: "day", offset: 1 };
  const [rel, unit] = p.split("_") as ["this" | "last" | "next", CalendarUnit];
  return { unit, offset: rel === "last" ? -1 : rel === "next" ? 1 : 0 };
}

export const WEEKDAYS = [
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
] as const;
