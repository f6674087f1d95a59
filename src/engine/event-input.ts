/**
 * The checks an event gets before it is stored, wherever it is stored: `Engine.append`
 * on one thread, or the coordinator of a partitioned engine before it routes the event
 * to the worker that holds its contact (partitioned/). Both must refuse the same events
 * with the same errors.
 */
import { EVENT_TYPE_EXPECTED, isEventType } from "../rules/event-type.ts";
import { parseTimeValue } from "../rules/time.ts";
import { FieldValueError } from "./contact-values.ts";
import type { EventInput } from "./types.ts";

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** An event's instant in epoch ms (floored); a date or local time is read in `timeZone`. */
export function eventInstant(e: EventInput, timeZone: string): number {
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
      return parseTimeValue(ts, timeZone).start;
    } catch (err) {
      throw new FieldValueError("event.timestamp", (err as Error).message);
    }
  }
  throw new FieldValueError("event.timestamp", "expected an ISO 8601 instant or epoch ms");
}

/** Checks an event's type, contact, instant, properties and id; answers its instant. */
export function checkEvent(e: EventInput, timeZone: string): number {
  if (!isEventType(e.type)) {
    throw new FieldValueError("event.type", EVENT_TYPE_EXPECTED);
  }
  if (typeof e.contact_id !== "string" || e.contact_id === "") {
    throw new FieldValueError("event.contact_id", "expected a contact id");
  }
  const t = eventInstant(e, timeZone);
  if (
    e.properties !== undefined &&
    (typeof e.properties !== "object" || e.properties === null || Array.isArray(e.properties))
  ) {
    throw new FieldValueError("event.properties", "expected an object");
  }
  if (e.id !== undefined && (typeof e.id !== "string" || e.id === "")) {
    throw new FieldValueError("event.id", "expected a non-empty string");
  }
  return t;
}
