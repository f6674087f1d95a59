/**
 * The part of a segment's analytics (docs/analytics.md) an engine computes over the
 * contacts it holds: the size, the contacts held, the members' engagement over the last
 * 30 days, their counts by one field's value, the overlap with another segment, and the
 * sizes recomputed from the rule for the days before the segment existed. Every figure
 * is a count or a sum over contacts, so the parts of engines holding disjoint contacts
 * (engine workers) add up, with `mergeAnalyticsParts`, to what one engine holding them
 * all computes. The service (src/service/analytics.ts) reads the change log, ranks the
 * breakdown and labels it.
 */
import { DateTime } from "luxon";
import { isValidTimeZone, shift } from "../rules/time.ts";
import type { Bitset } from "./bitset.ts";
import type { Column } from "./contacts.ts";
import type { Engine } from "./engine.ts";
import { type EventTable, upperBound } from "./events.ts";
import { bitsOf, type DayEnds, type RebuiltDay, rebuildHistory } from "./history-rebuild.ts";

export const ENGAGEMENT_WINDOW_DAYS = 30;
/** Profiles read per breakdown value to find how its members spell it, per engine. */
export const LABEL_SAMPLE = 25;
const DAY_MS = 86_400_000;

export interface AnalyticsPartRequest {
  segmentId: string;
  /** The instant described (epoch ms). */
  now: number;
  timeZone: string;
  breakdownField?: string;
  overlapWith?: string;
  /** The first `n` days of `days` recomputed from the segment's rule (the days before it existed). */
  rebuild?: { days: DayEnds; n: number };
}

export interface EngagementPart {
  opens: number;
  clicks: number;
  orders: number;
  contacts_opened: number;
  contacts_clicked: number;
  contacts_ordered: number;
  /** Per currency as shown (ISO codes upper-case; null: none): the amounts summed and the orders counted. */
  revenue: [currency: string | null, amount: number, orders: number][];
}

export type Rebuilt = { days: (RebuiltDay | null)[]; reason: string | null } | { reason: string };

export interface AnalyticsPart {
  size: number;
  /** Contacts held. */
  total: number;
  engagement: EngagementPart;
  /** Members by value as rules see it, and how many have none. */
  breakdown?: { counts: [string, number][]; missing: number };
  overlap?: { size: number; both: number };
  rebuilt?: Rebuilt;
}

/** This engine's part; throws for an unknown time zone, segment or field (the service checks these first). */
export function analyticsPart(engine: Engine, req: AnalyticsPartRequest): AnalyticsPart {
  if (!isValidTimeZone(req.timeZone)) throw new Error(`unknown time zone "${req.timeZone}"`);
  const members = membersAt(engine, req.segmentId, req.now);
  const out: AnalyticsPart = {
    size: members.count(),
    total: engine.contactCount,
    engagement: engagement(engine, members, req.timeZone, req.now),
  };
  if (req.breakdownField !== undefined) {
    const col = engine.contacts.columns.get(req.breakdownField);
    if (!col) throw new Error(`unknown field "${req.breakdownField}"`);
    out.breakdown = countValues(col, members, req.timeZone);
  }
  if (req.overlapWith !== undefined) {
    const other = membersAt(engine, req.overlapWith, req.now);
    out.overlap = { size: other.count(), both: members.clone().and(other).count() };
  }
  if (req.rebuild) out.rebuilt = rebuildHistory(engine, req.segmentId, req.rebuild.days, req.rebuild.n);
  return out;
}

/** The parts of engines holding disjoint contacts, as one: counts and sums added. */
export function mergeAnalyticsParts(parts: readonly AnalyticsPart[]): AnalyticsPart {
  const first = parts[0];
  if (!first) throw new Error("no analytics part to merge");
  if (parts.length === 1) return first;
  const sum = (f: (p: AnalyticsPart) => number) => parts.reduce((n, p) => n + f(p), 0);
  const e = (k: Exclude<keyof EngagementPart, "revenue">) => sum((p) => p.engagement[k]);
  const revenue = new Map<string | null, [number, number]>();
  for (const p of parts) {
    for (const [currency, amount, orders] of p.engagement.revenue) {
      const r = revenue.get(currency);
      if (r) {
        r[0] += amount;
        r[1] += orders;
      } else revenue.set(currency, [amount, orders]);
    }
  }
  const out: AnalyticsPart = {
    size: sum((p) => p.size),
    total: sum((p) => p.total),
    engagement: {
      opens: e("opens"),
      clicks: e("clicks"),
      orders: e("orders"),
      contacts_opened: e("contacts_opened"),
      contacts_clicked: e("contacts_clicked"),
      contacts_ordered: e("contacts_ordered"),
      revenue: [...revenue].map(([currency, [amount, orders]]) => [currency, amount, orders]),
    },
  };
  if (first.breakdown) {
    const counts = new Map<string, number>();
    for (const p of parts) for (const [v, n] of p.breakdown!.counts) counts.set(v, (counts.get(v) ?? 0) + n);
    out.breakdown = { counts: [...counts], missing: sum((p) => p.breakdown!.missing) };
  }
  if (first.overlap) out.overlap = { size: sum((p) => p.overlap!.size), both: sum((p) => p.overlap!.both) };
  if (first.rebuilt) out.rebuilt = mergeRebuilt(parts.map((p) => p.rebuilt!));
  return out;
}

/** Days recomputed by several engines: their sizes and moves added; a day unknown to one is unknown. */
function mergeRebuilt(parts: Rebuilt[]): Rebuilt {
  const refused = parts.find((p) => !("days" in p));
  if (refused) return refused;
  const all = parts as { days: (RebuiltDay | null)[]; reason: string | null }[];
  const days = all[0]!.days.map((_, k) => {
    let size = 0;
    let entered = 0;
    let exited = 0;
    for (const p of all) {
      const d = p.days[k];
      if (!d) return null;
      size += d.size;
      entered += d.entered;
      exited += d.exited;
    }
    return { size, entered, exited };
  });
  return { days, reason: all[0]!.reason };
}

/**
 * Up to LABEL_SAMPLE members' ids per value of a text field (values as rules see them),
 * for the labels: the profiles' own spellings are read from the store. Nothing for a
 * field of another kind, whose values are shown as counted.
 */
export function labelSamples(
  engine: Engine,
  segmentId: string,
  field: string,
  values: readonly string[],
  now: number,
): [string, string[]][] {
  const col = engine.contacts.columns.get(field);
  if (!col || (col.kind !== "string" && col.kind !== "string_list")) return [];
  const wanted = new Map<number, string>();
  for (const v of values) {
    const code = col.dict.lookup(v);
    if (code >= 0) wanted.set(code, v);
  }
  const samples = new Map<number, string[]>();
  let open = wanted.size;
  const ids = engine.contacts.ids;
  const take = (i: number, code: number) => {
    if (!wanted.has(code)) return;
    let list = samples.get(code);
    if (!list) {
      list = [];
      samples.set(code, list);
    }
    if (list.length < LABEL_SAMPLE && list.push(ids[i]!) === LABEL_SAMPLE) open--;
  };
  const w = membersAt(engine, segmentId, now).words;
  for (let wi = 0; wi < w.length && open > 0; wi++) {
    let v = w[wi] | 0;
    while (v !== 0) {
      const t = v & -v;
      const i = (wi << 5) | (31 - Math.clz32(t));
      v ^= t;
      if (col.kind === "string") take(i, col.codes[i]);
      else for (const code of col.lists[i] ?? []) take(i, code);
    }
  }
  return [...samples].map(([code, list]) => [wanted.get(code)!, list]);
}

/**
 * A segment's members at `now` by contact index: the engine's maintained membership
 * when it is exact at that instant (the usual case: `now` is the engine's clock), else
 * a from-scratch evaluation at `now`.
 */
function membersAt(engine: Engine, segmentId: string, now: number): Bitset {
  const m = engine.now !== now ? engine.members(segmentId, now) : engine.members(segmentId);
  return bitsOf(engine, m);
}

/** Calls `fn` with every set index, ascending, without materialising the list. */
function forEachMember(bits: Bitset, fn: (i: number) => void): void {
  const w = bits.words;
  for (let wi = 0; wi < w.length; wi++) {
    let v = w[wi] | 0;
    while (v !== 0) {
      const t = v & -v;
      fn((wi << 5) | (31 - Math.clz32(t)));
      v ^= t;
    }
  }
}

// ---------------------------------------------------------------- engagement

/**
 * Over the members, the events of the last 30 days (`now − 30d < t ≤ now`, calendar
 * days in the zone, as the rule window `in_last: "30d"`): opens, clicks and orders
 * counted, the numeric `amount` of those orders summed per `currency`, and how many
 * members did each at least once.
 */
function engagement(engine: Engine, members: Bitset, tz: string, now: number): EngagementPart {
  const lo = shift(now, { n: ENGAGEMENT_WINDOW_DAYS, unit: "d" }, -1, tz);
  const opened = windowed(engine.events.tables.get("email_opened"), lo, now);
  const clicked = windowed(engine.events.tables.get("email_clicked"), lo, now);
  const orders = engine.events.tables.get("order_placed");
  const ordered = windowed(orders, lo, now);
  const amount = orders?.props.get("amount");
  const currency = orders?.props.get("currency");
  // Per currency code (-1: none), the sum and the orders counted in it.
  const sums = new Map<number, { amount: number; orders: number }>();
  const out: EngagementPart = {
    opens: 0,
    clicks: 0,
    orders: 0,
    contacts_opened: 0,
    contacts_clicked: 0,
    contacts_ordered: 0,
    revenue: [],
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
  out.revenue = [...sums].map(([code, sum]) => [
    code < 0 ? null : currencyLabel(dict.values[code]!),
    sum.amount,
    sum.orders,
  ]);
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

// ---------------------------------------------------------------- breakdown

/**
 * Counts of the members by the value of one field, as rules see it: strings trimmed
 * and lower-cased, numbers as written by `String`, booleans "true"/"false", dates as
 * their month `YYYY-MM` in the workspace zone, each element of a string_list counted
 * once.
 */
function countValues(
  col: Column,
  members: Bitset,
  tz: string,
): { counts: [string, number][]; missing: number } {
  const counts = new Map<string, number>();
  let missing = 0;
  const add = (v: string) => counts.set(v, (counts.get(v) ?? 0) + 1);
  forEachMember(
    members,
    valueVisitor(col, tz, add, () => missing++),
  );
  return { counts: [...counts], missing };
}

function valueVisitor(
  col: Column,
  tz: string,
  add: (v: string) => void,
  none: () => void,
): (i: number) => void {
  switch (col.kind) {
    case "string":
      return (i) => {
        const code = col.codes[i];
        if (code < 0) none();
        else add(col.dict.values[code]);
      };
    case "string_list":
      return (i) => {
        const l = col.lists[i];
        if (!l || l.length === 0) none();
        else for (const code of l) add(col.dict.values[code]);
      };
    case "boolean":
      return (i) => {
        const v = col.values[i];
        if (v < 0) none();
        else add(v === 1 ? "true" : "false");
      };
    case "number":
      return (i) => {
        const v = col.values[i];
        if (Number.isNaN(v)) none();
        else add(String(v));
      };
    case "date": {
      // The month in the zone, memoised per UTC day: a day whose first and last
      // millisecond fall in the same local month maps to it whole; the few days that
      // straddle a month boundary (stored as "") are computed value by value.
      const month = (t: number) => DateTime.fromMillis(t, { zone: tz }).toFormat("yyyy-MM");
      const byDay = new Map<number, string>();
      return (i) => {
        const v = col.values[i];
        if (Number.isNaN(v)) {
          none();
          return;
        }
        const day = Math.floor(v / DAY_MS);
        let m = byDay.get(day);
        if (m === undefined) {
          const a = month(day * DAY_MS);
          m = a === month(day * DAY_MS + DAY_MS - 1) ? a : "";
          byDay.set(day, m);
        }
        add(m === "" ? month(v) : m);
      };
    }
  }
}
