/**
 * The contacts table's columns and how a row of them, read as an array, becomes a
 * record: one list for the store's queries (`sql-store.ts`), the start-up readers' column
 * pages (`sqlite-bulk-worker.ts`) and the start-up load that reads those pages by
 * position (`startup-load.ts`), so that the three cannot drift apart. The built-in
 * fields' columns come from the contract's table (src/contract/fields.ts).
 */
import { BUILTIN_CONTACT_FIELDS, type BuiltinFieldSpec } from "../contract/fields.ts";
import type { ContactRecord } from "./types.ts";

/**
 * The columns of a contacts table holding `table`'s built-in fields: the workspace and
 * id, the text columns, the JSON ones with the custom fields after them, then the
 * instants and the store's own times.
 */
export function contactColumns(table: readonly BuiltinFieldSpec[]): string[] {
  const of = (sql: (s: BuiltinFieldSpec["sql"]) => boolean) =>
    table.filter((f) => sql(f.sql)).map((f) => f.column);
  return [
    "workspace_id",
    "id",
    ...of((t) => t === "key" || t === "text"),
    ...of((t) => t === "json"),
    "custom",
    ...of((t) => t === "bigint"),
    "status_written_at",
    "email_status_written_at",
    "updated_at",
  ];
}

export const CONTACT_COLUMNS = contactColumns(BUILTIN_CONTACT_FIELDS) as readonly string[];

/** What a contact read selects, in `contactFromRow`'s order: every column but the workspace. */
export const CONTACT_ROW_COLUMNS = CONTACT_COLUMNS.slice(1);

/** PostgreSQL array type of each of `columns` in an `unnest` batch (JSON goes as text, cast after). */
export function pgArrayTypes(columns: readonly string[], table: readonly BuiltinFieldSpec[]): string[] {
  const sql = new Map<string, BuiltinFieldSpec["sql"]>(table.map((f) => [f.column, f.sql]));
  return columns.map((c) => (c.endsWith("_at") || sql.get(c) === "bigint" ? "bigint[]" : "text[]"));
}

/** Each of `columns` as an `unnest` batch selects it: JSON columns cast from their text. */
export function pgCasts(columns: readonly string[], table: readonly BuiltinFieldSpec[]): string[] {
  const json = new Set(["custom", ...table.filter((f) => f.sql === "json").map((f) => f.column)]);
  return columns.map((c) => (json.has(c) ? `${c}::jsonb` : c));
}

/** The record key each column after the workspace holds (`custom` holds `fields`), with its table row if any. */
function columnKeys(table: readonly BuiltinFieldSpec[]): [string, BuiltinFieldSpec | undefined][] {
  const byColumn = new Map(table.map((f) => [f.column, f]));
  return contactColumns(table)
    .slice(1)
    .map((column) => {
      const f = byColumn.get(column);
      return [f?.key ?? (column === "custom" ? "fields" : column), f];
    });
}

/**
 * The parameters of a contact insert in `contactColumns(table)` order; `json` writes the
 * JSON columns (tags, custom fields) as the database takes them.
 */
export function contactParamsOf(
  table: readonly BuiltinFieldSpec[],
): (ws: string, r: ContactRecord, json: (v: unknown) => unknown) => unknown[] {
  const plan = columnKeys(table).map(([key, f]) => [key, key === "fields" || f?.sql === "json"] as const);
  return (ws, r, json) => {
    const from = r as unknown as Record<string, unknown>;
    const row: unknown[] = [ws];
    for (const [key, isJson] of plan) row.push(isJson ? json(from[key]) : from[key]);
    return row;
  };
}

/** The parameters of a contact insert, in `CONTACT_COLUMNS` order. */
export const contactParams = contactParamsOf(BUILTIN_CONTACT_FIELDS);

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

type Parse = <T>(v: unknown) => T;
type Read = (v: unknown, parse: Parse) => unknown;

const readText: Read = (v) => v;
const readJson: Read = (v, parse) => parse(v);
const readTime: Read = (v) => num(v);
const readClamped: Read = (v) => clampedInstant(Number(v));

/**
 * How each column of a row (`contactColumns(table)` after the workspace) becomes a
 * record key; `custom` becomes `fields`. Not-null instants are clamped, nullable ones
 * repaired to null.
 */
export function rowReader(table: readonly BuiltinFieldSpec[]): (a: unknown[], parse: Parse) => ContactRecord {
  const plan = columnKeys(table).map(([key, f]): [string, Read] => {
    if (f !== undefined)
      return [
        key,
        f.sql === "json" ? readJson : f.sql === "bigint" ? (f.nullable ? readTime : readClamped) : readText,
      ];
    if (key === "fields") return [key, readJson];
    if (key === "updated_at") return [key, readClamped];
    return [key, key === "id" ? readText : readTime];
  });
  const keys = plan.map(([k]) => k);
  const reads = plan.map(([, r]) => r);
  return (a, parse) => {
    const out: Record<string, unknown> = {};
    for (let k = 0; k < keys.length; k++) out[keys[k]] = reads[k](a[k], parse);
    return out as unknown as ContactRecord;
  };
}

/**
 * A row of `CONTACT_ROW_COLUMNS` as a record; `parse` turns the stored `tags` and
 * `custom` into values (JSON text on SQLite, already parsed on PostgreSQL).
 */
export const contactFromRow: (a: unknown[], parse: <T>(v: unknown) => T) => ContactRecord =
  rowReader(BUILTIN_CONTACT_FIELDS);
