/**
 * The wire form of a contact (SPEC §1, §4): what the API answers and what an NDJSON
 * export writes, one per line. Dates are ISO 8601 instants in UTC. `segments` is not
 * part of it: reads that show memberships add it themselves.
 */
import type { ContactRecord, ContactValue } from "../store/types.ts";

export interface WireContact {
  id: string;
  email: string | null;
  external_id: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  postal_code: string | null;
  timezone: string | null;
  language: string | null;
  status: string | null;
  email_status: string | null;
  tags: string[];
  /** ISO 8601, e.g. `2024-05-01T12:00:00.000Z`. */
  created_at: string;
  /** ISO 8601, or null when never opted in. */
  subscribed_at: string | null;
  fields: Record<string, ContactValue>;
}

/** Epoch milliseconds to an ISO 8601 UTC instant. */
export function isoInstant(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A stored contact in its wire form, keys in SPEC order. `status` and `email_status`
 * are taken as they are in the record: pass a record holding the effective values
 * (the engine's, with event effects applied) when that is what should be shown.
 */
export function toWireContact(r: ContactRecord): WireContact {
  return {
    id: r.id,
    email: r.email,
    external_id: r.external_id,
    phone: r.phone,
    first_name: r.first_name,
    last_name: r.last_name,
    country: r.country,
    region: r.region,
    city: r.city,
    postal_code: r.postal_code,
    timezone: r.timezone,
    language: r.language,
    status: r.status,
    email_status: r.email_status,
    tags: [...r.tags],
    created_at: isoInstant(r.created_at),
    subscribed_at: r.subscribed_at == null ? null : isoInstant(r.subscribed_at),
    fields: { ...r.fields },
  };
}
