/**
 * Whether a rule holds for contact "c", asked of every evaluation path of the engine:
 * contacts and events written one by one (the live path, clock at `now`) and loaded in
 * bulk (evaluated at `now` as an argument), each through `matches`, `evaluate` and
 * `explain`. Fails the test when the paths disagree.
 */
import { expect } from "vitest";
import { type ContactInput, Engine, type EventInput } from "../../src/engine/index.ts";
import type { FieldDef } from "../../src/rules/fields.ts";

export interface EveryPathCase {
  rule: object;
  now: number;
  /** Contact "c" among others, whose data sit around c's in the tables. */
  contacts: ContactInput[];
  events: EventInput[];
  tz?: string;
  fields?: FieldDef[];
}

export function holdsOnEveryPath(k: EveryPathCase): boolean {
  const answers: Record<string, boolean> = {};
  for (const bulk of [false, true]) {
    // The bulk engine's clock is elsewhere: it gets the instant as an argument.
    const eng = new Engine({
      timeZone: k.tz ?? "UTC",
      ...(k.fields ? { fields: k.fields } : {}),
      clock: { now: () => (bulk ? 0 : k.now) },
      defaultSegments: false,
    });
    const at = bulk ? k.now : undefined;
    if (bulk) {
      eng.loadContacts(k.contacts);
      eng.loadEvents(k.events);
    } else {
      for (const c of k.contacts) eng.upsertContact(c);
      for (const e of [...k.events].reverse()) eng.addEvent(e);
    }
    const node = eng.validate(k.rule);
    const path = bulk ? "bulk" : "one-by-one";
    answers[`${path} matches`] = eng.matches("c", node, at);
    answers[`${path} evaluate`] = eng.evaluate(node, at).has("c");
    answers[`${path} explain`] = eng.explain("c", node, at).result;
  }
  const values = new Set(Object.values(answers));
  expect(values.size, `evaluation paths disagree: ${JSON.stringify(answers)}`).toBe(1);
  return values.has(true);
}
