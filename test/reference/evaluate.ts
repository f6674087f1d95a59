/**
 * The reference evaluator: SPEC §3 and docs/semantics.md read word by word, with no
 * compilation, no indexes and no cleverness. It walks the rule tree for one contact
 * and scans that contact's events in full for every condition. It exists only so the
 * property tests can hold the engine to it; speed is not a goal, obviousness is.
 */
import { createHash } from "node:crypto";
import { DateTime } from "luxon";
import type { ContactInput, EventInput, JsonValue } from "../../src/engine/types.ts";
import type { ComputedDefinition } from "../../src/rules/computed.ts";
import type { FieldRegistry, FieldType } from "../../src/rules/fields.ts";
import type {
  EventNode,
  FieldNode,
  PropertyFilter,
  RuleNode,
  SequenceNode,
  Window,
} from "../../src/rules/schema.ts";
import {
  dayBounds,
  isLeapYear,
  monthDay,
  parseDuration,
  parseTimeValue,
  shift,
  type TimeSpan,
  toInstant,
} from "../../src/rules/time.ts";
import { relativeHolds } from "./relative.ts";

export interface ReferenceContext {
  now: number;
  timeZone: string;
  fields: FieldRegistry;
  /** Every segment a rule may refer to, by id. */
  segments: Map<string, RuleNode>;
  /**
   * When the contact's profile was written (SPEC §2: an explicit write of `status` or
   * `email_status` counts as made when it is received). A key absent from the contact
   * is no write at all. Default −∞: the given values are a base that every event's
   * profile effect applies on top of (a bulk load carries no write times).
   */
  writtenAt?: number;
  /**
   * Every contact of the workspace with its own events: what rank conditions and
   * quintile scores compare the contact with (test/reference/relative.ts).
   */
  population?: readonly { contact: ContactInput; events: EventInput[] }[];
  /** The workspace's computed fields by key (docs/rules.md, "Computed fields"). */
  computed?: ReadonlyMap<string, ComputedDefinition>;
}

/** A contact's field value as rules see it; `null` is "not set". */
type Value = string | number | boolean | string[] | null;

/** SPEC §3.2: case and surrounding spaces are ignored. */
export function norm(s: string): string {
  return s.trim().toLowerCase();
}

/** An event's timestamp as epoch ms. */
export function eventTime(e: EventInput, tz: string): number {
  if (typeof e.timestamp === "number") return Math.floor(e.timestamp);
  return parseTimeValue(e.timestamp, tz).start;
}

/** Whether `contact`, with these events (its own, any order), satisfies `rule` at `ctx.now`. */
export function referenceMatches(
  rule: RuleNode,
  contact: ContactInput,
  events: EventInput[],
  ctx: ReferenceContext,
): boolean {
  return matchesProfile(rule, effectiveProfile(contact, events, ctx), events, ctx);
}

function matchesProfile(
  rule: RuleNode,
  contact: ContactInput,
  events: EventInput[],
  ctx: ReferenceContext,
): boolean {
  switch (rule.type) {
    case "and":
      return rule.conditions.every((c) => matchesProfile(c, contact, events, ctx));
    case "or":
      return rule.conditions.some((c) => matchesProfile(c, contact, events, ctx));
    case "not":
      return !matchesProfile(rule.condition, contact, events, ctx);
    case "field": {
      // "A condition on a computed field holds exactly when the event condition with the
      // definition's event, where, window and measure, and the condition's op and value, holds."
      const def = ctx.computed?.get(rule.field);
      if (def !== undefined) {
        return eventHolds(
          {
            type: "event",
            event: def.event,
            where: def.where,
            window: def.window,
            measure: def.measure,
            op: rule.op,
            value: rule.value,
          },
          events,
          ctx,
        );
      }
      return fieldHolds(rule, contact, ctx);
    }
    case "segment": {
      const target = ctx.segments.get(rule.segment);
      if (!target) throw new Error(`reference: unknown segment ${rule.segment}`);
      const inside = matchesProfile(target, contact, events, ctx);
      return rule.op === "in" ? inside : !inside;
    }
    case "event":
      if (rule.rank !== undefined || rule.score !== undefined) return relativeHolds(rule, contact.id, ctx);
      return eventHolds(rule, events, ctx);
    case "sequence":
      return sequenceHolds(rule, events, ctx);
    case "bucket":
      return bucketHolds(rule.op, rule.value, referenceBucket(rule.seed, contact.id));
  }
}

// ---------------------------------------------------------------- buckets

/**
 * docs/rules.md, "Bucket conditions", word for word: SHA-256 of the seed's UTF-8
 * bytes, a zero byte and the id's UTF-8 bytes; the first 6 bytes as a big-endian
 * number, modulo 10000, in hundredths.
 */
export function referenceBucket(seed: string, contactId: string): number {
  const bytes = Buffer.concat([Buffer.from(seed, "utf8"), Buffer.from([0]), Buffer.from(contactId, "utf8")]);
  const digest = createHash("sha256").update(bytes).digest("hex");
  const first6 = BigInt(`0x${digest.slice(0, 12)}`);
  return Number(first6 % 10000n) / 100;
}

function bucketHolds(op: string, value: unknown, bucket: number): boolean {
  const positive = NEGATIVE[op];
  if (positive !== undefined) return !bucketHolds(positive, value, bucket);
  return numberOp(bucket, op, value);
}

// ---------------------------------------------------------------- profile effects

/**
 * SPEC §2, replayed in timestamp order: the events that are not older than the
 * explicit write of a field change it. `hard_bounced` stays until an explicit write;
 * so does `complained` (a choice: a complaint outranks later soft bounces), except that
 * a hard bounce outranks it. A soft bounce is cleared by a strictly later open or
 * click, so at the same millisecond opens and clicks are replayed first. A bounce
 * without `bounce_type: "hard"` is soft.
 */
export function effectiveProfile(
  contact: ContactInput,
  events: EventInput[],
  ctx: ReferenceContext,
): ContactInput {
  const writtenAt = ctx.writtenAt ?? Number.NEGATIVE_INFINITY;
  const since = (key: "status" | "email_status") =>
    contact[key] === undefined ? Number.NEGATIVE_INFINITY : writtenAt;
  const base = (key: "status" | "email_status") => {
    const v = contact[key];
    return typeof v === "string" && norm(v) !== "" ? norm(v) : null;
  };
  const engagement = (e: EventInput) => (e.type === "email_opened" || e.type === "email_clicked" ? 0 : 1);
  const replay = events
    .map((e) => ({ e, t: eventTime(e, ctx.timeZone) }))
    .sort((a, b) => a.t - b.t || engagement(a.e) - engagement(b.e));

  let status = base("status");
  for (const { e, t } of replay) {
    if (t < since("status")) continue;
    if (e.type === "email_unsubscribed" || e.type === "email_complained") status = "unsubscribed";
  }

  let emailStatus = base("email_status");
  let sticky: "hard" | "complained" | null = null;
  for (const { e, t } of replay) {
    if (t < since("email_status")) continue;
    if (e.type === "email_bounced") {
      const bt = e.properties?.bounce_type;
      if (typeof bt === "string" && norm(bt) === "hard") {
        emailStatus = "hard_bounced";
        sticky = "hard";
      } else if (sticky === null) emailStatus = "soft_bouncing";
    } else if (e.type === "email_complained") {
      if (sticky !== "hard") {
        emailStatus = "complained";
        sticky = "complained";
      }
    } else if (e.type === "email_opened" || e.type === "email_clicked") {
      if (sticky === null && emailStatus === "soft_bouncing") emailStatus = "deliverable";
    }
  }
  return { ...contact, status, email_status: emailStatus };
}

// ---------------------------------------------------------------- field conditions

function rawFieldValue(contact: ContactInput, key: string, ctx: ReferenceContext): unknown {
  const def = ctx.fields.get(key);
  if (!def) throw new Error(`reference: unknown field ${key}`);
  if (def.builtin) return (contact as unknown as Record<string, unknown>)[key];
  return contact.fields?.[key];
}

/** docs/semantics.md: blank strings and empty lists are "not set"; dates are instants. */
export function fieldValue(contact: ContactInput, key: string, ctx: ReferenceContext): Value {
  const type: FieldType = ctx.fields.get(key)!.type;
  const v = rawFieldValue(contact, key, ctx);
  if (v === undefined || v === null) return null;
  switch (type) {
    case "string": {
      const s = norm(v as string);
      return s === "" ? null : s;
    }
    case "number":
    case "boolean":
      return v as number | boolean;
    case "date":
      return toInstant(v, ctx.timeZone);
    case "string_list": {
      const list = (v as string[]).map(norm).filter((s) => s !== "");
      return list.length === 0 ? null : list;
    }
  }
}

/** The negative operators are exactly "not" their positive twin (docs/semantics.md). */
const NEGATIVE: Record<string, string> = {
  neq: "eq",
  not_in: "in",
  not_contains: "contains",
  contains_none: "contains_any",
  is_not_set: "is_set",
  is_empty: "is_not_empty",
};

function fieldHolds(n: FieldNode, contact: ContactInput, ctx: ReferenceContext): boolean {
  const positive = NEGATIVE[n.op];
  if (positive !== undefined) return !fieldHolds({ ...n, op: positive }, contact, ctx);
  const v = fieldValue(contact, n.field, ctx);
  // A missing value satisfies only the negatives, handled above.
  if (v === null) return false;
  if (n.op === "is_set" || n.op === "is_not_empty") return true;
  const type = ctx.fields.get(n.field)!.type;
  switch (type) {
    case "string":
      return stringOp(v as string, n.op, n.value);
    case "number":
      return numberOp(v as number, n.op, n.value);
    case "boolean":
      return n.op === "eq" && v === n.value;
    case "date":
      return dateOp(v as number, n.op, n.value, ctx);
    case "string_list":
      return listOp(v as string[], n.op, n.value);
  }
}

function stringOp(s: string, op: string, value: unknown): boolean {
  switch (op) {
    case "eq":
      return s === norm(value as string);
    case "in":
      return (value as string[]).some((x) => s === norm(x));
    case "contains":
      return s.includes(norm(value as string));
    case "starts_with":
      return s.startsWith(norm(value as string));
    case "ends_with":
      return s.endsWith(norm(value as string));
    default:
      throw new Error(`reference: string op ${op}`);
  }
}

function numberOp(x: number, op: string, value: unknown): boolean {
  switch (op) {
    case "eq":
      return x === value;
    case "gt":
      return x > (value as number);
    case "gte":
      return x >= (value as number);
    case "lt":
      return x < (value as number);
    case "lte":
      return x <= (value as number);
    case "between": {
      const [lo, hi] = value as [number, number];
      return lo <= x && x <= hi;
    }
    default:
      throw new Error(`reference: number op ${op}`);
  }
}

function listOp(list: string[], op: string, value: unknown): boolean {
  switch (op) {
    case "contains":
      return list.includes(norm(value as string));
    case "contains_any":
      return (value as string[]).some((x) => list.includes(norm(x)));
    case "contains_all":
      return (value as string[]).every((x) => list.includes(norm(x)));
    default:
      throw new Error(`reference: list op ${op}`);
  }
}

function span(value: unknown, tz: string): TimeSpan {
  return parseTimeValue(value as string, tz);
}

function ago(d: string, ctx: ReferenceContext): number {
  return shift(ctx.now, parseDuration(d), -1, ctx.timeZone);
}

function ahead(d: string, ctx: ReferenceContext): number {
  return shift(ctx.now, parseDuration(d), 1, ctx.timeZone);
}

/** SPEC §3.2, the date operators on one instant `t`, word for word. */
export function dateOp(t: number, op: string, value: unknown, ctx: ReferenceContext): boolean {
  const tz = ctx.timeZone;
  switch (op) {
    case "before":
      return t < span(value, tz).start;
    case "after":
      return t > span(value, tz).end;
    case "on": {
      const x = span(value, tz);
      return x.start <= t && t <= x.end;
    }
    case "between": {
      const [a, b] = value as [string, string];
      return span(a, tz).start <= t && t <= span(b, tz).end;
    }
    case "in_last":
      return ago(value as string, ctx) < t && t <= ctx.now;
    case "more_than_ago":
      return t <= ago(value as string, ctx);
    case "in_next":
      return ctx.now <= t && t < ahead(value as string, ctx);
    case "anniversary_in_next":
      return anniversaryInNext(t, value as string, ctx);
    case "during": {
      const p = periodSpan(value as string, ctx);
      return p.start <= t && t <= p.end;
    }
    case "anniversary_during":
      return anniversaryDuring(t, value as string, ctx);
    case "weekday_in": {
      const name = DateTime.fromMillis(t, { zone: tz }).setLocale("en-US").weekdayLong!.toLowerCase();
      return (value as string[]).includes(name);
    }
    default:
      throw new Error(`reference: date op ${op}`);
  }
}

/**
 * docs/rules.md, "Calendar conditions": the period of now in the workspace zone
 * (Monday-to-Sunday weeks), or the one before or after it, from its first to its
 * last millisecond.
 */
export function periodSpan(period: string, ctx: ReferenceContext): TimeSpan {
  const named: Record<string, string> = { today: "this_day", yesterday: "last_day", tomorrow: "next_day" };
  const [rel, unit] = (named[period] ?? period).split("_") as [
    string,
    "day" | "week" | "month" | "quarter" | "year",
  ];
  const here = DateTime.fromMillis(ctx.now, { zone: ctx.timeZone }).startOf(unit);
  const n = rel === "last" ? -1 : rel === "next" ? 1 : 0;
  const start = here.plus({ [`${unit}s`]: n }).startOf(unit);
  const after = here.plus({ [`${unit}s`]: n + 1 }).startOf(unit);
  return { start: start.toMillis(), end: after.toMillis() - 1 };
}

/** Every day of the period, one by one: does one of them carry the anniversary of `t`? */
function anniversaryDuring(t: number, period: string, ctx: ReferenceContext): boolean {
  const tz = ctx.timeZone;
  const { month, day } = monthDay(t, tz);
  const p = periodSpan(period, ctx);
  for (let d = DateTime.fromMillis(p.start, { zone: tz }); d.toMillis() <= p.end; d = d.plus({ days: 1 })) {
    const feb28Common = d.month === 2 && d.day === 28 && !isLeapYear(d.year);
    if (d.month === month && d.day === day) return true;
    if (feb28Common && month === 2 && day === 29) return true;
  }
  return false;
}

/**
 * Try the anniversary day of every year around now: it holds when one of those days
 * (29 February on the 28th in common years) overlaps `[now, now + D)`.
 */
function anniversaryInNext(t: number, d: string, ctx: ReferenceContext): boolean {
  const tz = ctx.timeZone;
  const end = ahead(d, ctx);
  const { month, day } = monthDay(t, tz);
  const firstYear = monthDay(ctx.now, tz).year - 1;
  const lastYear = monthDay(end, tz).year + 1;
  for (let y = firstYear; y <= lastYear; y++) {
    const dd = month === 2 && day === 29 && !isLeapYear(y) ? 28 : day;
    const b = dayBounds(y, month, dd, tz);
    if (b.start < end && b.end >= ctx.now) return true;
  }
  return false;
}

// ---------------------------------------------------------------- event conditions

/** Dotted paths reach nested objects, never into arrays; a key containing a dot is unreachable. */
export function propertyAt(props: EventInput["properties"], path: string): JsonValue | undefined {
  let cur: JsonValue | undefined = props;
  for (const part of path.split(".")) {
    if (cur === undefined || cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, part)) return undefined;
    cur = (cur as { [k: string]: JsonValue })[part];
  }
  return cur;
}

/** A string property that reads as an ISO 8601 date or instant, or null. */
function propertyInstant(p: JsonValue | undefined, tz: string): number | null {
  if (typeof p !== "string") return null;
  try {
    return parseTimeValue(p, tz).start;
  } catch {
    return null;
  }
}

/** `eq` on properties: same JSON type and equal, strings compared normalised. */
function propertyEq(p: JsonValue | undefined, v: unknown): boolean {
  if (typeof p === "string" && typeof v === "string") return norm(p) === norm(v);
  if (typeof p === "number" && typeof v === "number") return p === v;
  if (typeof p === "boolean" && typeof v === "boolean") return p === v;
  return false;
}

const DATE_OP_NAMES = new Set([
  "before",
  "after",
  "on",
  "in_last",
  "more_than_ago",
  "in_next",
  "anniversary_in_next",
  "during",
  "anniversary_during",
  "weekday_in",
]);

export function filterHolds(
  f: PropertyFilter,
  props: EventInput["properties"],
  ctx: ReferenceContext,
): boolean {
  const positive = NEGATIVE[f.op];
  if (positive !== undefined) return !filterHolds({ ...f, op: positive }, props, ctx);
  const p = propertyAt(props, f.property);
  const v = f.value;
  switch (f.op) {
    case "is_set":
      return p !== undefined && p !== null;
    case "eq":
      return propertyEq(p, v);
    case "in":
      return (
        (typeof p === "string" || typeof p === "number") && (v as unknown[]).some((x) => propertyEq(p, x))
      );
    case "contains":
      if (typeof p === "string") return norm(p).includes(norm(v as string));
      if (Array.isArray(p)) return p.some((el) => propertyEq(el, v));
      return false;
    case "starts_with":
      return typeof p === "string" && norm(p).startsWith(norm(v as string));
    case "ends_with":
      return typeof p === "string" && norm(p).endsWith(norm(v as string));
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return typeof p === "number" && numberOp(p, f.op, v);
    case "between":
      if (Array.isArray(v) && v.every((x) => typeof x === "number")) {
        return typeof p === "number" && numberOp(p, "between", v);
      }
      return dateProperty(p, "between", v, ctx);
    case "contains_any":
    case "contains_all": {
      if (!Array.isArray(p)) return false;
      const elements = p.filter((el): el is string => typeof el === "string").map(norm);
      const want = (v as string[]).map(norm);
      return f.op === "contains_any"
        ? want.some((w) => elements.includes(w))
        : want.every((w) => elements.includes(w));
    }
    default:
      if (DATE_OP_NAMES.has(f.op)) return dateProperty(p, f.op, v, ctx);
      throw new Error(`reference: property op ${f.op}`);
  }
}

function dateProperty(p: JsonValue | undefined, op: string, v: unknown, ctx: ReferenceContext): boolean {
  const t = propertyInstant(p, ctx.timeZone);
  return t !== null && dateOp(t, op, v, ctx);
}

/** SPEC §3.1 windows, with the meanings of §3.2. */
export function inWindow(t: number, w: Window | undefined, ctx: ReferenceContext): boolean {
  if (w === undefined) return true;
  const tz = ctx.timeZone;
  if ("in_last" in w) return ago(w.in_last, ctx) < t && t <= ctx.now;
  if ("between_ago" in w) {
    // Either order: the window runs between the two instants, whichever is earlier.
    const a = ago(w.between_ago[0], ctx);
    const b = ago(w.between_ago[1], ctx);
    return Math.min(a, b) < t && t <= Math.max(a, b);
  }
  if ("after" in w) return t > span(w.after, tz).end;
  if ("before" in w) return t < span(w.before, tz).start;
  if ("during" in w) {
    const p = periodSpan(w.during, ctx);
    return p.start <= t && t <= p.end;
  }
  return span(w.between[0], tz).start <= t && t <= span(w.between[1], tz).end;
}

function stepEvents(
  type: string,
  where: PropertyFilter[] | undefined,
  w: Window | undefined,
  events: EventInput[],
  ctx: ReferenceContext,
): { t: number; e: EventInput }[] {
  const out: { t: number; e: EventInput }[] = [];
  for (const e of events) {
    if (e.type !== type) continue;
    const t = eventTime(e, ctx.timeZone);
    if (!inWindow(t, w, ctx)) continue;
    if (!(where ?? []).every((f) => filterHolds(f, e.properties, ctx))) continue;
    out.push({ t, e });
  }
  return out;
}

/** Identity of a property value for `distinct`: a number and a string are never the same. */
function distinctKey(p: JsonValue): string {
  if (typeof p === "string") return `s:${norm(p)}`;
  return `${typeof p}:${JSON.stringify(p)}`;
}

/**
 * A computed field's value as a contact shows it: the measure of its definition at
 * `ctx.now`, instants as ISO text, `null` when missing.
 */
export function computedValue(
  def: ComputedDefinition,
  events: EventInput[],
  ctx: ReferenceContext,
): number | string | null {
  const m = measure({ type: "event", ...def }, events, ctx);
  const fn = def.measure.fn;
  return m !== null && (fn === "first_at" || fn === "last_at") ? new Date(m).toISOString() : m;
}

/**
 * The measure of an event condition; `null` is "missing" (empty avg/min/max/first_at/
 * last_at/most_frequent). `most_frequent` is a string, the others numbers.
 */
export function measure(n: EventNode, events: EventInput[], ctx: ReferenceContext): number | string | null {
  const matching = stepEvents(n.event, n.where, n.window, events, ctx);
  const fn = n.measure?.fn ?? "count";
  const prop = n.measure?.property ?? "";
  switch (fn) {
    case "count":
      return matching.length;
    case "distinct": {
      const keys = new Set<string>();
      for (const { e } of matching) {
        const p = propertyAt(e.properties, prop);
        if (p !== undefined && p !== null) keys.add(distinctKey(p));
      }
      return keys.size;
    }
    case "sum":
    case "avg":
    case "min":
    case "max": {
      // Summed in time order so that floating-point rounding cannot depend on arrival order.
      const nums = [...matching]
        .sort((a, b) => a.t - b.t)
        .map(({ e }) => propertyAt(e.properties, prop))
        .filter((p): p is number => typeof p === "number");
      if (fn === "sum") return nums.reduce((a, b) => a + b, 0);
      if (nums.length === 0) return null;
      if (fn === "avg") return nums.reduce((a, b) => a + b, 0) / nums.length;
      return fn === "min" ? Math.min(...nums) : Math.max(...nums);
    }
    case "first_at":
    case "last_at": {
      if (matching.length === 0) return null;
      const ts = matching.map((m) => m.t);
      return fn === "first_at" ? Math.min(...ts) : Math.max(...ts);
    }
    case "most_frequent": {
      // docs/rules.md: among the counted events whose property is a string that is not
      // blank, the value (trimmed, lower case) of the most events; on a tie, the one whose
      // latest such event is latest; then the smallest value.
      const tally = new Map<string, { n: number; latest: number }>();
      for (const { e, t } of matching) {
        const p = propertyAt(e.properties, prop);
        if (typeof p !== "string" || norm(p) === "") continue;
        const k = norm(p);
        const cur = tally.get(k) ?? { n: 0, latest: Number.NEGATIVE_INFINITY };
        tally.set(k, { n: cur.n + 1, latest: Math.max(cur.latest, t) });
      }
      const ranked = [...tally].sort(
        ([va, a], [vb, b]) => b.n - a.n || b.latest - a.latest || (va < vb ? -1 : va > vb ? 1 : 0),
      );
      return ranked.length === 0 ? null : ranked[0][0];
    }
  }
}

function eventHolds(n: EventNode, events: EventInput[], ctx: ReferenceContext): boolean {
  const m = measure(n, events, ctx);
  if (n.op === undefined) return (m as number) >= 1;
  const positive = NEGATIVE[n.op];
  if (positive !== undefined) return !eventHolds({ ...n, op: positive }, events, ctx);
  if (m === null) return false;
  if (n.op === "is_set") return true;
  if (typeof m === "string") return stringOp(m, n.op, n.value);
  const fn = n.measure?.fn ?? "count";
  if (fn === "first_at" || fn === "last_at") return dateOp(m, n.op, n.value, ctx);
  return numberOp(m, n.op, n.value);
}

// ---------------------------------------------------------------- sequences

/**
 * Search every combination: step k's event strictly after step k-1's, all of them no
 * later than `within` after the first step (docs/semantics.md).
 */
function sequenceHolds(n: SequenceNode, events: EventInput[], ctx: ReferenceContext): boolean {
  if (n.steps.some((s) => s.not === true)) return negativeSequenceHolds(n, events, ctx);
  const candidates = n.steps.map((s) => stepEvents(s.event, s.where, n.window, events, ctx));
  const within = parseDuration(n.within);
  const search = (k: number, prev: number, deadline: number): boolean => {
    if (k === candidates.length) return true;
    return candidates[k].some(({ t }) => t > prev && t <= deadline && search(k + 1, t, deadline));
  };
  return candidates[0].some(({ t }) => search(1, t, shift(t, within, 1, ctx.timeZone)));
}

/**
 * docs/rules.md "Negative steps": some run of the steps the contact did (each strictly
 * after the one before, every one in the window, the last no later than the deadline
 * = first + within) with no event of a negative step (its `where` holding, wherever it
 * falls relative to the window) after the last step done and at or before the
 * deadline; and that deadline is at or before now.
 */
function negativeSequenceHolds(n: SequenceNode, events: EventInput[], ctx: ReferenceContext): boolean {
  const done = n.steps.filter((s) => s.not !== true);
  const absent = n.steps.filter((s) => s.not === true);
  const candidates = done.map((s) => stepEvents(s.event, s.where, n.window, events, ctx));
  const forbidden = absent.flatMap((s) => stepEvents(s.event, s.where, undefined, events, ctx));
  const within = parseDuration(n.within);
  const search = (k: number, prev: number, deadline: number): boolean => {
    if (k === candidates.length) return !forbidden.some(({ t }) => t > prev && t <= deadline);
    return candidates[k].some(({ t }) => t > prev && t <= deadline && search(k + 1, t, deadline));
  };
  return candidates[0].some(({ t }) => {
    const deadline = shift(t, within, 1, ctx.timeZone);
    return deadline <= ctx.now && search(1, t, deadline);
  });
}
