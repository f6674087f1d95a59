/**
 * Computed fields and `most_frequent` against the reference evaluator: random computed
 * fields (every measure, with filters and windows), rules and segments with conditions
 * on them, and the values contacts show. Every way the engine answers — evaluate,
 * maintained membership, matches, explain, the computed values — must be the
 * reference's, which reads docs/rules.md ("Computed fields", "Measures") word by word.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/index.ts";
import type { EventInput, ExplainNode, JsonValue } from "../../src/engine/types.ts";
import { defaultSegments } from "../../src/rules/defaults.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { DAY, FIELDS, NO_LEAVES, type Scenario, scenarioArb } from "../reference/arbitraries.ts";
import { computedValue, type ReferenceContext, referenceMatches } from "../reference/evaluate.ts";
import { buildScenarioEngine, eventsOf, profileOf } from "../reference/scenario-engine.ts";
import { CPU_BOUND } from "../support/cpu-bound.ts";

/** The field nodes on computed fields of an explain tree, in order. */
function computedNodes(e: ExplainNode, out: ExplainNode[] = []): ExplainNode[] {
  if (e.type === "and" || e.type === "or") for (const c of e.conditions) computedNodes(c, out);
  else if (e.type === "not") computedNodes(e.condition, out);
  else if (e.type === "field" && "computed" in e) out.push(e);
  return out;
}

function computedFieldsOf(rule: RuleNode, keys: Set<string>, out: string[] = []): string[] {
  if (rule.type === "and" || rule.type === "or")
    for (const c of rule.conditions) computedFieldsOf(c, keys, out);
  else if (rule.type === "not") computedFieldsOf(rule.condition, keys, out);
  else if (rule.type === "field" && keys.has(rule.field)) out.push(rule.field);
  return out;
}

const defaultRules = new Map(defaultSegments().map((s) => [s.id, s.rule]));

function checkScenario(sc: Scenario): void {
  const eng = buildScenarioEngine(sc);
  const computed = new Map(sc.computed);
  const ctx: ReferenceContext = {
    now: sc.env.now,
    timeZone: sc.env.timeZone,
    fields: FIELDS,
    segments: new Map([...defaultRules, ...sc.segments.map((s) => [s.id, s.rule] as const)]),
    writtenAt: sc.plan.contactsBulk ? Number.NEGATIVE_INFINITY : sc.env.now,
    computed,
  };
  const values = eng.computedReader(sc.env.now);
  for (const id of sc.ids) {
    const events = eventsOf(sc.events, id);
    const want = Object.fromEntries(sc.computed.map(([k, def]) => [k, computedValue(def, events, ctx)]));
    expect({ id, values: values(id) }).toEqual({ id, values: want });
  }
  const targets: { rule: RuleNode; segmentId?: string }[] = [
    ...sc.rules.map((rule) => ({ rule })),
    ...sc.segments.map((s) => ({ rule: s.rule, segmentId: s.id })),
  ];
  for (const { rule, segmentId } of targets) {
    const byId = segmentId ?? rule;
    const all = segmentId === undefined ? eng.evaluate(rule, ctx.now) : eng.members(segmentId, ctx.now);
    const live = segmentId === undefined ? null : eng.members(segmentId);
    for (const id of sc.ids) {
      const events = eventsOf(sc.events, id);
      const want = referenceMatches(rule, profileOf(sc.contacts, id), events, ctx);
      const explained = eng.explain(id, byId, ctx.now);
      const got = {
        evaluate: all.has(id),
        matches: eng.matches(id, byId, ctx.now),
        explain: explained.result,
        ...(live ? { live: live.has(id) } : {}),
      };
      for (const [how, value] of Object.entries(got)) {
        expect({ how, id, segmentId, value }).toEqual({ how, id, segmentId, value: want });
      }
      // Explain shows each computed field's value and definition where the rule names it.
      const keys = computedFieldsOf(rule, new Set(computed.keys()));
      const nodes = computedNodes(explained);
      expect(nodes.map((n) => (n.type === "field" ? n.field : ""))).toEqual(keys);
      for (const n of nodes) {
        if (n.type !== "field") continue;
        const def = computed.get(n.field)!;
        expect(n).toMatchObject({ actual: computedValue(def, events, ctx), computed: def });
      }
    }
  }
}

describe("computed fields and most_frequent vs the reference", CPU_BOUND, () => {
  it("agree on rules and segments with conditions on computed fields, and on the values", () => {
    const arb = scenarioArb({
      computed: true,
      leaves: { ...NO_LEAVES, computed: 4, field: 1, event: 1, segment: 1 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 200 });
  });

  it("agree on most_frequent when values tie on count, on their latest instant, or on both", () => {
    const base = Date.parse("2026-03-10T12:00:00.000Z");
    const instants = [base - 2 * DAY, base - DAY, base - DAY + 1, base];
    const event = fc.record({
      t: fc.constantFrom(...instants),
      category: fc.constantFrom<JsonValue>("b", " B ", "a", "c", "", "  ", 5, true),
    });
    const arb = fc.record({
      events: fc.array(event, { maxLength: 8 }),
      window: fc.option(fc.constantFrom("1d", "2d"), { nil: undefined }),
    });
    fc.assert(
      fc.property(arb, ({ events, window }) => {
        const now = base;
        const eng = new Engine({ clock: { now: () => now }, defaultSegments: false });
        const def = {
          event: "page_viewed",
          ...(window === undefined ? {} : { window: { in_last: window } }),
          measure: { fn: "most_frequent" as const, property: "category" },
        };
        eng.defineComputedField({ key: "favourite", type: "string" }, def);
        eng.upsertContact({ id: "c" });
        const inputs: EventInput[] = events.map((e) => ({
          type: "page_viewed",
          contact_id: "c",
          timestamp: e.t,
          properties: { category: e.category },
        }));
        for (const e of inputs) eng.addEvent(e);
        const ctx: ReferenceContext = {
          now,
          timeZone: "UTC",
          fields: FIELDS,
          segments: new Map(),
          computed: new Map([["favourite", def]]),
        };
        const want = computedValue(def, inputs, ctx);
        expect(eng.computedReader(now)("c")).toEqual({ favourite: want });
        for (const value of ["a", "b", "c"]) {
          const rule: RuleNode = { type: "field", field: "favourite", op: "eq", value };
          expect(eng.matches("c", rule, now)).toBe(referenceMatches(rule, { id: "c" }, inputs, ctx));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("agree on most_frequent and computed fields over many events", () => {
    const arb = scenarioArb({
      computed: true,
      depth: 1,
      maxContacts: 3,
      maxEvents: 40,
      maxSegments: 1,
      leaves: { ...NO_LEAVES, computed: 2, event: 1 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 300 });
  });
});
