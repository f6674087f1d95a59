/**
 * A map from strings to numbers (contact ids to indexes, dictionary values to codes)
 * that never stops the thread to rehash a million keys at once.
 *
 * A JavaScript `Map` doubles its table at the insert that fills it and rehashes every
 * key then: at 2^20 keys that one insert took 300–360 ms on the bench machine, per map,
 * with every request waiting (docs/performance.md), and a `Map` cannot be sized ahead.
 * So a large index is split over SHARDS maps by a hash of the key: each rehash moves a
 * SHARDS-th of the keys, and the shards, filled evenly but not equally, pass their
 * sizes at different inserts. It also lifts V8's limit of 2^24 keys per `Map`.
 *
 * Small indexes (most dictionaries hold a handful of values) stay one `Map`, with no
 * hash to compute; one crossing SPLIT_AT keys is split once, a few milliseconds.
 */
const SHARDS = 256;
const SPLIT_AT = 1 << 16;

export class StringIndex {
  private one: Map<string, number> | null = new Map();
  private shards: Map<string, number>[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): number | undefined {
    return this.one !== null ? this.one.get(key) : this.shards[shardOf(key)].get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: number): void {
    const map = this.one ?? this.shards[shardOf(key)];
    const before = map.size;
    map.set(key, value);
    if (map.size === before) return;
    this.count++;
    if (this.one !== null && this.count > SPLIT_AT) this.split();
  }

  delete(key: string): boolean {
    const map = this.one ?? this.shards[shardOf(key)];
    if (!map.delete(key)) return false;
    this.count--;
    return true;
  }

  /** Whether the keys are spread over shards yet (tests). */
  get sharded(): boolean {
    return this.one === null;
  }

  private split(): void {
    const one = this.one!;
    this.shards = Array.from({ length: SHARDS }, () => new Map<string, number>());
    for (const [k, v] of one) this.shards[shardOf(k)].set(k, v);
    this.one = null;
  }
}

/**
 * FNV-1a over the key's UTF-16 code units, folded to a shard. Ids often share long
 * prefixes ("contact-000…"), so every unit counts; a key is a few dozen units at most
 * in practice, a few nanoseconds beside the map lookup's own cache miss.
 */
function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 16)) & (SHARDS - 1);
}
