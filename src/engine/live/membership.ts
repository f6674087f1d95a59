/**
 * Maintained membership: every segment's members at the live instant, as bitsets and
 * as rows by contact (rows.ts), re-evaluated contact by contact as data changes, and
 * every change emitted to the listeners. Also the live compiled nodes the hot paths
 * iterate: the readers of each event type and the timed segments, as arrays built once
 * per definition.
 */
import { Bitset } from "../bitset.ts";
import type { CompiledNode } from "../compile.ts";
import type { ContactTable } from "../contacts.ts";
import { maintainedRanks, RankRegistry } from "../rank-index.ts";
import type { MembershipRows } from "../rows.ts";
import type { SegmentEnv, SegmentState } from "../segments.ts";
import type { EventTimerPlan } from "../timers.ts";
import type { MembershipChange } from "../types.ts";
import type { SegmentGraph } from "./dependencies.ts";
import type { DueTimes } from "./due.ts";
import { isoInstant } from "./iso.ts";

/** The segments reading one event type, with their live compiled nodes, and those that are timed. */
export interface EventReaders {
  readonly type: string;
  readonly states: SegmentState[];
  readonly nodes: CompiledNode[];
  readonly timed: CompiledNode[];
  plan: EventTimerPlan | null;
}

export class MaintainedMembership {
  /** Maintained values of the rank and quintile conditions of the live rules (rank.ts). */
  readonly ranks = new RankRegistry();
  private readonly listeners: ((c: MembershipChange) => void)[] = [];
  private isoAt = Number.NaN;
  private iso = "";
  /** The contact of the event being applied, and its id as given (see `emit`). */
  eventContact = -1;
  eventContactId = "";
  /** Contact capacity per-contact structures were last grown to. */
  private grownTo = -1;
  /** Slots in use: one past the highest. */
  private slots = 0;
  /** Bulk loads leave maintained state to be rebuilt on next use. */
  dirty = true;
  /**
   * Per event type, its readers as arrays (rebuilt whenever definitions, compiled nodes
   * or timed segments change).
   */
  private readonly eventReaderCache = new Map<string, EventReaders>();
  private timedNodesCache: CompiledNode[] | null = null;

  constructor(
    /** The live environment: its `now` is the instant maintained membership is exact at. */
    readonly live: SegmentEnv,
    readonly rows: MembershipRows,
    private readonly contacts: ContactTable,
    private readonly graph: SegmentGraph,
    private readonly due: DueTimes,
  ) {
    maintainedRanks.set(live, this.ranks);
  }

  onChange(listener: (c: MembershipChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  emit(out: MembershipChange[], segment: string, c: number, change: "entered" | "exited", at: number): void {
    // Changes come in runs at one instant: format it once per run.
    if (at !== this.isoAt) {
      this.isoAt = at;
      this.iso = isoInstant(at);
    }
    const ch: MembershipChange = {
      segment_id: segment,
      contact_id: c === this.eventContact ? this.eventContactId : this.contacts.ids[c],
      change,
      at: this.iso,
    };
    out.push(ch);
    for (const l of this.listeners) l(ch);
  }

  /** After a definition changed: rank indexes no rule reads go, new segments get slots, derived arrays are rebuilt. */
  reorder(): void {
    this.graph.reorder();
    this.ranks.retain(this.graph.rankKeys());
    this.assignSlots();
    this.forgetDerived();
    this.grownTo = -1;
  }

  /** Keeps per-contact structures as large as the contact table. */
  grow(): void {
    const size = this.contacts.alive.size;
    if (size === this.grownTo) return;
    this.grownTo = size;
    this.due.ensure(size);
    for (const st of this.graph.order) if (st.bits.size < size) st.bits = st.bits.resized(size);
    this.rows.ensure(size, this.slots);
  }

  /** Gives every segment without one a free slot in the rows, holding its current membership. */
  private assignSlots(): void {
    const used = new Set<number>();
    for (const st of this.graph.order) if (st.slot >= 0) used.add(st.slot);
    const fresh: SegmentState[] = [];
    let free = 0;
    for (const st of this.graph.order) {
      if (st.slot >= 0) continue;
      while (used.has(free)) free++;
      st.slot = free;
      used.add(free);
      fresh.push(st);
    }
    for (const k of used) if (k >= this.slots) this.slots = k + 1;
    this.rows.ensure(Math.max(0, this.grownTo), this.slots);
    // A freed slot may hold a removed segment's bits; a pending rebuild reloads every slot.
    if (!this.dirty) for (const st of fresh) this.rows.load(st.slot, st.bits);
  }

  /** Recompiles live nodes on next use. */
  resetLive(): void {
    this.live.reset();
    this.forgetDerived();
  }

  /** Forgets what is derived from definitions, compiled nodes and the timed segments. */
  forgetDerived(): void {
    this.timedNodesCache = null;
    this.graph.forget();
    this.eventReaderCache.clear();
  }

  eventReaders(type: string): EventReaders {
    let r = this.eventReaderCache.get(type);
    if (!r) {
      const states = this.graph.readersOf(`e:${type}`);
      const timed = new Set(this.graph.timedSegments());
      r = {
        type,
        states,
        nodes: states.map((st) => this.live.segment(st.id)),
        timed: states.filter((st) => timed.has(st)).map((st) => this.live.segment(st.id)),
        plan: null,
      };
      this.eventReaderCache.set(type, r);
    }
    return r;
  }

  /** The live compiled nodes of the timed segments, in the same order. */
  timedNodes(): CompiledNode[] {
    this.timedNodesCache ??= this.graph.timedSegments().map((st) => this.live.segment(st.id));
    return this.timedNodesCache;
  }

  /**
   * Contact `c`'s values of the rank indexes on event type `type` (all of them when
   * null: a contact created or erased changes every population, and a due timer may
   * move any window) may have changed: the indexes re-read it, and the other contacts
   * whose value lies between a cut's old and new place are re-evaluated in the
   * segments reading the index, now, with no data of their own changed. The caller
   * re-evaluates `c` itself.
   */
  rankTouch(c: number, type: string | null, out: MembershipChange[]): void {
    const alive = this.contacts.alive.has(c);
    for (const ix of this.ranks.all()) {
      if (type !== null && ix.event !== type) continue;
      const moved = ix.update(c, alive);
      if (moved === null || moved.length === 0) continue;
      const readers = this.graph.rankReaders(ix.key);
      for (const d of moved) for (const st of readers) this.reevaluateOne(st, d, out);
    }
  }

  reevaluateOne(st: SegmentState, c: number, out: MembershipChange[]): void {
    this.reevaluateNode(st, this.live.segment(st.id), c, out);
  }

  reevaluateNode(st: SegmentState, node: CompiledNode, c: number, out: MembershipChange[]): void {
    const now = node.one(c);
    if (now === this.rows.has(st.slot, c)) return;
    if (now) {
      st.bits.set(c);
      this.rows.set(st.slot, c);
    } else {
      st.bits.clear(c);
      this.rows.clear(st.slot, c);
    }
    this.emit(out, st.id, c, now ? "entered" : "exited", this.live.now);
  }

  /**
   * Re-evaluates contact `c` in the segments that read any of `keys` (all of them when
   * null), and in the segments that refer to a segment whose answer changed.
   */
  reevaluate(c: number, keys: Set<string> | null, out: MembershipChange[]): SegmentState[] {
    // Reads are transitive, so the readers of a key include every segment that refers
    // to one that reads it: one pass in dependency order covers the propagation.
    let affected: SegmentState[];
    if (keys === null) affected = this.graph.order;
    else if (keys.size === 1) affected = this.graph.readersOf(keys.values().next().value as string);
    else {
      const hit = new Set<SegmentState>();
      for (const k of keys) for (const st of this.graph.readersOf(k)) hit.add(st);
      affected = this.graph.order.filter((st) => hit.has(st));
    }
    for (const st of affected) this.reevaluateOne(st, c, out);
    return affected;
  }

  /** Recomputes whole segments, emitting the difference. */
  recompute(states: SegmentState[], out: MembershipChange[]): void {
    this.grow();
    for (const st of states) {
      const next = this.live.segment(st.id).all(this.contacts.alive);
      const prev = st.bits;
      st.bits = next;
      for (const c of next.clone().andNot(prev).toArray()) {
        this.rows.set(st.slot, c);
        this.emit(out, st.id, c, "entered", this.live.now);
      }
      for (const c of prev.clone().andNot(next).toArray()) {
        this.rows.clear(st.slot, c);
        this.emit(out, st.id, c, "exited", this.live.now);
      }
    }
  }

  /** Erases a contact's memberships, with an exit per segment it was in. */
  removeContact(i: number, out: MembershipChange[]): void {
    for (const st of this.graph.order) {
      st.added.delete(i);
      st.removed.delete(i);
      if (st.bits.has(i)) {
        st.bits.clear(i);
        this.emit(out, st.id, i, "exited", this.live.now);
      }
    }
    this.rows.clearContact(i);
  }

  /** Recomputes every segment from scratch at the live instant (after bulk loads); emits nothing. */
  rebuild(): void {
    this.dirty = false;
    this.grow();
    this.resetLive();
    this.ranks.clear();
    for (const st of this.graph.order) st.bits = this.live.segment(st.id).all(this.contacts.alive);
    this.rows.clearAll();
    for (const st of this.graph.order) this.rows.load(st.slot, st.bits, true);
  }

  /** A new segment's empty bitset, as large as the contact table. */
  emptyBits(): Bitset {
    return new Bitset(this.contacts.alive.size);
  }
}
