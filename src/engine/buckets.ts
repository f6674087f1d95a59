/**
 * Bucket values (src/rules/bucket.ts) per contact index, computed once per seed and
 * contact: a contact's id never changes and a deleted contact keeps its index, so a
 * value once computed stays right. Shared by every compiled node on the same table.
 */
import { bucketCode } from "../rules/bucket.ts";
import type { ContactTable } from "./contacts.ts";

const UNKNOWN = 0xffff;
/** Seeds kept per table; rules use a handful, so this only bounds a pathological workload. */
const MAX_SEEDS = 256;

const columns = new WeakMap<ContactTable, Map<string, Uint16Array>>();

/** The bucket of contact index `c` for `seed`, in hundredths (0 to 9999). */
export function bucketReader(table: ContactTable, seed: string): (c: number) => number {
  let bySeed = columns.get(table);
  if (!bySeed) {
    bySeed = new Map();
    columns.set(table, bySeed);
  }
  const seeds = bySeed;
  let col = seeds.get(seed) ?? new Uint16Array(0);
  return (c) => {
    if (c >= col.length) {
      // Another reader of the same seed may have grown it already.
      const shared = seeds.get(seed);
      if (shared !== undefined && shared.length > col.length) col = shared;
      if (c >= col.length) {
        const next = new Uint16Array(Math.max(c + 1, table.ids.length, col.length * 2, 1024)).fill(UNKNOWN);
        next.set(col);
        col = next;
        if (seeds.size >= MAX_SEEDS && !seeds.has(seed)) seeds.clear();
        seeds.set(seed, col);
      }
    }
    let k = col[c];
    if (k === UNKNOWN) {
      k = bucketCode(seed, table.ids[c]);
      col[c] = k;
    }
    return k;
  };
}
