/**
 * fast-check generators for the engine-vs-reference property tests. Values are drawn
 * from small pools built around `now` so that the cases that break evaluators come up
 * often: instants 1 ms either side of every window edge, DST switches, month ends,
 * 29 February, duplicate timestamps, blank strings, missing and wrongly typed
 * properties.
 */
import fc from "fast-check";
import { DateTime } from "luxon";
import type { ContactInput, EventInput, JsonValue } from "../../src/engine/types.ts";
import { CALENDAR_PERIODS, WEEKDAYS } from "../../src/rules/calendar.ts";
import { type ComputedDefinition, computedType } from "../../src/rules/computed.ts";
import { type DefaultSegmentSettings, defaultSegments } from "../../src/rules/defaults.ts";
import { FIELD_TYPES, type FieldDef, FieldRegistry } from "../../src/rules/fields.ts";
import { OPS_BY_TYPE, STRING_OPS } from "../../src/rules/operators.ts";
import type { MeasureFn, PropertyFilter, RuleNode, SequenceNode, Window } from "../../src/rules/schema.ts";
import { monthDay, parseDuration, parseTimeValue, shift } from "../../src/rules/time.ts";
import { eventTime, referenceBucket } from "./evaluate.ts";
import { relativeNodeArb } from "./relative-arbitraries.ts";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** One custom field of every type. */
export const CUSTOM_FIELDS: FieldDef[] = [
  { key: "plan", type: "string" },
  { key: "score", type: "number" },
  { key: "vip", type: "boolean" },
  { key: "birthday", type: "date" },
  { key: "interests", type: "string_list" },
];
export const FIELDS = new FieldRegistry(CUSTOM_FIELDS);

/** Lord Howe moves its clocks by 30 minutes, which breaks "an hour is an hour" shortcuts. */
export const TIME_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"] as const;

/** Shortest first. */
export const DURATIONS = ["30m", "1h", "1d", "2d", "1w", "1mo", "90d", "1y"] as const;

export const EVENT_TYPES = ["order_placed", "email_opened", "cart_added", "page_viewed"] as const;
/** Events with profile effects (SPEC §2), generated less often than the others. */
export const EFFECT_TYPES = [
  "email_bounced",
  "email_unsubscribed",
  "email_complained",
  "email_clicked",
  "email_opened",
] as const;

const STRINGS = ["US", " us ", "fr", "", "  ", "Pro", "pro plan", "ÉCOLE", "école", "straße", "subscribed"];
const NUMBERS = [-1, 0, 0.5, 1, 2, 2.5, 3, 5, 10, 100];
const LIST_ITEMS = ["vip", " VIP", "beta", "", "news"];

/**
 * Instants where evaluators go wrong, with the zone they are tricky in: DST switches
 * (and half a day either side, so that a window of a day or a week contains one),
 * month and year ends, 28 February in common years and 29 February in leap years.
 */
const ANCHORS: [string, string][] = [
  ["2026-03-29T01:00:00.000Z", "Europe/Paris"], // spring forward
  ["2026-03-28T13:00:00.000Z", "Europe/Paris"],
  ["2026-03-29T08:00:00.000Z", "Europe/Paris"],
  ["2026-10-25T01:00:00.000Z", "Europe/Paris"], // fall back
  ["2026-10-24T13:00:00.000Z", "Europe/Paris"],
  ["2026-10-25T13:00:00.000Z", "Europe/Paris"],
  ["2026-03-08T07:00:00.000Z", "America/New_York"], // spring forward
  ["2026-03-07T19:00:00.000Z", "America/New_York"],
  ["2026-11-01T06:00:00.000Z", "America/New_York"], // fall back
  ["2026-11-01T17:00:00.000Z", "America/New_York"],
  ["2026-10-31T18:00:00.000Z", "America/New_York"],
  ["2026-04-04T15:00:00.000Z", "Australia/Lord_Howe"], // fall back by 30 minutes
  ["2026-04-04T03:00:00.000Z", "Australia/Lord_Howe"],
  ["2026-01-31T23:59:59.999Z", "UTC"],
  ["2026-01-31T22:59:59.999Z", "Europe/Paris"], // the last millisecond of January in Paris
  ["2026-03-31T10:00:00.000Z", "UTC"],
  ["2026-12-31T23:30:00.000Z", "UTC"],
  ["2026-12-31T23:30:00.000Z", "Europe/Paris"],
  ["2027-02-28T12:00:00.000Z", "UTC"],
  ["2027-02-27T23:00:00.000Z", "Europe/Paris"],
  ["2026-02-26T12:00:00.000Z", "America/New_York"],
  ["2028-02-29T00:00:00.000Z", "UTC"],
  ["2028-02-28T23:00:00.000Z", "Europe/Paris"],
];
const ANCHOR_TIMES = ANCHORS.map(([s]) => Date.parse(s));

/** Everything a generator needs to know about the case being built. */
export interface TimeEnv {
  now: number;
  timeZone: string;
  /** Interesting instants around `now`. */
  instants: number[];
  /** The durations this case is about: rules use them most, and data sits on their edges. */
  focus: string[];
  /** `now ∓ focus` and the instants 1 ms either side. */
  edges: number[];
  /** `YYYY-MM-DD` days around `now` in the workspace zone. */
  days: string[];
  /** The event types this case is about, so that rules and events meet often. */
  hotTypes: string[];
}

export const nowArb: fc.Arbitrary<{ now: number; timeZone: string; focus: string[]; hotTypes: string[] }> = fc
  .record({
    focus: fc.subarray([...DURATIONS], { minLength: 1, maxLength: 2 }),
    hotTypes: fc.subarray([...EVENT_TYPES], { minLength: 1, maxLength: 2 }),
    at: fc.tuple(
      fc.constantFrom(...ANCHORS),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant<string | null>(null) },
        { weight: 1, arbitrary: fc.constantFrom<string | null>(...TIME_ZONES) },
      ),
      fc.oneof(
        fc.constantFrom(0, 0, 1, -1, HOUR, -HOUR, DAY, -DAY, 30 * MINUTE),
        fc.integer({ min: -3 * DAY, max: 3 * DAY }),
      ),
    ),
  })
  .map(({ at: [[iso, zone], otherZone, offset], ...rest }) => ({
    ...rest,
    // Mostly the zone the anchor is tricky in; sometimes another, to catch zone mix-ups.
    timeZone: otherZone ?? zone,
    now: Date.parse(iso) + offset,
  }));

function localDay(t: number, tz: string): string {
  const { year, month, day } = monthDay(t, tz);
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

export function timeEnv(
  now: number,
  timeZone: string,
  focus: string[] = ["1d"],
  hotTypes: string[] = [...EVENT_TYPES],
): TimeEnv {
  const set = new Set<number>([now - 1, now, now + 1]);
  const edges: number[] = [];
  for (const d of focus) {
    for (const sign of [-1, 1] as const) {
      const edge = shift(now, parseDuration(d), sign, timeZone);
      edges.push(edge - 1, edge, edge + 1);
    }
    // Pairs exactly `d` apart (± 1 ms) away from now, for sequences' `within`.
    for (const base of [now - 2 * DAY - 12_345, now - 400 * DAY + 1]) {
      const end = shift(base, parseDuration(d), 1, timeZone);
      edges.push(base, end - 1, end, end + 1);
    }
  }
  for (const d of DURATIONS) {
    const dur = parseDuration(d);
    for (const edge of [shift(now, dur, -1, timeZone), shift(now, dur, 1, timeZone)]) {
      set.add(edge - 1);
      set.add(edge);
      set.add(edge + 1);
    }
  }
  for (const a of ANCHOR_TIMES) if (Math.abs(a - now) < 400 * DAY) set.add(a);
  const days: string[] = [];
  const today = DateTime.fromMillis(now, { zone: timeZone }).startOf("day");
  for (const k of [-31, -2, -1, 0, 1, 2]) {
    const d = today.plus({ days: k });
    days.push(d.toISODate()!);
    // The first and last millisecond of the day, where before/after/on flip.
    const span = parseTimeValue(d.toISODate()!, timeZone);
    set.add(span.start);
    set.add(span.end);
    set.add(span.end + 1);
  }
  // The edges of the calendar periods around now, where "during" and its timers flip.
  for (const unit of ["week", "month", "quarter", "year"] as const) {
    const here = DateTime.fromMillis(now, { zone: timeZone }).startOf(unit);
    for (const k of [-1, 0, 1, 2]) {
      const edge = here
        .plus({ [`${unit}s`]: k })
        .startOf(unit)
        .toMillis();
      set.add(edge - 1);
      set.add(edge);
    }
  }
  days.push(localDay(today.endOf("month").toMillis(), timeZone));
  days.push(localDay(today.startOf("month").toMillis(), timeZone));
  return { now, timeZone, instants: [...set].sort((a, b) => a - b), days, focus, edges, hotTypes };
}

/** Mostly the case's hot types, sometimes any. */
function eventTypeArb(env: TimeEnv): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...env.hotTypes) },
    { weight: 1, arbitrary: fc.constantFrom(...EVENT_TYPES) },
  );
}

export function instantArb(env: TimeEnv): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...env.edges) },
    { weight: 3, arbitrary: fc.constantFrom(...env.instants) },
    { weight: 1, arbitrary: fc.integer({ min: env.now - 400 * DAY, max: env.now + 40 * DAY }) },
  );
}

/** A date or instant as a rule value: a local day, a UTC instant, or a wall-clock time read in the zone. */
export function timeValueArb(env: TimeEnv): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...env.days),
    instantArb(env).map((t) => new Date(t).toISOString()),
    instantArb(env).map(
      (t) =>
        DateTime.fromMillis(t, { zone: env.timeZone }).toISO({
          includeOffset: false,
          suppressMilliseconds: true,
        })!,
    ),
  );
}

function durationArb(env: TimeEnv): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...env.focus) },
    { weight: 1, arbitrary: fc.constantFrom(...DURATIONS) },
  );
}

function timePairArb(env: TimeEnv): fc.Arbitrary<[string, string]> {
  return fc.tuple(timeValueArb(env), timeValueArb(env)).map(([a, b]) => {
    const sa = parseTimeValue(a, env.timeZone);
    const sb = parseTimeValue(b, env.timeZone);
    return sa.start <= sb.end ? [a, b] : [b, a];
  });
}

const periodArb = fc.constantFrom(...CALENDAR_PERIODS);
const weekdaysArb = fc.subarray([...WEEKDAYS], { minLength: 1, maxLength: 3 });

const numberPairArb: fc.Arbitrary<[number, number]> = fc
  .tuple(fc.constantFrom(...NUMBERS), fc.constantFrom(...NUMBERS))
  .map(([a, b]) => (a <= b ? [a, b] : [b, a]));

const stringArb = fc.constantFrom(...STRINGS);
const STATUS_VALUES = ["subscribed", "unsubscribed", "non_subscribed", " Subscribed "];
const EMAIL_STATUS_VALUES = ["deliverable", "soft_bouncing", "hard_bounced", "complained", "HARD_BOUNCED"];
/** String values a rule compares a field with: the field's own vocabulary where it has one. */
function stringsFor(field: string): fc.Arbitrary<string> {
  if (field === "status") return fc.constantFrom(...STATUS_VALUES);
  if (field === "email_status") return fc.constantFrom(...EMAIL_STATUS_VALUES);
  return stringArb;
}
const listItemsArb = fc.array(fc.constantFrom(...LIST_ITEMS, "other"), { minLength: 1, maxLength: 3 });

// ---------------------------------------------------------------- contacts

/** Anniversary-prone birthdays: today's month-day in past years, nearby days, 29 February. */
function birthdayArb(env: TimeEnv): fc.Arbitrary<string | number> {
  const { month, day } = monthDay(env.now, env.timeZone);
  const near = fc.tuple(fc.constantFrom(1980, 1992, 2000, 2023), fc.integer({ min: -2, max: 9 })).map(
    ([y, k]) =>
      DateTime.fromObject({ year: y, month, day: Math.min(day, 28) }, { zone: env.timeZone })
        .plus({ days: k })
        .toISODate()!,
  );
  return fc.oneof(
    near,
    fc.constantFrom("2000-02-29", "1996-02-29", "1999-02-28", "1990-03-01", "1990-12-31", "1991-01-01"),
    fc.constantFrom("2000-02-29", "2000-02-29T23:30:00Z", "1996-02-29T00:00:00+01:00"),
    instantArb(env),
  );
}

function dateInputArb(env: TimeEnv): fc.Arbitrary<string | number> {
  return fc.oneof(
    instantArb(env),
    instantArb(env).map((t) => new Date(t).toISOString()),
    fc.constantFrom(...env.days),
  );
}

/** Usually missing, sometimes null or blank, otherwise a value. */
function maybe<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 4, arbitrary: arb },
  );
}

export function contactArb(id: string, env: TimeEnv): fc.Arbitrary<ContactInput> {
  return fc
    .record({
      email: maybe(fc.constantFrom(`${id}@example.com`, ` ${id.toUpperCase()}@Example.com `)),
      country: maybe(stringArb),
      city: maybe(stringArb),
      status: maybe(fc.constantFrom("subscribed", " Subscribed ", "unsubscribed", "non_subscribed", "")),
      email_status: maybe(fc.constantFrom(...EMAIL_STATUS_VALUES, " ")),
      tags: maybe(fc.array(fc.constantFrom(...LIST_ITEMS), { maxLength: 3 })),
      created_at: maybe(dateInputArb(env)),
      subscribed_at: maybe(dateInputArb(env)),
      plan: maybe(stringArb),
      score: maybe(fc.constantFrom(...NUMBERS)),
      vip: maybe(fc.boolean()),
      birthday: maybe(birthdayArb(env)),
      interests: maybe(fc.array(fc.constantFrom(...LIST_ITEMS), { maxLength: 3 })),
    })
    .map((r) => {
      const c: ContactInput = { id };
      const fields: NonNullable<ContactInput["fields"]> = {};
      for (const [k, v] of Object.entries(r)) {
        if (v === undefined) continue;
        if (FIELDS.get(k)?.builtin) (c as unknown as Record<string, unknown>)[k] = v;
        else fields[k] = v as string;
      }
      if (Object.keys(fields).length > 0) c.fields = fields;
      return c;
    });
}

// ---------------------------------------------------------------- events

export const PROPERTY_PATHS = [
  "amount",
  "currency",
  "items",
  "order.total",
  "order.currency",
  "a.b",
  "url",
  "when",
  "flag",
  "missing",
  "order",
] as const;

function propertiesArb(env: TimeEnv): fc.Arbitrary<{ [k: string]: JsonValue } | undefined> {
  const when = fc.oneof(
    fc.constantFrom(...env.days),
    instantArb(env).map((t) => new Date(t).toISOString()),
    fc.constant("not a date"),
    instantArb(env),
  );
  const props = fc.record(
    {
      amount: fc.oneof(fc.constantFrom(...NUMBERS), fc.constantFrom("10", "2.5", null)),
      currency: fc.constantFrom("EUR", " eur ", "USD", 5, null, ""),
      items: fc.array(fc.constantFrom<JsonValue>("a", "B", " b ", 3, null), { maxLength: 3 }),
      order: fc.oneof(
        fc.record(
          {
            total: fc.oneof(fc.constantFrom(...NUMBERS), fc.constant("7")),
            currency: fc.constantFrom("EUR", "usd"),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom<JsonValue>([1, 2], "flat", null),
      ),
      "a.b": fc.constantFrom(1, "x"),
      url: fc.constantFrom("https://shop.example/cart", "HTTPS://SHOP.example/a", "/checkout", ""),
      when,
      flag: fc.boolean(),
      bounce_type: fc.constantFrom<JsonValue>("hard", "soft", " HARD ", 5),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<{ [k: string]: JsonValue }>;
  return fc.option(props, { nil: undefined, freq: 5 });
}

export function eventArb(env: TimeEnv, contactIds: string[], effectWeight = 1): fc.Arbitrary<EventInput> {
  return fc
    .record({
      type: fc.oneof(
        { weight: 4, arbitrary: eventTypeArb(env) },
        { weight: effectWeight, arbitrary: fc.constantFrom(...EFFECT_TYPES) },
      ),
      contact_id: fc.constantFrom(...contactIds),
      t: instantArb(env),
      iso: fc.boolean(),
      properties: propertiesArb(env),
    })
    .map(({ t, iso, properties, ...rest }) => {
      const e: EventInput = { ...rest, timestamp: iso ? new Date(t).toISOString() : t };
      if (properties !== undefined) e.properties = properties;
      return e;
    });
}

// ---------------------------------------------------------------- rules

const FIELD_KEYS = FIELDS.all().map((f) => f.key);

/** A field of a type picked first, so the one boolean field is as likely as the twelve strings together. */
const fieldKeyArb = fc
  .constantFrom(...FIELD_TYPES)
  .chain((type) => fc.constantFrom(...FIELD_KEYS.filter((k) => FIELDS.get(k)!.type === type)));

export function fieldNodeArb(
  env: TimeEnv,
  keys: fc.Arbitrary<string> = fieldKeyArb,
  favourite?: string,
): fc.Arbitrary<RuleNode> {
  return keys.chain((field) => {
    const type = FIELDS.get(field)!.type;
    const ops = fc.constantFrom(...OPS_BY_TYPE[type]);
    const opArb =
      favourite && (OPS_BY_TYPE[type] as readonly string[]).includes(favourite)
        ? fc.oneof(ops, fc.constant(favourite))
        : ops;
    return opArb.chain((op) => {
      const node = (value?: unknown): RuleNode =>
        value === undefined ? { type: "field", field, op } : { type: "field", field, op, value };
      if (op === "is_set" || op === "is_not_set" || op === "is_empty" || op === "is_not_empty") {
        return fc.constant(node());
      }
      switch (type) {
        case "string":
          return (
            op === "in" || op === "not_in"
              ? fc.array(stringsFor(field), { minLength: 1, maxLength: 3 })
              : stringsFor(field)
          ).map(node);
        case "number":
          return (op === "between" ? numberPairArb : fc.constantFrom(...NUMBERS)).map(node);
        case "boolean":
          return fc.boolean().map(node);
        case "date":
          if (op === "during" || op === "anniversary_during") return periodArb.map(node);
          if (op === "weekday_in") return weekdaysArb.map(node);
          if (op === "between") return timePairArb(env).map(node);
          if (op === "before" || op === "after" || op === "on") return timeValueArb(env).map(node);
          return durationArb(env).map(node);
        case "string_list":
          if (op === "contains" || op === "not_contains") return fc.constantFrom(...LIST_ITEMS).map(node);
          return listItemsArb.map(node);
      }
    });
  });
}

const PROPERTY_OPS = [
  "is_set",
  "is_not_set",
  "eq",
  "neq",
  "in",
  "not_in",
  "contains",
  "not_contains",
  "starts_with",
  "ends_with",
  "gt",
  "gte",
  "lt",
  "lte",
  "between",
  "contains_any",
  "contains_all",
  "contains_none",
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
] as const;

function anyPropertyFilterArb(env: TimeEnv): fc.Arbitrary<PropertyFilter> {
  const scalar = fc.oneof(
    stringArb,
    fc.constantFrom(...NUMBERS),
    fc.boolean(),
    fc.constantFrom("EUR", "a", "b"),
  );
  return fc
    .record({ property: fc.constantFrom(...PROPERTY_PATHS), op: fc.constantFrom(...PROPERTY_OPS) })
    .chain(({ property, op }) => {
      const f = (value?: unknown): PropertyFilter =>
        value === undefined ? { property, op } : { property, op, value };
      switch (op) {
        case "is_set":
        case "is_not_set":
          return fc.constant(f());
        case "eq":
        case "neq":
          return scalar.map(f);
        case "in":
        case "not_in":
          return fc
            .array(fc.oneof(fc.constantFrom("EUR", "a", " B", "x"), fc.constantFrom(...NUMBERS)), {
              minLength: 1,
              maxLength: 3,
            })
            .map(f);
        case "contains":
        case "not_contains":
        case "starts_with":
        case "ends_with":
          return fc.constantFrom("a", "B", "eu", "https://", "/cart", "", "3").map(f);
        case "gt":
        case "gte":
        case "lt":
        case "lte":
          return fc.constantFrom(...NUMBERS).map(f);
        case "between":
          return fc.oneof(numberPairArb, timePairArb(env)).map(f);
        case "contains_any":
        case "contains_all":
        case "contains_none":
          return fc.array(fc.constantFrom("a", "b", " B ", "3"), { minLength: 1, maxLength: 2 }).map(f);
        case "before":
        case "after":
        case "on":
          return timeValueArb(env).map(f);
        case "during":
        case "anniversary_during":
          return periodArb.map(f);
        case "weekday_in":
          return weekdaysArb.map(f);
        default:
          return durationArb(env).map(f);
      }
    });
}

/**
 * Filters that fit the property they read (numeric operators on amounts, date
 * operators on `when`, list operators on `items`), with values chosen to sit on the
 * edge of the type rules (`10` against `"10"`), and sometimes any operator on any path.
 */
export function propertyFilterArb(env: TimeEnv): fc.Arbitrary<PropertyFilter> {
  const f = (property: string, op: string, value?: unknown): PropertyFilter =>
    value === undefined ? { property, op } : { property, op, value };
  const numeric = (property: string) =>
    fc.oneof(
      fc
        .tuple(fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte"), fc.constantFrom(...NUMBERS, 7))
        .map(([op, v]) => f(property, op, v)),
      fc
        .tuple(fc.constantFrom("eq", "neq"), fc.constantFrom("10", "2.5", "7"))
        .map(([op, v]) => f(property, op, v)),
      fc
        .tuple(
          fc.constantFrom("in", "not_in"),
          fc.array(fc.constantFrom<string | number>(10, "10", 2.5, 7, "7"), {
            minLength: 1,
            maxLength: 2,
          }),
        )
        .map(([op, v]) => f(property, op, v)),
      numberPairArb.map((v) => f(property, "between", v)),
    );
  const text = (property: string, values: string[]) =>
    fc
      .tuple(
        fc.constantFrom("eq", "neq", "contains", "not_contains", "starts_with", "ends_with"),
        fc.constantFrom(...values),
      )
      .map(([op, v]) => f(property, op, v));
  const typed = fc.oneof(
    numeric("amount"),
    numeric("order.total"),
    text("currency", ["EUR", " eur", "e", "UR", "usd"]),
    fc
      .tuple(
        fc.constantFrom("in", "not_in"),
        fc.array(fc.constantFrom<string | number>("EUR", "usd", 5), {
          minLength: 1,
          maxLength: 2,
        }),
      )
      .map(([op, v]) => f("currency", op, v)),
    text("url", ["https://", "HTTPS://shop", "/cart", "/checkout", "shop.example"]),
    fc
      .tuple(fc.constantFrom("contains", "not_contains"), fc.constantFrom("a", " b ", "3"))
      .map(([op, v]) => f("items", op, v)),
    fc
      .tuple(
        fc.constantFrom("contains_any", "contains_all", "contains_none"),
        fc.array(fc.constantFrom("a", "b", " B ", "3"), { minLength: 1, maxLength: 2 }),
      )
      .map(([op, v]) => f("items", op, v)),
    fc.tuple(fc.constantFrom("before", "after", "on"), timeValueArb(env)).map(([op, v]) => f("when", op, v)),
    timePairArb(env).map((v) => f("when", "between", v)),
    fc
      .tuple(fc.constantFrom("in_last", "more_than_ago", "in_next", "anniversary_in_next"), durationArb(env))
      .map(([op, v]) => f("when", op, v)),
    fc.tuple(fc.constantFrom("during", "anniversary_during"), periodArb).map(([op, v]) => f("when", op, v)),
    weekdaysArb.map((v) => f("when", "weekday_in", v)),
    fc.boolean().map((v) => f("flag", "eq", v)),
    fc
      .tuple(fc.constantFrom("is_set", "is_not_set"), fc.constantFrom(...PROPERTY_PATHS))
      .map(([op, p]) => f(p, op)),
  );
  return fc.oneof({ weight: 3, arbitrary: typed }, { weight: 1, arbitrary: anyPropertyFilterArb(env) });
}

export function windowArb(env: TimeEnv): fc.Arbitrary<Window> {
  return fc.oneof(
    durationArb(env).map((d) => ({ in_last: d })),
    fc
      .tuple(durationArb(env), durationArb(env))
      .filter(([a, b]) => a !== b)
      .map(([a, b]): Window => ({ between_ago: [a, b] })),
    // Which of these reaches further back depends on the instant on DST days.
    fc
      .constantFrom<[string, string]>(["1d", "23h"], ["25h", "1d"], ["1d", "25h"], ["2d", "47h"])
      .map((p): Window => ({ between_ago: p })),
    timeValueArb(env).map((t) => ({ after: t })),
    timeValueArb(env).map((t) => ({ before: t })),
    timePairArb(env).map((p) => ({ between: p })),
    periodArb.map((p): Window => ({ during: p })),
  );
}

const NUMERIC_MEASURE_OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "between",
  "is_set",
  "is_not_set",
] as const;
const DATE_MEASURE_OPS = [
  "before",
  "after",
  "on",
  "between",
  "in_last",
  "more_than_ago",
  "in_next",
  "anniversary_in_next",
  "during",
  "anniversary_during",
  "weekday_in",
  "is_set",
  "is_not_set",
] as const;
const MEASURE_VALUES = [0, 1, 2, 3, 5, 2.5, 10, 12.5, 100];
const STRING_MEASURE_OPS = [...STRING_OPS, "is_set", "is_not_set"] as const;
/** Values `most_frequent` of the generated properties can take (as given: the engine normalises). */
const MOST_FREQUENT_VALUES = ["EUR", " eur ", "usd", "b", "A", "https", "/checkout", "", "flat", "e"];
/** Properties with string values (currency, url, order.currency), others that rarely or never have one. */
const MOST_FREQUENT_PROPERTIES = [
  "currency",
  "currency",
  "url",
  "order.currency",
  "items",
  "amount",
  "missing",
];

/**
 * The value of a string measure's condition: an operator of STRING_MEASURE_OPS and a
 * value of MOST_FREQUENT_VALUES (a list for `in` / `not_in`).
 */
function stringMeasureValueArb(op: string): fc.Arbitrary<unknown> {
  if (op === "is_set" || op === "is_not_set") return fc.constant(undefined);
  const one = fc.constantFrom(...MOST_FREQUENT_VALUES);
  return op === "in" || op === "not_in" ? fc.array(one, { minLength: 1, maxLength: 3 }) : one;
}

export function eventNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  // Filters and windows narrow the matching events, so each is left out more often than not.
  const base = fc
    .record({
      event: eventTypeArb(env),
      where: fc.option(fc.array(propertyFilterArb(env), { minLength: 1, maxLength: 2 }), { freq: 2 }),
      window: fc.option(windowArb(env), { freq: 2 }),
    })
    .map(({ event, where, window }) => ({
      event,
      ...(where === null ? {} : { where }),
      ...(window === null ? {} : { window }),
    }));
  const fnArb = fc.constantFrom<MeasureFn>(
    "count",
    "count",
    "distinct",
    "sum",
    "avg",
    "min",
    "max",
    "first_at",
    "last_at",
    "most_frequent",
  );
  return fc
    .tuple(
      base,
      fnArb,
      fc.constantFrom("amount", "amount", "currency", "currency", "order.total", "items", "missing"),
    )
    .chain(([b, fn, property]) => {
      const node = { type: "event" as const, ...b };
      if (fn === "most_frequent") {
        return fc
          .tuple(fc.constantFrom(...MOST_FREQUENT_PROPERTIES), fc.constantFrom(...STRING_MEASURE_OPS))
          .chain(([p, op]) =>
            stringMeasureValueArb(op).map(
              (value): RuleNode => ({
                ...node,
                measure: { fn, property: p },
                op,
                ...(value === undefined ? {} : { value }),
              }),
            ),
          );
      }
      if (fn === "count") {
        return fc.oneof(
          fc.constant<RuleNode>(node),
          fc.constantFrom(...NUMERIC_MEASURE_OPS).chain((op) => measureOp(node, undefined, op)),
        );
      }
      const measure = fn === "first_at" || fn === "last_at" ? { fn } : { fn, property };
      const ops = fn === "first_at" || fn === "last_at" ? DATE_MEASURE_OPS : NUMERIC_MEASURE_OPS;
      return fc.constantFrom(...ops).chain((op) => measureOp(node, measure, op));
    });

  function measureOp(
    node: Extract<RuleNode, { type: "event" }>,
    measure: { fn: MeasureFn; property?: string } | undefined,
    op: string,
  ): fc.Arbitrary<RuleNode> {
    const n = (value?: unknown): RuleNode => ({
      ...node,
      ...(measure ? { measure } : {}),
      op,
      ...(value === undefined ? {} : { value }),
    });
    if (op === "is_set" || op === "is_not_set") return fc.constant(n());
    const isDate = measure?.fn === "first_at" || measure?.fn === "last_at";
    if (!isDate) {
      if (op === "between") {
        return fc
          .tuple(fc.constantFrom(...MEASURE_VALUES), fc.constantFrom(...MEASURE_VALUES))
          .map(([a, b]) => n(a <= b ? [a, b] : [b, a]));
      }
      return fc.constantFrom(...MEASURE_VALUES).map(n);
    }
    if (op === "between") return timePairArb(env).map(n);
    if (op === "before" || op === "after" || op === "on") return timeValueArb(env).map(n);
    if (op === "during" || op === "anniversary_during") return periodArb.map(n);
    if (op === "weekday_in") return weekdaysArb.map(n);
    return durationArb(env).map(n);
  }
}

/** An event count or distinct count through one filter that fits its property. */
export function filteredEventNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  return fc
    .record({
      event: eventTypeArb(env),
      filter: propertyFilterArb(env),
      measure: fc.option(
        fc
          .constantFrom("currency", "items", "amount")
          .map((property) => ({ fn: "distinct" as const, property })),
      ),
      op: fc.constantFrom("gte", "eq", "lt"),
      value: fc.constantFrom(0, 1, 2, 3),
    })
    .map(({ event, filter, measure, op, value }) => ({
      type: "event" as const,
      event,
      where: [filter],
      ...(measure === null ? {} : { measure }),
      op,
      value,
    }));
}

export function sequenceNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  const step = fc
    .record({ event: eventTypeArb(env), where: fc.option(propertyFilterArb(env), { freq: 3 }) })
    .map(({ event, where }) => (where === null ? { event } : { event, where: [where] }));
  return fc.record(
    {
      type: fc.constant("sequence" as const),
      steps: fc.array(step, { minLength: 2, maxLength: 3 }),
      within: durationArb(env),
      window: windowArb(env),
    },
    { requiredKeys: ["type", "steps", "within"] },
  );
}

/**
 * A sequence ending in 1 or 2 negative steps ("cart_added then not order_placed within
 * 1h"), after 1 to 3 steps done. Its `within` is mostly a focus duration, so start
 * events on the edges `now − within` and pairs `within` apart put deadlines exactly at
 * now and negative events exactly at deadlines.
 */
export function negativeSequenceNodeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  const step = fc
    .record({ event: eventTypeArb(env), where: fc.option(propertyFilterArb(env), { freq: 4 }) })
    .map(({ event, where }) => (where === null ? { event } : { event, where: [where] }));
  return fc
    .record(
      {
        done: fc.array(step, { minLength: 1, maxLength: 3 }),
        absent: fc.array(step, { minLength: 1, maxLength: 2 }),
        within: durationArb(env),
        window: windowArb(env),
      },
      { requiredKeys: ["done", "absent", "within"] },
    )
    .map(({ done, absent, ...rest }) => ({
      type: "sequence" as const,
      steps: [...done, ...absent.map((s) => ({ ...s, not: true as const }))],
      ...rest,
    }));
}

const BUCKET_SEEDS = ["holdout-1", "Holdout-1", "ab", "é", "a b"];
const BUCKET_VALUES = [0, 0.01, 10, 33.33, 50, 99.99, 100];
/** The ids scenarios use, so that thresholds can sit exactly on a contact's bucket. */
const SCENARIO_IDS = ["c0", "c1", "c2", "c3", "c4", "c5", "ghost"];

/** A bucket condition; its value is often some contact's exact bucket, where `lt` and `lte` differ. */
export function bucketNodeArb(): fc.Arbitrary<RuleNode> {
  return fc
    .tuple(
      fc.constantFrom(...BUCKET_SEEDS),
      fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte", "between"),
    )
    .chain(([seed, op]) => {
      const value = fc.oneof(
        fc.constantFrom(...BUCKET_VALUES),
        fc.constantFrom(...SCENARIO_IDS).map((id) => referenceBucket(seed, id)),
        fc.integer({ min: 0, max: 10_000 }).map((k) => k / 100),
      );
      const v = op === "between" ? fc.tuple(value, value).map(([a, b]) => (a <= b ? [a, b] : [b, a])) : value;
      return v.map((value): RuleNode => ({ type: "bucket", seed, op, value }));
    });
}

/** Keys of generated computed fields. */
export const COMPUTED_KEYS = ["cf0", "cf1", "cf2"] as const;

/**
 * A computed field's definition: the parts of an event condition (event type, maybe
 * filters, maybe a window) and a measure of any kind, its property picked so that it
 * often has values of the measure's type.
 */
export function computedDefinitionArb(env: TimeEnv): fc.Arbitrary<ComputedDefinition> {
  const measure = fc
    .constantFrom<MeasureFn>(
      "count",
      "distinct",
      "sum",
      "avg",
      "min",
      "max",
      "first_at",
      "last_at",
      "most_frequent",
      "most_frequent",
    )
    .chain((fn): fc.Arbitrary<ComputedDefinition["measure"]> => {
      if (fn === "count" || fn === "first_at" || fn === "last_at") return fc.constant({ fn });
      const props =
        fn === "most_frequent"
          ? MOST_FREQUENT_PROPERTIES
          : fn === "distinct"
            ? ["currency", "items", "amount"]
            : ["amount", "amount", "order.total", "currency"];
      return fc.constantFrom(...props).map((property) => ({ fn, property }));
    });
  return fc
    .record({
      event: eventTypeArb(env),
      where: fc.option(fc.array(propertyFilterArb(env), { minLength: 1, maxLength: 2 }), { freq: 3 }),
      window: fc.option(windowArb(env), { freq: 2 }),
      measure,
    })
    .map(({ event, where, window, measure }) => ({
      event,
      ...(where === null ? {} : { where }),
      ...(window === null ? {} : { window }),
      measure,
    }));
}

/** 1 to 3 computed fields, keyed `cf0`, `cf1`, … */
export function computedFieldsArb(env: TimeEnv): fc.Arbitrary<[string, ComputedDefinition][]> {
  return fc
    .array(computedDefinitionArb(env), { minLength: 1, maxLength: COMPUTED_KEYS.length })
    .map((defs) => defs.map((d, i): [string, ComputedDefinition] => [COMPUTED_KEYS[i], d]));
}

/** A field condition on one of `defs`, with an operator and value of its measure's type. */
export function computedFieldNodeArb(
  env: TimeEnv,
  defs: readonly [string, ComputedDefinition][],
): fc.Arbitrary<RuleNode> {
  return fc.constantFrom(...defs).chain(([field, def]) => {
    const type = computedType(def);
    const ops =
      type === "string" ? STRING_MEASURE_OPS : type === "date" ? DATE_MEASURE_OPS : NUMERIC_MEASURE_OPS;
    return fc.constantFrom<string>(...ops).chain((op) => {
      const node = (value?: unknown): RuleNode =>
        value === undefined ? { type: "field", field, op } : { type: "field", field, op, value };
      if (op === "is_set" || op === "is_not_set") return fc.constant(node());
      if (type === "string") return stringMeasureValueArb(op).map(node);
      if (type === "number") {
        if (op === "between") {
          return fc
            .tuple(fc.constantFrom(...MEASURE_VALUES), fc.constantFrom(...MEASURE_VALUES))
            .map(([a, b]) => node(a <= b ? [a, b] : [b, a]));
        }
        return fc.constantFrom(...MEASURE_VALUES).map(node);
      }
      if (op === "between") return timePairArb(env).map(node);
      if (op === "before" || op === "after" || op === "on") return timeValueArb(env).map(node);
      if (op === "during" || op === "anniversary_during") return periodArb.map(node);
      if (op === "weekday_in") return weekdaysArb.map(node);
      return durationArb(env).map(node);
    });
  });
}

/** How often each kind of leaf appears in generated rules (0 leaves it out). */
export interface LeafWeights {
  field: number;
  /** Field conditions on date fields only (anniversaries, DST, month ends). */
  dateField: number;
  /** Field conditions on `status` and `email_status`, which events change (SPEC §2). */
  profile: number;
  event: number;
  /** Counts and distinct counts of events through exactly one property filter. */
  filtered: number;
  sequence: number;
  /** Sequences ending in negative steps. */
  negativeSequence: number;
  segment: number;
  /** Random buckets of the contact id. */
  bucket: number;
  /** Conditions on the scenario's computed fields (only with `ScenarioOptions.computed`). */
  computed?: number;
  /**
   * Rank conditions and quintile scores (relative-arbitraries.ts); the reference needs
   * `ReferenceContext.population` for them.
   */
  relative?: number;
}

export const DEFAULT_LEAVES: LeafWeights = {
  field: 4,
  dateField: 0,
  profile: 1,
  event: 4,
  filtered: 1,
  sequence: 2,
  negativeSequence: 1,
  segment: 1,
  bucket: 1,
};

/** No leaf of any kind: a test names the kinds it generates on top of it. */
export const NO_LEAVES: LeafWeights = {
  field: 0,
  dateField: 0,
  profile: 0,
  event: 0,
  filtered: 0,
  sequence: 0,
  negativeSequence: 0,
  segment: 0,
  bucket: 0,
};

/** Date fields, the birthday and anniversaries above all (they are where 29 February bites). */
const dateFieldNodeArb = (env: TimeEnv) =>
  fieldNodeArb(
    env,
    fc.constantFrom("birthday", "birthday", "created_at", "subscribed_at"),
    "anniversary_in_next",
  );

export function ruleArb(
  env: TimeEnv,
  segmentIds: readonly string[],
  depth = 3,
  weights: LeafWeights = DEFAULT_LEAVES,
  computed: readonly [string, ComputedDefinition][] = [],
): fc.Arbitrary<RuleNode> {
  const leaves: fc.WeightedArbitrary<RuleNode>[] = [];
  if ((weights.computed ?? 0) > 0 && computed.length > 0) {
    leaves.push({ weight: weights.computed!, arbitrary: computedFieldNodeArb(env, computed) });
  }
  if (weights.field > 0) leaves.push({ weight: weights.field, arbitrary: fieldNodeArb(env) });
  if (weights.dateField > 0) leaves.push({ weight: weights.dateField, arbitrary: dateFieldNodeArb(env) });
  if (weights.profile > 0) {
    leaves.push({
      weight: weights.profile,
      arbitrary: fieldNodeArb(env, fc.constantFrom("status", "email_status")),
    });
  }
  if (weights.filtered > 0) leaves.push({ weight: weights.filtered, arbitrary: filteredEventNodeArb(env) });
  if (weights.event > 0) leaves.push({ weight: weights.event, arbitrary: eventNodeArb(env) });
  if (weights.sequence > 0) leaves.push({ weight: weights.sequence, arbitrary: sequenceNodeArb(env) });
  if (weights.negativeSequence > 0) {
    leaves.push({ weight: weights.negativeSequence, arbitrary: negativeSequenceNodeArb(env) });
  }
  if (weights.bucket > 0) leaves.push({ weight: weights.bucket, arbitrary: bucketNodeArb() });
  if ((weights.relative ?? 0) > 0)
    leaves.push({ weight: weights.relative!, arbitrary: relativeNodeArb(env) });
  if (segmentIds.length > 0 && weights.segment > 0) {
    leaves.push({
      weight: weights.segment,
      arbitrary: fc.record({
        type: fc.constant("segment" as const),
        op: fc.constantFrom("in" as const, "not_in" as const),
        segment: fc.constantFrom(...segmentIds),
      }),
    });
  }
  const leaf = fc.oneof(...leaves);
  if (depth <= 0) return leaf;
  const sub = ruleArb(env, segmentIds, depth - 1, weights, computed);
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("and" as const, "or" as const), fc.array(sub, { minLength: 1, maxLength: 3 }))
        .map(([type, conditions]) => ({ type, conditions })),
    },
    { weight: 1, arbitrary: sub.map((condition) => ({ type: "not" as const, condition })) },
  );
}

// ---------------------------------------------------------------- whole cases

/** How the data reaches the engine: one by one, in bulk, or both, interleaved. */
export interface LoadPlan {
  /** Profiles through loadContacts rather than upsertContact. */
  contactsBulk: boolean;
  /** Upsert a different profile first, so the full-replace path is exercised. */
  staleFirst: boolean[];
  /** Events split: [0, split) via loadEvents, the rest one by one with addEvent. */
  eventSplit: number;
  /** Whether events are loaded before contacts. */
  eventsFirst: boolean;
}

export interface Scenario {
  env: TimeEnv;
  contacts: ContactInput[];
  /** Earlier profiles of the same ids, upserted before `contacts` and replaced by them. */
  stale: ContactInput[];
  /** Every contact id (profiles and event-only contacts). */
  ids: string[];
  events: EventInput[];
  /** Computed fields to declare before the segments (none unless `ScenarioOptions.computed`). */
  computed: [string, ComputedDefinition][];
  /** Segments to define in order; each refers only to those before it and to the defaults. */
  segments: { id: string; rule: RuleNode }[];
  /** Rules checked on the same data (several per case: building the engine is the expensive part). */
  rules: RuleNode[];
  plan: LoadPlan;
}

export const DEFAULT_IDS = defaultSegments().map((s) => s.id);

/** A list of segments in dependency order: s<i> refers only to s<j>, j < i, and to `base`. */
function segmentsArb(
  env: TimeEnv,
  base: readonly string[],
  n: number,
  leaves: LeafWeights = DEFAULT_LEAVES,
  computed: readonly [string, ComputedDefinition][] = [],
): fc.Arbitrary<{ id: string; rule: RuleNode }[]> {
  let acc: fc.Arbitrary<{ id: string; rule: RuleNode }[]> = fc.constant([]);
  // Segments have the default leaves, plus conditions on computed fields when there are any.
  const weights =
    computed.length > 0 ? { ...DEFAULT_LEAVES, computed: leaves.computed ?? 0 } : DEFAULT_LEAVES;
  for (let i = 0; i < n; i++) {
    const ids = [...base, ...Array.from({ length: i }, (_, j) => `s${j}`)];
    acc = fc
      .tuple(acc, ruleArb(env, ids, 2, weights, computed))
      .map(([list, rule]) => [...list, { id: `s${i}`, rule }]);
  }
  return acc;
}

/** Events cloned at the same timestamp, and copies of the same event. */
function withDuplicates(events: EventInput[], picks: number[]): EventInput[] {
  if (events.length === 0) return events;
  const out = [...events];
  for (const p of picks) {
    const e = events[p % events.length];
    const types = [...EVENT_TYPES, ...EFFECT_TYPES];
    // Same type and instant, other values: ties of most_frequent broken by the value.
    const other = (): EventInput => ({
      ...e,
      properties: { ...e.properties, currency: p % 8 === 3 ? "usd" : "EUR", url: "/checkout" },
    });
    out.push(p % 2 === 0 ? { ...e } : p % 4 === 3 ? other() : { ...e, type: types[p % types.length] });
  }
  return out;
}

/** The negative sequences anywhere in `rules`. */
function negativeSequences(rules: RuleNode[]): SequenceNode[] {
  const out: SequenceNode[] = [];
  const visit = (r: RuleNode): void => {
    if (r.type === "and" || r.type === "or") r.conditions.forEach(visit);
    else if (r.type === "not") visit(r.condition);
    else if (r.type === "sequence" && r.steps.some((st) => st.not === true)) out.push(r);
  };
  rules.forEach(visit);
  return out;
}

/**
 * Events placed on the deadlines of the rules' negative sequences: per pick, an event of
 * a negative step `within` after one of the contact's events (± 1 ms), or an event of the
 * first step `within` before now, so that its deadline is now itself (± 1 ms).
 */
function withDeadlineEvents(
  events: EventInput[],
  rules: RuleNode[],
  picks: [number, number, number][],
  env: TimeEnv,
): EventInput[] {
  // The same contact and properties (so `where` filters pass as often as on e), another type and time.
  const like = (e: EventInput, type: string, timestamp: number): EventInput =>
    e.properties === undefined
      ? { type, contact_id: e.contact_id, timestamp }
      : { type, contact_id: e.contact_id, timestamp, properties: e.properties };
  const seqs = negativeSequences(rules);
  if (seqs.length === 0 || events.length === 0) return events;
  const out = [...events];
  for (const [p, q, delta] of picks) {
    const seq = seqs[p % seqs.length];
    const within = parseDuration(seq.within);
    const e = events[q % events.length];
    if (q % 3 === 0) {
      const first = seq.steps[0];
      const t = shift(env.now, within, -1, env.timeZone) + delta;
      out.push(like(e, first.event, t));
      continue;
    }
    const absent = seq.steps.filter((st) => st.not === true);
    const b = absent[p % absent.length];
    const t = shift(eventTime(e, env.timeZone), within, 1, env.timeZone) + delta;
    out.push(like(e, b.event, t));
  }
  return out;
}

export interface ScenarioOptions {
  maxContacts?: number;
  maxEvents?: number;
  /** Depth of generated rules (and/or/not levels above the leaves). */
  depth?: number;
  leaves?: LeafWeights;
  /** Most generated segments to define (default 3). */
  maxSegments?: number;
  /** Weight of events with profile effects, against 4 for the others (default 1). */
  effectWeight?: number;
  /** Add events exactly at (and 1 ms around) the deadlines of negative sequences. */
  deadlineEvents?: boolean;
  /** Declare 1 to 3 computed fields, used by rules with the weight `leaves.computed`. */
  computed?: boolean;
}

export function scenarioArb(opts: ScenarioOptions = {}): fc.Arbitrary<Scenario> {
  const maxContacts = opts.maxContacts ?? 6;
  const maxEvents = opts.maxEvents ?? 30;
  const depth = opts.depth ?? 3;
  const leaves = opts.leaves ?? DEFAULT_LEAVES;
  return nowArb.chain(({ now, timeZone, focus, hotTypes }) => {
    const env = timeEnv(now, timeZone, focus, hotTypes);
    return fc.integer({ min: 1, max: maxContacts }).chain((nContacts) => {
      const profileIds = Array.from({ length: nContacts }, (_, i) => `c${i}`);
      const allIds = [...profileIds, "ghost"];
      const computedArb = opts.computed
        ? computedFieldsArb(env)
        : fc.constant([] as [string, ComputedDefinition][]);
      return fc
        .tuple(fc.integer({ min: 0, max: opts.maxSegments ?? 3 }), computedArb)
        .chain(([nSegments, computed]) =>
          segmentsArb(env, DEFAULT_IDS, nSegments, leaves, computed).chain((segments) =>
            fc
              .record({
                contacts: fc.tuple(...profileIds.map((id) => contactArb(id, env))),
                stale: fc.tuple(...profileIds.map((id) => contactArb(id, env))),
                staleFirst: fc.array(fc.boolean(), { minLength: nContacts, maxLength: nContacts }),
                events: fc
                  .integer({ min: 0, max: maxEvents })
                  .chain((n) =>
                    fc.array(eventArb(env, allIds, opts.effectWeight), { minLength: n, maxLength: n }),
                  ),
                dupes: fc.array(fc.nat(), { maxLength: 4 }),
                deadlinePicks: opts.deadlineEvents
                  ? fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(-1, 0, 0, 1)), { maxLength: 6 })
                  : fc.constant([] as [number, number, number][]),
                rules: fc.array(
                  ruleArb(env, [...DEFAULT_IDS, ...segments.map((s) => s.id)], depth, leaves, computed),
                  {
                    minLength: 1,
                    maxLength: 5,
                  },
                ),
                contactsBulk: fc.boolean(),
                eventSplit: fc.nat(),
                eventsFirst: fc.boolean(),
              })
              .map((r) => {
                const events = withDeadlineEvents(
                  withDuplicates(r.events, r.dupes),
                  r.rules,
                  r.deadlinePicks,
                  env,
                );
                const ids = [...profileIds];
                if (events.some((e) => e.contact_id === "ghost")) ids.push("ghost");
                return printable({
                  env,
                  contacts: r.contacts,
                  stale: r.stale.filter((_, i) => r.staleFirst[i]),
                  ids,
                  events,
                  computed,
                  segments,
                  rules: r.rules,
                  plan: {
                    contactsBulk: r.contactsBulk,
                    staleFirst: r.staleFirst,
                    eventSplit: events.length === 0 ? 0 : r.eventSplit % (events.length + 1),
                    eventsFirst: r.eventsFirst,
                  },
                });
              }),
          ),
        );
    });
  });
}

/**
 * Counterexamples print without the instant pools (noise) and with `now` as an ISO
 * string too, so a failure can be pasted into a unit test.
 */
function printable<T extends { env: TimeEnv }>(sc: T): T {
  Object.defineProperty(sc, fc.toStringMethod, {
    enumerable: false,
    value: () => {
      const { env, ...rest } = sc;
      const { now, timeZone, focus } = env;
      return fc.stringify({
        now,
        nowIso: new Date(now).toISOString(),
        timeZone,
        focus,
        ...rest,
      });
    },
  });
  return sc;
}

// ---------------------------------------------------------------- default segments

export interface DefaultsScenario {
  env: TimeEnv;
  settings: DefaultSegmentSettings;
  contacts: ContactInput[];
  events: EventInput[];
  /** Profiles through loadContacts (no write times) rather than upsertContact. */
  contactsBulk: boolean;
}

/**
 * Contacts aimed at the default segments' edges: subscribed or not, subscribed and
 * created right around `now − inactiveDays`, opens around the same edge, send counts
 * around the exclusion threshold.
 */
export function defaultsScenarioArb(): fc.Arbitrary<DefaultsScenario> {
  return fc
    .tuple(
      nowArb,
      fc.record({ inactiveDays: fc.constantFrom(1, 30, 90), excludedMinSent: fc.constantFrom(1, 5) }),
    )
    .chain(([{ now, timeZone }, settings]) => {
      const env = timeEnv(now, timeZone, [`${settings.inactiveDays}d`]);
      const edge = shift(now, { n: settings.inactiveDays, unit: "d" }, -1, timeZone);
      const near = fc.oneof(
        fc.constantFrom(edge - 1, edge, edge + 1, edge - DAY, edge + HOUR, now),
        instantArb(env),
      );
      const ids = ["c0", "c1", "c2", "c3", "c4", "c5"];
      const contact = (id: string) =>
        fc
          .record({
            status: fc.constantFrom("subscribed", "subscribed", "unsubscribed", undefined),
            email_status: fc.constantFrom("soft_bouncing", "hard_bounced", "deliverable", undefined),
            subscribed_at: fc.option(near, { nil: undefined }),
            created_at: fc.option(near, { nil: undefined }),
          })
          .map((r) => {
            const c: ContactInput = { id };
            for (const [k, v] of Object.entries(r)) {
              if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
            }
            return c;
          });
      const event = fc
        .record({
          type: fc.constantFrom(
            "email_opened",
            "email_clicked",
            "email_sent",
            "email_sent",
            "order_placed",
            "offer_granted",
            "email_bounced",
            "email_unsubscribed",
            "email_complained",
          ),
          contact_id: fc.constantFrom(...ids, "ghost"),
          timestamp: near,
          hard: fc.boolean(),
        })
        .map(
          ({ hard, ...e }): EventInput =>
            e.type === "email_bounced" ? { ...e, properties: { bounce_type: hard ? "hard" : "soft" } } : e,
        );
      return fc
        .record({
          env: fc.constant(env),
          settings: fc.constant(settings),
          contacts: fc.tuple(...ids.map(contact)),
          events: fc.array(event, { maxLength: 40 }),
          contactsBulk: fc.boolean(),
        })
        .map(printable);
    });
}
