/**
 * The engine of a generated scenario (arbitraries.ts), loaded the way its plan says
 * (bulk or one by one, events before or after contacts), and the per-contact views the
 * reference evaluator reads; shared by the engine-vs-reference property tests.
 */
import { Engine } from "../../src/engine/index.ts";
import type { ContactInput, EventInput } from "../../src/engine/types.ts";
import { computedType, validateComputed } from "../../src/rules/computed.ts";
import { CUSTOM_FIELDS, type Scenario } from "./arbitraries.ts";

export function buildScenarioEngine(sc: Scenario): Engine {
  const eng = new Engine({
    timeZone: sc.env.timeZone,
    fields: CUSTOM_FIELDS,
    clock: { now: () => sc.env.now },
  });
  for (const [key, def] of sc.computed) {
    const type = computedType(def);
    // Every generated definition is one the service would accept.
    validateComputed(def, { type, fields: eng.fields, timeZone: sc.env.timeZone });
    eng.defineComputedField({ key, type }, def);
  }
  const loadContacts = () => {
    for (const c of sc.stale) eng.upsertContact(c);
    if (sc.plan.contactsBulk) eng.loadContacts(sc.contacts);
    else for (const c of sc.contacts) eng.upsertContact(c);
  };
  const loadEvents = () => {
    eng.loadEvents(sc.events.slice(0, sc.plan.eventSplit));
    for (const e of sc.events.slice(sc.plan.eventSplit)) eng.addEvent(e);
  };
  if (sc.plan.eventsFirst) {
    loadEvents();
    loadContacts();
  } else {
    loadContacts();
    loadEvents();
  }
  for (const s of sc.segments) eng.defineSegment(s);
  return eng;
}

/** The contact's profile as generated (a contact only events name has just its id). */
export function profileOf(contacts: readonly ContactInput[], id: string): ContactInput {
  return contacts.find((c) => c.id === id) ?? { id };
}

export function eventsOf(events: readonly EventInput[], id: string): EventInput[] {
  return events.filter((e) => e.contact_id === id);
}
