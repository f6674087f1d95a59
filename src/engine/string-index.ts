/**
 * A map from strings to numbers (contact ids to indexes, dictionary values to codes)
 * that never stops the thread to rehash a million keys at once.
 *
 * A JavaScript `Map` doubles its table at the insert that fills it and rehashes every
 * key then: at 2^20 keys that one insert took 300–360 ms on the bench machine, per map,
 * with every request waiting (docs/performance.md), and a `Map` cannot be sized ahead.
 * So a large index is split over SHARDS tables by a hash of the key: each rehash moves a
 * SHARDS-th of the keys, and the shards, filled evenly but not equally, pass their
 * sizes at different inserts. It also lifts V8's limit of 2^24 keys per `Map`.
 *
 * The shards are open-addressing tables written here rather than `Map`s: a key's hash
 * and value sit side by side in one typed array, so a lookup of a random id reads one
 * slot and then the key's text, where a `Map` follows a bucket, an entry and the key.
 * A million e-mail-like keys (bench machine): set in 0.57–0.79 s against 1.38–1.47 s
 * with `Map` shards (about 0.5 s with room reserved, as a restore does), looked up at
 * random in 1.06–1.2 µs against 1.69–1.89 µs. Both are bound by cache misses, which a
 * restart and every event pay (docs/performance.md).
 *
 * Small indexes (most dictionaries hold a handful of values) stay one `Map`, with no
 * hash to compute; one crossing SPLIT_AT keys is split once, a few milliseconds.
 */
const SHARDS = 256;
const SPLIT_AT = 1 << 16;

export class StringIndex {
  private one: Map<string, number> | null = new Map();
  private shards: Shard[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): number | undefined {
    if (this.one !== null) return this.one.get(key);
    const h = hashOf(key);
    return this.shards[h >>> SHARD_SHIFT].get(key, h);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: number): void {
    if (this.one !== null) {
      const before = this.one.size;
      this.one.set(key, value);
      if (this.one.size === before) return;
      this.count++;
      if (this.count > SPLIT_AT) this.split();
      return;
    }
    const h = hashOf(key);
    if (this.shards[h >>> SHARD_SHIFT].set(key, h, value)) this.count++;
  }

  delete(key: string): boolean {
    let gone: boolean;
    if (this.one !== null) gone = this.one.delete(key);
    else {
      const h = hashOf(key);
      gone = this.shards[h >>> SHARD_SHIFT].delete(key, h);
    }
    if (gone) this.count--;
    return gone;
  }

  /**
   * Makes room for `n` keys in all, before they are set (a restore knows how many): past
   * SPLIT_AT an empty index starts out split, its shards sized for them, instead of
   * filling a `Map` first and growing each shard three times over.
   */
  reserve(n: number): void {
    if (this.count > 0 || n <= SPLIT_AT || this.one === null) return;
    this.spread(n);
  }

  /** Whether the keys are spread over shards yet (tests). */
  get sharded(): boolean {
    return this.one === null;
  }

  private split(): void {
    const one = this.one!;
    this.spread(2 * one.size);
    for (const [k, v] of one) {
      const h = hashOf(k);
      this.shards[h >>> SHARD_SHIFT].set(k, h, v);
    }
  }

  /** Leaves the one `Map` for shards sized for `n` keys in all (empty). */
  private spread(n: number): void {
    this.shards = Array.from({ length: SHARDS }, () => new Shard(n / SHARDS));
    this.one = null;
  }
}

const SHARD_SHIFT = 32 - Math.log2(SHARDS);

/**
 * One shard: linear probing over a power-of-two number of slots, at most half full.
 * Slot s holds the key's hash (never 0; 0 marks an empty slot) at `slots[2s]`, its value
 * at `slots[2s + 1]`, and the key at `keys[s]`. The low bits of the hash pick the first
 * slot, the high bits picked the shard. A deletion shifts the slots after it back
 * (Knuth's algorithm R), so there are no tombstones and lookups stay short.
 */
class Shard {
  private slots: Int32Array;
  private keys: (string | undefined)[];
  private mask: number;
  private size = 0;

  constructor(expected: number) {
    let n = 16;
    while (n < 2 * expected) n *= 2;
    this.slots = new Int32Array(2 * n);
    this.keys = new Array<string | undefined>(n);
    this.mask = n - 1;
  }

  get(key: string, h: number): number | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const x = slots[2 * s];
      if (x === 0) return undefined;
      if (x === h && this.keys[s] === key) return slots[2 * s + 1];
    }
  }

  /** Sets `key`'s value; true when the key is new. */
  set(key: string, h: number, value: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const x = slots[2 * s];
      if (x === 0) {
        slots[2 * s] = h;
        slots[2 * s + 1] = value;
        this.keys[s] = key;
        if (++this.size * 2 > mask + 1) this.grow();
        return true;
      }
      if (x === h && this.keys[s] === key) {
        slots[2 * s + 1] = value;
        return false;
      }
    }
  }

  delete(key: string, h: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
    for (; ; s = (s + 1) & mask) {
      const x = slots[2 * s];
      if (x === 0) return false;
      if (x === h && this.keys[s] === key) break;
    }
    // Move back every later key of the run whose first slot is not between the hole
    // and it (cyclically): it would not be found past the hole otherwise.
    let hole = s;
    for (let t = (s + 1) & mask; slots[2 * t] !== 0; t = (t + 1) & mask) {
      const home = slots[2 * t] & mask;
      const stays = hole <= t ? hole < home && home <= t : hole < home || home <= t;
      if (stays) continue;
      slots[2 * hole] = slots[2 * t];
      slots[2 * hole + 1] = slots[2 * t + 1];
      this.keys[hole] = this.keys[t];
      hole = t;
    }
    slots[2 * hole] = 0;
    this.keys[hole] = undefined;
    this.size--;
    return true;
  }

  private grow(): void {
    const old = this.slots;
    const oldKeys = this.keys;
    const n = 2 * (this.mask + 1);
    this.slots = new Int32Array(2 * n);
    this.keys = new Array<string | undefined>(n);
    this.mask = n - 1;
    for (let s = 0; s < oldKeys.length; s++) {
      const h = old[2 * s];
      if (h === 0) continue;
      let t = h & this.mask;
      while (this.slots[2 * t] !== 0) t = (t + 1) & this.mask;
      this.slots[2 * t] = h;
      this.slots[2 * t + 1] = old[2 * s + 1];
      this.keys[t] = oldKeys[s];
    }
  }
}

/**
 * FNV-1a over the key's UTF-16 code units, then murmur3's finaliser, never 0. Ids often
 * share long prefixes ("contact-000…") and differ in their last digits, so every unit
 * counts and the finaliser spreads those last units over the high bits (the shard) as
 * well as the low ones (the slot).
 */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}
