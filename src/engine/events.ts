/**
 * Events, one table per event type, so a rule on `order_placed` never scans
 * `email_sent`. Inside a table each contact owns a contiguous block of slots sorted
 * by time: a windowed count is two binary searches, a sum a short scan.
 *
 * Blocks live in one slab of typed arrays with spare capacity; a block that fills up
 * moves to the end of the slab at twice its size, leaving a hole that `compact()`
 * reclaims. This keeps appends O(1) amortised without a JS array per contact.
 * Properties are stored column-wise per (type, dotted path): numbers in a Float64
 * column, strings as dictionary codes of their normalised text, anything else
 * (booleans, arrays, objects) in a sparse plain array.
 *
 * The file stays whole (about 600 lines): the append, relocation, sort and layout loops
 * are hand-specialised over the same slab arrays and keep its invariants together.
 */
import type { Dictionary } from "./dictionary.ts";
import { normalize } from "./dictionary.ts";
import { nearlyFull } from "./prefault.ts";
import { SlabGrowth } from "./slab-growth.ts";
import {
  type PackedStrings,
  packStrings,
  type SnapshotReader,
  SnapshotUnusable,
  type SnapshotWriter,
  unpackStrings,
} from "./snapshot-io.ts";
import type { JsonValue } from "./types.ts";

/**
 * One property path of one event type, aligned with the table's slots. The number
 * and string arrays are allocated on first use: most paths hold only one kind, and at
 * ten million events each unused array would cost 40–80 MB.
 */
export class PropColumn {
  num: Float64Array | null = null;
  str: Int32Array | null = null;
  other: (JsonValue | undefined)[] | null = null;
  constructor(public cap: number) {}
  numAt(s: number): number {
    return this.num === null ? Number.NaN : this.num[s];
  }
  strAt(s: number): number {
    return this.str === null ? -1 : this.str[s];
  }
  setNum(s: number, v: number): void {
    this.num ??= new Float64Array(this.cap).fill(Number.NaN);
    this.num[s] = v;
  }
  setStr(s: number, code: number): void {
    this.str ??= new Int32Array(this.cap).fill(-1);
    this.str[s] = code;
  }
  /** Grows the arrays shorter than `cap` (an array already that long is kept). */
  grow(cap: number): void {
    if (this.num && this.num.length < cap) {
      const num = new Float64Array(cap);
      num.set(this.num);
      num.fill(Number.NaN, this.num.length);
      this.num = num;
    }
    if (this.str && this.str.length < cap) {
      const str = new Int32Array(cap);
      str.set(this.str);
      str.fill(-1, this.str.length);
      this.str = str;
    }
    this.cap = cap;
  }
  clearSlot(s: number): void {
    if (this.num) this.num[s] = Number.NaN;
    if (this.str) this.str[s] = -1;
    if (this.other) this.other[s] = undefined;
  }
  /** Copies slots [from, from + n) to `to` (ranges may overlap). */
  copy(to: number, from: number, n: number): void {
    if (n < 16 && to > from + n) {
      // A small block moving to the end of the slab: a loop beats a builtin call per array.
      const num = this.num;
      const str = this.str;
      if (num) for (let k = 0; k < n; k++) num[to + k] = num[from + k];
      if (str) for (let k = 0; k < n; k++) str[to + k] = str[from + k];
    } else {
      this.num?.copyWithin(to, from, from + n);
      this.str?.copyWithin(to, from, from + n);
    }
    const o = this.other;
    if (o) {
      if (to > from) for (let k = n - 1; k >= 0; k--) o[to + k] = o[from + k];
      else for (let k = 0; k < n; k++) o[to + k] = o[from + k];
    }
  }
  isSet(s: number): boolean {
    if (!Number.isNaN(this.numAt(s)) || this.strAt(s) >= 0) return true;
    const o = this.other;
    return o !== null && o[s] !== undefined && o[s] !== null;
  }
}

/** Scratch space of `EventTable.sortBlock` (one thread, no re-entry). */
const scratch = { order: new Int32Array(64), num: new Float64Array(64), str: new Int32Array(64) };

/**
 * Spare slots a block gets when the slab is laid out (after a bulk load or a
 * compaction): a full block moves to the end of the slab at its first new event, which
 * copies all of it with its property columns, and the busiest contacts, whose blocks are
 * the largest, are the ones most likely to get events next. An eighth spares most of
 * those moves for the first live events after a start, for an eighth more memory.
 *
 * An eighth on average, not for every block: contacts that keep their pace would all
 * fill an eighth at once, after the whole table has grown by an eighth, and move
 * together: millions of slots copied, and the slab grown twice over, in one batch of
 * live events (bench/append-stalls.ts). So a block's share lies between a sixteenth and
 * three sixteenths, drawn from a hash of its contact, and the moves spread over that
 * range.
 */
function blockSlack(len: number, c: number): number {
  if (len === 0) return 0;
  const sixteenths = 1 + (Math.imul(c, 0x9e3779b1) >>> 0) / 2 ** 31; // 1 to 3, mean 2
  return Math.max(1, Math.floor((len * sixteenths) / 16));
}

export class EventTable {
  /** Per contact: first slot, number of events, capacity of its block. */
  start: Int32Array;
  len: Int32Array;
  cap: Int32Array;
  /**
   * Per contact: its latest event's instant, -∞ with none. Dense by contact, so a
   * whole-population loop can skip everyone without an event since a window's start
   * reading this array in order instead of each block's end in the slab.
   */
  latest: Float64Array;
  /**
   * Per 32 contacts (one word of a bitset), at least the latest of their `latest`: a
   * whole-population loop skips a word whose contacts have no event since the window's
   * start in one load. Never below the true latest; left high when a contact's events
   * are removed.
   */
  latestByWord: Float64Array;
  times: Float64Array;
  readonly props = new Map<string, PropColumn>();
  /** The same columns as an array, for the per-event loops. */
  private propList: PropColumn[] = [];
  /** Slab slots in use (blocks and holes). */
  used = 0;
  /** Slots in use that belong to no block. */
  holes = 0;
  /** Contacts whose block may be out of time order (bulk appends); sorted by `compact`. */
  private unsorted: Uint8Array;
  private anyUnsorted = false;
  total = 0;
  /** The larger slab being filled ahead of need (slab-growth.ts), from seven eighths full. */
  private growth: SlabGrowth | null = null;
  /**
   * Slabs this long or longer grow ahead of need; shorter ones, cheap to copy, when
   * full. A growth copies `growthPerAppend` slots per append, and per relocation of n
   * slots `growthPerRelocatedSlot`·n, at least `growthPerRelocation`. Appends use two or
   * three slots each on average (their blocks' moves), so begun seven eighths full a
   * growth is as a rule done before the slab is full; a steady share per append spreads
   * the first touch of the new memory over thousands of batches, where a share in
   * proportion to the moves crowded it into the few batches in which many blocks move at
   * once. Not earlier than seven eighths: a slab just laid out after a load is about
   * four fifths full, and its spare room is meant to take the first live events without
   * doubling the memory. (Tests lower them, so that a growth spans many appends or is
   * cut short by a full slab.)
   */
  static growAheadFrom = 1 << 16;
  static growthPerAppend = 128;
  static growthPerRelocation = 256;
  static growthPerRelocatedSlot = 3;

  constructor(
    readonly type: string,
    contactCap: number,
    private readonly dict: Dictionary,
  ) {
    this.start = new Int32Array(contactCap);
    this.len = new Int32Array(contactCap);
    this.cap = new Int32Array(contactCap);
    this.latest = new Float64Array(contactCap).fill(Number.NEGATIVE_INFINITY);
    this.latestByWord = new Float64Array((contactCap + 31) >>> 5).fill(Number.NEGATIVE_INFINITY);
    this.unsorted = new Uint8Array(contactCap);
    this.times = new Float64Array(1024);
  }

  ensureContacts(n: number): void {
    if (n <= this.start.length) return;
    let cap = Math.max(1024, this.start.length);
    while (cap < n) cap *= 2;
    for (const k of ["start", "len", "cap"] as const) {
      const next = new Int32Array(cap);
      next.set(this[k]);
      this[k] = next;
    }
    const latest = new Float64Array(cap).fill(Number.NEGATIVE_INFINITY);
    latest.set(this.latest);
    this.latest = latest;
    const byWord = new Float64Array((cap + 31) >>> 5).fill(Number.NEGATIVE_INFINITY);
    byWord.set(this.latestByWord);
    this.latestByWord = byWord;
    const unsorted = new Uint8Array(cap);
    unsorted.set(this.unsorted);
    this.unsorted = unsorted;
  }

  /** The property columns, for a growth copying them. */
  get columns(): readonly PropColumn[] {
    return this.propList;
  }

  /** Room for `n` slots in use, `moved` of them by the relocation asking. */
  private ensureSlab(n: number, moved: number): void {
    const g = this.growth;
    if (
      g !== null &&
      (n > this.times.length ||
        g.step(this, Math.max(EventTable.growthPerRelocation, EventTable.growthPerRelocatedSlot * moved)))
    )
      this.endGrowth();
    if (n <= this.times.length) {
      if (
        this.growth === null &&
        this.times.length >= EventTable.growAheadFrom &&
        nearlyFull(n, this.times.length)
      )
        this.growth = new SlabGrowth(this.times.length * 2, this);
      return;
    }
    let cap = this.times.length;
    while (cap < n) cap *= 2;
    const t = new Float64Array(cap);
    t.set(this.times);
    this.times = t;
    for (const p of this.propList) p.grow(cap);
  }

  /** Swaps in the larger slab, copying what the growth had left. */
  private endGrowth(): void {
    const g = this.growth!;
    g.finish(this);
    this.times = g.times;
    this.growth = null;
  }

  private column(path: string): PropColumn {
    let col = this.props.get(path);
    if (!col) {
      col = new PropColumn(this.times.length);
      this.props.set(path, col);
      this.propList.push(col);
    }
    return col;
  }

  private relocate(c: number, newCap: number): void {
    const from = this.start[c];
    const n = this.len[c];
    this.ensureSlab(this.used + newCap, newCap);
    const to = this.used;
    const times = this.times;
    if (n < 16) for (let k = 0; k < n; k++) times[to + k] = times[from + k];
    else times.copyWithin(to, from, from + n);
    for (const p of this.propList) p.copy(to, from, n);
    this.growth?.wrote(this, to, to + n);
    this.holes += this.cap[c];
    this.start[c] = to;
    this.cap[c] = newCap;
    this.used += newCap;
  }

  /**
   * Appends one event. With `keepSorted` an out-of-order event is inserted at its place
   * (after equal timestamps); without it the block is sorted later by `compact`.
   * Returns the slot written.
   */
  append(c: number, t: number, props: { [key: string]: JsonValue } | undefined, keepSorted: boolean): number {
    if (this.len[c] === this.cap[c]) this.relocate(c, Math.max(2, this.cap[c] * 2));
    const s0 = this.start[c];
    const n = this.len[c];
    let pos = s0 + n;
    if (n > 0 && t < this.times[pos - 1]) {
      if (keepSorted) {
        const at = upperBound(this.times, s0, s0 + n, t);
        this.times.copyWithin(at + 1, at, pos);
        for (const p of this.propList) p.copy(at + 1, at, pos - at);
        pos = at;
      } else {
        this.unsorted[c] = 1;
        this.anyUnsorted = true;
      }
    }
    this.times[pos] = t;
    if (t > this.latest[c]) {
      this.latest[c] = t;
      if (t > this.latestByWord[c >>> 5]) this.latestByWord[c >>> 5] = t;
    }
    const list = this.propList;
    for (let k = 0; k < list.length; k++) list[k].clearSlot(pos);
    if (props) this.writeProps(pos, "", props);
    this.len[c] = n + 1;
    this.total++;
    const g = this.growth;
    if (g !== null) {
      g.wrote(this, pos, s0 + n + 1);
      if (g.step(this, EventTable.growthPerAppend)) this.endGrowth();
    }
    return pos;
  }

  private writeProps(slot: number, prefix: string, obj: { [key: string]: JsonValue }): void {
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      // Dotted paths address nested objects; a key that itself holds a dot is not addressable.
      if (v === null || v === undefined || key.includes(".")) continue;
      const path = prefix + key;
      const col = this.column(path);
      if (typeof v === "number") col.setNum(slot, v);
      else if (typeof v === "string") col.setStr(slot, this.dict.intern(normalize(v)));
      else {
        col.other ??= [];
        col.other[slot] = v;
        if (typeof v === "object" && !Array.isArray(v)) this.writeProps(slot, `${path}.`, v);
      }
    }
  }

  /**
   * The table as an engine snapshot holds it (engine-snapshot.ts): its slab as it is,
   * holes and spare room included, so a restore adopts the arrays without touching a
   * block. Blocks must be in time order (`compact` first).
   */
  saveState(w: SnapshotWriter): EventTableState {
    if (this.growth !== null) this.endGrowth();
    if (this.anyUnsorted) throw new Error("event table: saving blocks out of time order");
    const used = this.used;
    const cap = this.times.length;
    const props: PropState[] = [];
    for (const [path, col] of this.props) {
      let other: PropState["other"] = null;
      if (col.other) {
        const rows: number[] = [];
        const values: JsonValue[] = [];
        for (let k = 0; k < used; k++) {
          const v = col.other[k];
          if (v !== undefined) {
            rows.push(k);
            values.push(v);
          }
        }
        other = { rows: w.add(Int32Array.from(rows)), values };
      }
      props.push({
        path,
        num: col.num ? w.add(col.num, used, cap) : null,
        str: col.str ? w.add(col.str, used, cap) : null,
        other,
      });
    }
    return {
      type: this.type,
      start: w.add(this.start),
      len: w.add(this.len),
      cap: w.add(this.cap),
      latest: w.add(this.latest),
      latestByWord: w.add(this.latestByWord),
      times: w.add(this.times, used, cap),
      props,
      used,
      holes: this.holes,
      total: this.total,
    };
  }

  /** A table from its snapshot (`saveState`); its per-contact arrays are `contactCap` long. */
  static restore(r: SnapshotReader, s: EventTableState, contactCap: number, dict: Dictionary): EventTable {
    const t = new EventTable(s.type, 0, dict);
    t.start = r.array(s.start, Int32Array);
    t.len = r.array(s.len, Int32Array);
    t.cap = r.array(s.cap, Int32Array);
    t.latest = r.array(s.latest, Float64Array);
    t.latestByWord = r.array(s.latestByWord, Float64Array);
    if (t.start.length !== contactCap || t.latestByWord.length !== (contactCap + 31) >>> 5) {
      throw new SnapshotUnusable(`event table ${s.type}: its arrays do not match the contacts' capacity`);
    }
    t.unsorted = new Uint8Array(contactCap);
    t.times = r.array(s.times, Float64Array);
    const cap = t.times.length;
    for (const p of s.props) {
      const col = t.column(p.path);
      if (p.num !== null) {
        col.num = r.array(p.num, Float64Array);
        col.num.fill(Number.NaN, s.used);
      }
      if (p.str !== null) {
        col.str = r.array(p.str, Int32Array);
        col.str.fill(-1, s.used);
      }
      if (p.other !== null) {
        const rows = r.array(p.other.rows, Int32Array);
        const other: (JsonValue | undefined)[] = [];
        for (let k = 0; k < rows.length; k++) other[rows[k]] = p.other.values[k];
        col.other = other;
      }
      if ((col.num && col.num.length !== cap) || (col.str && col.str.length !== cap)) {
        throw new SnapshotUnusable(`event table ${s.type}: a property column does not match its slab`);
      }
      col.cap = cap;
    }
    t.used = s.used;
    t.holes = s.holes;
    t.total = s.total;
    return t;
  }

  /** Removes every event of contact `c`. */
  clearContact(c: number): void {
    this.total -= this.len[c];
    this.len[c] = 0;
    this.latest[c] = Number.NEGATIVE_INFINITY;
  }

  /**
   * Sorts unsorted blocks; rewrites the slab without spare room when `tight` (after a
   * bulk load) or when holes take more than half of it.
   */
  compact(tight = false): void {
    if (this.growth !== null) this.endGrowth();
    if (this.anyUnsorted) {
      for (let c = 0; c < this.unsorted.length; c++) if (this.unsorted[c] === 1) this.sortBlock(c);
      this.unsorted.fill(0);
      this.anyUnsorted = false;
    }
    if (!tight && this.holes * 2 < this.used) return;
    this.relayOut(null);
  }

  /**
   * Rewrites the slab with every block at the start of a run of `len[c] + added[c]`
   * slots plus its slack, copying the events held now; `added` (null: none) is room a
   * bulk load fills afterwards. Keeps a quarter of the events in spare room at the end.
   */
  private relayOut(added: Int32Array | null): void {
    // It rewrites every array from the current ones: a growth under way is moot.
    this.growth = null;
    const n = this.start.length;
    let total = this.total;
    let room = 0;
    for (let c = 0; c < n; c++) {
      const more = added === null ? 0 : added[c];
      total += more;
      room += this.len[c] + more + blockSlack(this.len[c] + more, c);
    }
    // Room for live appends after a bulk load: a block that outgrows its slack moves
    // here at twice its size, and growing a slab of millions of events copies all of it,
    // which would stall the write that does it (an eighth was used up within 200,000
    // events at 1M contacts).
    const times = new Float64Array(Math.max(1024, room + (total >> 2)));
    const cols = this.propList.map((old) => [old, new PropColumn(times.length)] as const);
    let at = 0;
    for (let c = 0; c < n; c++) {
      const l = this.len[c];
      const s = this.start[c];
      if (l > 0) {
        times.set(this.times.subarray(s, s + l), at);
        for (const [old, col] of cols) {
          if (old.num) {
            col.num ??= new Float64Array(times.length).fill(Number.NaN);
            col.num.set(old.num.subarray(s, s + l), at);
          }
          if (old.str) {
            col.str ??= new Int32Array(times.length).fill(-1);
            col.str.set(old.str.subarray(s, s + l), at);
          }
          if (old.other) {
            col.other ??= [];
            for (let k = 0; k < l; k++)
              if (old.other[s + k] !== undefined) col.other[at + k] = old.other[s + k];
          }
        }
      }
      const size = l + (added === null ? 0 : added[c]);
      this.start[c] = at;
      this.cap[c] = size + blockSlack(size, c);
      at += this.cap[c];
    }
    this.times = times;
    // Compiled rules hold PropColumn objects, so they keep their identity; only the arrays change.
    for (const [old, col] of cols) {
      old.num = col.num;
      old.str = col.str;
      old.other = col.other;
      old.cap = times.length;
    }
    this.used = at;
    this.holes = 0;
  }

  /** Stable sort of contact `c`'s block by time (equal timestamps keep arrival order). */
  private sortBlock(c: number): void {
    const s = this.start[c];
    const l = this.len[c];
    const times = this.times;
    // Scratch arrays shared by every block: a bulk load sorts up to one block per contact.
    if (scratch.order.length < l) {
      const n = Math.max(l, scratch.order.length * 2);
      scratch.order = new Int32Array(n);
      scratch.num = new Float64Array(n);
      scratch.str = new Int32Array(n);
    }
    const order = scratch.order;
    if (l <= 32) {
      // Most blocks are short: an insertion sort of positions, no comparator calls.
      for (let k = 0; k < l; k++) {
        const t = times[s + k];
        let j = k;
        while (j > 0 && times[s + order[j - 1]] > t) {
          order[j] = order[j - 1];
          j--;
        }
        order[j] = k;
      }
    } else {
      const o = Array.from({ length: l }, (_, k) => k);
      o.sort((a, b) => times[s + a] - times[s + b] || a - b);
      order.set(o);
    }
    const f = scratch.num;
    for (let k = 0; k < l; k++) f[k] = times[s + order[k]];
    times.set(f.subarray(0, l), s);
    for (const p of this.propList) {
      const num = p.num;
      if (num) {
        for (let k = 0; k < l; k++) f[k] = num[s + order[k]];
        num.set(f.subarray(0, l), s);
      }
      const str = p.str;
      if (str) {
        const v = scratch.str;
        for (let k = 0; k < l; k++) v[k] = str[s + order[k]];
        str.set(v.subarray(0, l), s);
      }
      const other = p.other;
      if (other) {
        const v = other.slice(s, s + l);
        for (let k = 0; k < l; k++) other[s + k] = v[order[k]];
      }
    }
  }

  /** Whether contact `c`'s block is in time order. */
  private blockSorted(c: number): boolean {
    const s = this.start[c];
    const e = s + this.len[c];
    const times = this.times;
    for (let k = s + 1; k < e; k++) if (times[k] < times[k - 1]) return false;
    return true;
  }

  /**
   * Bulk load, first step: lays the slab out (with slack) for the events held now plus
   * `added[c]` more per contact (as `compact(true)` would for all of them), copies the
   * held events to their blocks, and leaves `len[c]` as the fill position of each block.
   */
  beginBulk(added: Int32Array): void {
    this.relayOut(added);
  }

  /** The column of `path` (created if new), for a bulk load writing values straight into it. */
  bulkColumn(path: string): PropColumn {
    return this.column(path);
  }

  /** Bulk load, last step: every block is full; sorts those out of time order (stably). */
  endBulk(): void {
    const n = this.start.length;
    let total = 0;
    for (let c = 0; c < n; c++) {
      const l = this.len[c];
      total += l;
      if (l > 1 && !this.blockSorted(c)) this.sortBlock(c);
      this.latest[c] = l > 0 ? this.times[this.start[c] + l - 1] : Number.NEGATIVE_INFINITY;
    }
    const byWord = this.latestByWord.fill(Number.NEGATIVE_INFINITY);
    for (let c = 0; c < n; c++) if (this.latest[c] > byWord[c >>> 5]) byWord[c >>> 5] = this.latest[c];
    this.total = total;
    this.unsorted.fill(0);
    this.anyUnsorted = false;
  }
}

/** First index in [lo, hi) with a[i] >= x. */
export function lowerBound(a: Float64Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) with a[i] > x. */
export function upperBound(a: Float64Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Values of one property path of one event type in an `EventColumns` batch, aligned with
 * its rows (what `append` would write for each row's properties, as `writeProps` walks
 * them). Absent: NaN in `num`, -1 in `str`; `str` holds codes of the engine's event
 * dictionary (normalised text); `other` lists the rows holding anything else (booleans,
 * arrays, objects, whose own paths come as their own `PropBatch`).
 */
export interface PropBatch {
  /** Index into `EventColumns.types`. */
  type: number;
  path: string;
  num: Float64Array | null;
  str: Int32Array | null;
  other: { rows: Int32Array; values: JsonValue[] } | null;
}

/**
 * A batch of events as columns, for bulk loads (`Engine.loadEvents`): row `i` is an event
 * of type `types[type[i]]` of the contact with index `contact[i]` at `time[i]`. Loading
 * one is the same as appending its rows in order with `append(…, false)`; the rows are
 * held until the load finishes and then laid out in one pass (no block ever moves).
 */
export class EventColumns {
  constructor(
    readonly count: number,
    readonly types: readonly string[],
    readonly type: Int32Array,
    readonly contact: Int32Array,
    readonly time: Float64Array,
    readonly props: readonly PropBatch[],
  ) {}
}

/** One property path of an event table in a snapshot. */
interface PropState {
  path: string;
  num: number | null;
  str: number | null;
  other: { rows: number; values: JsonValue[] } | null;
}

/** An event table in a snapshot: its JSON part, with references to its arrays. */
export interface EventTableState {
  type: string;
  start: number;
  len: number;
  cap: number;
  latest: number;
  latestByWord: number;
  times: number;
  props: PropState[];
  used: number;
  holes: number;
  total: number;
}

export interface EventStoreState {
  contactCap: number;
  dict: PackedStrings;
  tables: EventTableState[];
}

export class EventStore {
  readonly tables = new Map<string, EventTable>();
  private contactCap = 1024;
  /** Columnar batches not laid out yet (`addColumns`), with their tables by type code. */
  private pending: { batch: EventColumns; tables: EventTable[] }[] = [];
  /**
   * Rows of the pending batches per table and contact, counted as each batch is added:
   * a start-up's main thread waits for its readers meanwhile, and `layOut`, which runs
   * when they are done, needs the counts to size each block.
   */
  private pendingRows = new Map<EventTable, Int32Array>();

  constructor(readonly dict: Dictionary) {}

  ensureContacts(n: number): void {
    if (n <= this.contactCap) return;
    while (this.contactCap < n) this.contactCap *= 2;
    for (const t of this.tables.values()) t.ensureContacts(this.contactCap);
  }

  table(type: string): EventTable {
    if (this.pending.length > 0) this.layOut();
    let t = this.tables.get(type);
    if (!t) {
      t = new EventTable(type, this.contactCap, this.dict);
      this.tables.set(type, t);
    }
    return t;
  }

  clearContact(c: number): void {
    if (this.pending.length > 0) this.layOut();
    for (const t of this.tables.values()) if (c < t.len.length) t.clearContact(c);
  }

  compact(tight = false): void {
    const laidOut = this.pending.length > 0 ? this.layOut() : null;
    // A table just laid out by `layOut` is already laid out (with its slack) and sorted.
    for (const t of this.tables.values()) if (!laidOut?.has(t)) t.compact(tight);
  }

  /**
   * Holds a columnar batch (checked by the caller: known types, contact indices below
   * the capacity, integral times) until `compact` (the end of a bulk load) lays out
   * every held batch at once: equivalent to appending each row in order, unsorted, and
   * then `compact(true)`, but each event is written once, at its final slot.
   */
  addColumns(batch: EventColumns): void {
    const tables: EventTable[] = [];
    const counts: Int32Array[] = [];
    for (const type of batch.types) {
      let t = this.tables.get(type);
      if (!t) {
        t = new EventTable(type, this.contactCap, this.dict);
        this.tables.set(type, t);
      }
      tables.push(t);
      counts.push(this.rowsOf(t));
    }
    const { type, contact, count } = batch;
    for (let i = 0; i < count; i++) counts[type[i]][contact[i]]++;
    this.pending.push({ batch, tables });
  }

  /** `pendingRows` of table `t`, as long as its per-contact arrays. */
  private rowsOf(t: EventTable): Int32Array {
    let rows = this.pendingRows.get(t);
    if (rows === undefined || rows.length < t.start.length) {
      const next = new Int32Array(t.start.length);
      if (rows) next.set(rows);
      rows = next;
      this.pendingRows.set(t, rows);
    }
    return rows;
  }

  private layOut(): Set<EventTable> {
    const pending = this.pending;
    this.pending = [];
    // Rows per table and contact, to size each block once.
    const added = new Map<EventTable, Int32Array>();
    for (const t of this.pendingRows.keys()) added.set(t, this.rowsOf(t));
    this.pendingRows = new Map();
    for (const [t, n] of added) t.beginBulk(n);
    for (const { batch, tables } of pending) {
      const { type, contact, time, count } = batch;
      const slot = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const t = tables[type[i]];
        const c = contact[i];
        const s = t.start[c] + t.len[c];
        t.len[c]++;
        t.times[s] = time[i];
        slot[i] = s;
      }
      for (const p of batch.props) {
        const col = tables[p.type].bulkColumn(p.path);
        if (p.num) {
          const v = p.num;
          for (let i = 0; i < count; i++) if (!Number.isNaN(v[i])) col.setNum(slot[i], v[i]);
        }
        if (p.str) {
          const v = p.str;
          for (let i = 0; i < count; i++) if (v[i] >= 0) col.setStr(slot[i], v[i]);
        }
        if (p.other) {
          const { rows, values } = p.other;
          col.other ??= [];
          for (let k = 0; k < rows.length; k++) col.other[slot[rows[k]]] = values[k];
        }
      }
    }
    for (const t of added.keys()) t.endBulk();
    return new Set(added.keys());
  }

  /** The store as an engine snapshot holds it: its dictionary and every table, blocks in time order. */
  saveState(w: SnapshotWriter): EventStoreState {
    this.compact(false);
    return {
      contactCap: this.contactCap,
      dict: packStrings(this.dict.values),
      tables: [...this.tables.values()].map((t) => t.saveState(w)),
    };
  }

  /** Fills this store's dictionary, new and empty, from its snapshot (no array needed). */
  restoreDict(s: EventStoreState): void {
    if (this.tables.size !== 0 || this.dict.size !== 0 || this.pending.length !== 0) {
      throw new Error("event store: restoring into a store that holds events");
    }
    this.dict.internAll(unpackStrings(s.dict));
  }

  /** Then its tables. */
  restoreTables(r: SnapshotReader, s: EventStoreState): void {
    this.contactCap = s.contactCap;
    for (const ts of s.tables) this.tables.set(ts.type, EventTable.restore(r, ts, s.contactCap, this.dict));
  }

  get total(): number {
    if (this.pending.length > 0) this.layOut();
    let n = 0;
    for (const t of this.tables.values()) n += t.total;
    return n;
  }
}
