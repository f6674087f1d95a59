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
import {
  type AnalyticsPart,
  type AnalyticsPartRequest,
  analyticsPart,
  ENGAGEMENT_WINDOW_DAYS,
  type EngagementPart,
  labelSamples,
  type Rebuilt,
} from "../engine/analytics-part.ts";
import { Engine, type SegmentDefinition } from "../engine/engine.ts";
import { upperBound } from "../engine/events.ts";
import type { DayEnds } from "../engine/history-rebuild.ts";
import { isValidTimeZone } from "../rules/time.ts";
import type { Store } from "../store/types.ts";
import { ranked, withLabels } from "./analytics-breakdown.ts";

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

/**
 * What the analytics ask of a workspace's engine: one engine on this thread
 * (`oneEngine`), or the engine workers, whose parts are added up.
 */
export interface AnalyticsEngine {
  segment(id: string): SegmentDefinition | undefined;
  /** Whether contacts hold values of this field (a stored field, built-in or custom; not a computed one). */
  storesField(key: string): boolean;
  /** The engine's part of the analytics (analytics-part.ts), over every contact. */
  part(req: AnalyticsPartRequest): Promise<AnalyticsPart>;
  /** Members' ids per value of a text field, for the labels (`labelSamples`). */
  labelSamples(
    segmentId: string,
    field: string,
    values: readonly string[],
    now: number,
  ): Promise<[string, string[]][]>;
}

/** The analytics of one engine on this thread. */
export function oneEngine(engine: Engine): AnalyticsEngine {
  return {
    segment: (id) => engine.segment(id),
    storesField: (key) => engine.contacts.columns.has(key),
    part: async (req) => analyticsPart(engine, req),
    labelSamples: async (segmentId, field, values, now) =>
      labelSamples(engine, segmentId, field, values, now),
  };
}

export interface SegmentAnalyticsArgs {
  store: Store;
  ws: string;
  engine: Engine | AnalyticsEngine;
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
export { ENGAGEMENT_WINDOW_DAYS };

const CHANGES_PAGE = 10_000;
const _DAY_MS = 86_400_000;

export async function segmentAnalytics(args: SegmentAnalyticsArgs): Promise<SegmentAnalytics> {
  const { segmentId, timeZone, now } = args;
  const engine = args.engine instanceof Engine ? oneEngine(args.engine) : args.engine;
  if (!isValidTimeZone(timeZone)) {
    throw new AnalyticsError("invalid", `unknown time zone "${timeZone}"`, "timeZone");
  }
  if (engine.segment(segmentId) === undefined) {
    throw new AnalyticsError("not_found", `unknown segment "${segmentId}"`, "segmentId");
  }
  if (args.overlapWith !== undefined && engine.segment(args.overlapWith) === undefined) {
    throw new AnalyticsError("invalid", `unknown segment "${args.overlapWith}"`, "overlapWith");
  }
  if (args.breakdownField !== undefined && !engine.storesField(args.breakdownField)) {
    throw new AnalyticsError("invalid", `unknown field "${args.breakdownField}"`, "breakdownField");
  }
  const days = clampInt(args.days, ANALYTICS_DEFAULTS.days, ANALYTICS_DEFAULTS.maxDays, "days");
  const top = clampInt(args.top, ANALYTICS_DEFAULTS.top, ANALYTICS_DEFAULTS.maxTop, "top");

  const createdAt =
    args.createdAt !== undefined
      ? args.createdAt
      : ((await args.store.workspace(args.ws).segments.get(segmentId))?.created_at ?? null);
  const history = await dailyHistory(args.store, args.ws, segmentId, timeZone, now, days);
  const missing = daysBeforeCreation(history, createdAt);
  const part = await engine.part({
    segmentId,
    now,
    timeZone,
    ...(args.breakdownField !== undefined ? { breakdownField: args.breakdownField } : {}),
    ...(args.overlapWith !== undefined ? { overlapWith: args.overlapWith } : {}),
    ...(missing > 0
      ? { rebuild: { days: { ends: history.ends, dayStart: history.dayStart }, n: missing } }
      : {}),
  });
  const size = part.size;
  const total = part.total;
  const out: SegmentAnalytics = {
    size,
    share: total === 0 ? 0 : size / total,
    total_contacts: total,
    daily: history.points,
    history: beforeCreation(history, createdAt, timeZone, missing, part.rebuilt),
    engagement: engagementOf(part.engagement),
  };
  if (args.breakdownField !== undefined && part.breakdown) {
    const b = ranked(args.breakdownField, part.breakdown, top);
    out.breakdown = await withLabels(args.store, args.ws, engine, segmentId, now, b);
  }
  if (args.overlapWith !== undefined && part.overlap) {
    const { size: other, both } = part.overlap;
    out.overlap = {
      segment_id: args.overlapWith,
      size: other,
      both,
      share_of_this: size === 0 ? 0 : both / size,
      share_of_other: other === 0 ? 0 : both / other,
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

/** How many days of `logged` ended before the segment was created (they carry no log). */
function daysBeforeCreation(logged: LoggedDays, createdAt: number | null): number {
  if (createdAt === null || !Number.isFinite(createdAt)) return 0;
  const n = logged.ends.findIndex((end) => end >= createdAt);
  return n === -1 ? logged.points.length : n;
}

/**
 * The days of `logged` that ended before the segment was created carry no log: their
 * sizes are the ones recomputed from the rule where it allows (`rebuilt`,
 * history-rebuild.ts), and null otherwise. Returns how `daily` was filled.
 */
function beforeCreation(
  logged: LoggedDays,
  createdAt: number | null,
  tz: string,
  missing: number,
  rebuilt: Rebuilt | undefined,
): HistorySource {
  const { points } = logged;
  const firstKnown = () => points.find((p) => p.size !== null)?.date ?? null;
  if (createdAt === null || !Number.isFinite(createdAt)) {
    return { logged_since: null, before: "none", starts_on: firstKnown(), reason: null };
  }
  const loggedSince = DateTime.fromMillis(createdAt, { zone: tz }).toFormat("yyyy-MM-dd");
  if (missing === 0 || !rebuilt) {
    return { logged_since: loggedSince, before: "none", starts_on: firstKnown(), reason: null };
  }
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

/** The engagement as answered: revenue rounded, largest amount first. */
function engagementOf(e: EngagementPart): Engagement {
  const { revenue, ...counts } = e;
  return {
    window_days: ENGAGEMENT_WINDOW_DAYS,
    ...counts,
    revenue_by_currency: revenue
      .map(([currency, amount, orders]) => ({
        currency,
        // Sums of decimal amounts carry binary noise (100.1 + 0.2 = 100.29999999999998).
        amount: Math.round(amount * 1e6) / 1e6,
        orders,
      }))
      .sort(
        (a, b) =>
          b.amount - a.amount ||
          (a.currency === null ? 1 : b.currency === null ? -1 : a.currency < b.currency ? -1 : 1),
      ),
  };
}
