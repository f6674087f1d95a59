/**
 * Live writes: a change to one contact re-evaluates, for that contact only, the
 * segments that read what changed (a field, an event type, a referenced segment), then
 * reschedules it. `addEvent` is the hot path: the readers of the event's type come as
 * arrays built once per type, and a timer the event cannot move is left alone.
 */
import { type ContactTable, FieldValueError } from "../contacts.ts";
import { EFFECT_EVENT_TYPES, type EffectField, type ProfileEffects } from "../effects.ts";
import type { EventStore } from "../events.ts";
import type { ContactInput, EventInput, MembershipChange } from "../types.ts";
import { aliveIndex } from "./alive.ts";
import type { DueTimes } from "./due.ts";
import type { EventIntake } from "./intake.ts";
import type { MaintainedMembership } from "./membership.ts";
import type { Scheduler } from "./schedule.ts";

const NO_FIELDS: readonly EffectField[] = [];

export interface WriteOptions {
  /** When an explicit write of `status` / `email_status` was received (default: now). SPEC §2. */
  receivedAt?: number;
  /** Keys given as creation defaults: they never block a profile effect of an event. */
  defaults?: EffectField[];
}

export interface EventBatchResult {
  accepted: number;
  duplicates: number;
  errors: { index: number; error: string }[];
  changes: MembershipChange[];
}

export class Writes {
  constructor(
    private readonly contacts: ContactTable,
    private readonly events: EventStore,
    private readonly effects: ProfileEffects,
    private readonly intake: EventIntake,
    private readonly members: MaintainedMembership,
    private readonly scheduler: Scheduler,
    private readonly due: DueTimes,
  ) {}

  writeContact(c: ContactInput, patch: boolean, opts: WriteOptions): MembershipChange[] {
    if (patch && this.contacts.index(c.id) === undefined)
      throw new FieldValueError("contact.id", `unknown contact "${c.id}"`);
    const out = this.scheduler.sync();
    const before = this.contacts.index(c.id);
    const isNew = before === undefined || !this.contacts.alive.has(before);
    const { index, changed } = this.contacts.upsert(c, patch);
    this.members.grow();
    if (!patch) this.effects.forget(index);
    const at = opts.receivedAt ?? this.scheduler.now;
    for (const key of ["status", "email_status"] as const) {
      if (c[key] === undefined && patch) continue;
      // A key left out is not an explicit write: it blocks no event's effect.
      const explicit = c[key] !== undefined && !(opts.defaults?.includes(key) ?? false);
      this.effects.record(index, key, c[key] ?? null, explicit ? at : Number.NEGATIVE_INFINITY);
    }
    const effected = this.effects.apply(index);
    if (isNew && this.members.ranks.size > 0) this.members.rankTouch(index, null, out);
    const keys = new Set([...changed, ...effected].map((k) => `f:${k}`));
    this.due.reschedule(index, this.members.reevaluate(index, isNew ? null : keys, out));
    return out;
  }

  changeTags(contactId: string, change: { add?: string[]; remove?: string[] }): MembershipChange[] {
    const out = this.scheduler.sync();
    const c = aliveIndex(this.contacts, contactId);
    if (this.contacts.changeTags(c, change.add ?? [], change.remove ?? [])) {
      this.due.reschedule(c, this.members.reevaluate(c, new Set(["f:tags"]), out));
    }
    return out;
  }

  removeContact(id: string): MembershipChange[] {
    const out = this.scheduler.sync();
    const i = this.contacts.index(id);
    if (i === undefined || !this.contacts.alive.has(i)) return out;
    this.members.removeContact(i, out);
    this.contacts.remove(id);
    this.events.clearContact(i);
    this.effects.forget(i);
    if (this.members.ranks.size > 0) this.members.rankTouch(i, null, out);
    this.due.drop(i);
    return out;
  }

  addEvent(e: EventInput, contact: number): MembershipChange[] {
    const out = this.scheduler.sync();
    const members = this.members;
    const before = this.contacts.count;
    const c = this.intake.append(e, true, contact);
    if (c < 0) return out;
    const isNew = this.contacts.count !== before;
    members.grow();
    if (members.ranks.size > 0) members.rankTouch(c, isNew ? null : e.type, out);
    const effected = EFFECT_EVENT_TYPES.has(e.type) ? this.effects.applyAfterEvent(e.type, c) : NO_FIELDS;
    if (isNew || effected.length > 0) {
      const keys = new Set([`e:${e.type}`]);
      for (const k of effected) keys.add(`f:${k}`);
      this.due.reschedule(c, members.reevaluate(c, isNew ? null : keys, out));
      return out;
    }
    // The common case: only the segments reading the type, from arrays built once per type.
    const rs = members.eventReaders(e.type);
    // Changes name the contact by the event's id string (the same text; no lookup by index).
    members.eventContact = c;
    members.eventContactId = e.contact_id;
    const { states, nodes } = rs;
    for (let k = 0; k < states.length; k++) members.reevaluateNode(states[k], nodes[k], c, out);
    members.eventContact = -1;
    if (!this.due.kept(rs, c, this.intake.lastTable!, this.intake.lastSlot))
      this.due.scheduleNodes(c, rs.timed, true);
    return out;
  }

  addEvents(batch: EventInput[]): EventBatchResult {
    const res: EventBatchResult = { accepted: 0, duplicates: 0, errors: [], changes: [] };
    batch.forEach((e, index) => {
      try {
        if (e.id !== undefined && this.intake.seen(e.id)) {
          res.duplicates++;
          return;
        }
        res.changes.push(...this.addEvent(e, -1));
        res.accepted++;
      } catch (err) {
        res.errors.push({ index, error: (err as Error).message });
      }
    });
    return res;
  }
}
