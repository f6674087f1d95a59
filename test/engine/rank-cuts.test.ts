/**
 * The cuts a partitioned engine's coordinator chooses from what its workers send
 * (src/engine/partitioned/rank-cuts.ts) against the cuts one engine chooses over the
 * whole population: random populations with many ties, split unevenly over one to four
 * workers (some empty), several rank and quintile conditions over one or two measures.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidatesOf, cutsFrom, rankWants } from "../../src/engine/partitioned/rank-cuts.ts";
import { rankCutKey, relativeKey, scoreCutKey } from "../../src/engine/rank.ts";
import { rankCut, scoreCuts } from "../../src/engine/rank-index.ts";
import { selectKth } from "../../src/engine/rank-scratch.ts";
import { basisPoints } from "../../src/rules/rank.ts";
import type { EventNode } from "../../src/rules/schema.ts";

const PERCENTS = [0, 0.01, 2.5, 10, 33.33, 50, 80, 99.99, 100];

const nodeArb: fc.Arbitrary<EventNode> = fc.oneof(
  fc
    .record({
      event: fc.constantFrom("a", "b"),
      direction: fc.constantFrom("top" as const, "bottom" as const),
      percent: fc.constantFrom(...PERCENTS),
    })
    .map(
      ({ event, direction, percent }) =>
        ({ type: "event", event, rank: { direction, percent } }) as EventNode,
    ),
  fc
    .constantFrom("a", "b")
    .map((event) => ({ type: "event", event, score: "quintile", op: "gte", value: 3 }) as EventNode),
);

/** Per worker, per event name, its values: small integers, so ties are everywhere. */
const workersArb = fc.array(
  fc.record({
    a: fc.array(fc.integer({ min: -3, max: 6 }), { maxLength: 60 }),
    b: fc.array(fc.oneof(fc.integer({ min: 0, max: 2 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), {
      maxLength: 60,
    }),
  }),
  { minLength: 1, maxLength: 4 },
);

/** What one engine holding every value chooses. */
function oneEngineCuts(nodes: EventNode[], all: Record<string, number[]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of nodes) {
    const pop = Float64Array.from(all[n.event]);
    const kth = (k: number) => selectKth(pop, k);
    if (n.rank) {
      out.set(
        rankCutKey(n),
        rankCut(n.rank.direction === "top", basisPoints(n.rank.percent), pop.length, kth),
      );
    } else {
      for (const [j, at] of scoreCuts(pop.length, kth).entries()) out.set(scoreCutKey(n, j + 1), at);
    }
  }
  return out;
}

describe("rank cuts across workers", () => {
  it("are the cuts one engine chooses over every value, from the few values each worker sends", () => {
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 4 }), workersArb, (nodes, workers) => {
        const all = { a: workers.flatMap((w) => w.a), b: workers.flatMap((w) => w.b) };
        // A score's population is keyed apart from a rank's of the same measure; here they hold the same values.
        const eventOf = new Map(nodes.map((n) => [relativeKey(n), n.event as "a" | "b"]));
        const totals = new Map([...eventOf].map(([key, event]) => [key, all[event].length]));
        const wants = rankWants(nodes, totals);
        const sent = workers.map((w) =>
          wants.map((want) => candidatesOf(Float64Array.from(w[eventOf.get(want.key) ?? "a"]), want)),
        );
        const got = new Map(cutsFrom(nodes, totals, wants, sent));
        expect(got).toEqual(oneEngineCuts(nodes, all));
      }),
      { numRuns: 500, seed: 20261206 },
    );
  });

  it("send only each side's m + 1 values for a rank, and everything for a quintile score", () => {
    const key = relativeKey({ type: "event", event: "a", rank: { direction: "top", percent: 1 } });
    const top10: EventNode = { type: "event", event: "a", rank: { direction: "top", percent: 10 } };
    const bottom5: EventNode = { type: "event", event: "a", rank: { direction: "bottom", percent: 5 } };
    const score: EventNode = { type: "event", event: "a", score: "quintile", op: "gte", value: 2 };
    const scored = relativeKey(score);
    const totals = new Map([
      [key, 1000],
      [scored, 800],
    ]);
    expect(rankWants([top10, bottom5], totals)).toEqual([
      { key, side: "top", count: 101 },
      { key, side: "bottom", count: 51 },
    ]);
    expect(rankWants([top10, score], totals)).toEqual([
      { key, side: "top", count: 101 },
      { key: scored, side: "all", count: 800 },
    ]);
    // Both sides together as large as the population: all of it, once.
    const top60: EventNode = { type: "event", event: "a", rank: { direction: "top", percent: 60 } };
    const bottom40: EventNode = { type: "event", event: "a", rank: { direction: "bottom", percent: 40 } };
    expect(rankWants([top60, bottom40], totals)).toEqual([{ key, side: "all", count: 1000 }]);
    const pop = Float64Array.from({ length: 500 }, (_, i) => (i * 7919) % 500);
    const top = candidatesOf(pop, { key, side: "top", count: 101 });
    expect([...top].sort((x, y) => x - y)).toEqual(Array.from({ length: 101 }, (_, i) => 399 + i));
  });
});
