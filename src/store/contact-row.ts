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

/**
 * The instants Slice takes and keeps: from 0000-01-01 to 9999-12-31 UTC, the years
 * ISO 8601 writes with four digits. JavaScript's own range (±8.64e15 ms) is wider, but
 * at its edges a day's arithmetic or `toISOString` throws; every write path refuses
 * values outside this range (wire.ts), and reads repair those stored before it did.
 */
/** 0000-01-01T00:00:00.000Z */
export const INSTANT_MIN = -62_167_219_200_000;
/** 9999-12-31T23:59:59.999Z */
export const INSTANT_MAX = 253_402_300_799_999;

export function instantInRange(t: number): boolean {
  return t >= INSTANT_MIN && t <= INSTANT_MAX;
}

/**
 * Stored instants outside the range (written before writes were checked, or by hand)
 * answered 500 on every read of their contact. On read, a nullable one becomes null and
 * `created_at` / `updated_at` are clamped into the range; `instantRepairs` counts them so
 * that the start-up load can log once per workspace (live-workspace.ts).
 */
export const instantRepairs = { count: 0 };

export function repairedInstant(t: number | null): number | null {
  if (t === null || instantInRange(t)) return t;
  instantRepairs.count++;
  return null;
}

export function clampedInstant(t: number): number {
  if (instantInRange(t)) return t;
  instantRepairs.count++;
  return t > INSTANT_MAX ? INSTANT_MAX : INSTANT_MIN;
}

const num = (v: unknown): number | null =>
  v === null || v === undefined ? null : repairedInstant(Number(v));

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
    created_at: clampedInstant(Number(a[16])),
    subscribed_at: num(a[17]),
    status_written_at: num(a[18]),
    email_status_written_at: num(a[19]),
    updated_at: clampedInstant(Number(a[20])),
  };
}
