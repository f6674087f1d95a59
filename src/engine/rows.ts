/**
 * Maintained membership again, contact by contact: one row of bits per contact, one
 * bit per segment slot. Each segment's bitset answers whole-population questions; a
 * live write asks the opposite one (is contact c in each of the 20 segments reading
 * what changed?), which over per-segment bitsets of a million contacts is one cache
 * miss per segment, and over a row is one in all.
 */
import type { Bitset } from "./bitset.ts";
import { Prefaulted } from "./prefault.ts";

export class MembershipRows {
  /** Words per contact. */
  private stride = 1;
  private words = new Int32Array(0);
  private contacts = 0;

  /**
   * Room for `contacts` contacts and slots 0 … `slots` − 1, keeping every bit; `ahead`,
   * the words made ahead for it by `successor`, where they fit.
   */
  ensure(contacts: number, slots: number, ahead: Prefaulted<Int32Array<ArrayBuffer>> | null = null): void {
    const stride = Math.max(this.stride, (slots + 31) >>> 5);
    if (contacts <= this.contacts && stride === this.stride) return;
    const n = Math.max(contacts, this.contacts);
    if (stride === this.stride && ahead !== null && ahead.length === n * stride) {
      this.words = ahead.take(this.words);
      this.contacts = n;
      return;
    }
    const words = new Int32Array(n * stride);
    if (stride === this.stride) words.set(this.words);
    else
      for (let c = 0; c < this.contacts; c++)
        words.set(this.words.subarray(c * this.stride, (c + 1) * this.stride), c * stride);
    this.words = words;
    this.stride = stride;
    this.contacts = n;
  }

  /** Words for `contacts` contacts at the current stride, to be touched ahead of `ensure` (prefault.ts). */
  successor(contacts: number): Prefaulted<Int32Array<ArrayBuffer>> | null {
    return contacts > this.contacts ? new Prefaulted(new Int32Array(contacts * this.stride), 0) : null;
  }

  has(slot: number, c: number): boolean {
    return (this.words[c * this.stride + (slot >>> 5)] & (1 << (slot & 31))) !== 0;
  }

  set(slot: number, c: number): void {
    this.words[c * this.stride + (slot >>> 5)] |= 1 << (slot & 31);
  }

  clear(slot: number, c: number): void {
    this.words[c * this.stride + (slot >>> 5)] &= ~(1 << (slot & 31));
  }

  /** Clears every bit of contact `c`. */
  clearContact(c: number): void {
    if (c < this.contacts) this.words.fill(0, c * this.stride, (c + 1) * this.stride);
  }

  /** Clears every bit. */
  clearAll(): void {
    this.words.fill(0);
  }

  /** Makes slot `slot` hold `bits` (contacts beyond either side are out); `fresh`: the slot is all clear. */
  load(slot: number, bits: Bitset, fresh = false): void {
    const w = slot >>> 5;
    const mask = ~(1 << (slot & 31));
    const stride = this.stride;
    const words = this.words;
    if (!fresh) for (let c = 0; c < this.contacts; c++) words[c * stride + w] &= mask;
    const src = bits.words;
    const bit = 1 << (slot & 31);
    for (let k = 0; k < src.length; k++) {
      let x = src[k] | 0;
      while (x !== 0) {
        const t = x & -x;
        const c = (k << 5) | (31 - Math.clz32(t));
        x ^= t;
        if (c < this.contacts) words[c * stride + w] |= bit;
      }
    }
  }
}
