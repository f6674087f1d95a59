/**
 * The live-membership property shared by live-vs-scratch.test.ts and
 * live-dense.test.ts: after every step of a random interleaving of writes, segment
 * definitions, overrides and clock moves, the maintained membership of every segment
 * equals a from-scratch evaluation at that instant, and replaying every emitted change
 * from empty gives the maintained membership. The two files differ only in the mix of
 * steps they generate (`stepArb`).
 */
import fc from "fast-check";
import { expect } from "vitest";
import { type ContactInput, Engine, type EventInput, type MembershipChange } from "../../src/engine/index.ts";
import { CALENDAR_PERIODS } from "../../src/rules/calendar.ts";
import type { ComputedDefinition } from "../../src/rules/computed.ts";
import type { FieldDef } from "../../src/rules/fields.ts";
import type { RuleNode } from "../../src/rules/index.ts";

export const T0 = Date.parse("2026-03-28T22:00:00Z"); // near the Paris DST switch and a month end
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const EVENT_TYPES = [
  "email_opened",
  "email_clicked",
  "cart_added",
  "order_placed",
  "email_bounced",
  "email_unsubscribed",
];

const duration = fc.constantFrom("5m", "30m", "1h", "2h", "1d", "2d", "1w", "1mo");
const eventType = fc.constantFrom(...EVENT_TYPES);
const countOp = fc.constantFrom("eq", "gte", "gt", "lt", "lte");
const period = fc.constantFrom(...CALENDAR_PERIODS);

// fast-check infers literal unions narrower than the schema's types; the values are valid RuleNodes.
const leaf = fc.oneof(
  fc.record({
    type: fc.constant("event" as const),
    event: eventType,
    window: fc.oneof(
      duration.map((d) => ({ in_last: d })),
      fc
        .constantFrom<["2d" | "1d" | "1h", "1h" | "30m" | "5m"]>(["2d", "1h"], ["1d", "30m"], ["1h", "5m"])
        .map((p) => ({
          between_ago: p as [string, string],
        })),
    ),
    op: countOp,
    value: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    type: fc.constant("event" as const),
    event: fc.constant("order_placed"),
    window: duration.map((d) => ({ in_last: d })),
    measure: fc.constant({ fn: "sum" as const, property: "amount" }),
    op: fc.constantFrom("gt", "lte"),
    value: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({
    type: fc.constant("event" as const),
    event: eventType,
    measure: fc.constantFrom({ fn: "last_at" as const }, { fn: "first_at" as const }),
    op: fc.constantFrom("in_last", "more_than_ago"),
    value: duration,
  }),
  fc.record({
    type: fc.constant("field" as const),
    field: fc.constantFrom("birthday", "created_at", "subscribed_at"),
    op: fc.constantFrom("in_last", "more_than_ago", "in_next", "anniversary_in_next"),
    value: duration,
  }),
  fc.record({
    type: fc.constant("field" as const),
    field: fc.constantFrom("status", "email_status", "plan"),
    op: fc.constantFrom("eq", "neq"),
    value: fc.constantFrom(
      "subscribed",
      "unsubscribed",
      "hard_bounced",
      "soft_bouncing",
      "deliverable",
      "pro",
    ),
  }),
  fc.record({
    type: fc.constant("field" as const),
    field: fc.constant("tags"),
    op: fc.constantFrom("contains", "not_contains"),
    value: fc.constantFrom("vip", "new"),
  }),
  fc.record({
    type: fc.constant("sequence" as const),
    steps: fc.constantFrom(
      [{ event: "cart_added" }, { event: "order_placed" }],
      [{ event: "cart_added" }, { event: "order_placed", not: true }],
    ),
    within: fc.constantFrom("30m", "1d"),
    window: fc.oneof(
      duration.map((d) => ({ in_last: d })),
      period.map((p) => ({ during: p })),
    ),
  }),
  // Calendar conditions: periods of now in the workspace zone, anniversaries, weekdays.
  fc.record({
    type: fc.constant("field" as const),
    field: fc.constantFrom("birthday", "created_at"),
    op: fc.constantFrom("during", "anniversary_during"),
    value: period,
  }),
  fc.record({
    type: fc.constant("field" as const),
    field: fc.constantFrom("birthday", "created_at"),
    op: fc.constant("weekday_in"),
    value: fc.subarray(["monday", "tuesday", "saturday", "sunday"], { minLength: 1 }),
  }),
  fc.record({
    type: fc.constant("event" as const),
    event: eventType,
    window: fc.oneof(
      period.map((p) => ({ during: p })),
      // Either order of the two durations means the same window.
      fc.constantFrom<[string, string]>(["1h", "2d"], ["30m", "1d"]).map((p) => ({ between_ago: p })),
    ),
    op: fc.constant("between"),
    value: fc.constantFrom([1, 2], [0, 1], [2, 3]),
  }),
  // most_frequent over a string property with case and space variants, blanks and
  // numbers that do not count; events share instants, so ties happen.
  fc
    .record({
      type: fc.constant("event" as const),
      event: fc.constantFrom("order_placed", "cart_added"),
      window: fc.option(
        fc.oneof(
          duration.map((d) => ({ in_last: d })),
          period.map((p) => ({ during: p })),
        ),
        { nil: undefined },
      ),
      measure: fc.constant({ fn: "most_frequent" as const, property: "category" }),
      op: fc.constantFrom("eq", "neq", "is_not_set"),
      value: fc.constantFrom("shoes", "bags"),
    })
    .map((n) => {
      const { window, value, ...rest } = n;
      return { ...rest, ...(window ? { window } : {}), ...(n.op === "is_not_set" ? {} : { value }) };
    }),
  // Rank conditions and quintile scores: a contact's membership moves with the others'
  // values (many contacts tie at 0; amounts tie), at the instant of their cause.
  fc
    .record({
      type: fc.constant("event" as const),
      event: fc.constant("order_placed"),
      where: fc.option(fc.constant([{ property: "category", op: "eq", value: "shoes" }]), { nil: undefined }),
      window: fc.constantFrom({ in_last: "1d" }, { in_last: "3d" }, { in_last: "1w" }),
      measure: fc.constantFrom({ fn: "sum" as const, property: "amount" }, { fn: "count" as const }),
      rank: fc.record({
        direction: fc.constantFrom("top", "bottom"),
        percent: fc.constantFrom(0.01, 10, 12.5, 25, 33.33, 50, 100),
      }),
    })
    .map(({ where, ...rest }) => ({ ...rest, ...(where ? { where } : {}) })),
  fc
    .record({
      type: fc.constant("event" as const),
      event: fc.constant("order_placed"),
      window: fc.option(fc.constantFrom({ in_last: "1d" }, { in_last: "1w" }), { nil: undefined }),
      measure: fc.constantFrom(
        { fn: "sum" as const, property: "amount" },
        { fn: "count" as const },
        { fn: "last_at" as const },
      ),
      score: fc.constant("quintile"),
      op: fc.constantFrom("gte", "lte", "eq", "neq"),
      value: fc.integer({ min: 1, max: 5 }),
    })
    .map(({ window, ...rest }) => ({ ...rest, ...(window ? { window } : {}) })),
  // Computed fields (declared in `run`): a condition on one means the event condition it names.
  fc.oneof(
    fc.record({
      type: fc.constant("field" as const),
      field: fc.constant("lifetime_value"),
      op: fc.constantFrom("gt", "lte"),
      value: fc.integer({ min: 0, max: 100 }),
    }),
    fc.record({
      type: fc.constant("field" as const),
      field: fc.constant("last_order_at"),
      op: fc.constantFrom("in_last", "more_than_ago"),
      value: duration,
    }),
    fc.record({
      type: fc.constant("field" as const),
      field: fc.constant("favorite_category"),
      op: fc.constantFrom("eq", "neq"),
      value: fc.constantFrom("shoes", "bags"),
    }),
  ),
  fc.record({
    type: fc.constant("bucket" as const),
    seed: fc.constantFrom("holdout", "ab"),
    op: fc.constantFrom("lt", "gte"),
    value: fc.constantFrom(10, 50, 90),
  }),
) as unknown as fc.Arbitrary<RuleNode>;

const rule: fc.Arbitrary<RuleNode> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constantFrom("and" as const, "or" as const),
      conditions: fc.array(leaf, { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: leaf.map((c): RuleNode => ({ type: "not", condition: c })) },
);

const timestamp = fc.oneof(
  fc.integer({ min: -3 * DAY, max: HOUR }),
  fc.constantFrom(-5 * MIN, -30 * MIN, -HOUR, -DAY, 0, 1, -1),
);

export type Step =
  | {
      kind: "upsert";
      id: string;
      status: string | null;
      plan: string | null;
      birthday: number | null;
      created: number;
    }
  | { kind: "patch"; id: string; status: string | null; email_status: string | null }
  | { kind: "tags"; id: string; add: string[]; remove: string[] }
  | { kind: "remove"; id: string }
  | {
      kind: "event";
      id: string;
      type: string;
      dt: number;
      amount: number;
      hard: boolean;
      category: string | number;
      eventId: string | null;
    }
  | { kind: "members"; seg: number; ids: string[]; action: "add" | "remove" | "lift"; expires: number | null }
  | { kind: "define"; seg: number; rule: RuleNode; ref: boolean }
  | { kind: "drop"; seg: number }
  | { kind: "clock"; dt: number };

export interface StepMix {
  contacts: string[];
  /** Weight of event steps and of clock moves against every other kind of step (weight 1). */
  eventWeight: number;
  clockWeight: number;
}

export function stepArb(mix: StepMix): fc.Arbitrary<Step> {
  const contactId = fc.constantFrom(...mix.contacts);
  return fc.oneof(
    fc.record({
      kind: fc.constant("upsert" as const),
      id: contactId,
      status: fc.constantFrom("subscribed", "unsubscribed", null),
      plan: fc.constantFrom("pro", "free", null),
      birthday: fc.option(fc.integer({ min: -400 * DAY, max: 400 * DAY }), { nil: null }),
      created: fc.integer({ min: -100 * DAY, max: 0 }),
    }),
    fc.record({
      kind: fc.constant("patch" as const),
      id: contactId,
      status: fc.constantFrom("subscribed", "unsubscribed", null),
      email_status: fc.constantFrom("deliverable", "soft_bouncing", null),
    }),
    fc.record({
      kind: fc.constant("tags" as const),
      id: contactId,
      add: fc.subarray(["vip", "new"]),
      remove: fc.subarray(["vip", "new"]),
    }),
    fc.record({ kind: fc.constant("remove" as const), id: contactId }),
    {
      arbitrary: fc.record({
        kind: fc.constant("event" as const),
        id: contactId,
        type: eventType,
        dt: timestamp,
        amount: fc.integer({ min: 0, max: 80 }),
        hard: fc.boolean(),
        category: fc.constantFrom("shoes", " SHOES ", "bags", "", 7),
        eventId: fc.option(fc.constantFrom("e1", "e2", "e3"), { nil: null }),
      }),
      weight: mix.eventWeight,
    },
    fc.record({
      kind: fc.constant("members" as const),
      seg: fc.integer({ min: 0, max: 3 }),
      ids: fc.subarray(mix.contacts, { minLength: 1 }),
      action: fc.constantFrom("add" as const, "remove" as const, "lift" as const),
      expires: fc.option(fc.integer({ min: 1, max: 2 * DAY }), { nil: null }),
    }),
    fc.record({
      kind: fc.constant("define" as const),
      seg: fc.integer({ min: 0, max: 3 }),
      rule,
      ref: fc.boolean(),
    }),
    fc.record({ kind: fc.constant("drop" as const), seg: fc.integer({ min: 0, max: 3 }) }),
    {
      arbitrary: fc.record({
        kind: fc.constant("clock" as const),
        dt: fc.oneof(
          fc.integer({ min: 1, max: 10 * MIN }),
          fc.integer({ min: 1, max: 3 * DAY }),
          fc.constantFrom(5 * MIN, HOUR, DAY),
        ),
      }),
      weight: mix.clockWeight,
    },
  );
}

/** Segment slots: 0 is static, 1–3 dynamic; a dynamic rule may refer to the static one and to "inactive". */
export const SEG_IDS = ["seg_static", "seg_a", "seg_b", "seg_c"];

/** The custom fields the steps write. */
export const FIELDS: FieldDef[] = [
  { key: "plan", type: "string" },
  { key: "birthday", type: "date" },
];

/** The computed fields the rules test (`lifetime_value`, `last_order_at`, `favorite_category`). */
export const COMPUTED_FIELDS: [FieldDef, ComputedDefinition][] = [
  [
    { key: "lifetime_value", type: "number" },
    { event: "order_placed", measure: { fn: "sum", property: "amount" } },
  ],
  [
    { key: "last_order_at", type: "date" },
    { event: "order_placed", measure: { fn: "last_at" } },
  ],
  [
    { key: "favorite_category", type: "string" },
    {
      event: "cart_added",
      window: { in_last: "1d" },
      measure: { fn: "most_frequent", property: "category" },
    },
  ],
];

export function run(tz: string, steps: Step[]): void {
  let now = T0;
  const engine = new Engine({
    timeZone: tz,
    clock: { now: () => now },
    fields: FIELDS,
  });
  const replay = new Map<string, Set<string>>();
  const log: MembershipChange[] = [];
  engine.onChange((c) => {
    log.push(c);
    let s = replay.get(c.segment_id);
    if (!s) {
      s = new Set();
      replay.set(c.segment_id, s);
    }
    if (c.change === "entered") {
      if (s.has(c.contact_id)) expect.fail(`double entry ${JSON.stringify(c)}`);
      s.add(c.contact_id);
    } else {
      if (!s.has(c.contact_id)) expect.fail(`exit without entry ${JSON.stringify(c)}`);
      s.delete(c.contact_id);
    }
  });
  for (const [def, computed] of COMPUTED_FIELDS) engine.defineComputedField(def, computed);
  engine.defineSegment({ id: "seg_static", kind: "static" });
  const defined = new Set(["seg_static"]);

  // Run after each of hundreds of thousands of steps: `expect` (and its message) only
  // where a comparison fails, and the log's order checked from where the last check left it.
  let ordered = 1;
  const check = (label: string) => {
    for (const id of engine.segmentIds()) {
      const maintained = engine.members(id).ids().sort();
      const scratch = engine.members(id, now).ids().sort();
      if (!sameList(maintained, scratch)) {
        expect(
          maintained,
          `${label}: ${id} maintained vs from scratch at ${new Date(now).toISOString()}`,
        ).toEqual(scratch);
      }
      const replayed = [...(replay.get(id) ?? [])].sort();
      if (!sameList(replayed, maintained)) {
        expect(replayed, `${label}: ${id} replayed changes`).toEqual(maintained);
      }
    }
    // Contact by contact, the segments it is in agree with the segments' own sets.
    const ids = engine.segmentIds();
    const sets = new Map(ids.map((id) => [id, engine.members(id)]));
    for (const c of engine.contactIds()) {
      const of = engine.segmentsOf(c);
      const expected = ids.filter((id) => sets.get(id)!.has(c));
      if (!sameList(of, expected)) expect(of, `${label}: segmentsOf(${c})`).toEqual(expected);
    }
    for (; ordered < log.length; ordered++) {
      const i = ordered;
      if (log[i].at < log[i - 1].at) {
        expect.fail(`changes out of time order: ${JSON.stringify(log.slice(i - 1, i + 1))}`);
      }
    }
  };

  check("start");
  steps.forEach((s, n) => {
    const label = `step ${n} ${JSON.stringify(s)}`;
    const alive = new Set(engine.contactIds());
    switch (s.kind) {
      case "upsert":
        engine.upsertContact(upsertOf(s, now));
        break;
      case "patch":
        if (!alive.has(s.id)) return;
        engine.patchContact(patchOf(s));
        break;
      case "tags":
        if (!alive.has(s.id)) return;
        engine.changeTags(s.id, { add: s.add, remove: s.remove });
        break;
      case "remove":
        engine.removeContact(s.id);
        break;
      case "event":
        engine.addEvent(eventOf(s, now));
        break;
      case "members": {
        const id = SEG_IDS[s.seg];
        if (!defined.has(id)) return;
        const ids = s.ids.filter((c) => alive.has(c));
        if (ids.length === 0) return;
        const opts = s.expires !== null ? { expiresAt: now + s.expires } : {};
        if (s.action === "add") engine.addMembers(id, ids, opts);
        else if (s.action === "remove") engine.removeMembers(id, ids, opts);
        else engine.liftOverrides(id, ids);
        break;
      }
      case "define": {
        if (s.seg === 0) return;
        const id = SEG_IDS[s.seg];
        const r = ruleOf(s, defined);
        const users = engine.usesOf(id);
        engine.defineSegment({ id, rule: r });
        expect(engine.usesOf(id)).toEqual(users);
        defined.add(id);
        break;
      }
      case "drop": {
        const id = SEG_IDS[s.seg];
        if (s.seg === 0 || !defined.has(id) || engine.usesOf(id).length > 0) return;
        engine.removeSegment(id);
        defined.delete(id);
        replay.delete(id);
        break;
      }
      case "clock": {
        now += s.dt;
        // A time-driven change happens at its boundary instant: the new state holds at
        // `at` and the old one a millisecond before.
        for (const c of engine.advanceTo(now)) {
          const at = c.at;
          const entered = c.change === "entered";
          expect(engine.matches(c.contact_id, c.segment_id, at), `${label}: state at ${c.at}`).toBe(entered);
          expect(engine.matches(c.contact_id, c.segment_id, at - 1), `${label}: state before ${c.at}`).toBe(
            !entered,
          );
        }
        break;
      }
    }
    check(label);
  });
}

/** The contact an `upsert` step writes at `now`. */
export function upsertOf(s: Extract<Step, { kind: "upsert" }>, now: number): ContactInput {
  return {
    id: s.id,
    email: `${s.id}@example.com`,
    status: s.status,
    created_at: now + s.created,
    subscribed_at: s.status === "subscribed" ? now + s.created : null,
    tags: ["new"],
    fields: { plan: s.plan, birthday: s.birthday === null ? null : now + s.birthday },
  };
}

/** The partial contact a `patch` step writes. */
export function patchOf(s: Extract<Step, { kind: "patch" }>): ContactInput {
  return {
    id: s.id,
    ...(s.status !== null ? { status: s.status } : {}),
    ...(s.email_status !== null ? { email_status: s.email_status } : {}),
  };
}

/** The event an `event` step adds at `now`. */
export function eventOf(s: Extract<Step, { kind: "event" }>, now: number): EventInput {
  return {
    ...(s.eventId !== null ? { id: s.eventId } : {}),
    type: s.type,
    contact_id: s.id,
    timestamp: now + s.dt,
    properties:
      s.type === "email_bounced"
        ? { bounce_type: s.hard ? "hard" : "soft" }
        : { amount: s.amount, category: s.category },
  };
}

/**
 * The rule a `define` step gives its slot: its own, or with `ref` also the slot below
 * when that is defined. Only lower slots are referred to, so definitions never form a cycle.
 */
export function ruleOf(s: Extract<Step, { kind: "define" }>, defined: ReadonlySet<string>): RuleNode {
  const target = SEG_IDS[s.seg - 1];
  return s.ref && defined.has(target)
    ? { type: "or", conditions: [s.rule, { type: "segment", op: "in", segment: target }] }
    : s.rule;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
