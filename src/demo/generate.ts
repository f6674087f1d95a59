/**
 * The data set of the benchmarks and of `slice serve --demo`: contacts and events drawn
 * from seeded generators. Both are iterators, so 10 million events are never held as
 * objects at once, and the same spec replays the same data (first into the engine, then
 * into DuckDB).
 */
import type { ContactInput, EventInput } from "../engine/index.ts";
import { AliasTable, Categorical, int, type Rng, rng, zipfWeights } from "./random.ts";

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** Fixed so that every run, and every machine, measures the same answer. */
export const NOW = Date.parse("2026-11-01T00:00:00Z");

/** The workspace time zone of the engine the queries run on; calendar conditions are read in it. */
export const TIME_ZONE = "UTC";

export interface DatasetSpec {
  seed: number;
  contacts: number;
  events: number;
  /** The instant the data is generated against (events are in the 365 days before it). */
  now: number;
}

export const DEFAULT_SPEC: DatasetSpec = { seed: 1, contacts: 1_000_000, events: 10_000_000, now: NOW };

// Independent streams per concern, so changing how events are drawn never changes the contacts.
const STREAM_CONTACTS = 1;
const STREAM_ACTIVITY = 2;
const STREAM_EVENTS = 3;
const STREAM_SAMPLE = 4;
const STREAM_BIRTHDAYS = 5;

/** By rough popularity; the weights are Zipf over this order (US ≈ 22 %, GB ≈ 11 %, CA ≈ 4 %). */
// biome-ignore format: a table reads better as one
export const COUNTRIES = [
  "US", "GB", "DE", "FR", "CA", "AU", "ES", "IT", "NL", "BR",
  "IN", "MX", "SE", "BE", "CH", "PL", "IE", "AT", "DK", "NO",
  "FI", "PT", "JP", "NZ", "SG", "ZA", "AR", "CL", "CO", "IL",
  "AE", "CZ", "RO", "HU", "GR", "TR", "KR", "PH", "ID", "MY",
  "TH", "VN", "NG", "KE", "EG", "SA", "UA", "SK", "HR", "LT",
] as const;

const countryWeights = zipfWeights(COUNTRIES.length, 1);
// 1 % of contacts have no country.
const country = new Categorical<string | null>(
  [...COUNTRIES, null],
  [...countryWeights, countryWeights.reduce((a, b) => a + b) / 99],
);
// A few contacts have no plan, so `plan neq free` meets a missing value (SPEC §3.2: it holds).
export const PLANS = ["free", "pro", "enterprise"] as const;
const plan = new Categorical<string | null>([...PLANS, null], [70, 20, 8, 2]);
export const STATUSES = ["subscribed", "unsubscribed", "non_subscribed"] as const;
const status = new Categorical(STATUSES, [90, 6, 4]);
export const EMAIL_STATUSES = ["deliverable", "soft_bouncing", "hard_bounced", "complained"] as const;
const emailStatus = new Categorical(EMAIL_STATUSES, [96.5, 2, 1, 0.5]);

export const EVENT_TYPES = [
  "email_sent",
  "email_opened",
  "email_clicked",
  "page_viewed",
  "order_placed",
  "cart_added",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
const eventType = new Categorical<EventType>(EVENT_TYPES, [50, 25, 8, 12, 3, 2]);
export const CURRENCIES = ["USD", "EUR", "GBP"] as const;
const currency = new Categorical(CURRENCIES, [60, 25, 15]);

const CAMPAIGNS = 200;
const PAGES = 1000;
const MINUTES_PER_YEAR = 365 * 24 * 60;

export function contactId(i: number): string {
  return `c${i}`;
}

/** The dense number behind a generated contact id (`c123` → 123). */
export function contactNumber(id: string): number {
  return Number(id.slice(1));
}

export interface ContactOptions {
  /**
   * Give contacts the custom date field `birthday` (Q8). Only the query sections declare
   * it; the store, ingest and HTTP data sets stay as they were.
   */
  birthday?: boolean;
}

/** 1950-01-01 to 2007-12-31 in days since the epoch: 58 years, 14 of them leap years (29 February included). */
const BIRTH_FIRST_DAY = Date.UTC(1950, 0, 1) / DAY;
const BIRTH_DAYS = Date.UTC(2008, 0, 1) / DAY - BIRTH_FIRST_DAY;

/** A birthday as a calendar date, `YYYY-MM-DD`, or null for the 15 % of contacts without one. */
function birthday(r: Rng): string | null {
  if (r() < 0.15) return null;
  return new Date((BIRTH_FIRST_DAY + int(r, BIRTH_DAYS)) * DAY).toISOString().slice(0, 10);
}

export function* generateContacts(spec: DatasetSpec, opts: ContactOptions = {}): Generator<ContactInput> {
  const r = rng(spec.seed, STREAM_CONTACTS);
  // A stream of its own, so the other fields are drawn exactly as without birthdays.
  const rb = opts.birthday ? rng(spec.seed, STREAM_BIRTHDAYS) : null;
  const twoYears = 730 * DAY;
  for (let i = 0; i < spec.contacts; i++) {
    const createdAt = spec.now - Math.floor(r() * twoYears);
    const st = status.sample(r);
    const es = emailStatus.sample(r);
    const fields: NonNullable<ContactInput["fields"]> = { plan: plan.sample(r) };
    const c: ContactInput = {
      id: contactId(i),
      email: `user${i}@example.com`,
      status: st,
      email_status: es,
      created_at: createdAt,
      fields,
    };
    const cc = country.sample(r);
    if (cc !== null) c.country = cc;
    // Never opted in means no opt-in time; the others opted in once, after creation.
    if (st !== "non_subscribed") c.subscribed_at = createdAt + Math.floor(r() * (spec.now - createdAt));
    if (rb !== null) {
      const b = birthday(rb);
      if (b !== null) fields.birthday = b;
    }
    yield c;
  }
}

/**
 * How active each contact is: Pareto(α = 1.5) weights, so most contacts have a
 * handful of events a year and a few have tens of thousands.
 */
function activity(spec: DatasetSpec): AliasTable {
  const r = rng(spec.seed, STREAM_ACTIVITY);
  const w = new Float64Array(spec.contacts);
  for (let i = 0; i < w.length; i++) w[i] = (1 - r()) ** (-1 / 1.5);
  return new AliasTable(w);
}

/** Amounts in quarters: exact in binary floating point, so sums do not depend on summation order. */
function amount(r: Rng): number {
  const u = r();
  return (20 + Math.floor(u * u * 1980)) / 4;
}

export function* generateEvents(spec: DatasetSpec): Generator<EventInput> {
  if (spec.contacts === 0) return;
  const who = activity(spec);
  const r = rng(spec.seed, STREAM_EVENTS);
  for (let k = 0; k < spec.events; k++) {
    const c = who.sample(r);
    const type = eventType.sample(r);
    // Whole minutes, so events land exactly on window edges now and then (`in_last 30d` excludes now − 30d).
    const timestamp = spec.now - int(r, MINUTES_PER_YEAR) * MINUTE;
    let properties: EventInput["properties"];
    switch (type) {
      case "email_sent":
      case "email_opened":
      case "email_clicked":
        properties = { campaign_id: int(r, CAMPAIGNS) };
        break;
      case "order_placed":
        properties = { amount: amount(r), currency: currency.sample(r) };
        break;
      case "page_viewed":
        properties = { url: `https://shop.example.com/products/${int(r, PAGES)}` };
        break;
      case "cart_added":
        properties = undefined;
        break;
    }
    const e: EventInput = { type, contact_id: contactId(c), timestamp };
    if (properties) e.properties = properties;
    yield e;
  }
}

/**
 * Contacts to re-evaluate one at a time, drawn like the contacts of incoming events
 * (an event is what makes a contact need re-evaluation), so busy contacts come up
 * as often as they would in production.
 */
export function sampleContacts(spec: DatasetSpec, n: number): Int32Array {
  if (spec.contacts === 0) return new Int32Array(0);
  const out = new Int32Array(n);
  const who = activity(spec);
  const r = rng(spec.seed, STREAM_SAMPLE);
  for (let i = 0; i < n; i++) out[i] = who.sample(r);
  return out;
}
