/**
 * The hourly offset cache answers exactly as Luxon's IANA zone, at any instant and in
 * particular next to offset changes that fall inside an hour (Kathmandu's 1986 change
 * at 18:30 UTC, St John's at hh:31 UTC, Amsterdam's 1937 change of 28 seconds, Lord
 * Howe's half hours).
 */
import fc from "fast-check";
import { IANAZone } from "luxon";
import { describe, expect, it } from "vitest";
import { ianaZone, luxonZone } from "../../src/rules/zone-offsets.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const ZONES = [
  "UTC",
  "Europe/Paris",
  "Europe/Dublin",
  "Europe/Amsterdam",
  "America/New_York",
  "America/Sao_Paulo",
  "America/St_Johns",
  "Pacific/Apia",
  "Australia/Lord_Howe",
  "Asia/Kathmandu",
  "Africa/Casablanca",
  "Antarctica/Troll",
];

/** The first instant in (lo, hi] whose offset differs from lo's, by Luxon's own zone. */
function change(zone: IANAZone, lo: number, hi: number): number {
  const before = zone.offset(lo);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** An instant in 1850–2190, or one within two hours of an offset change after such an instant. */
const caseArb = fc
  .constantFrom(...ZONES)
  .chain((tz) =>
    fc.tuple(
      fc.constant(tz),
      fc.integer({ min: -3_786_825_600_000, max: 6_942_192_000_000 }),
      fc.boolean(),
      fc.integer({ min: -2 * HOUR, max: 2 * HOUR }),
    ),
  );

describe("offsets kept per hour", () => {
  it("are Luxon's at any instant and around every kind of change", () => {
    let near = 0;
    fc.assert(
      fc.property(caseArb, ([tz, t, nearChange, delta]) => {
        const plain = IANAZone.create(tz);
        const cached = ianaZone(tz);
        let at = t;
        if (nearChange && plain.offset(t) !== plain.offset(t + 200 * DAY)) {
          at = change(plain, t, t + 200 * DAY) + delta;
          near++;
        }
        for (const x of [
          at,
          at - 1,
          at - 1000,
          Math.floor(at / HOUR) * HOUR,
          Math.floor(at / HOUR) * HOUR - 1,
        ]) {
          expect([tz, x, cached.offset(x)]).toEqual([tz, x, plain.offset(x)]);
        }
      }),
      { seed: 4242, numRuns: 3000 },
    );
    // The draws reach changes, not only quiet hours.
    expect(near).toBeGreaterThan(300);
  });

  it("follow Luxon's reading of a zone name: UTC and fixed offsets stay Luxon's fixed zones", () => {
    expect(luxonZone("UTC").type).toBe("fixed");
    expect(luxonZone("Europe/Paris").type).toBe("iana");
    expect(luxonZone("Europe/Paris")).toBe(luxonZone("Europe/Paris"));
    expect(luxonZone("Europe/Paris").equals(IANAZone.create("Europe/Paris"))).toBe(true);
    expect(luxonZone("Mars/Olympus").isValid).toBe(false);
    expect(Number.isNaN(ianaZone("Mars/Olympus").offset(0))).toBe(true);
  });
});
