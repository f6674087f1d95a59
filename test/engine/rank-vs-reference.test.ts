/**
 * Rank conditions and quintile scores against the reference evaluator
 * (test/reference/relative.ts), on random workspaces of a few contacts: every path of
 * the engine — from scratch (`evaluate`, `matches`, `explain`) and maintained live
 * (segments defined before or after the data, events one by one) — must give the
 * reference's answer for every contact. Then live maintenance over time: with contacts
 * created, events arriving, time passing and contacts erased, every maintained segment
 * must equal its rule evaluated from scratch, and the emitted changes must replay to it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine, type MembershipChange } from "../../src/engine/index.ts";
import type { ContactInput, EventInput } from "../../src/engine/types.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import {
  DAY,
  eventArb,
  eventNodeArb,
  FIELDS,
  HOUR,
  nowArb,
  type TimeEnv,
  timeEnv,
} from "../reference/arbitraries.ts";
import { type ReferenceContext, referenceMatches } from "../reference/evaluate.ts";
import { rankNodeArb, relativeNodeArb } from "../reference/relative-arbitraries.ts";

/** Relative conditions, alone or beside plain event conditions in and / or / not. */
function treeArb(env: TimeEnv): fc.Arbitrary<RuleNode> {
  const leaf = fc.oneof(
    { weight: 4, arbitrary: relativeNodeArb(env) },
    { weight: 1, arbitrary: eventNodeArb(env) },
  );
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("and" as const, "or" as const), fc.array(leaf, { minLength: 1, maxLength: 3 }))
        .map(([type, conditions]): RuleNode => ({ type, conditions })),
    },
    { weight: 1, arbitrary: leaf.map((condition): RuleNode => ({ type: "not", condition })) },
  );
}

interface Case {
  env: TimeEnv;
  ids: string[];
  events: EventInput[];
  rules: RuleNode[];
  /** Segments defined before the data (live maintenance) or after it (a full computation). */
  defineFirst: boolean;
}

const caseArb: fc.Arbitrary<Case> = nowArb.chain(({ now, timeZone, focus, hotTypes }) => {
  const env = timeEnv(now, timeZone, focus, hotTypes);
  return fc.integer({ min: 1, max: 12 }).chain((n) => {
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    return fc.record({
      env: fc.constant(env),
      ids: fc.constant(ids),
      events: fc.array(eventArb(env, ids, 0), { maxLength: 40 }),
      rules: fc.array(treeArb(env), { minLength: 1, maxLength: 3 }),
      defineFirst: fc.boolean(),
    });
  });
});

function context(c: Case): ReferenceContext {
  return {
    now: c.env.now,
    timeZone: c.env.timeZone,
    fields: FIELDS,
    segments: new Map(),
    population: c.ids.map((id) => ({ contact: { id }, events: c.events.filter((e) => e.contact_id === id) })),
  };
}

function check(c: Case): void {
  const ctx = context(c);
  const eng = new Engine({
    timeZone: c.env.timeZone,
    clock: { now: () => c.env.now },
    defaultSegments: false,
  });
  const define = () => c.rules.forEach((rule, i) => eng.defineSegment({ id: `s${i}`, rule }));
  for (const id of c.ids) eng.upsertContact({ id });
  if (c.defineFirst) define();
  for (const e of c.events) eng.addEvent(e);
  if (!c.defineFirst) define();
  c.rules.forEach((rule, i) => {
    const node = eng.validate(rule);
    const all = eng.evaluate(node, c.env.now);
    const live = eng.members(`s${i}`);
    for (const id of c.ids) {
      const want = referenceMatches(rule, { id }, ctx.population![c.ids.indexOf(id)].events, ctx);
      const got = {
        evaluate: all.has(id),
        live: live.has(id),
        matches: eng.matches(id, node, c.env.now),
        explain: eng.explain(id, node, c.env.now).result,
      };
      for (const [how, value] of Object.entries(got)) {
        expect(value, `${how}(${id}) of ${JSON.stringify(rule)}`).toBe(want);
      }
    }
  });
}

describe("rank and quintile conditions: engine against the reference", () => {
  it("every path agrees with the reference on random workspaces", () => {
    fc.assert(fc.property(caseArb, check), { numRuns: 400 });
  });
});

// ---------------------------------------------------------------- live over time

type Op =
  | { kind: "event"; contact: number; ago: number; amount: number; type: string }
  | { kind: "advance"; by: number }
  | { kind: "contact" }
  | { kind: "erase"; contact: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("event" as const),
      contact: fc.nat(20),
      ago: fc.constantFrom(0, HOUR, DAY, 2 * DAY, 6 * DAY, -HOUR),
      amount: fc.constantFrom(0, 1, 2, 2.5, 5, 10),
      type: fc.constantFrom("order_placed", "order_placed", "email_opened"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), by: fc.constantFrom(HOUR, DAY, 3 * DAY) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("contact" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("erase" as const), contact: fc.nat(20) }) },
);

const LIVE_ENV = timeEnv(Date.parse("2026-03-10T12:00:00.000Z"), "UTC", ["1w"], ["order_placed"]);

const liveRuleArb: fc.Arbitrary<RuleNode> = fc.oneof(
  relativeNodeArb(LIVE_ENV),
  rankNodeArb(LIVE_ENV).map(
    (n): RuleNode => ({
      ...(n as Extract<RuleNode, { type: "event" }>),
      event: "order_placed",
      window: { in_last: "3d" },
    }),
  ),
);

describe("rank and quintile conditions maintained live", () => {
  it("equal their rules evaluated from scratch after every write and every step of time, and replay from their changes", () => {
    fc.assert(
      fc.property(
        fc.array(liveRuleArb, { minLength: 1, maxLength: 3 }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        (rules, ops, initial) => {
          let now = LIVE_ENV.now;
          const eng = new Engine({ clock: { now: () => now }, defaultSegments: false });
          const replayed = new Map<string, Set<string>>();
          eng.onChange((ch: MembershipChange) => {
            const set = replayed.get(ch.segment_id) ?? new Set<string>();
            replayed.set(ch.segment_id, set);
            if (ch.change === "entered") set.add(ch.contact_id);
            else set.delete(ch.contact_id);
          });
          let next = 0;
          const contact = (): void => {
            eng.upsertContact({ id: `k${next++}` } as ContactInput);
          };
          for (let i = 0; i < initial; i++) contact();
          rules.forEach((rule, i) => eng.defineSegment({ id: `s${i}`, rule }));
          const verify = (after: string) => {
            rules.forEach((rule, i) => {
              const live = eng.members(`s${i}`).ids().sort();
              const scratch = eng.evaluate(rule, now).ids().sort();
              expect(live, `${after}: s${i} = ${JSON.stringify(rule)}`).toEqual(scratch);
              expect([...(replayed.get(`s${i}`) ?? [])].sort(), `${after}: replay of s${i}`).toEqual(live);
            });
          };
          verify("start");
          ops.forEach((op, k) => {
            const ids = eng.contactIds();
            if (op.kind === "event") {
              if (ids.length === 0) return;
              eng.addEvent({
                type: op.type,
                contact_id: ids[op.contact % ids.length],
                timestamp: now - op.ago,
                properties: { amount: op.amount },
              });
            } else if (op.kind === "advance") {
              now += op.by;
              eng.advanceTo(now);
            } else if (op.kind === "contact") contact();
            else {
              if (ids.length === 0) return;
              eng.removeContact(ids[op.contact % ids.length]);
            }
            verify(`op ${k} ${JSON.stringify(op)}`);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
