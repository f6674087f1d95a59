import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareBytes, IdTable, parseLengths } from "../../src/store/id-table.ts";

const enc = new TextEncoder();

/** The ids concatenated as SQLite's `group_concat(id, '')` gives them, with where each starts. */
function packed(ids: string[]): { bytes: Uint8Array; starts: number[] } {
  const parts = ids.map((id) => enc.encode(id));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const starts = [0];
  for (const p of parts) {
    bytes.set(p, starts[starts.length - 1]);
    starts.push(starts[starts.length - 1] + p.length);
  }
  return { bytes, starts };
}

describe("IdTable", () => {
  it("numbers distinct ids in order of insertion and finds them again, across growth", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 3000 }), (ids) => {
        const { bytes, starts } = packed(ids);
        const table = new IdTable(4);
        const want = new Map<string, number>();
        for (let k = 0; k < ids.length; k++) {
          const [s, e] = [starts[k], starts[k + 1]];
          const h = IdTable.hash(bytes, s, e);
          let code = table.get(bytes, s, e, h);
          expect(code).toBe(want.get(ids[k]) ?? -1);
          if (code < 0) {
            code = table.add(bytes, s, e, h);
            want.set(ids[k], code);
          }
          expect(new TextDecoder().decode(table.bytesOf(code))).toBe(ids[k]);
        }
        expect(table.size).toBe(want.size);
        expect([...want.values()]).toEqual([...want.keys()].map((_, i) => i));
      }),
      { numRuns: 200 },
    );
  });

  it("tells apart ids that share a prefix, a length or a hash bucket", () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
    const { bytes, starts } = packed([...ids, ...ids.map((id) => `${id}x`)]);
    const table = new IdTable();
    const wrong: number[] = [];
    for (let k = 0; k < ids.length; k++) {
      if (table.add(bytes, starts[k], starts[k + 1], IdTable.hash(bytes, starts[k], starts[k + 1])) !== k)
        wrong.push(k);
    }
    for (let k = 0; k < 2 * ids.length; k++) {
      const [s, e] = [starts[k], starts[k + 1]];
      if (table.get(bytes, s, e, IdTable.hash(bytes, s, e)) !== (k < ids.length ? k : -1)) wrong.push(k);
    }
    expect(wrong).toEqual([]);
    expect(table.size).toBe(ids.length);
  });
});

describe("compareBytes", () => {
  it("orders UTF-8 ids as SQLite's BINARY collation does (not as JS compares UTF-16)", () => {
    const db = new Database(":memory:");
    try {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.string({ unit: "grapheme", maxLength: 6 }), { maxLength: 40 }),
          (ids) => {
            const sorted = (
              db
                .prepare("SELECT value FROM json_each(?) ORDER BY value COLLATE BINARY")
                .pluck()
                .all(JSON.stringify(ids)) as string[]
            ).map((s) => enc.encode(s));
            for (let k = 1; k < sorted.length; k++) {
              const [a, b] = [sorted[k - 1], sorted[k]];
              expect(compareBytes(a, 0, a.length, b, 0, b.length)).toBe(-1);
              expect(compareBytes(b, 0, b.length, a, 0, a.length)).toBe(1);
            }
          },
        ),
        { numRuns: 100 },
      );
      // U+FFFD sorts after U+1F600 in UTF-16 code units but before it in UTF-8 bytes.
      const [a, b] = [enc.encode("\u{FFFD}"), enc.encode("😀")];
      expect(compareBytes(a, 0, a.length, b, 0, b.length)).toBe(-1);
      expect(compareBytes(a, 0, a.length, a, 0, a.length)).toBe(0);
    } finally {
      db.close();
    }
  });
});

describe("parseLengths", () => {
  it("reads SQLite's comma-separated lengths and refuses a count that does not match", () => {
    expect([...parseLengths("3,0,12", 3)]).toEqual([3, 0, 12]);
    expect([...parseLengths("", 0)]).toEqual([]);
    expect(() => parseLengths("3,4", 3)).toThrow("start-up read: 2 id lengths for 3 rows");
  });
});
