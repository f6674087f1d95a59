/**
 * Bulk loads at start-up: contacts (objects or columns), events (objects or columns)
 * and the end of a load. Nothing is emitted; maintained membership is marked stale
 * and rebuilt, at the live instant, on next use.
 */
import { EVENT_TYPE_EXPECTED, isEventType } from "../../rules/event-type.ts";
import { type ContactColumns, type ContactTable, FieldValueError } from "../contacts.ts";
import type { ProfileEffects } from "../effects.ts";
import { EventColumns, type EventStore } from "../events.ts";
import type { ContactInput, EventInput } from "../types.ts";
import type { EventIntake } from "./intake.ts";
import type { MaintainedMembership } from "./membership.ts";

/** A contact as a store keeps it: with when status and email_status were last written explicitly. */
export interface StoredContact extends ContactInput {
  status_written_at?: number | null;
  email_status_written_at?: number | null;
}

export class Loader {
  constructor(
    private readonly contacts: ContactTable,
    private readonly events: EventStore,
    private readonly effects: ProfileEffects,
    private readonly intake: EventIntake,
    private readonly members: MaintainedMembership,
  ) {}

  loadContacts(it: Iterable<StoredContact>): void {
    for (const c of it) {
      const index = this.contacts.load(c);
      this.loadedEffects(
        index,
        c.status ?? null,
        c.status_written_at ?? Number.NaN,
        c.email_status ?? null,
        c.email_status_written_at ?? Number.NaN,
      );
    }
    this.contactsLoaded();
  }

  private contactsLoaded(): void {
    this.events.ensureContacts(this.contacts.size);
    this.members.dirty = true;
  }

  loadContactColumns(
    b: ContactColumns,
    written: { status?: Float64Array; email_status?: Float64Array },
  ): void {
    const idx = this.contacts.loadColumns(b);
    const st = written.status;
    const es = written.email_status;
    if ((st && st.length !== idx.length) || (es && es.length !== idx.length)) {
      throw new Error("contact columns: write times do not match the rows");
    }
    for (let k = 0; k < idx.length; k++) {
      const index = idx[k];
      const s = this.contacts.valueOf(index, "status");
      const e = this.contacts.valueOf(index, "email_status");
      this.loadedEffects(
        index,
        typeof s === "string" ? s : null,
        st ? st[k] : Number.NaN,
        typeof e === "string" ? e : null,
        es ? es[k] : Number.NaN,
      );
    }
    this.contactsLoaded();
  }

  /** Profile effects of a loaded contact, given when each of its fields was written explicitly (NaN: never). */
  private loadedEffects(
    index: number,
    status: string | null,
    statusAt: number,
    emailStatus: string | null,
    emailStatusAt: number,
  ): void {
    // When each explicit write of status / email_status was received (SPEC §2); none: a default.
    if (!Number.isNaN(statusAt) || !Number.isNaN(emailStatusAt)) {
      this.effects.record(
        index,
        "status",
        status,
        Number.isNaN(statusAt) ? Number.NEGATIVE_INFINITY : statusAt,
      );
      this.effects.record(
        index,
        "email_status",
        emailStatus,
        Number.isNaN(emailStatusAt) ? Number.NEGATIVE_INFINITY : emailStatusAt,
      );
    } else {
      // A stored contact replaces whatever was held before, write times included.
      this.effects.forget(index);
    }
    // Events loaded before their contact keep their profile effects (SPEC §2).
    if (this.effects.touches(index)) this.effects.apply(index);
  }

  loadEvents(it: Iterable<EventInput> | EventColumns, finish: boolean): void {
    if (it instanceof EventColumns) this.loadEventColumns(it);
    else for (const e of it) this.intake.append(e, false);
    this.members.dirty = true;
    if (finish) this.finishLoad();
  }

  /** The checks `EventIntake.append` makes, once per type and contact index rather than per event; times are floored in place. */
  private loadEventColumns(b: EventColumns): void {
    for (const type of b.types) {
      if (!isEventType(type)) {
        throw new FieldValueError("event.type", EVENT_TYPE_EXPECTED);
      }
    }
    const { time, contact, type, count } = b;
    const size = this.contacts.size;
    const types = b.types.length;
    for (let i = 0; i < count; i++) {
      const t = time[i];
      if (!Number.isFinite(t)) throw new FieldValueError("event.timestamp", "expected a finite epoch ms");
      time[i] = Math.floor(t);
      if (!(contact[i] >= 0 && contact[i] < size) || !(type[i] >= 0 && type[i] < types)) {
        throw new Error("event columns: a contact index or type code out of range");
      }
    }
    this.events.ensureContacts(size);
    this.events.addColumns(b);
  }

  /** Ends a bulk load of events: blocks sorted, the slab packed, profile effects applied. */
  finishLoad(): void {
    this.events.compact(true);
    for (const c of this.effects.candidates()) this.effects.apply(c);
    this.members.dirty = true;
  }
}
