/**
 * Bitmaps of the rows holding a string column's values, one per value a rule asks for.
 *
 * A condition such as `country in (US, CA, GB)` scans the column's codes: four bytes
 * read per contact, per condition, from memory the two cores share. With a bitmap per
 * value the same answer is an OR of three bitmaps of one bit per contact, 3/32 of the
 * bytes (the inverted index of Pinot or Druid, kept in step with every write).
 *
 * A bitmap is made for a value the first time a rule asks for it (one pass over the
 * column) and then maintained by every write of the column. At most `MAX_BITMAPS` per
 * column: that bounds their memory at 8 bytes per contact, what one number column
 * holds; a value past it is answered by the scan.
 *
 * Dense words, not a compressed format (Roaring): the answer is ANDed with the engine's
 * own dense bitsets (bitset.ts) word for word, and a segment's values are rarely sparse
 * enough for compression to pay for the conversion.
 */
import { Bitset } from "./bitset.ts";

export const MAX_BITMAPS = 64;

/** A predicate answered from bitmaps when it holds for, or fails for, at most this many values. */
export const MAX_CODES_PER_TEST = 8;

export class Postings {
  /** By code + 1, so that "missing" (code -1) has one too. */
  private readonly maps: (Uint32Array | undefined)[] = [];
  private made = 0;
  /** The rows the bitmap of "missing" covers; it has no bit past them. */
  private missingRows = 0;

  /** Row `i` changed from code `from` to code `to` (-1: missing). */
  moved(i: number, from: number, to: number): void {
    const a = this.maps[from + 1];
    if (a !== undefined && i >>> 5 < a.length) a[i >>> 5] &= ~(1 << (i & 31));
    const b = this.maps[to + 1];
    if (b !== undefined) this.withRoom(to, i)[i >>> 5] |= 1 << (i & 31);
  }

  /**
   * The members of `mask` whose code passes `lut` (`lut[code + 1]`, one entry per code
   * of a dictionary of `size` values), from bitmaps; null when the lookup both passes
   * and fails too many values, or their bitmaps would pass the limit: the caller scans.
   */
  select(mask: Bitset, lut: Uint8Array, size: number, codes: Int32Array): Bitset | null {
    const plan = this.plan(lut, size);
    if (plan === null) return null;
    const maps = this.ensure(plan.codes, codes);
    return maps === null ? null : within(mask, maps, plan.pass === 0);
  }

  /** Whether `select` would answer from bitmaps: a caller that can scan several columns in one pass asks first. */
  answers(lut: Uint8Array, size: number): boolean {
    const plan = this.plan(lut, size);
    if (plan === null) return false;
    let absent = 0;
    for (const c of plan.codes) if (this.maps[c + 1] === undefined) absent++;
    return this.made + absent <= MAX_BITMAPS;
  }

  /**
   * The codes whose rows make the answer: those that pass (`pass` 1: their union), or
   * else those that fail (`pass` 0: everything but their union).
   */
  private plan(lut: Uint8Array, size: number): { codes: number[]; pass: 0 | 1 } | null {
    // A lookup made before values were interned has no say on them.
    if (lut.length !== size + 1) return null;
    let ones = 0;
    for (let k = 0; k < lut.length; k++) ones += lut[k];
    const pass = ones <= MAX_CODES_PER_TEST ? 1 : lut.length - ones <= MAX_CODES_PER_TEST ? 0 : -1;
    if (pass === -1) return null;
    const codes: number[] = [];
    for (let k = 0; k < lut.length; k++) if (lut[k] === pass) codes.push(k - 1);
    return { codes, pass };
  }

  /**
   * The column grew to `rows` rows, the new ones missing: the bitmap of "missing" (the
   * only one whose rows grow without a write) takes them in.
   */
  grown(rows: number): void {
    const a = this.maps[0];
    if (a === undefined || rows <= this.missingRows) return;
    const b = this.withRoom(-1, rows - 1);
    for (let i = this.missingRows; i < rows; i++) b[i >>> 5] |= 1 << (i & 31);
    this.missingRows = rows;
  }

  /** Every bitmap, dropped: the column's codes were replaced whole. */
  forget(): void {
    this.maps.length = 0;
    this.made = 0;
  }

  /** The bitmaps of `picked` codes, those missing made in one pass; null past the limit. */
  private ensure(picked: number[], codes: Int32Array): Uint32Array[] | null {
    const absent = picked.filter((c) => this.maps[c + 1] === undefined);
    if (this.made + absent.length > MAX_BITMAPS) return null;
    if (absent.length > 0) {
      const words = (codes.length + 31) >>> 5;
      // A table from code + 1 to its new bitmap, so the pass costs one lookup per row.
      const fresh: (Uint32Array | undefined)[] = [];
      for (const c of absent) {
        const a = new Uint32Array(words);
        fresh[c + 1] = a;
        this.maps[c + 1] = a;
      }
      this.made += absent.length;
      if (fresh[0] !== undefined) this.missingRows = codes.length;
      for (let i = 0; i < codes.length; i++) {
        const a = fresh[codes[i] + 1];
        if (a !== undefined) a[i >>> 5] |= 1 << (i & 31);
      }
    }
    return picked.map((c) => this.maps[c + 1] as Uint32Array);
  }

  /** Code's bitmap, long enough for row `i` (the column grew since it was made). */
  private withRoom(code: number, i: number): Uint32Array {
    const a = this.maps[code + 1] as Uint32Array;
    if (i >>> 5 < a.length) return a;
    const b = new Uint32Array(Math.max((i >>> 5) + 1, a.length * 2));
    b.set(a);
    this.maps[code + 1] = b;
    return b;
  }
}

/** `mask` AND the union of `maps`, or AND NOT it when `negate`; words past a bitmap's end are 0. */
function within(mask: Bitset, maps: Uint32Array[], negate: boolean): Bitset {
  const mw = mask.words;
  const acc = new Uint32Array(mw.length);
  for (const m of maps) {
    const n = Math.min(m.length, acc.length);
    for (let w = 0; w < n; w++) acc[w] |= m[w];
  }
  if (negate) for (let w = 0; w < acc.length; w++) acc[w] = mw[w] & ~acc[w];
  else for (let w = 0; w < acc.length; w++) acc[w] &= mw[w];
  return new Bitset(mask.size, acc);
}
