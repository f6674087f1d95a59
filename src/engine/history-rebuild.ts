/**
 * A segment's size on the days before it existed, when its rule allows (docs/analytics.md,
 * "History before the segment"). The change log starts when the segment is created, so
 * those days have no log; what a rule would have matched at the end of such a day can
 * still be computed when everything the rule reads has a known past:
 *
 * - event and sequence conditions: each event has its instant, so the rule is evaluated
 *   at the day's end with every window cut at that instant (events after it do not
 *   count, including those of a condition without a window);
 * - `bucket` conditions (they depend on the contact id alone) and conditions on the
 *   `created_at` field (set once);
 * - references to other segments whose rules qualify, read at the same instant;
 * - and, or, not of those.
 *
 * Any other field (its past values are not kept), a static segment (its past members are
 * not kept) or a condition of another kind makes the days unknown, with the reason.
 * Contacts count from their `created_at` on; contacts deleted since are not known.
 */

import type { RuleNode, Window } from "../rules/schema.ts";
import { Bitset } from "./bitset.ts";
import type { Engine } from "./engine.ts";
import { windowRange } from "./moving.ts";
import type { Membership } from "./types.ts";

/** The day ends of an analytics range. */
export interface DayEnds {
  /** Per day, the instant its size describes: its last millisecond, or now for today. */
  ends: number[];
  /** The last millisecond before the first day. */
  dayStart: number;
}

export interface RebuiltDay {
  size: number;
  /** Members at this day's end that were not at the previous day's end. */
  entered: number;
  /** Members at the previous day's end that are not at this day's end. */
  exited: number;
}

/** At most this many days before a segment's creation are recomputed (one evaluation each). */
export const MAX_REBUILT_DAYS = 90;

/**
 * The first `n` days of `days`, recomputed from the segment's rule, or why they cannot be.
 * With more than MAX_REBUILT_DAYS, the earlier ones are null.
 */
export function rebuildHistory(
  engine: Engine,
  segmentId: string,
  days: DayEnds,
  n: number,
): { days: (RebuiltDay | null)[]; reason: string | null } | { reason: string } {
  const def = engine.segment(segmentId);
  if (!def || def.rule === null) {
    return { reason: "a static segment's past members are not kept" };
  }
  const blocked = blocker(engine, def.rule, new Set([segmentId]));
  if (blocked !== null) return { reason: blocked };
  const created = engine.contacts.columns.get("created_at");
  const createdAt = created?.kind === "date" ? created.values : null;
  const first = Math.max(0, n - MAX_REBUILT_DAYS);
  const at = (k: number) => (k < 0 ? days.dayStart : days.ends[k]);
  const membersAt = (t: number): Bitset => {
    const m = engine.evaluate(asOf(engine, def.rule!, t), t);
    const bits = bitsOf(engine, m);
    // A contact counts from its creation on.
    return createdAt === null ? bits : Bitset.select(bits, (i) => createdAt[i] <= t);
  };
  const out: (RebuiltDay | null)[] = Array.from({ length: n }, () => null);
  try {
    let prev = membersAt(at(first - 1));
    for (let k = first; k < n; k++) {
      const cur = membersAt(at(k));
      out[k] = {
        size: cur.count(),
        entered: cur.clone().andNot(prev).count(),
        exited: prev.clone().andNot(cur).count(),
      };
      prev = cur;
    }
  } catch (e) {
    return { reason: `the rule could not be evaluated on past days: ${(e as Error).message}` };
  }
  return {
    days: out,
    reason:
      first > 0 ? `only the last ${MAX_REBUILT_DAYS} days before the segment existed are recomputed` : null,
  };
}

/** Why a rule's past cannot be recomputed, or null when it can. */
export function blocker(engine: Engine, node: RuleNode, seen: Set<string>): string | null {
  switch (node.type) {
    case "and":
    case "or":
      for (const c of node.conditions) {
        const b = blocker(engine, c, seen);
        if (b !== null) return b;
      }
      return null;
    case "not":
      return blocker(engine, node.condition, seen);
    case "event":
    case "sequence":
    case "bucket":
      return null;
    case "field":
      return node.field === "created_at"
        ? null
        : `the rule reads the field "${node.field}", whose past values are not kept`;
    case "segment": {
      const ref = engine.segment(node.segment);
      if (!ref || ref.rule === null) {
        return `the rule reads the static segment "${node.segment}", whose past members are not kept`;
      }
      if (seen.has(node.segment)) return null;
      seen.add(node.segment);
      return blocker(engine, ref.rule, seen);
    }
    default:
      return `the rule has a "${(node as { type: string }).type}" condition, whose past is not recomputed`;
  }
}

/**
 * The rule as it reads at instant `t`: every event and sequence window replaced by the
 * absolute range it covers at `t`, cut at `t`, and segment references replaced by their
 * rules (so that theirs are cut too).
 */
function asOf(engine: Engine, node: RuleNode, t: number): RuleNode {
  switch (node.type) {
    case "and":
    case "or":
      return { type: node.type, conditions: node.conditions.map((c) => asOf(engine, c, t)) };
    case "not":
      return { type: "not", condition: asOf(engine, node.condition, t) };
    case "event":
      return { ...node, window: cut(node.window, engine.timeZone, t) };
    case "sequence":
      return { ...node, window: cut(node.window, engine.timeZone, t) };
    case "segment": {
      const rule = asOf(engine, engine.segment(node.segment)!.rule!, t);
      return node.op === "in" ? rule : { type: "not", condition: rule };
    }
    default:
      return node;
  }
}

/** The events `w` admits at `t`, and none after `t`, as an absolute window. */
function cut(w: Window | undefined, tz: string, t: number): Window {
  const [lo, hi] = windowRange(w, tz).at(t);
  const last = Math.min(hi, t);
  // Nothing can be that early: a window that admits no event (it starts after `t`).
  if (lo > last) return { before: "0001-01-01T00:00:00.000Z" };
  // `before` excludes its instant; `between` includes both ends.
  if (lo === Number.NEGATIVE_INFINITY) return { before: new Date(last + 1).toISOString() };
  return { between: [new Date(lo).toISOString(), new Date(last).toISOString()] };
}

/**
 * A membership by contact index: the engine's memberships carry their bitset
 * (`BitsetMembership.bits`); otherwise one is built from the ids.
 */
export function bitsOf(engine: Engine, m: Membership): Bitset {
  const bits = (m as { bits?: unknown }).bits;
  if (bits instanceof Bitset) return bits;
  const b = new Bitset(engine.contacts.alive.size);
  for (const id of m.ids()) {
    const i = engine.contacts.index(id);
    if (i !== undefined) b.set(i);
  }
  return b;
}
