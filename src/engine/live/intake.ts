/**
 * An event on its way in: checked field by field (SPEC §2, errors name the path),
 * de-duplicated by id, and stored in its type's table. Live writes and bulk loads of
 * event objects share it; columnar loads are checked once per column (loading.ts).
 */
import { EVENT_TYPE_EXPECTED, isEventType } from "../../rules/event-type.ts";
import { parseTimeValue } from "../../rules/time.ts";
import { type ContactTable, FieldValueError } from "../contacts.ts";
import type { EventStore, EventTable } from "../events.ts";
import type { EventInput } from "../types.ts";

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

export class EventIntake {
  private readonly ids = new Set<string>();
  /** Where the last `append` wrote. */
  lastTable: EventTable | null = null;
  lastSlot = -1;

  constructor(
    private readonly contacts: ContactTable,
    private readonly events: EventStore,
    private readonly timeZone: string,
  ) {}

  /** Whether an event with this id was stored already. */
  seen(id: string): boolean {
    return this.ids.has(id);
  }

  private eventTime(e: EventInput): number {
    const ts = e.timestamp;
    if (typeof ts === "number") {
      if (!Number.isFinite(ts)) throw new FieldValueError("event.timestamp", "expected a finite epoch ms");
      return Math.floor(ts);
    }
    if (typeof ts === "string") {
      if (ISO_WITH_ZONE.test(ts)) {
        const t = Date.parse(ts);
        if (!Number.isNaN(t)) return t;
      }
      try {
        return parseTimeValue(ts, this.timeZone).start;
      } catch (err) {
        throw new FieldValueError("event.timestamp", (err as Error).message);
      }
    }
    throw new FieldValueError("event.timestamp", "expected an ISO 8601 instant or epoch ms");
  }

  /** Checks an event and stores it; returns the contact index, or -1 for a duplicate id. */
  append(e: EventInput, keepSorted: boolean, contact = -1): number {
    if (!isEventType(e.type)) {
      throw new FieldValueError("event.type", EVENT_TYPE_EXPECTED);
    }
    if (typeof e.contact_id !== "string" || e.contact_id === "") {
      throw new FieldValueError("event.contact_id", "expected a contact id");
    }
    const t = this.eventTime(e);
    if (
      e.properties !== undefined &&
      (typeof e.properties !== "object" || e.properties === null || Array.isArray(e.properties))
    ) {
      throw new FieldValueError("event.properties", "expected an object");
    }
    if (e.id !== undefined) {
      if (typeof e.id !== "string" || e.id === "")
        throw new FieldValueError("event.id", "expected a non-empty string");
      if (this.ids.has(e.id)) return -1;
      this.ids.add(e.id);
    }
    // An event for an unknown contact creates it with no fields (SPEC §2).
    const c = contact >= 0 ? contact : this.contacts.ensure(e.contact_id);
    this.events.ensureContacts(this.contacts.size);
    const table = this.events.table(e.type);
    this.lastSlot = table.append(c, t, e.properties, keepSorted);
    this.lastTable = table;
    return c;
  }
}
