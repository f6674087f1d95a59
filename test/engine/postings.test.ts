/**
 * A string column's bitmaps (postings.ts) answer as its codes do: made mid-way by a
 * query, then kept in step with single writes, bulk loads, removals and the column's
 * growth (lowered here to a few thousand contacts), for every string operator a bitmap
 * can answer (those that pass or fail a few values) and for one it cannot.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NOW } from "../../src/demo/generate.ts";
import { Bitset } from "../../src/engine/bitset.ts";
import { Engine } from "../../src/engine/index.ts";
import { MAX_BITMAPS, Postings } from "../../src/engine/postings.ts";
import { growEarly } from "../support/early-growth.ts";

growEarly();

const COUNTRIES = ["us", "ca", "gb", "fr", "de", "es", "it", "nl", "se", "pl", "jp", "br"];

type Query = { op: string; value?: string | string[] };
const QUERIES: Query[] = [
  { op: "eq", value: "FR" },
  { op: "neq", value: "fr" },
  { op: "in", value: ["US", "ca", "GB"] },
  { op: "not_in", value: ["us", "ca", "gb"] },
  { op: "is_set" },
  { op: "is_not_set" },
  // Passes 11 of 12 values: answered from the bitmap of the one it fails.
  { op: "not_in", value: ["jp"] },
  // Passes and fails more values than bitmaps answer: a scan.
  { op: "in", value: COUNTRIES.slice(0, 10) },
];

function expected(q: Query, v: string | undefined): boolean {
  switch (q.op) {
    case "eq":
      return v === (q.value as string).toLowerCase();
    case "neq":
      return v !== (q.value as string).toLowerCase();
    case "in":
      return v !== undefined && (q.value as string[]).map((s) => s.toLowerCase()).includes(v);
    case "not_in":
      return v === undefined || !(q.value as string[]).map((s) => s.toLowerCase()).includes(v);
    case "is_set":
      return v !== undefined;
    default:
      return v === undefined;
  }
}

describe("a string column's bitmaps", () => {
  it("answer every query as the column's codes do, across writes, loads, removals and growths", () => {
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant("new" as const), n: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant("bulk" as const), n: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ kind: fc.constant("patch" as const), who: fc.nat(), v: fc.integer({ min: -1, max: 11 }) }),
      fc.record({ kind: fc.constant("remove" as const), who: fc.nat() }),
      fc.record({ kind: fc.constant("query" as const), q: fc.integer({ min: 0, max: QUERIES.length - 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 60, maxLength: 200 }), (ops) => {
        const eng = new Engine({ clock: { now: () => NOW }, defaultSegments: false, timeZone: "UTC" });
        const country = new Map<string, string | undefined>();
        const pick = (v: number): string | undefined => (v < 0 ? undefined : COUNTRIES[v]);
        let next = 0;
        const check = (q: Query) => {
          const got = eng
            .evaluate({ type: "field", field: "country", ...q })
            .ids()
            .sort();
          const want = [...country]
            .filter(([, v]) => expected(q, v))
            .map(([id]) => id)
            .sort();
          expect(got, `${q.op} ${JSON.stringify(q.value)}`).toEqual(want);
        };
        for (const op of ops) {
          if (op.kind === "new" || op.kind === "bulk") {
            const batch = [];
            for (let k = 0; k < op.n; k++) {
              const id = `c${next++}`;
              const v = pick((next % 13) - 1);
              batch.push(v === undefined ? { id } : { id, country: v });
              country.set(id, v);
            }
            if (op.kind === "bulk") eng.loadContacts(batch);
            else for (const c of batch) eng.upsertContact(c);
          } else if (op.kind === "query") {
            check(QUERIES[op.q]);
          } else if (country.size > 0) {
            const id = [...country.keys()][op.who % country.size];
            if (op.kind === "remove") {
              eng.removeContact(id);
              country.delete(id);
            } else {
              const v = pick(op.v);
              eng.patchContact({ id, country: v ?? null });
              country.set(id, v);
            }
          }
        }
        for (const q of QUERIES) check(q);
      }),
      { numRuns: 25, seed: 20261207 },
    );
  });

  it("make no more than MAX_BITMAPS per column, and past it leave the answer to a scan", () => {
    const postings = new Postings();
    const codes = Int32Array.from({ length: 200 }, (_, i) => i % 100);
    const mask = Bitset.full(codes.length);
    const only = (code: number) => {
      const lut = new Uint8Array(101);
      lut[code + 1] = 1;
      return lut;
    };
    for (let code = 0; code < MAX_BITMAPS; code++) {
      expect(postings.answers(only(code), 100)).toBe(true);
      expect(postings.select(mask, only(code), 100, codes)?.count()).toBe(2);
    }
    expect(postings.answers(only(MAX_BITMAPS), 100)).toBe(false);
    expect(postings.select(mask, only(MAX_BITMAPS), 100, codes)).toBeNull();
    // A lookup made before the dictionary grew says nothing of the new values.
    expect(postings.select(mask, only(3), 101, codes)).toBeNull();
  });
});
