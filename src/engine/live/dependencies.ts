/**
 * How segments depend on what they read: the dependency order of segment references,
 * every segment's transitive reads, and the readers of each field, event type, rank
 * index and segment. A write re-evaluates exactly the readers of what it changed, in
 * this order, so a segment referring to another sees it already updated.
 */
import { relativeKeys } from "../rank-index.ts";
import type { SegmentState } from "../segments.ts";

export class SegmentGraph {
  /** Segments in dependency order: every segment after those it refers to. */
  order: SegmentState[] = [];
  /** Transitive reads per segment (its own and those of the segments it refers to). */
  private reads = new Map<string, Set<string>>();
  /** Per read key, the segments that read it (directly or through references), in dependency order. */
  private readonly readers = new Map<string, SegmentState[]>();
  private timedCache: SegmentState[] | null = null;
  private timedOf = new WeakMap<SegmentState[], SegmentState[]>();
  /** Per rank index, the segments reading it directly or through references, in dependency order. */
  private rankReaderCache: Map<string, SegmentState[]> | null = null;

  constructor(readonly states: ReadonlyMap<string, SegmentState>) {}

  /** Recomputes the order and the reads after a definition changed. */
  reorder(): void {
    const order: SegmentState[] = [];
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      const st = this.states.get(id);
      if (!st) return;
      for (const r of st.refs()) visit(r);
      order.push(st);
    };
    for (const id of this.states.keys()) visit(id);
    this.order = order;
    const reads = new Map<string, Set<string>>();
    for (const st of order) {
      const r = new Set(st.reads);
      for (const ref of st.refs()) for (const k of reads.get(ref) ?? []) r.add(k);
      reads.set(st.id, r);
    }
    this.reads = reads;
    this.readers.clear();
  }

  /** The rank indexes the rules read directly. */
  rankKeys(): Set<string> {
    return new Set(this.order.flatMap((st) => (st.rule ? [...relativeKeys(st.rule)] : [])));
  }

  /** Forgets what is derived from definitions and overrides (which may make a segment timed). */
  forget(): void {
    this.timedCache = null;
    this.timedOf = new WeakMap();
    this.rankReaderCache = null;
  }

  readersOf(key: string): SegmentState[] {
    let r = this.readers.get(key);
    if (!r) {
      r = this.order.filter((st) => this.reads.get(st.id)!.has(key));
      this.readers.set(key, r);
    }
    return r;
  }

  /** `id` and every segment that refers to it, directly or not, in dependency order. */
  dependentsOf(id: string): SegmentState[] {
    return this.order.filter((st) => st.id === id || this.reads.get(st.id)?.has(`s:${id}`));
  }

  /** Segments whose rules refer to `id`. */
  usesOf(id: string): string[] {
    const out: string[] = [];
    for (const st of this.order) if (st.refs().has(id)) out.push(st.id);
    return out;
  }

  rankReaders(key: string): SegmentState[] {
    if (this.rankReaderCache === null) {
      const keysOf = new Map<string, Set<string>>();
      const byKey = new Map<string, SegmentState[]>();
      for (const st of this.order) {
        const keys = st.rule ? relativeKeys(st.rule) : new Set<string>();
        for (const r of st.refs()) for (const k of keysOf.get(r) ?? []) keys.add(k);
        keysOf.set(st.id, keys);
        for (const k of keys) {
          const list = byKey.get(k);
          if (list) list.push(st);
          else byKey.set(k, [st]);
        }
      }
      this.rankReaderCache = byKey;
    }
    return this.rankReaderCache.get(key) ?? [];
  }

  /** Segments whose answer can change with time alone: moving rules, expiring overrides, and what refers to them. */
  timedSegments(): SegmentState[] {
    if (this.timedCache) return this.timedCache;
    const timed = new Set<string>();
    for (const st of this.order) {
      if (st.moving || st.hasExpiries() || [...st.refs()].some((r) => timed.has(r))) timed.add(st.id);
    }
    this.timedCache = this.order.filter((st) => timed.has(st.id));
    return this.timedCache;
  }

  /** The timed segments of a readers list (cached per list; lists are rebuilt when definitions change). */
  timedAmong(list: SegmentState[]): SegmentState[] {
    let r = this.timedOf.get(list);
    if (!r) {
      const timed = new Set(this.timedSegments());
      r = list.filter((st) => timed.has(st));
      this.timedOf.set(list, r);
    }
    return r;
  }
}
