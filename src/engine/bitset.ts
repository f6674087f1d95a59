/**
 * A fixed-size set of contact indexes, one bit each. Segment membership lives in
 * these: and/or/not of whole segments are word-wide operations and a count is a
 * popcount, so combining million-contact segments costs microseconds.
 */
export class Bitset {
  readonly words: Uint32Array;
  readonly size: number;

  constructor(size: number, words?: Uint32Array) {
    this.size = size;
    this.words = words ?? new Uint32Array((size + 31) >>> 5);
  }

  static full(size: number): Bitset {
    const b = new Bitset(size);
    b.words.fill(0xffffffff);
    const rem = size & 31;
    if (rem !== 0) b.words[b.words.length - 1] = (1 << rem) - 1;
    return b;
  }

  has(i: number): boolean {
    return i < this.size && (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }

  /** A copy with room for `size` members (bits past the old size start clear). */
  resized(size: number): Bitset {
    const b = new Bitset(size);
    b.words.set(this.words.subarray(0, Math.min(this.words.length, b.words.length)));
    return b;
  }

  clone(): Bitset {
    return new Bitset(this.size, this.words.slice());
  }

  count(): number {
    let n = 0;
    const w = this.words;
    for (let i = 0; i < w.length; i++) {
      let v = w[i];
      if (v === 0) continue;
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    return n;
  }

  /** this |= other */
  or(other: Bitset): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) a[i] |= b[i];
    return this;
  }

  /** this &= other */
  and(other: Bitset): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) a[i] &= b[i];
    return this;
  }

  /** this &= ~other */
  andNot(other: Bitset): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) a[i] &= ~b[i];
    return this;
  }

  isEmpty(): boolean {
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }

  /** Indexes of the set bits, ascending; the first `limit` of them when given. */
  toArray(limit = Number.POSITIVE_INFINITY): number[] {
    const out: number[] = [];
    if (limit <= 0) return out;
    const w = this.words;
    for (let wi = 0; wi < w.length; wi++) {
      let bits = w[wi] | 0;
      while (bits !== 0) {
        const t = bits & -bits;
        out.push((wi << 5) | (31 - Math.clz32(t)));
        if (out.length >= limit) return out;
        bits ^= t;
      }
    }
    return out;
  }

  /**
   * A new bitset of the members of `mask` for which `test` holds. The one loop every
   * compiled condition runs: it visits only set bits, so conditions placed after a
   * selective one in an `and` touch only the survivors.
   */
  static select(mask: Bitset, test: (i: number) => boolean): Bitset {
    const out = new Bitset(mask.size);
    const mw = mask.words;
    const ow = out.words;
    for (let wi = 0; wi < mw.length; wi++) {
      let bits = mw[wi] | 0;
      if (bits === 0) continue;
      const base = wi << 5;
      let res = 0;
      if (bits === -1) {
        for (let b = 0; b < 32; b++) if (test(base | b)) res |= 1 << b;
      } else {
        while (bits !== 0) {
          const t = bits & -bits;
          if (test(base | (31 - Math.clz32(t)))) res |= t;
          bits ^= t;
        }
      }
      ow[wi] = res;
    }
    return out;
  }

  /**
   * Members of `mask` whose code passes a lookup table (`lut[code + 1]`, so a missing
   * value, code -1, reads `lut[0]`). The loop for string fields: one load per contact,
   * no call.
   */
  static selectCodes(mask: Bitset, codes: Int32Array, lut: Uint8Array): Bitset {
    const out = new Bitset(mask.size);
    const mw = mask.words;
    const ow = out.words;
    for (let wi = 0; wi < mw.length; wi++) {
      let bits = mw[wi] | 0;
      if (bits === 0) continue;
      const base = wi << 5;
      let res = 0;
      if (bits === -1) {
        // Branch-free: lut holds 0 or 1, and mispredicted branches cost more than the shift.
        for (let b = 0; b < 32; b++) res |= lut[codes[base | b] + 1] << b;
      } else {
        while (bits !== 0) {
          const t = bits & -bits;
          if (lut[codes[base | (31 - Math.clz32(t))] + 1] !== 0) res |= t;
          bits ^= t;
        }
      }
      ow[wi] = res;
    }
    return out;
  }

  /** Members of `mask` with `lo <= values[i] <= hi` (NaN, i.e. missing, never passes). */
  static selectRange(mask: Bitset, values: Float64Array | Int8Array, lo: number, hi: number): Bitset {
    const out = new Bitset(mask.size);
    const mw = mask.words;
    const ow = out.words;
    for (let wi = 0; wi < mw.length; wi++) {
      let bits = mw[wi] | 0;
      if (bits === 0) continue;
      const base = wi << 5;
      let res = 0;
      if (bits === -1) {
        for (let b = 0; b < 32; b++) {
          const v = values[base | b];
          if (v >= lo && v <= hi) res |= 1 << b;
        }
      } else {
        while (bits !== 0) {
          const t = bits & -bits;
          const v = values[base | (31 - Math.clz32(t))];
          if (v >= lo && v <= hi) res |= t;
          bits ^= t;
        }
      }
      ow[wi] = res;
    }
    return out;
  }

  /**
   * Members of `mask` passing every lookup table: an `and` of string-field conditions
   * in one pass. The first table is applied branch-free to whole words; the others
   * only to the bits still set.
   */
  static selectAllCodes(mask: Bitset, scans: { codes: Int32Array; lut: Uint8Array }[]): Bitset {
    const out = new Bitset(mask.size);
    const mw = mask.words;
    const ow = out.words;
    const { codes: c0, lut: l0 } = scans[0];
    const k = scans.length;
    for (let wi = 0; wi < mw.length; wi++) {
      const bits = mw[wi] | 0;
      if (bits === 0) continue;
      const base = wi << 5;
      let res = 0;
      for (let b = 0; b < 32; b++) res |= l0[c0[base | b] + 1] << b;
      res &= bits;
      for (let j = 1; j < k && res !== 0; j++) {
        const { codes, lut } = scans[j];
        let rest = res;
        while (rest !== 0) {
          const t = rest & -rest;
          if (lut[codes[base | (31 - Math.clz32(t))] + 1] === 0) res ^= t;
          rest ^= t;
        }
      }
      ow[wi] = res;
    }
    return out;
  }
}
