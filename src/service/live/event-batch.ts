/**
 * An event batch on its way from `LiveWorkspace.ingestEvents` to the engine: refused
 * before the commit for anything the engine would refuse (so that what is committed is
 * always applied), its contacts checked at commit time, and applied by engine index once
 * committed.
 */

import type { Engine, EventInput } from "../../engine/index.ts";
import { EVENT_TYPE_EXPECTED, isEventType } from "../../rules/event-type.ts";
import type { EventInsertResult, EventWrite } from "../../store/types.ts";

/** How an event names its contact when not by id. */
export type ContactKey = { email: string } | { external_id: string };

/**
 * A contact the engine found by email or external id, with that key as the engine holds
 * it: an event batch naming the contact so is committed only if the contact still has it.
 */
export interface ContactMatch {
  index: number;
  id: string;
  by: "email" | "external_id";
  key: string;
}

/**
 * An event for a contact the workspace does not have (never created, or erased), or
 * that no longer has the email or external id (`key`) the event named it by.
 */
export class UnknownContactError extends Error {
  constructor(
    readonly index: number,
    readonly contactId: string,
    readonly match?: ContactMatch,
  ) {
    super(
      match === undefined
        ? `events[${index}].contact_id: unknown contact "${contactId}"`
        : `events[${index}].contact: contact "${contactId}" no longer has ${match.by} "${match.key}"`,
    );
    this.name = "UnknownContactError";
  }
}

/** Throws for the first event the engine would refuse. */
export function checkEventInputs(batch: readonly EventWrite[]): void {
  for (let i = 0; i < batch.length; i++) {
    const e = batch[i]!;
    if (!isEventType(e.type)) {
      throw new Error(`events[${i}].type: ${EVENT_TYPE_EXPECTED}`);
    }
    if (!Number.isFinite(e.timestamp)) throw new Error(`events[${i}].timestamp: expected epoch milliseconds`);
    const p = e.properties;
    if (p !== undefined && (typeof p !== "object" || p === null || Array.isArray(p))) {
      throw new Error(`events[${i}].properties: expected an object`);
    }
  }
}

/** The contact with this key in the engine, with the key as the engine holds it. */
export function contactByKey(engine: Engine, key: ContactKey): ContactMatch | undefined {
  const t = engine.contacts;
  if ("email" in key) {
    const i = t.byEmail(key.email);
    return i === undefined ? undefined : { index: i, id: t.ids[i]!, by: "email", key: t.emailOf(i)! };
  }
  const i = t.byExternalId(key.external_id);
  return i === undefined
    ? undefined
    : { index: i, id: t.ids[i]!, by: "external_id", key: t.externalIdOf(i)! };
}

/**
 * The commit-time check and the apply of one batch. Each event's contact is looked up
 * once, by `check` (an erased contact gets no events, nor does one that no longer has
 * the email or external id the event named it by); `apply` reuses the indices found if
 * no write that may add or remove contacts came in between (`generation`, which also
 * moves when the engine is rebuilt), else looks the contacts up again.
 */
export function eventBatch(
  batch: readonly EventWrite[],
  known: { named?: readonly (ContactMatch | null)[] | undefined; found?: Int32Array | undefined },
  engineOf: () => Engine,
  generation: () => number,
): { check: () => void; apply: (r: EventInsertResult) => void } {
  const index = new Int32Array(batch.length);
  let checkedAt = -1;
  const { named, found } = known;
  const check = () => {
    const contacts = engineOf().contacts;
    for (let i = 0; i < batch.length; i++) {
      const id = batch[i]!.contact_id;
      const m = named?.[i];
      if (m) {
        // The key as found: unchanged, it is the very string the engine holds.
        const now = m.by === "email" ? contacts.emailOf(m.index) : contacts.externalIdOf(m.index);
        if (now !== m.key || contacts.ids[m.index] !== id) throw new UnknownContactError(i, id, m);
        index[i] = m.index;
        continue;
      }
      // Found by id as the request was read: an engine gives an id one index for good,
      // so if that index still holds the id (the engine was not rebuilt since), it is
      // this contact's, and the lookup in the map of every id is saved.
      const f = found ? found[i]! : -1;
      const c = f >= 0 && contacts.ids[f] === id ? f : contacts.index(id);
      if (c === undefined || !contacts.alive.has(c)) throw new UnknownContactError(i, id);
      index[i] = c;
    }
    checkedAt = generation();
  };
  const apply = (r: EventInsertResult) => {
    const engine = engineOf();
    const same = checkedAt === generation();
    for (let i = 0; i < batch.length; i++) {
      if (r.items[i] !== "accepted") continue;
      const input = eventInput(batch[i]!);
      if (same) engine.addEvent(input, index[i]);
      else engine.addEvent(input);
    }
  };
  return { check, apply };
}

/** The events of a committed batch the store accepted (not duplicates), as the engine takes them. */
export function acceptedEvents(batch: readonly EventWrite[], r: EventInsertResult): EventInput[] {
  const out: EventInput[] = [];
  for (let i = 0; i < batch.length; i++) if (r.items[i] === "accepted") out.push(eventInput(batch[i]!));
  return out;
}

function eventInput(e: EventWrite): EventInput {
  return {
    type: e.type,
    contact_id: e.contact_id,
    timestamp: e.timestamp,
    ...(e.properties ? { properties: e.properties } : {}),
  };
}
