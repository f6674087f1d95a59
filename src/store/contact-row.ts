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
  const cells = columnKeys(table).map(([key, f]) =>
    key === "fields" || f?.sql === "json" ? `json(r.${plainKey(key)})` : `r.${plainKey(key)}`,
  );
  return new Function(`return (ws, r, json) => [ws, ${cells.join(", ")}];`)();
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

/** A key safe to write into generated code as it is. */
export function plainKey(key: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(key))
    throw new Error(`contact field key ${JSON.stringify(key)} is not a plain name`);
  return key;
}

/**
 * How each column of a row (`contactColumns(table)` after the workspace) becomes a
 * record key; `custom` becomes `fields`. Not-null instants are clamped, nullable ones
 * repaired to null. The reader is generated as one object literal per row, as a hand
 * written one would be: every read of a contact goes through it, and a loop of keyed
 * stores cost four times as much.
 */
export function rowReader(table: readonly BuiltinFieldSpec[]): (a: unknown[], parse: Parse) => ContactRecord {
  const read = (key: string, f: BuiltinFieldSpec | undefined, v: string): string => {
    if (f !== undefined) {
      if (f.sql === "json") return `parse(${v})`;
      if (f.sql === "bigint") return f.nullable ? `num(${v})` : `clamped(Number(${v}))`;
      return v;
    }
    if (key === "fields") return `parse(${v})`;
    if (key === "updated_at") return `clamped(Number(${v}))`;
    return key === "id" ? v : `num(${v})`;
  };
  const body = columnKeys(table)
    .map(([key, f], k) => `${plainKey(key)}: ${read(key, f, `a[${k}]`)}`)
    .join(",\n");
  return new Function("num", "clamped", `return (a, parse) => ({\n${body}\n});`)(num, clampedInstant);
}

/**
 * A row of `CONTACT_ROW_COLUMNS` as a record; `parse` turns the stored `tags` and
 * `custom` into values (JSON text on SQLite, already parsed on PostgreSQL).
 */
export const contactFromRow: (a: unknown[], parse: <T>(v: unknown) => T) => ContactRecord =
  rowReader(BUILTIN_CONTACT_FIELDS);
