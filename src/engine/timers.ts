/**
 * When a new event can leave a contact's timer as it is. A compiled node's `next(c)`
 * reads a contact's events of one type only through moving ranges: per window, the
 * oldest event inside it (when it leaves) and the earliest above it (when it enters);
 * for `first_at` / `last_at` with a date operator, when the measured instant crosses
 * the operator's range. After storing an event at t, each of those is either what it
 * was or t itself, so every new estimate is at least the smaller of the old one and
 * t's own crossing of the range (`MovingRange.nextChange`). The contact's scheduled
 * instant, at most every old estimate, stays correct when it is at most t's crossing
 * of every range reading the type.
 *
 * Shortcuts, without computing the crossing: t below a range never enters it; and
 * when t comes after the latest event p and both are in the same zone of a window
 * (inside, or above), the oldest inside and the earliest above are the same events as
 * before, so the estimate is unchanged. Time-relative `where` filters and anniversaries
 * are left to the full recomputation.
 */
import type { RuleNode } from "../rules/schema.ts";
import { type MovingRange, windowRange } from "./moving.ts";
import { dateTest, splitNegation } from "./predicates.ts";
import { relativeWhere } from "./segments.ts";

/**
 * ZONE: the range's estimates follow the oldest event inside and the earliest above
 * (windows), or the latest event (an unfiltered `last_at` over all time). PRIOR: the
 * estimate follows the first event ever (an unfiltered `first_at` over all time).
 * NONE: the measured instant may become t.
 */
const ZONE = 0;
const PRIOR = 1;
const NONE = 2;

export class EventTimerPlan {
  private at = Number.NaN;
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;

  constructor(
    private readonly ranges: readonly MovingRange[],
    /** Per range, what makes t harmless besides its own crossing (see `Shortcut`). */
    private readonly shortcut: Uint8Array,
    /** Some reader's estimate depends on the event in a way the ranges do not cover. */
    readonly unsafe: boolean,
  ) {
    this.lo = new Float64Array(ranges.length);
    this.hi = new Float64Array(ranges.length);
  }

  /**
   * Whether storing an event at `t` leaves the contact's scheduled instant `due` at
   * most every reader's `next` estimate at `now`. `p` is the contact's previous latest
   * event of the type when `t` was appended after it, else NaN.
   */
  keeps(p: number, t: number, now: number, due: number): boolean {
    if (this.unsafe) return false;
    const ranges = this.ranges;
    if (now !== this.at) {
      for (let k = 0; k < ranges.length; k++) {
        const [lo, hi] = ranges[k].at(now);
        this.lo[k] = lo;
        this.hi[k] = hi;
      }
      this.at = now;
    }
    const lo = this.lo;
    const hi = this.hi;
    for (let k = 0; k < ranges.length; k++) {
      if (t < lo[k]) continue; // below: never enters, and no estimate reads it
      const sc = this.shortcut[k];
      // p ≤ t in the same zone (inside, or above): no estimate changes.
      if (sc === ZONE && (t <= hi[k] ? p >= lo[k] : p > hi[k])) continue;
      // A first event stays first when t comes after one.
      if (sc === PRIOR && !Number.isNaN(p)) continue;
      // Otherwise t may bring its own crossing of this range into an estimate.
      if (ranges[k].nextChange(t, now) < due) return false;
    }
    return true;
  }
}

/** The plan for events of `type`, from the rules of every segment reading it. */
export function timerPlan(type: string, rules: readonly RuleNode[], tz: string): EventTimerPlan {
  const ranges = new Map<string, { range: MovingRange; shortcut: number }>();
  let unsafe = false;
  const add = (key: string, range: MovingRange, shortcut: number) => {
    if (!range.moving) return;
    const had = ranges.get(key);
    // Two uses of one key (only windows share keys) agree on the shortcut.
    ranges.set(key, { range, shortcut: had === undefined ? shortcut : Math.max(had.shortcut, shortcut) });
  };
  const visit = (rule: RuleNode): void => {
    switch (rule.type) {
      case "and":
      case "or":
        for (const c of rule.conditions) visit(c);
        return;
      case "not":
        visit(rule.condition);
        return;
      case "field":
      case "segment":
      case "bucket":
        return;
      case "event": {
        if (rule.event !== type) return;
        if (relativeWhere(rule.where)) unsafe = true;
        add(`w:${JSON.stringify(rule.window ?? null)}`, windowRange(rule.window, tz), ZONE);
        const fn = rule.measure?.fn;
        if (fn !== "first_at" && fn !== "last_at") return;
        const dt = dateTest(splitNegation(rule.op ?? "gte").pos, rule.value, tz);
        if (!dt.moving) return;
        // The measured instant is what it was or t; an anniversary has no range to test t against.
        if (dt.range === null) {
          unsafe = true;
          return;
        }
        const plain = (rule.where === undefined || rule.where.length === 0) && rule.window === undefined;
        const shortcut = !plain ? NONE : fn === "last_at" ? ZONE : PRIOR;
        add(`d:${JSON.stringify([fn, rule.op, rule.value, rule.window, rule.where])}`, dt.range, shortcut);
        return;
      }
      case "sequence": {
        if (!rule.steps.some((s) => s.event === type)) return;
        if (rule.steps.some((s) => relativeWhere(s.where))) unsafe = true;
        // A new start brings its own deadline, which no range here accounts for.
        if (rule.steps.some((s) => s.not === true)) unsafe = true;
        add(`w:${JSON.stringify(rule.window ?? null)}`, windowRange(rule.window, tz), ZONE);
        return;
      }
    }
  };
  for (const r of rules) visit(r);
  const list = [...ranges.values()];
  return new EventTimerPlan(
    list.map((r) => r.range),
    Uint8Array.from(list.map((r) => r.shortcut)),
    unsafe,
  );
}
