/**
 * A log write crosses to the SQLite writer thread as columns (src/store/sqlite/event-writer.ts):
 * whatever the ids hold, the worker's side reads back exactly the write the caller made.
 */
import { describe, expect, it } from "vitest";
import { logColumns, logOfColumns } from "../../src/store/sqlite/event-writer.ts";
import type { LogWrite } from "../../src/store/types.ts";

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["c", "_", "é", "😀", "\u0000", "\\", '"', "ct_01kt", "\uD800", "0", "segment"];

function id(r: () => number): string {
  let s = "";
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

describe("a log write as columns", () => {
  it("reads back as the same changes, deliveries and lease, over random ids", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const segments = Array.from({ length: 1 + Math.floor(r() * 5) }, () => id(r));
      const changes: LogWrite["changes"] = Array.from({ length: Math.floor(r() * 60) }, () => ({
        segment_id: segments[Math.floor(r() * segments.length)]!,
        contact_id: id(r),
        change: r() < 0.5 ? "entered" : "exited",
        at: Math.floor(r() * 2 ** 45) - 2 ** 40,
      }));
      const deliveries = changes.flatMap((_, i) => (r() < 0.3 ? [{ change: i, webhook_id: id(r) }] : []));
      const claim =
        r() < 0.5 ? null : { now: 1_700_000_000_000, limit: 1 + Math.floor(r() * 8), leaseMs: 80_000 };
      const w: LogWrite = { changes, deliveries, claim };
      const columns = structuredClone(logColumns(w, 42));
      expect(columns.now).toBe(42);
      expect(logOfColumns(columns)).toEqual(w);
    }
  });
});
