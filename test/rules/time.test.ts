/**
 * Durations, dates and instants (SPEC §3.2, docs/semantics.md "Time"): `m`/`h` are
 * exact, `d`/`w`/`mo`/`y` are calendar units in the workspace zone; dates are whole
 * days in that zone; month ends clamp.
 */
import { describe, expect, it } from "vitest";
import {
  dayBounds,
  formatInstant,
  isLeapYear,
  isValidTimeZone,
  monthDay,
  parseDuration,
  parseTimeValue,
  shift,
  toInstant,
} from "../../src/rules/time.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const t = (iso: string) => Date.parse(iso);
const back = (iso: string, d: string, tz: string) => formatInstant(shift(t(iso), parseDuration(d), -1, tz));
const fwd = (iso: string, d: string, tz: string) => formatInstant(shift(t(iso), parseDuration(d), 1, tz));

describe("parseDuration", () => {
  it("reads every unit", () => {
    expect(parseDuration("15m")).toEqual({ n: 15, unit: "m" });
    expect(parseDuration("2h")).toEqual({ n: 2, unit: "h" });
    expect(parseDuration("30d")).toEqual({ n: 30, unit: "d" });
    expect(parseDuration("1w")).toEqual({ n: 1, unit: "w" });
    expect(parseDuration("6mo")).toEqual({ n: 6, unit: "mo" });
    expect(parseDuration("1y")).toEqual({ n: 1, unit: "y" });
    expect(parseDuration("999999d")).toEqual({ n: 999999, unit: "d" });
  });

  it("rejects zero, leading zeros, signs, fractions, spaces and unknown units", () => {
    for (const s of [
      "0d",
      "00d",
      "01d",
      "-1d",
      "+1d",
      "1.5d",
      " 1d",
      "1d ",
      "1 d",
      "1D",
      "1s",
      "1mon",
      "1000000d",
      "",
    ]) {
      expect(() => parseDuration(s), s).toThrow(
        `expected a duration like "30d" (units m, h, d, w, mo, y), got ${JSON.stringify(s)}`,
      );
    }
  });
});

describe("shift: exact units", () => {
  it("m and h are exact lengths even across a DST change", () => {
    // 29 March 2026, 02:00 → 03:00 in Paris: 3h after 00:30 CET is 04:30 CEST.
    expect(fwd("2026-03-28T23:30:00.000Z", "3h", "Europe/Paris")).toBe("2026-03-29T02:30:00.000Z");
    expect(back("2026-11-01T12:00:00.000Z", "90m", "America/New_York")).toBe("2026-11-01T10:30:00.000Z");
    expect(shift(1000, parseDuration("1m"), -1, "Asia/Kolkata")).toBe(1000 - MIN);
  });
});

describe("shift: calendar days and weeks", () => {
  it("in UTC a day is 24 hours", () => {
    expect(back("2026-03-29T10:00:00.000Z", "1d", "UTC")).toBe("2026-03-28T10:00:00.000Z");
    expect(back("2026-03-29T10:00:00.000Z", "2w", "UTC")).toBe("2026-03-15T10:00:00.000Z");
  });

  it("Europe/Paris spring change: 1d back from the day after is 23 hours", () => {
    // 12:00 CEST on 29 March is 10:00Z; 12:00 CET on 28 March is 11:00Z.
    expect(back("2026-03-29T10:00:00.000Z", "1d", "Europe/Paris")).toBe("2026-03-28T11:00:00.000Z");
    expect(fwd("2026-03-28T11:00:00.000Z", "1d", "Europe/Paris")).toBe("2026-03-29T10:00:00.000Z");
    // A week back also keeps the wall clock.
    expect(back("2026-04-01T10:00:00.000Z", "1w", "Europe/Paris")).toBe("2026-03-25T11:00:00.000Z");
  });

  it("Europe/Paris autumn change: 1d back is 25 hours", () => {
    // 12:00 CET on 25 October is 11:00Z; 12:00 CEST on 24 October is 10:00Z.
    expect(back("2026-10-25T11:00:00.000Z", "1d", "Europe/Paris")).toBe("2026-10-24T10:00:00.000Z");
  });

  it("America/New_York: 8 March 2026 is 23 hours, 1 November 25 hours", () => {
    // 12:00 EDT on 8 March is 16:00Z; 12:00 EST on 7 March is 17:00Z.
    expect(back("2026-03-08T16:00:00.000Z", "1d", "America/New_York")).toBe("2026-03-07T17:00:00.000Z");
    // 12:00 EST on 1 November is 17:00Z; 12:00 EDT on 31 October is 16:00Z.
    expect(back("2026-11-01T17:00:00.000Z", "1d", "America/New_York")).toBe("2026-10-31T16:00:00.000Z");
    expect(fwd("2026-10-31T16:00:00.000Z", "1d", "America/New_York")).toBe("2026-11-01T17:00:00.000Z");
  });

  it("a wall-clock time that does not exist on the target day is the instant of the change", () => {
    // 02:30 on 8 March does not exist in New York: the clocks go from 02:00 EST (07:00Z)
    // to 03:00 EDT. Moving it to 03:30 EDT would put the answer for 02:30 the day before
    // after the answer for 02:45 (03:00 EDT): a window's edge would walk back.
    expect(fwd("2026-03-07T07:30:00.000Z", "1d", "America/New_York")).toBe("2026-03-08T07:00:00.000Z");
    expect(back("2026-03-30T00:44:34.320Z", "1d", "Europe/Paris")).toBe("2026-03-29T01:00:00.000Z");
  });

  it("the second pass of a repeated hour holds where the first pass ended", () => {
    // Paris, 25 October 2026: 03:00 CEST (01:00Z) is 02:00 CET again. 02:30 CET (01:30Z)
    // was shifted already at 02:30 CEST (00:30Z); the answer stays at 02:59:59.999 CEST's.
    expect(back("2026-10-25T01:30:00.000Z", "1d", "Europe/Paris")).toBe("2026-10-24T00:59:59.999Z");
    expect(back("2026-10-25T02:00:00.000Z", "1d", "Europe/Paris")).toBe("2026-10-24T01:00:00.000Z");
    expect(fwd("2026-10-25T01:30:00.000Z", "1d", "Europe/Paris")).toBe("2026-10-26T01:59:59.999Z");
  });

  it("is non-decreasing in its input across both DST changes, every unit and direction", () => {
    const zones = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"];
    const around = [
      "2026-03-08T07:00:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T01:00:00.000Z",
      "2026-04-05T15:00:00.000Z",
      "2026-10-04T15:30:00.000Z",
      "2026-10-24T01:00:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-26T01:00:00.000Z",
      "2026-03-29T00:00:00.000Z",
      "2026-03-31T22:00:00.000Z",
      "2024-02-29T12:00:00.000Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-02T06:00:00.000Z",
    ];
    for (const tz of zones) {
      for (const d of ["1d", "2d", "1w", "1mo", "1y"]) {
        for (const sign of [1, -1] as const) {
          for (const iso of around) {
            let prev = Number.NEGATIVE_INFINITY;
            for (let x = t(iso) - 3 * HOUR; x <= t(iso) + 3 * HOUR; x += MIN / 2) {
              const y = shift(x, parseDuration(d), sign, tz);
              // 280,000 points: `expect` and its message only where the order breaks.
              if (y < prev) {
                expect(y, `${tz} ${sign > 0 ? "+" : "-"}${d} at ${formatInstant(x)}`).toBeGreaterThanOrEqual(
                  prev,
                );
              }
              prev = y;
            }
          }
        }
      }
    }
  });
});

describe("shift: months and years", () => {
  it("clamps to the end of the month's last day", () => {
    // The end, so that 31 March's answer is not before 28 March's (28 February, 10:00).
    expect(back("2026-03-31T10:00:00.000Z", "1mo", "UTC")).toBe("2026-02-28T23:59:59.999Z");
    expect(back("2026-03-28T10:00:00.000Z", "1mo", "UTC")).toBe("2026-02-28T10:00:00.000Z");
    expect(back("2024-03-31T10:00:00.000Z", "1mo", "UTC")).toBe("2024-02-29T23:59:59.999Z");
    expect(fwd("2026-01-31T10:00:00.000Z", "1mo", "UTC")).toBe("2026-02-28T23:59:59.999Z");
    expect(back("2026-05-31T10:00:00.000Z", "1mo", "UTC")).toBe("2026-04-30T23:59:59.999Z");
    expect(back("2026-03-31T10:00:00.000Z", "13mo", "UTC")).toBe("2025-02-28T23:59:59.999Z");
  });

  it("29 February plus or minus a year is 28 February", () => {
    expect(fwd("2024-02-29T10:00:00.000Z", "1y", "UTC")).toBe("2025-02-28T23:59:59.999Z");
    expect(back("2024-02-29T10:00:00.000Z", "1y", "UTC")).toBe("2023-02-28T23:59:59.999Z");
    expect(fwd("2024-02-29T10:00:00.000Z", "4y", "UTC")).toBe("2028-02-29T10:00:00.000Z");
  });

  it("keeps the wall clock across DST in the workspace zone", () => {
    // 10:00 CEST on 15 April is 08:00Z; 10:00 CET on 15 March is 09:00Z.
    expect(back("2026-04-15T08:00:00.000Z", "1mo", "Europe/Paris")).toBe("2026-03-15T09:00:00.000Z");
    // 10:00 EST on 15 January 2026 is 15:00Z; 10:00 EDT on 15 July 2025 is 14:00Z.
    expect(back("2026-01-15T15:00:00.000Z", "6mo", "America/New_York")).toBe("2025-07-15T14:00:00.000Z");
    expect(back("2026-07-01T08:00:00.000Z", "1y", "Europe/Paris")).toBe("2025-07-01T08:00:00.000Z");
  });

  it("month ends follow the zone's calendar, not UTC's", () => {
    // 2026-03-31T22:30Z is already 1 April in Paris: 1mo back is 1 March, 00:30 CET.
    expect(back("2026-03-31T22:30:00.000Z", "1mo", "Europe/Paris")).toBe("2026-02-28T23:30:00.000Z");
    // In UTC the same instant is 31 March, which clamps to the end of 28 February.
    expect(back("2026-03-31T22:30:00.000Z", "1mo", "UTC")).toBe("2026-02-28T23:59:59.999Z");
  });
});

describe("parseTimeValue", () => {
  it("a date is the whole day in UTC", () => {
    expect(parseTimeValue("2026-05-10", "UTC")).toEqual({
      start: t("2026-05-10T00:00:00.000Z"),
      end: t("2026-05-10T23:59:59.999Z"),
    });
  });

  it("a date is the whole day in the workspace zone, 23 or 25 hours on DST days", () => {
    expect(parseTimeValue("2026-05-10", "Europe/Paris")).toEqual({
      start: t("2026-05-09T22:00:00.000Z"),
      end: t("2026-05-10T21:59:59.999Z"),
    });
    const spring = parseTimeValue("2026-03-29", "Europe/Paris");
    expect(spring).toEqual({ start: t("2026-03-28T23:00:00.000Z"), end: t("2026-03-29T21:59:59.999Z") });
    expect(spring.end + 1 - spring.start).toBe(23 * HOUR);
    const autumn = parseTimeValue("2026-10-25", "Europe/Paris");
    expect(autumn.end + 1 - autumn.start).toBe(25 * HOUR);
    const ny = parseTimeValue("2026-03-08", "America/New_York");
    expect(ny).toEqual({ start: t("2026-03-08T05:00:00.000Z"), end: t("2026-03-09T03:59:59.999Z") });
  });

  it("an instant with an offset is that instant, whatever the zone", () => {
    for (const tz of ["UTC", "Europe/Paris", "America/New_York"]) {
      expect(parseTimeValue("2026-05-10T12:00:00Z", tz)).toEqual({
        start: t("2026-05-10T12:00:00.000Z"),
        end: t("2026-05-10T12:00:00.000Z"),
      });
      expect(parseTimeValue("2026-05-10T12:00:00.123+02:00", tz).start).toBe(t("2026-05-10T10:00:00.123Z"));
      expect(parseTimeValue("2026-05-10T12:00:00-0500", tz).start).toBe(t("2026-05-10T17:00:00.000Z"));
      expect(parseTimeValue("2026-05-10T12:00Z", tz).start).toBe(t("2026-05-10T12:00:00.000Z"));
    }
  });

  it("an instant without an offset is wall-clock time in the workspace zone", () => {
    expect(parseTimeValue("2026-05-10T12:00:00", "UTC").start).toBe(t("2026-05-10T12:00:00.000Z"));
    expect(parseTimeValue("2026-05-10T12:00:00", "Europe/Paris").start).toBe(t("2026-05-10T10:00:00.000Z"));
    expect(parseTimeValue("2026-01-10T12:00:00", "America/New_York").start).toBe(
      t("2026-01-10T17:00:00.000Z"),
    );
  });

  it("answers a date read before as it did, per zone, and a copy the caller may change", () => {
    const utc = parseTimeValue("2026-03-29", "UTC");
    const paris = parseTimeValue("2026-03-29", "Europe/Paris");
    expect(paris.start).toBe(t("2026-03-28T23:00:00.000Z"));
    utc.start = 0;
    expect(parseTimeValue("2026-03-29", "UTC").start).toBe(t("2026-03-29T00:00:00.000Z"));
    expect(parseTimeValue(" 2026-03-29", "Europe/Paris")).toEqual(paris);
    for (let k = 0; k < 2; k++) {
      expect(() => parseTimeValue("2026-02-30", "UTC")).toThrow("is not a calendar date");
    }
  });

  it("ignores surrounding spaces", () => {
    expect(parseTimeValue(" 2026-01-01 ", "UTC").start).toBe(t("2026-01-01T00:00:00.000Z"));
  });

  it("rejects non-calendar dates and anything not ISO 8601", () => {
    for (const s of ["2026-02-30", "2025-02-29", "2100-02-29", "2026-13-01", "2026-00-01", "2026-06-31"]) {
      expect(() => parseTimeValue(s, "UTC"), s).toThrow(`${JSON.stringify(s)} is not a calendar date`);
    }
    expect(parseTimeValue("2000-02-29", "UTC").start).toBe(t("2000-02-29T00:00:00.000Z"));
    for (const s of [
      "yesterday",
      "2026-1-1",
      "20260101",
      "2026/01/01",
      "2026-01-01T24:30:00Z",
      "1767225600000",
    ]) {
      expect(() => parseTimeValue(s, "UTC"), s).toThrow(
        `expected an ISO 8601 date or instant, got ${JSON.stringify(s)}`,
      );
    }
  });

  it("fails rather than guessing with a zone that does not exist", () => {
    expect(() => parseTimeValue("2026-01-01", "Mars/Olympus")).toThrow();
    expect(() => parseTimeValue("2026-01-01T10:00:00", "Mars/Olympus")).toThrow();
  });
});

describe("time zone names", () => {
  it("accepts IANA names and rejects the rest", () => {
    for (const z of ["UTC", "Etc/UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu"]) {
      expect(isValidTimeZone(z), z).toBe(true);
    }
    for (const z of ["Mars/Olympus", "", "Europe", "GMT+25", "Paris"])
      expect(isValidTimeZone(z), z).toBe(false);
  });
});

describe("toInstant", () => {
  it("dates are the start of the day in the zone; numbers are epoch ms", () => {
    expect(toInstant("1990-05-17", "UTC")).toBe(t("1990-05-17T00:00:00.000Z"));
    // Paris was on summer time (UTC+2) in May 1990.
    expect(toInstant("1990-05-17", "Europe/Paris")).toBe(t("1990-05-16T22:00:00.000Z"));
    expect(toInstant(1234, "Europe/Paris")).toBe(1234);
    expect(toInstant("2026-05-10T12:00:00Z", "Europe/Paris")).toBe(t("2026-05-10T12:00:00.000Z"));
  });

  it("rejects values that are not dates", () => {
    expect(() => toInstant(true, "UTC")).toThrow("expected an ISO 8601 date or instant");
    expect(() => toInstant(Number.NaN, "UTC")).toThrow();
    expect(() => toInstant("2026-02-30", "UTC")).toThrow('"2026-02-30" is not a calendar date');
  });
});

describe("calendar helpers", () => {
  it("isLeapYear follows the Gregorian rules", () => {
    expect([2024, 2000, 2400].map(isLeapYear)).toEqual([true, true, true]);
    expect([2026, 1900, 2100].map(isLeapYear)).toEqual([false, false, false]);
  });

  it("monthDay reads the calendar day in the zone", () => {
    const late = t("2026-12-31T23:30:00.000Z");
    expect(monthDay(late, "UTC")).toEqual({ year: 2026, month: 12, day: 31 });
    expect(monthDay(late, "Europe/Paris")).toEqual({ year: 2027, month: 1, day: 1 });
    expect(monthDay(late, "America/New_York")).toEqual({ year: 2026, month: 12, day: 31 });
  });

  it("dayBounds spans the day to its last millisecond", () => {
    expect(dayBounds(2026, 10, 25, "Europe/Paris")).toEqual({
      start: t("2026-10-24T22:00:00.000Z"),
      end: t("2026-10-25T22:59:59.999Z"),
    });
    expect(dayBounds(2026, 2, 28, "UTC").end - dayBounds(2026, 2, 28, "UTC").start).toBe(DAY - 1);
  });
});
