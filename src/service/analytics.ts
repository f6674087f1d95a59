/**
 * Segment analytics (SPEC §4 `GET /v1/segments/{id}/analytics`): size and share now,
 * size and entries/exits per calendar day from the change log, a breakdown of the
 * members by one field, the members' engagement over the last 30 days, and the
 * overlap with another segment. What each number means is in docs/analytics.md.
 *
 * "Now" numbers (size, breakdown, engagement, overlap) come from the engine; the
 * per-day history comes from the store's change log, read in one pass and counted,
 * never held in memory. Days before the segment existed have no log: they are
 * recomputed from the rule where its past can be (history-rebuild.ts), else unknown.
 */
import { DateTime } from "luxon";
import { Bitset } from "../engine/bitset.ts";
import type { Engine } from "../engine/engine.ts";
import { type EventTable, upperBound } from "../engine/events.ts";
import type { Membership } from "../engine/types.ts";
import { isValidTimeZone, shift } from "../rules/time.ts";
import type { Store } from "../store/types.ts";
import { breakdown, forEachMember, withLabels } from "./analytics-breakdown.ts";
import { type DayEnds, rebuildHistory } from "./history-rebuild.ts";

export interface DailyPoint {
  /** YYYY-MM-DD, a calendar day in the workspace time zone. */
  date: string;
  /**
   * Members at the end of that day (at `now` for today), from the change log; before
   * the segment existed, recomputed from its rule, or null where that cannot be done.
   */
  size: number | null;
  /** `entered` changes logged during that day (null with an unknown size). */
  entered: number | null;
  /** `exited` changes logged during that day (null with an unknown size). */
  exited: number | null;
}

/** Where the sizes of `daily` come from (docs/analytics.md, "History before the segment"). */
export interface HistorySource {
  /** The segment's creation day: from it on, `daily` is read from the change log. Null: not known. */
  logged_since: string | null;
  /**
   * The days of the range before `logged_since`: "none" (there are none), "rule"
   * (recomputed from the rule over the events), "unknown" (their sizes are null).
   */
  before: "none" | "rule" | "unknown";
  /** The first day of `daily` with a size; null when none has. */
  starts_on: string | null;
  /** Why days are unknown (with `before: "unknown"`), else null. */
  reason: string | null;
}

export { OTHER_VALUE } from "./analytics-breakdown.ts";

export interface BreakdownValue {
  /** The value as rules see it (see docs/analytics.md); null: no value; "(other)": the rest. */
  value: string | null;
  /** The value as the members' profiles spell it most often (case kept); null: no value. */
  label: string | null;
  count: number;
}

export interface Breakdown {
  field: string;
  values: BreakdownValue[];
}

/** The amounts of the orders in one currency. */
export interface Revenue {
  /** The order's `currency` (ISO codes upper-case); null: orders without one. */
  currency: string | null;
  amount: number;
  /** Orders with a numeric amount in this currency. */
  orders: number;
}

export interface Engagement {
  window_days: 30;
  opens: number;
  clicks: number;
  orders: number;
  /** One entry per currency, largest amount first: amounts in different currencies are never added. */
  revenue_by_currency: Revenue[];
  contacts_opened: number;
  contacts_clicked: number;
  contacts_ordered: number;
}

export interface Overlap {
  segment_id: string;
  /** Size of the other segment. */
  size: number;
  /** Contacts in both. */
  both: number;
  /** both / this segment's size (0 when empty). */
  share_of_this: number;
  /** both / the other segment's size (0 when empty). */
  share_of_other: number;
}

export interface SegmentAnalytics {
  size: number;
  /** Share of all contacts, 0..1. */
  share: number;
  total_contacts: number;
  daily: DailyPoint[];
  history: HistorySource;
  breakdown?: Breakdown;
  engagement: Engagement;
  overlap?: Overlap;
}

export interface SegmentAnalyticsArgs {
  store: Store;
  ws: string;
  engine: Engine;
  segmentId: string;
  /** Workspace time zone (IANA): days, months and the 30-day window are read in it. */
  timeZone: string;
  /** The instant the analytics describe (epoch ms). */
  now: number;
  /**
   * When the segment was created (epoch ms): its change log starts then. Default: the
   * store's record of the segment; without one, the log is taken to cover every day.
   */
  createdAt?: number | null;
  /** Days of history, today included: default 30, at most 365 (larger values are clamped). */
  days?: number;
  breakdownField?: string;
  /** Values listed in the breakdown before "(other)": default 10, 1 to 100 (clamped). */
  top?: number;
  overlapWith?: string;
}

/** A bad request: `not_found` for the segment itself, `invalid` (with the parameter) otherwise. */
export class AnalyticsError extends Error {
  constructor(
    readonly code: "not_found" | "invalid",
    message: string,
    /** The argument at fault: `segmentId`, `days`, `top`, `breakdownField`, `overlapWith`, `timeZone`. */
    readonly path: string,
  ) {
    super(message);
    this.name = "AnalyticsError";
  }
}

export const ANALYTICS_DEFAULTS = { days: 30, maxDays: 365, top: 10, maxTop: 100 } as const;
export const ENGAGEMENT_WINDOW_DAYS = 30;
const CHANGES_PAGE = 10_000;
const _DAY_MS = 86_400_000;

export async function segmentAnalytics(args: SegmentAnalyticsArgs): Promise<SegmentAnalytics> {
  const { engine, segmentId, timeZone, now } = args;
  if (!isValidTimeZone(timeZone)) {
    throw new AnalyticsError("invalid", `unknown time zone "${timeZone}"`, "timeZone");
  }
  if (engine.segment(segmentId) === undefined) {
    throw new AnalyticsError("not_found", `unknown segment "${segmentId}"`, "segmentId");
  }
  if (args.overlapWith !== undefined && engine.segment(args.overlapWith) === undefined) {
    throw new AnalyticsError("invalid", `unknown segment "${args.overlapWith}"`, "overlapWith");
  }
  if (args.breakdownField !== undefined && !engine.contacts.columns.has(args.breakdownField)) {
    throw new AnalyticsError("invalid", `unknown field "${args.breakdownField}"`, "breakdownField");
  }
  const days = clampInt(args.days, ANALYTICS_DEFAULTS.days, ANALYTICS_DEFAULTS.maxDays, "days");
  const top = clampInt(args.top, ANALYTICS_DEFAULTS.top, ANALYTICS_DEFAULTS.maxTop, "top");

  const members = membersAt(engine, segmentId, now);
  const total = engine.contactCount;
  const createdAt =
    args.createdAt !== undefined
      ? args.createdAt
      : ((await args.store.workspace(args.ws).segments.get(segmentId))?.created_at ?? null);
  const history = await dailyHistory(args.store, args.ws, segmentId, timeZone, now, days);
  const out: SegmentAnalytics = {
    size: members.count,
    share: total === 0 ? 0 : members.count / total,
    total_contacts: total,
    daily: history.points,
    history: beforeCreation(engine, segmentId, history, createdAt, timeZone),
    engagement: engagement(engine, members.bits, timeZone, now),
  };
  if (args.breakdownField !== undefined) {
    const b = breakdown(engine, members.bits, args.breakdownField, timeZone, top);
    out.breakdown = await withLabels(args.store, args.ws, engine, members.bits, b);
  }
  if (args.overlapWith !== undefined) {
    const other = membersAt(engine, args.overlapWith, now);
    const both = intersectionCount(members.bits, other.bits);
    out.overlap = {
      segment_id: args.overlapWith,
      size: other.count,
      both,
      share_of_this: members.count === 0 ? 0 : both / members.count,
      share_of_other: other.count === 0 ? 0 : both / other.count,
    };
  }
  return out;
}

function clampInt(v: number | undefined, dflt: number, max: number, path: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1)
    throw new AnalyticsError("invalid", `${path}: expected a whole number ≥ 1`, path);
  return Math.min(v, max);
}

// ---------------------------------------------------------------- membership

interface Members {
  count: number;
  /** By dense contact index; only live contacts are set. */
  bits: Bitset;
}

/**
 * A segment's members at `now`: the engine's maintained membership when it is exact at
 * that instant (the usual case: `now` is the engine's clock), else a from-scratch
 * evaluation at `now`.
 */
function membersAt(engine: Engine, segmentId: string, now: number): Members {
  let m = engine.members(segmentId);
  if (engine.now !== now) m = engine.members(segmentId, now);
  return { count: m.count, bits: bitsOf(engine, m) };
}

/** The engine's memberships carry their bitset (`BitsetMembership.bits`); otherwise build one from the ids. */
function bitsOf(engine: Engine, m: Membership): Bitset {
  const bits = (m as { bits?: unknown }).bits;
  if (bits instanceof Bitset) return bits;
  const b = new Bitset(engine.contacts.alive.size);
  for (const id of m.ids()) {
    const i = engine.contacts.index(id);
    if (i !== undefined) b.set(i);
  }
  return b;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function intersectionCount(a: Bitset, b: Bitset): number {
  const n = Math.min(a.words.length, b.words.length);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const w = a.words[i] & b.words[i];
    if (w !== 0) count += popcount(w);
  }
  return count;
}

// ---------------------------------------------------------------- daily history

/**
 * Per calendar day, from the first of the `days` days (today included) to now: the
 * changes logged during the day and the size at its end. The size at the start comes
 * from `countMembersAt`; after that the log is read once, in pages, and only counted:
 * each `entered` adds one to its day, each `exited` one to its day's exits, and the
 * sizes are the running sum. This holds as long as the log alternates per contact
 * (entered, exited, entered, …), which is how the engine and the start-up
 * reconciliation write it.
 */
async function dailyHistory(
  store: Store,
  ws: string,
  segmentId: string,
  tz: string,
  now: number,
  days: number,
): Promise<LoggedDays> {
  const today = DateTime.fromMillis(now, { zone: tz }).startOf("day");
  const first = today.minus({ days: days - 1 });
  const labels: string[] = [];
  // starts[k]: the first millisecond of day k; starts[days]: of the day after today.
  const starts = new Float64Array(days + 1);
  for (let k = 0; k <= days; k++) {
    const d = first.plus({ days: k }).startOf("day");
    starts[k] = d.toMillis();
    if (k < days) labels.push(d.toFormat("yyyy-MM-dd"));
  }
  const from = starts[0];
  const entered = new Float64Array(days);
  const exited = new Float64Array(days);
  const changes = store.workspace(ws).changes;
  const initial = await changes.countMembersAt(segmentId, from - 1);
  let cursor: string | null = null;
  do {
    const page = await changes.list({
      segmentId,
      since: from,
      until: now,
      limit: CHANGES_PAGE,
      ...(cursor !== null ? { cursor } : {}),
    });
    for (const c of page.data) {
      // The day holding `at`: the last k with starts[k] <= at.
      const k = upperBound(starts, 0, days, c.at) - 1;
      if (k < 0 || k >= days) continue;
      if (c.change === "entered") entered[k]++;
      else exited[k]++;
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
  const points: DailyPoint[] = [];
  let size = initial;
  for (let k = 0; k < days; k++) {
    size += entered[k] - exited[k];
    points.push({ date: labels[k], size: Math.max(0, size), entered: entered[k], exited: exited[k] });
  }
  const ends = Array.from({ length: days }, (_, k) => Math.min(starts[k + 1] - 1, now));
  return { points, ends, dayStart: starts[0] - 1 };
}

interface LoggedDays extends DayEnds {
  points: DailyPoint[];
}

/**
 * The days of `logged` that ended before the segment was created carry no log: their
 * sizes are recomputed from the rule where it allows (history-rebuild.ts), and set to
 * null otherwise. Returns how `daily` was filled.
 */
function beforeCreation(
  engine: Engine,
  segmentId: string,
  logged: LoggedDays,
  createdAt: number | null,
  tz: string,
): HistorySource {
  const { points } = logged;
  const firstKnown = () => points.find((p) => p.size !== null)?.date ?? null;
  if (createdAt === null || !Number.isFinite(createdAt)) {
    return { logged_since: null, before: "none", starts_on: firstKnown(), reason: null };
  }
  const loggedSince = DateTime.fromMillis(createdAt, { zone: tz }).toFormat("yyyy-MM-dd");
  // Day k has a log when it ends at or after the creation instant.
  const n = logged.ends.findIndex((end) => end >= createdAt);
  const missing = n === -1 ? points.length : n;
  if (missing === 0) {
    return { logged_since: loggedSince, before: "none", starts_on: firstKnown(), reason: null };
  }
  const rebuilt = rebuildHistory(engine, segmentId, logged, missing);
  const unknown = (k: number) => ({ date: points[k].date, size: null, entered: null, exited: null });
  if (!("days" in rebuilt)) {
    for (let k = 0; k < missing; k++) points[k] = unknown(k);
    return { logged_since: loggedSince, before: "unknown", starts_on: firstKnown(), reason: rebuilt.reason };
  }
  for (let k = 0; k < missing; k++) {
    const d = rebuilt.days[k];
    points[k] = d === null ? unknown(k) : { date: points[k].date, ...d };
  }
  return { logged_since: loggedSince, before: "rule", starts_on: firstKnown(), reason: rebuilt.reason };
}

/**
 * Over the members, the events of the last 30 days (`now − 30d < t ≤ now`, calendar
 * days in the zone, as the rule window `in_last: "30d"`): opens, clicks and orders
 * counted, the numeric `amount` of those orders summed per `currency`, and how many
 * members did each at least once.
 */
function engagement(engine: Engine, members: Bitset, tz: string, now: number): Engagement {
  const lo = shift(now, { n: ENGAGEMENT_WINDOW_DAYS, unit: "d" }, -1, tz);
  const opened = windowed(engine.events.tables.get("email_opened"), lo, now);
  const clicked = windowed(engine.events.tables.get("email_clicked"), lo, now);
  const orders = engine.events.tables.get("order_placed");
  const ordered = windowed(orders, lo, now);
  const amount = orders?.props.get("amount");
  const currency = orders?.props.get("currency");
  // Per currency code (-1: none), the sum and the orders counted in it.
  const sums = new Map<number, { amount: number; orders: number }>();
  const out: Engagement = {
    window_days: ENGAGEMENT_WINDOW_DAYS,
    opens: 0,
    clicks: 0,
    orders: 0,
    revenue_by_currency: [],
    contacts_opened: 0,
    contacts_clicked: 0,
    contacts_ordered: 0,
  };
  forEachMember(members, (i) => {
    const o = opened(i);
    if (o[1] > o[0]) {
      out.opens += o[1] - o[0];
      out.contacts_opened++;
    }
    const c = clicked(i);
    if (c[1] > c[0]) {
      out.clicks += c[1] - c[0];
      out.contacts_clicked++;
    }
    const r = ordered(i);
    if (r[1] > r[0]) {
      out.orders += r[1] - r[0];
      out.contacts_ordered++;
      if (amount) {
        for (let s = r[0]; s < r[1]; s++) {
          const v = amount.numAt(s);
          if (!Number.isFinite(v)) continue;
          const code = currency ? currency.strAt(s) : -1;
          const sum = sums.get(code);
          if (sum) {
            sum.amount += v;
            sum.orders++;
          } else sums.set(code, { amount: v, orders: 1 });
        }
      }
    }
  });
  const dict = engine.events.dict;
  out.revenue_by_currency = [...sums]
    .map(([code, sum]) => ({
      currency: code < 0 ? null : currencyLabel(dict.values[code]),
      // Sums of decimal amounts carry binary noise (100.1 + 0.2 = 100.29999999999998).
      amount: Math.round(sum.amount * 1e6) / 1e6,
      orders: sum.orders,
    }))
    .sort(
      (a, b) =>
        b.amount - a.amount ||
        (a.currency === null ? 1 : b.currency === null ? -1 : a.currency < b.currency ? -1 : 1),
    );
  return out;
}

/** Rules see event text in lower case; currency codes (ISO 4217) are shown in upper case. */
function currencyLabel(v: string): string {
  return /^[a-z]{3}$/.test(v) ? v.toUpperCase() : v;
}

const EMPTY: [number, number] = [0, 0];

/** For a contact, the slots [from, to) of its events with `lo < t ≤ hi` (blocks are sorted by time). */
function windowed(table: EventTable | undefined, lo: number, hi: number): (i: number) => [number, number] {
  if (!table) return () => EMPTY;
  return (i) => {
    if (i >= table.len.length) return EMPTY;
    const n = table.len[i];
    if (n === 0) return EMPTY;
    const s = table.start[i];
    return [upperBound(table.times, s, s + n, lo), upperBound(table.times, s, s + n, hi)];
  };
}
