/**
 * The engine against the reference evaluator on random rules, contacts and events:
 * for every contact, `evaluate`, `members`, `matches` and `explain` must all give the
 * reference's answer. On failure fast-check prints the (shrunk) case and its seed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/index.ts";
import type { ContactInput, EventInput } from "../../src/engine/types.ts";
import { defaultSegments } from "../../src/rules/defaults.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import {
  CUSTOM_FIELDS,
  DEFAULT_LEAVES,
  type DefaultsScenario,
  defaultsScenarioArb,
  FIELDS,
  NO_LEAVES,
  type Scenario,
  scenarioArb,
} from "../reference/arbitraries.ts";
import { type ReferenceContext, referenceMatches } from "../reference/evaluate.ts";
import { buildScenarioEngine, eventsOf, profileOf } from "../reference/scenario-engine.ts";
import { CPU_BOUND } from "../support/cpu-bound.ts";

/**
 * upsertContact writes status and email_status explicitly at the clock's now; a bulk
 * load carries no write times, so every event's profile effect applies on top of it.
 */
function writtenAt(bulk: boolean, now: number): number {
  return bulk ? Number.NEGATIVE_INFINITY : now;
}

/** Every way the engine answers "is this contact in", against the reference; the first mismatch. */
function disagreement(
  eng: Engine,
  ids: string[],
  target: { rule: RuleNode; segmentId?: string },
  contacts: ContactInput[],
  events: EventInput[],
  ctx: ReferenceContext,
): string | null {
  const { rule, segmentId } = target;
  const all = segmentId === undefined ? eng.evaluate(rule, ctx.now) : eng.members(segmentId, ctx.now);
  let expectedCount = 0;
  for (const id of ids) {
    const want = referenceMatches(rule, profileOf(contacts, id), eventsOf(events, id), ctx);
    if (want) expectedCount++;
    const byId = segmentId ?? rule;
    const got = {
      evaluate: all.has(id),
      matches: eng.matches(id, byId, ctx.now),
      explain: eng.explain(id, byId, ctx.now).result,
    };
    for (const [how, value] of Object.entries(got)) {
      if (value !== want) {
        return `${how}(${id}${segmentId ? `, ${segmentId}` : ""}) = ${value}, reference says ${want}`;
      }
    }
  }
  if (all.count !== expectedCount) return `count = ${all.count}, reference counts ${expectedCount}`;
  return null;
}

const defaultRules = new Map(defaultSegments().map((s) => [s.id, s.rule]));

/** Builds the engine for a case and checks every rule and every defined segment on every contact. */
function checkScenario(sc: Scenario): void {
  const eng = buildScenarioEngine(sc);
  const ctx: ReferenceContext = {
    now: sc.env.now,
    timeZone: sc.env.timeZone,
    fields: FIELDS,
    segments: new Map([...defaultRules, ...sc.segments.map((s) => [s.id, s.rule] as const)]),
    writtenAt: writtenAt(sc.plan.contactsBulk, sc.env.now),
    // Rank conditions and quintile scores read the whole workspace.
    population: sc.ids.map((id) => ({
      contact: profileOf(sc.contacts, id),
      events: eventsOf(sc.events, id),
    })),
  };
  expect(eng.contactCount).toBe(sc.ids.length);
  for (const rule of sc.rules) {
    expect(disagreement(eng, sc.ids, { rule }, sc.contacts, sc.events, ctx)).toBeNull();
  }
  for (const s of sc.segments) {
    expect(
      disagreement(eng, sc.ids, { rule: s.rule, segmentId: s.id }, sc.contacts, sc.events, ctx),
    ).toBeNull();
  }
}

describe("engine vs reference", CPU_BOUND, () => {
  it("agree on random rules, contacts and events", () => {
    fc.assert(fc.property(scenarioArb({ leaves: { ...DEFAULT_LEAVES, relative: 1 } }), checkScenario), {
      numRuns: 1000,
    });
  });

  it("agree on rank conditions and quintile scores, ties and empty measures included", () => {
    const arb = scenarioArb({
      depth: 2,
      maxContacts: 8,
      maxEvents: 30,
      maxSegments: 1,
      leaves: { ...NO_LEAVES, relative: 3, event: 1 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 300 });
  });

  it("agree on date fields: anniversaries, DST days, month ends, 29 February", () => {
    const arb = scenarioArb({
      depth: 1,
      maxEvents: 0,
      maxSegments: 0,
      leaves: { ...NO_LEAVES, dateField: 1 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 300 });
  });

  it("agree on event measures and sequences over many events", () => {
    const arb = scenarioArb({
      depth: 1,
      maxContacts: 3,
      maxEvents: 40,
      maxSegments: 0,
      leaves: { ...NO_LEAVES, event: 3, filtered: 2, sequence: 2 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 400 });
  });

  it("agree on negative sequences, with starts and negative events at their deadlines", () => {
    const arb = scenarioArb({
      depth: 1,
      maxContacts: 3,
      maxEvents: 30,
      maxSegments: 0,
      deadlineEvents: true,
      leaves: { ...NO_LEAVES, negativeSequence: 1 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 400 });
  });

  it("agree on status and email_status under bounces, complaints and unsubscribes", () => {
    const arb = scenarioArb({
      depth: 1,
      maxContacts: 4,
      maxSegments: 0,
      effectWeight: 6,
      leaves: { ...NO_LEAVES, profile: 1 },
    });
    fc.assert(fc.property(arb, checkScenario), { numRuns: 300 });
  });

  it("agree on the default segments, at their edges", () => {
    fc.assert(
      fc.property(defaultsScenarioArb(), (sc: DefaultsScenario) => {
        const eng = new Engine({
          timeZone: sc.env.timeZone,
          fields: CUSTOM_FIELDS,
          clock: { now: () => sc.env.now },
          defaultSegments: sc.settings,
        });
        if (sc.contactsBulk) eng.loadContacts(sc.contacts);
        else for (const c of sc.contacts) eng.upsertContact(c);
        for (const e of sc.events) eng.addEvent(e);
        const rules = defaultSegments(sc.settings);
        const ctx: ReferenceContext = {
          now: sc.env.now,
          timeZone: sc.env.timeZone,
          fields: FIELDS,
          segments: new Map(rules.map((s) => [s.id, s.rule])),
          writtenAt: writtenAt(sc.contactsBulk, sc.env.now),
        };
        const ids = eng.contactIds();
        expect(ids.length).toBe(
          sc.contacts.length + (sc.events.some((e) => e.contact_id === "ghost") ? 1 : 0),
        );
        for (const s of rules) {
          expect(
            disagreement(eng, ids, { rule: s.rule, segmentId: s.id }, sc.contacts, sc.events, ctx),
          ).toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });
});
