/**
 * Profile effects of events (SPEC §2): bounces, complaints and unsubscribes change
 * `email_status` and `status`. The effective value is a function of the explicit
 * write (value and when it was received) and of the set of effect events at or after
 * it, never of arrival order, so late and out-of-order events give the same profile as
 * events that arrived in order.
 *
 * Choices (docs/semantics.md): `hard_bounced` and `complained` are sticky until an
 * explicit write; a soft bounce is cleared by any later open or click; an
 * `email_bounced` without `bounce_type: "hard"` counts as soft.
 */
import type { ContactTable } from "./contacts.ts";
import { normalize } from "./dictionary.ts";
import type { EventStore, EventTable } from "./events.ts";
import { lowerBound } from "./events.ts";
import type { SnapshotReader, SnapshotWriter } from "./snapshot-io.ts";

export const EFFECT_EVENT_TYPES: ReadonlySet<string> = new Set([
  "email_bounced",
  "email_opened",
  "email_clicked",
  "email_unsubscribed",
  "email_complained",
]);

export type EffectField = "status" | "email_status";

const NO_CHANGE: readonly EffectField[] = [];

interface ExplicitWrite {
  /** Normalised value, or null when written as not set. */
  value: string | null;
  /** When the write was received; −∞ for defaults, which never block an effect. */
  at: number;
}

/** The explicit writes in a snapshot (`ProfileEffects.saveState`). */
export interface EffectsState {
  contacts: number;
  values: string[];
  status: { value: number; at: number };
  email_status: { value: number; at: number };
}

export class ProfileEffects {
  private readonly explicit = new Map<number, Partial<Record<EffectField, ExplicitWrite>>>();

  constructor(
    private readonly contacts: ContactTable,
    private readonly events: EventStore,
  ) {}

  record(c: number, field: EffectField, value: string | null, at: number): void {
    let e = this.explicit.get(c);
    if (!e) {
      e = {};
      this.explicit.set(c, e);
    }
    // Blank counts as not set, as everywhere else (docs/semantics.md).
    const v = value === null ? "" : normalize(value);
    e[field] = { value: v === "" ? null : v, at };
  }

  forget(c: number): void {
    this.explicit.delete(c);
  }

  /**
   * The explicit writes as an engine snapshot holds them, column-wise: per contact with
   * any, each field's value (an index into `values`; -1 null, -2 none) and time (−∞ for
   * a default).
   */
  saveState(w: SnapshotWriter): EffectsState {
    const n = this.explicit.size;
    const contacts = new Int32Array(n);
    const values: string[] = [];
    const codes = new Map<string, number>();
    const code = (x: ExplicitWrite | undefined): number => {
      if (x === undefined) return -2;
      if (x.value === null) return -1;
      let k = codes.get(x.value);
      if (k === undefined) {
        k = values.length;
        values.push(x.value);
        codes.set(x.value, k);
      }
      return k;
    };
    const fields = {
      status: { value: new Int32Array(n), at: new Float64Array(n) },
      email_status: { value: new Int32Array(n), at: new Float64Array(n) },
    };
    let k = 0;
    for (const [c, e] of this.explicit) {
      contacts[k] = c;
      for (const f of ["status", "email_status"] as const) {
        fields[f].value[k] = code(e[f]);
        fields[f].at[k] = e[f]?.at ?? Number.NaN;
      }
      k++;
    }
    return {
      contacts: w.add(contacts),
      values,
      status: { value: w.add(fields.status.value), at: w.add(fields.status.at) },
      email_status: { value: w.add(fields.email_status.value), at: w.add(fields.email_status.at) },
    };
  }

  /** Fills the explicit writes, none yet, from a snapshot. */
  restoreState(r: SnapshotReader, s: EffectsState): void {
    const contacts = r.array(s.contacts, Int32Array);
    const cols = {
      status: { value: r.array(s.status.value, Int32Array), at: r.array(s.status.at, Float64Array) },
      email_status: {
        value: r.array(s.email_status.value, Int32Array),
        at: r.array(s.email_status.at, Float64Array),
      },
    };
    for (let k = 0; k < contacts.length; k++) {
      const e: Partial<Record<EffectField, ExplicitWrite>> = {};
      for (const f of ["status", "email_status"] as const) {
        const v = cols[f].value[k];
        if (v !== -2) e[f] = { value: v === -1 ? null : s.values[v], at: cols[f].at[k] };
      }
      this.explicit.set(contacts[k], e);
    }
  }

  /**
   * Contacts whose profile an effect could change, for a bulk recompute: any with a
   * bounce, an unsubscribe or a complaint, and those with an open or a click only if
   * their `email_status` is `soft_bouncing`, for the reason `applyAfterEvent` skips the
   * others (at a million contacts, most have opens: recomputing them all took seconds
   * of every start and changed nothing).
   */
  *candidates(): Iterable<number> {
    const n = this.contacts.size;
    const seen = new Uint8Array(n);
    const col = this.contacts.columns.get("email_status");
    const codes = col?.kind === "string" ? col.codes : null;
    const soft = col?.kind === "string" ? col.dict.lookup("soft_bouncing") : -2;
    for (const type of EFFECT_EVENT_TYPES) {
      const t = this.events.tables.get(type);
      if (!t) continue;
      const engagement = type === "email_opened" || type === "email_clicked";
      if (engagement && (codes === null || soft < 0)) continue;
      const len = t.len;
      const m = Math.min(n, len.length);
      for (let c = 0; c < m; c++) {
        if (len[c] === 0 || seen[c] === 1) continue;
        if (engagement && codes !== null && codes[c] !== soft) continue;
        seen[c] = 1;
        yield c;
      }
    }
  }

  /** Whether contact `c` has any event with a profile effect. */
  touches(c: number): boolean {
    for (const type of EFFECT_EVENT_TYPES) {
      const t = this.events.tables.get(type);
      if (t && c < t.len.length && t.len[c] > 0) return true;
    }
    return false;
  }

  /**
   * `apply` after a new event of `type` (an effect type) for contact `c`. An open or a
   * click changes nothing unless the contact is soft-bouncing: it only makes the latest
   * engagement later, which can turn `soft_bouncing` into `deliverable` and nothing
   * else; skipping also leaves the base unrecorded, and the next `apply` records the
   * same value, unchanged since.
   */
  applyAfterEvent(type: string, c: number): readonly EffectField[] {
    if (type === "email_opened" || type === "email_clicked") {
      const col = this.contacts.columns.get("email_status");
      if (col?.kind === "string" && col.codes[c] !== col.dict.lookup("soft_bouncing")) return NO_CHANGE;
    }
    return this.apply(c);
  }

  /** Recomputes both fields of contact `c`; returns the keys that changed. */
  apply(c: number): EffectField[] {
    const changed: EffectField[] = [];
    // Without an explicit write, the value the contact had before any effect is the base:
    // keep it, so recomputing later starts from it rather than from an effect's result.
    if (this.explicit.get(c)?.status === undefined)
      this.record(c, "status", this.current(c, "status"), Number.NEGATIVE_INFINITY);
    if (this.explicit.get(c)?.email_status === undefined) {
      this.record(c, "email_status", this.current(c, "email_status"), Number.NEGATIVE_INFINITY);
    }
    const ex = this.explicit.get(c)!;
    const st = ex.status!;
    const es = ex.email_status!;
    if (this.contacts.setString(c, "status", this.status(c, st))) changed.push("status");
    if (this.contacts.setString(c, "email_status", this.emailStatus(c, es))) changed.push("email_status");
    return changed;
  }

  private current(c: number, key: EffectField): string | null {
    const v = this.contacts.valueOf(c, key);
    return typeof v === "string" ? v : null;
  }

  private table(type: string): EventTable | undefined {
    return this.events.tables.get(type);
  }

  /** Time of the latest event of `type` at or after `at`, or −∞. */
  private latest(type: string, c: number, at: number): number {
    const t = this.table(type);
    if (!t || c >= t.len.length || t.len[c] === 0) return Number.NEGATIVE_INFINITY;
    const last = t.times[t.start[c] + t.len[c] - 1];
    return last >= at ? last : Number.NEGATIVE_INFINITY;
  }

  private status(c: number, base: ExplicitWrite): string | null {
    const unsub = Math.max(
      this.latest("email_unsubscribed", c, base.at),
      this.latest("email_complained", c, base.at),
    );
    return unsub > Number.NEGATIVE_INFINITY ? "unsubscribed" : base.value;
  }

  private emailStatus(c: number, base: ExplicitWrite): string | null {
    let hard = false;
    let lastSoft = Number.NEGATIVE_INFINITY;
    const t = this.table("email_bounced");
    if (t && c < t.len.length && t.len[c] > 0) {
      const s = t.start[c];
      const e = s + t.len[c];
      const col = t.props.get("bounce_type");
      const hardCode = this.events.dict.lookup("hard");
      for (let k = lowerBound(t.times, s, e, base.at); k < e; k++) {
        if (col !== undefined && col.strAt(k) === hardCode) hard = true;
        else lastSoft = t.times[k];
      }
    }
    if (hard) return "hard_bounced";
    if (this.latest("email_complained", c, base.at) > Number.NEGATIVE_INFINITY) return "complained";
    const engaged = Math.max(
      this.latest("email_opened", c, base.at),
      this.latest("email_clicked", c, base.at),
    );
    if (lastSoft > Number.NEGATIVE_INFINITY) return engaged > lastSoft ? "deliverable" : "soft_bouncing";
    if (base.value === "soft_bouncing" && engaged > Number.NEGATIVE_INFINITY) return "deliverable";
    return base.value;
  }
}
