/** Custom fields and contacts. */
import type { StoredBuiltins } from "../../contract/fields.ts";
import type { FieldType } from "../../rules/fields.ts";
import type { PageRequest } from "./common.ts";

export interface CustomField {
  key: string;
  type: FieldType;
  label: string;
  created_at: number;
  /** A computed field's definition (`ComputedDefinition`, checked by the service); null for a stored field. */
  computed: unknown | null;
}

export interface NewField {
  key: string;
  type: FieldType;
  label?: string;
  computed?: unknown;
}

export type ContactValue = string | number | boolean | string[] | null;

/**
 * A contact as stored. `status` and `email_status` hold the values last written
 * explicitly (or given as defaults at creation); the effects of events on them
 * (SPEC §2) are derived by the engine from the events, using `status_written_at` and
 * `email_status_written_at`: when the explicit write was received, null when the value
 * is a creation default that never blocks an effect. The built-in fields' keys and
 * types come from the field table (`src/contract/fields.ts`); `email` is trimmed and
 * lower-cased by the store.
 */
export interface ContactRecord extends StoredBuiltins {
  id: string;
  /** Custom fields. */
  fields: Record<string, ContactValue>;
  status_written_at: number | null;
  email_status_written_at: number | null;
  updated_at: number;
}

/**
 * A full replacement of a contact. Without `id` (or with an id not stored yet) the
 * contact is created; with a stored id it is replaced, except `created_at`, which is
 * kept from creation. Keys left out are stored as not set.
 */
export type ContactWrite = Partial<Omit<ContactRecord, "updated_at">>;

/** A contact reference (SPEC §4): exactly one key. */
export type ContactRef = { id: string } | { email: string } | { external_id: string };

export interface ListContactsRequest extends PageRequest {
  /**
   * Only contacts in this set, e.g. a segment's membership from the engine. The store
   * scans its own order and skips the others, so this suits large segments; for a small
   * one, page the engine's ids and call `getContacts`.
   */
  segmentMembers?: { has(contactId: string): boolean };
}
