/**
 * A set of byte strings (UTF-8 contact ids) numbered in order of insertion, looked up by
 * bytes where they lie in a larger buffer: the start-up readers code the contact id of
 * every event (10M at the default size) without making a JS string of it.
 *
 * Hand-written rather than a `Map<string, number>`: parsing 10M ids into strings and
 * looking each up in a Map was over a third of a reader's time at the default size,
 * while hashing the bytes SQLite already concatenated costs a few tens of nanoseconds.
 */
export class IdTable {
  private arena: Uint8Array;
  private used = 0;
  /** Per code, side by side: where its bytes start in `arena`, and how many. */
  private spans: Int32Array;
  /**
   * Open addressing, linear probing, four ints per slot: the key's hash, code + 1 (0:
   * empty), and where the key's bytes start in `arena` and how many. Lookups of random
   * ids are bound by cache misses: comparing the hash first skips other keys' bytes, and
   * a slot holding its key's place costs one miss (the slot) plus one (the bytes) per hit.
   */
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    const cap = Math.max(16, expected);
    this.arena = new Uint8Array(cap * 12);
    this.spans = new Int32Array(cap * 2);
    let slots = 32;
    while (slots < cap * 2) slots *= 2;
    this.slots = new Int32Array(slots * 4);
    this.mask = slots - 1;
  }

  /** FNV-1a over the bytes, then murmur3's finaliser so that ids differing in their last digits spread. */
  static hash(bytes: Uint8Array, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** Code of `bytes[start, end)`, or -1 when absent; `hash` is `IdTable.hash` of the same bytes. */
  get(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const h = hash | 0;
    const len = end - start;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const b = 4 * s;
      const v = slots[b + 1];
      if (v === 0) return -1;
      if (slots[b] === h && slots[b + 3] === len && this.same(slots[b + 2], bytes, start, len)) return v - 1;
    }
  }

  /** Adds `bytes[start, end)`, which must be absent, and answers its code. */
  add(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const code = this.size++;
    const len = end - start;
    if (2 * code === this.spans.length) {
      const spans = new Int32Array(this.spans.length * 2);
      spans.set(this.spans);
      this.spans = spans;
    }
    if (this.used + len > this.arena.length) {
      const next = new Uint8Array(Math.max(this.arena.length * 2, this.used + len));
      next.set(this.arena.subarray(0, this.used));
      this.arena = next;
    }
    this.arena.set(bytes.subarray(start, end), this.used);
    this.spans[2 * code] = this.used;
    this.spans[2 * code + 1] = len;
    this.used += len;
    if (this.size * 2 > this.mask + 1) this.rehash();
    this.place(hash, code, this.spans[2 * code], len);
    return code;
  }

  /** The bytes of a code (a view, valid until the next `add`). */
  bytesOf(code: number): Uint8Array {
    const s = this.spans[2 * code];
    return this.arena.subarray(s, s + this.spans[2 * code + 1]);
  }

  private same(at: number, bytes: Uint8Array, start: number, len: number): boolean {
    const a = this.arena;
    for (let k = 0; k < len; k++) if (a[at + k] !== bytes[start + k]) return false;
    return true;
  }

  private place(hash: number, code: number, at: number, len: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let s = hash & mask;
    while (slots[4 * s + 1] !== 0) s = (s + 1) & mask;
    slots[4 * s] = hash | 0;
    slots[4 * s + 1] = code + 1;
    slots[4 * s + 2] = at;
    slots[4 * s + 3] = len;
  }

  /** Twice the slots; every key placed again from the hash its slot kept. */
  private rehash(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = this.slots.length / 4 - 1;
    for (let b = 0; b < old.length; b += 4) {
      if (old[b + 1] !== 0) this.place(old[b] >>> 0, old[b + 1] - 1, old[b + 2], old[b + 3]);
    }
  }
}

/**
 * The byte lengths SQLite listed as `group_concat(octet_length(x), ',')`, parsed without
 * a JSON array of numbers in between.
 */
export function parseLengths(text: string, count: number): Int32Array {
  const out = new Int32Array(count);
  let k = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 44) {
      out[k++] = v;
      v = 0;
    } else v = v * 10 + (ch - 48);
  }
  if (text.length > 0) out[k++] = v;
  if (k !== count) throw new Error(`start-up read: ${k} id lengths for ${count} rows`);
  return out;
}

/** -1, 0 or 1 as SQLite's BINARY collation orders `a[as, ae)` and `b[bs, be)`. */
export function compareBytes(
  a: Uint8Array,
  as: number,
  ae: number,
  b: Uint8Array,
  bs: number,
  be: number,
): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const x = a[as + i];
    const y = b[bs + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  const la = ae - as;
  const lb = be - bs;
  return la === lb ? 0 : la < lb ? -1 : 1;
}
