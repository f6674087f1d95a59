import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bitset } from "../../src/engine/bitset.ts";

describe("Bitset.toArray", () => {
  it("lists the set bits ascending, and only the first `limit` when given", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.nat(299)),
        fc.integer({ min: -1, max: 40 }),
        (size, raw, limit) => {
          const bits = new Bitset(size);
          const set = [...new Set(raw.filter((i) => i < size))].sort((a, b) => a - b);
          for (const i of set) bits.set(i);
          expect(bits.toArray()).toEqual(set);
          expect(bits.toArray(limit)).toEqual(set.slice(0, Math.max(0, limit)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
