/**
 * What an engine knows of contacts beyond their stored records, for their wire form:
 * the status and email status with profile effects applied, the computed fields' values
 * and the segments they are in. One function, so one engine on the service's thread and
 * each engine worker answer it alike.
 */
import type { Engine } from "./engine.ts";
import type { JsonValue } from "./types.ts";

export interface ContactFacts {
  /** False when the engine does not hold the contact (never written, or erased): the stored record is all there is. */
  held: boolean;
  /** Status and email status with profile effects applied (unsubscribes, bounces). */
  status: string | null;
  email_status: string | null;
  /** The computed fields' values at the read instant, when asked for and there are any. */
  computed?: Record<string, JsonValue>;
  /** The segments the contact is a member of, when asked for. */
  segments?: string[];
}

export interface FactsWanted {
  computed: boolean;
  segments: boolean;
}

/** The facts of these contacts, in their order; computed values all read at `at` (default: now). */
export function contactFacts(
  engine: Engine,
  ids: readonly string[],
  opts: FactsWanted,
  at?: number,
): ContactFacts[] {
  const t = engine.contacts;
  const read = opts.computed && engine.computedFields().size > 0 ? engine.computedReader(at) : null;
  return ids.map((id) => {
    const k = t.index(id);
    // An erased contact keeps its index, with nothing behind it.
    const i = k !== undefined && t.alive.has(k) ? k : undefined;
    const st = i === undefined ? null : t.valueOf(i, "status");
    const es = i === undefined ? null : t.valueOf(i, "email_status");
    const f: ContactFacts = {
      held: i !== undefined,
      status: typeof st === "string" ? st : null,
      email_status: typeof es === "string" ? es : null,
    };
    if (read) f.computed = read(id);
    if (opts.segments) f.segments = engine.segmentsOf(id);
    return f;
  });
}

/** Ids of the contacts a search text matches (`ContactTable.search`), in the engine's order. */
export function searchIds(engine: Engine, q: string): string[] {
  const t = engine.contacts;
  return t.search(q).map((i) => t.ids[i]!);
}

/** Counts for the metrics endpoint. */
export interface EngineStats {
  contacts: number;
  events: number;
  timers: number;
}

export function engineStats(engine: Engine): EngineStats {
  return { contacts: engine.contactCount, events: engine.events.total, timers: engine.timerCount };
}
