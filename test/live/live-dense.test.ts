/**
 * The live-membership property (test/live/live-property.ts) on two contacts with mostly
 * events and clock moves and long sequences: the variant that fails when the engine's
 * timer skip (src/engine/timers.ts) skips a recomputation it must not, which the
 * balanced mix of live-vs-scratch.test.ts does not catch.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import { run, stepArb } from "./live-property.ts";

const step = stepArb({ contacts: ["c1", "c2"], eventWeight: 30, clockWeight: 30 });

describe("live membership", () => {
  it("equals a from-scratch evaluation after every step, and the change log replays to it", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("UTC", "Europe/Paris", "America/New_York"),
        fc.array(step, { minLength: 5, maxLength: 120 }),
        (tz, steps) => run(tz, steps),
      ),
      { numRuns: 3000 },
    );
  });
});
