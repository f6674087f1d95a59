/**
 * Live membership against a from-scratch evaluation (test/live/live-property.ts) on
 * five contacts and a balanced mix of every kind of step.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import { run, stepArb } from "./live-property.ts";

const step = stepArb({ contacts: ["c1", "c2", "c3", "c4", "c5"], eventWeight: 4, clockWeight: 4 });

describe("live membership", () => {
  it("equals a from-scratch evaluation after every step, and the change log replays to it", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("UTC", "Europe/Paris", "America/New_York"),
        fc.array(step, { minLength: 5, maxLength: 40 }),
        (tz, steps) => run(tz, steps),
      ),
      { numRuns: 500 },
    );
  });
});
