/**
 * The contacts table's columns and how a row of them, read as an array, becomes a
 * record: one list for the store's queries (`sql-store.ts`), the start-up readers' column
 * pages (`sqlite-bulk-worker.ts`) and the start-up load that reads those pages by
 * position (`startup-load.ts`), so that the three cannot drift apart.
 */
import type { ContactRecord, ContactValue } from "./types.ts";

export const CONTACT_COLUMNS = [
  "workspace_id",
  "id",
  "email",
  "external_id",
  "phone",
  "first_name",
  "last_name",
  "country",
  "region",
  "city",
  "postal_code",
  "timezone",
  "language",
  "status",
  "email_status",
  "tags",
  "custom",
  "created_at",
  "subscribed_at",
  "status_written_at",
  "email_status_written_at",
  "updated_at",
] as const;

/** What a contact read selects, in `contactFromRow`'s order: every column but the workspace. */
export const CONTACT_ROW_COLUMNS = CONTACT_COLUMNS.slice(1);

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * A row of `CONTACT_ROW_COLUMNS` as a record; `parse` turns the stored `tags` and
 * `custom` into values (JSON text on SQLite, already parsed on PostgreSQL).
 */
export function contactFromRow(a: unknown[], parse: <T>(v: unknown) => T): ContactRecord {
  return {
    id: a[0] as string,
    email: a[1] as string | null,
    external_id: a[2] as string | null,
    phone: a[3] as string | null,
    first_name: a[4] as string | null,
    last_name: a[5] as string | null,
    country: a[6] as string | null,
    region: a[7] as string | null,
    city: a[8] as string | null,
    postal_code: a[9] as string | null,
    timezone: a[10] as string | null,
    language: a[11] as string | null,
    status: a[12] as string | null,
    email_status: a[13] as string | null,
    tags: parse<string[]>(a[14]),
    fields: parse<Record<string, ContactValue>>(a[15]),
    created_at: Number(a[16]),
    subscribed_at: num(a[17]),
    status_written_at: num(a[18]),
    email_status_written_at: num(a[19]),
    updated_at: Number(a[20]),
  };
}
