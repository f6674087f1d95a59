/**
 * Counters of every way data comes in (SPEC §4.1 and sending-platform receivers): what
 * was accepted and refused, and when a source was last heard from. Kept in memory since
 * the server started, like the counters of a metrics endpoint; a receiver also keeps its
 * last deliveries so that a user pasting its URL into a provider can see them arrive.
 */

export type DeliveryOutcome = "accepted" | "rejected" | "signature_failed";

export interface RecentDelivery {
  at: string;
  outcome: DeliveryOutcome;
  events: number;
  detail: string | null;
}

export interface SourceCounters {
  accepted: number;
  rejected: number;
  signature_failures: number;
  last_seen_at: string | null;
  last_error: string | null;
}

const RECENT = 20;

interface Entry {
  counters: SourceCounters;
  recent: RecentDelivery[];
}

function fresh(): Entry {
  return {
    counters: { accepted: 0, rejected: 0, signature_failures: 0, last_seen_at: null, last_error: null },
    recent: [],
  };
}

export class SourceStats {
  /** Keyed by workspace, then by source id (`segment`, or a receiver's id). */
  private readonly byWorkspace = new Map<string, Map<string, Entry>>();

  constructor(private readonly clock: { now(): number }) {}

  private entry(ws: string, source: string): Entry {
    let m = this.byWorkspace.get(ws);
    if (!m) {
      m = new Map();
      this.byWorkspace.set(ws, m);
    }
    let e = m.get(source);
    if (!e) {
      e = fresh();
      m.set(source, e);
    }
    return e;
  }

  /**
   * One request from a source: `accepted` events stored (duplicates included: the
   * source sent them fine), `rejected` items refused, or a signature failure.
   */
  record(
    ws: string,
    source: string,
    r: { outcome: DeliveryOutcome; accepted?: number; rejected?: number; detail?: string | null },
  ): void {
    const e = this.entry(ws, source);
    const at = new Date(this.clock.now()).toISOString();
    e.counters.accepted += r.accepted ?? 0;
    e.counters.rejected += r.rejected ?? 0;
    if (r.outcome === "signature_failed") e.counters.signature_failures++;
    e.counters.last_seen_at = at;
    if (r.outcome !== "accepted" || (r.rejected ?? 0) > 0) e.counters.last_error = r.detail ?? null;
    e.recent.unshift({
      at,
      outcome: r.outcome,
      events: (r.accepted ?? 0) + (r.rejected ?? 0),
      detail: r.detail ?? null,
    });
    if (e.recent.length > RECENT) e.recent.length = RECENT;
  }

  counters(ws: string, source: string): SourceCounters {
    return { ...this.entry(ws, source).counters };
  }

  recent(ws: string, source: string): RecentDelivery[] {
    return [...this.entry(ws, source).recent];
  }

  forget(ws: string, source: string): void {
    this.byWorkspace.get(ws)?.delete(source);
  }
}
