/**
 * The benchmark queries, each written twice: as a Slice rule (SPEC §3.1) and as DuckDB
 * SQL with the same meaning over the tables of `duckdb.ts`.
 *
 * Equivalences the SQL relies on:
 * - strings are stored trimmed and lower-cased (as Slice normalises them), so `=` is
 *   Slice's case-insensitive comparison;
 * - a missing value satisfies the negative operators (SPEC §3.2), hence
 *   `IS DISTINCT FROM` for `neq`, never `<>`;
 * - `in_last D` is `now − D < t ≤ now`; in a UTC workspace a day is exactly 86 400 000 ms;
 * - `sum` adds the numeric values of the matching events and is 0 when there are none;
 * - every event's contact exists (Slice creates unknown contacts; the generator never
 *   refers to one it did not create), so grouping events by contact needs no join;
 * - a date field given as a date is the start of that day in the workspace zone, so
 *   its calendar month there is the month of the DATE column that holds the same date.
 */

import { DAY } from "../src/demo/generate.ts";
import type { RuleNode } from "../src/rules/index.ts";

export const QUERY_IDS = ["Q1", "Q2", "Q3", "Q4", "Q6", "Q7", "Q8"] as const;
export type QueryId = (typeof QUERY_IDS)[number];

export interface BenchQuery {
  id: QueryId;
  title: string;
  rule: RuleNode;
  /** SQL selecting the ids of the matching contacts, one row each; calendar periods are read in `timeZone`. */
  sql(now: number, timeZone: string): string;
}

/** `in_last` as SQL over the `ts` column (epoch ms). */
function inLast(now: number, days: number): string {
  return `ts > ${now - days * DAY} AND ts <= ${now}`;
}

export const Q1: BenchQuery = {
  id: "Q1",
  title: "country in (US, CA, GB), plan ≠ free, subscribed, not hard bounced",
  rule: {
    type: "and",
    conditions: [
      { type: "field", field: "country", op: "in", value: ["US", "CA", "GB"] },
      { type: "field", field: "plan", op: "neq", value: "free" },
      { type: "field", field: "status", op: "eq", value: "subscribed" },
      { type: "field", field: "email_status", op: "neq", value: "hard_bounced" },
    ],
  },
  sql: () => `
    SELECT id FROM contacts
    WHERE country IN ('us', 'ca', 'gb')
      AND plan IS DISTINCT FROM 'free'
      AND status = 'subscribed'
      AND email_status IS DISTINCT FROM 'hard_bounced'`,
};

export const Q2: BenchQuery = {
  id: "Q2",
  title: "opened ≥ 3 and clicked 0 in the last 30 days",
  rule: {
    type: "and",
    conditions: [
      { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 3 },
      { type: "event", event: "email_clicked", window: { in_last: "30d" }, op: "eq", value: 0 },
    ],
  },
  sql: (now) => `
    SELECT contact AS id FROM events
    WHERE type IN ('email_opened', 'email_clicked') AND ${inLast(now, 30)}
    GROUP BY contact
    HAVING count(*) FILTER (WHERE type = 'email_opened') >= 3
       AND count(*) FILTER (WHERE type = 'email_clicked') = 0`,
};

export const Q3: BenchQuery = {
  id: "Q3",
  title: "subscribed and no open in the last 90 days",
  rule: {
    type: "and",
    conditions: [
      { type: "field", field: "status", op: "eq", value: "subscribed" },
      { type: "event", event: "email_opened", window: { in_last: "90d" }, op: "eq", value: 0 },
    ],
  },
  // DuckDB's ANTI JOIN means NOT EXISTS; it runs about twice as fast as NOT EXISTS written out.
  sql: (now) => `
    SELECT c.id FROM contacts c
    ANTI JOIN (
      SELECT contact FROM events WHERE type = 'email_opened' AND ${inLast(now, 90)}
    ) o ON o.contact = c.id
    WHERE c.status = 'subscribed'`,
};

export const Q4: BenchQuery = {
  id: "Q4",
  title: "order amount in the last 180 days > 200, or cart in the last 7 days and no order since",
  rule: {
    type: "or",
    conditions: [
      {
        type: "event",
        event: "order_placed",
        window: { in_last: "180d" },
        measure: { fn: "sum", property: "amount" },
        op: "gt",
        value: 200,
      },
      {
        type: "and",
        conditions: [
          { type: "event", event: "cart_added", window: { in_last: "7d" }, op: "gte", value: 1 },
          { type: "event", event: "order_placed", window: { in_last: "7d" }, op: "eq", value: 0 },
        ],
      },
    ],
  },
  // One pass over the 180-day window: both 7-day windows lie inside it.
  sql: (now) => `
    SELECT contact AS id FROM events
    WHERE type IN ('order_placed', 'cart_added') AND ${inLast(now, 180)}
    GROUP BY contact
    HAVING coalesce(sum(amount) FILTER (WHERE type = 'order_placed'), 0) > 200
        OR (count(*) FILTER (WHERE type = 'cart_added' AND ${inLast(now, 7)}) >= 1
            AND count(*) FILTER (WHERE type = 'order_placed' AND ${inLast(now, 7)}) = 0)`,
};

/**
 * A rank condition (docs/rules.md, "Rank conditions"): every contact's sum of order
 * amounts over 365 days, 0 without orders, and the contacts whose sum is reached or
 * beaten by at most 10 % of all contacts — `count(*) OVER (ORDER BY v DESC)` counts,
 * for each row, the rows whose value is at least its own (the default frame runs to
 * the row's last peer). Integers on both sides of the comparison, as in Slice.
 */
export const Q6: BenchQuery = {
  id: "Q6",
  title: "top 10 % spenders: sum(order_placed.amount) over the last 365 days",
  rule: {
    type: "event",
    event: "order_placed",
    window: { in_last: "365d" },
    measure: { fn: "sum", property: "amount" },
    rank: { direction: "top", percent: 10 },
  },
  sql: (now) => `
    SELECT id FROM (
      SELECT id,
        count(*) OVER (ORDER BY v DESC) AS at_least,
        count(*) OVER () AS n
      FROM (
        SELECT c.id, coalesce(o.total, 0) AS v
        FROM contacts c
        LEFT JOIN (
          SELECT contact, sum(amount) AS total FROM events
          WHERE type = 'order_placed' AND ${inLast(now, 365)}
          GROUP BY contact
        ) o ON o.contact = c.id
      )
    )
    WHERE at_least * 10000 <= n * 1000`,
};

const HOUR = 3_600_000;

/**
 * A negative sequence step (docs/rules.md, "Negative steps"): some cart in the window
 * whose deadline, the cart plus 1 h, has come (`ts + 1 h ≤ now`) with no order after it
 * and at or before the deadline (`ts < o.ts ≤ ts + 1 h`; an order at the cart's own
 * millisecond is not after it). Orders count wherever they fall relative to the window,
 * but every order that can cancel such a cart lies in (now − 30 d, now], which lets the
 * anti join read one range of the orders. `h` is an exact length of time.
 */
export const Q7: BenchQuery = {
  id: "Q7",
  title: "cart abandoned: cart_added, then no order_placed within 1 h, in the last 30 days",
  rule: {
    type: "sequence",
    steps: [{ event: "cart_added" }, { event: "order_placed", not: true }],
    within: "1h",
    window: { in_last: "30d" },
  },
  sql: (now) => `
    SELECT DISTINCT c.contact AS id
    FROM (
      SELECT contact, ts FROM events
      WHERE type = 'cart_added' AND ${inLast(now, 30)} AND ts + ${HOUR} <= ${now}
    ) c
    ANTI JOIN (
      SELECT contact, ts FROM events WHERE type = 'order_placed' AND ${inLast(now, 30)}
    ) o ON o.contact = c.contact AND o.ts > c.ts AND o.ts <= c.ts + ${HOUR}`,
};

/**
 * `anniversary_during this_month`: the birthday's month is now's month, both in the
 * workspace zone. A 29 February birthday counts on 28 February in common years, which
 * is still February, so for a whole month comparing months is exact.
 */
export const Q8: BenchQuery = {
  id: "Q8",
  title: "birthday this month (workspace time zone)",
  rule: { type: "field", field: "birthday", op: "anniversary_during", value: "this_month" },
  sql: (now, timeZone) => `
    SELECT id FROM contacts
    WHERE month(birthday) = month(timezone('${timeZone}', to_timestamp(${now} / 1000)))`,
};

/** The queries timed on both sides; the live section builds its segments from the first four. */
export const QUERIES: readonly BenchQuery[] = [Q1, Q2, Q3, Q4, Q6, Q7, Q8];
