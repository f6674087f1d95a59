/**
 * Where each CSV column of a contact import goes: the default mapping from headers (a
 * built-in field's name or one of its aliases, or a custom field's key), a mapping the
 * user wrote, resolved and checked against the file's headers, and error messages that
 * name the columns a wire path was read from.
 */
import { BUILTIN_CONTACT_FIELDS, type WireKind } from "../contract/fields.ts";
import { BUILTIN_FIELD_KEYS, type FieldType } from "../rules/fields.ts";
import type { ImportColumns, ImportCustomField } from "./import-types.ts";

/** Header spellings that map to a built-in field by default, after normalisation. */
const HEADER_ALIASES: Readonly<Record<string, string>> = Object.fromEntries(
  BUILTIN_CONTACT_FIELDS.flatMap((f) =>
    ("importAliases" in f ? f.importAliases : []).map((alias) => [alias, f.key]),
  ),
);

const BUILTIN_WIRE: ReadonlyMap<string, WireKind> = new Map(
  BUILTIN_CONTACT_FIELDS.map((f) => [f.key, f.wire]),
);

export function isListTarget(t: ColumnTarget): boolean {
  return t.kind === "builtin" ? BUILTIN_WIRE.get(t.key) === "list" : t.type === "string_list";
}

export function isDateTarget(t: ColumnTarget): boolean {
  return t.kind === "builtin" ? BUILTIN_WIRE.get(t.key) === "instant" : t.type === "date";
}

/** Where one column goes: a built-in key (`email`, `tags`, …) or a custom key. */
export type ColumnTarget =
  | { kind: "builtin"; key: string }
  | { kind: "custom"; key: string; type: FieldType };

function targetName(t: ColumnTarget): string {
  return t.kind === "builtin" ? t.key : `fields.${t.key}`;
}

/** Per wire path, the headers of the columns mapped to it. */
export function columnsOf(
  headers: readonly string[],
  targets: readonly (ColumnTarget | null)[],
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  targets.forEach((t, i) => {
    if (t === null) return;
    const name = targetName(t);
    out[name] = [...(out[name] ?? []), headers[i].trim()];
  });
  return out;
}

/** `column "Birthday"`, or `columns "Tags" and "Labels"`. */
export function columnLabel(headers: readonly string[]): string {
  const q = headers.map((h) => JSON.stringify(h));
  if (q.length === 1) return `column ${q[0]}`;
  return `columns ${q.slice(0, -1).join(", ")} and ${q[q.length - 1]}`;
}

/**
 * A sink's error about a contact of the file, with the CSV column named instead of the
 * contact's wire path: `contacts[3].fields.birthday: expected …` (or `fields.birthday:
 * expected …`) becomes `column "Birthday": expected …`. An error about the contact as a
 * whole loses its `contacts[3]` prefix; one about a path no column maps to keeps it.
 */
export function errorWithColumn(error: string, columns: ImportColumns | undefined): string {
  const m = /^(?:contacts\[\d+\])?(?:\.?([A-Za-z_][\w.]*)(\[\d+\])*)?: ([\s\S]*)$/.exec(error);
  if (!m) return error;
  const [, path, , message] = m;
  if (path === undefined) return error.startsWith("contacts[") ? message : error;
  let p = path;
  for (;;) {
    const headers = columns?.[p];
    if (headers?.length) return `${columnLabel(headers)}: ${message}`;
    const dot = p.lastIndexOf(".");
    if (dot < 0) break;
    p = p.slice(0, dot);
  }
  return error.replace(/^contacts\[\d+\]\./, "");
}

/** Lower-case and trimmed, runs of spaces and hyphens as `_`. */
function normalizeHeader(h: string): string {
  return h
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
}

/**
 * The field a header maps to when no mapping is given: a built-in name or a custom key
 * (ignoring case and surrounding spaces, spaces and hyphens counting as `_`, so `First
 * Name` is `first_name`), `fields.<custom key>`, or one of a few common spellings
 * (`Email Address`, `Zip`, `Surname`, …). Null when it names none.
 */
export function defaultTarget(
  header: string,
  customFields: readonly ImportCustomField[],
): ColumnTarget | null {
  const h = normalizeHeader(header);
  if (h === "") return null;
  const custom = new Map(customFields.map((f) => [f.key, f]));
  if (BUILTIN_FIELD_KEYS.has(h)) return { kind: "builtin", key: h };
  const bare = h.startsWith("fields.") ? h.slice("fields.".length) : h;
  const field = custom.get(bare);
  if (field) return { kind: "custom", key: field.key, type: field.type };
  const alias = HEADER_ALIASES[h];
  return alias ? { kind: "builtin", key: alias } : null;
}

/** A mapping target as written by the user; an error message when it names nothing. */
function explicitTarget(
  target: string,
  customFields: readonly ImportCustomField[],
): ColumnTarget | { error: string } {
  if (BUILTIN_FIELD_KEYS.has(target)) return { kind: "builtin", key: target };
  const key = target.startsWith("fields.") ? target.slice("fields.".length) : target;
  const field = customFields.find((f) => f.key === key);
  if (field) return { kind: "custom", key: field.key, type: field.type };
  if (target.startsWith("fields.")) return { error: `custom field "${key}" is not declared` };
  return {
    error: `unknown target "${target}": expected a built-in field, tags, fields.<custom key>, or null`,
  };
}

/**
 * The target of every column of `headers` (null: ignored), or the reason the mapping
 * cannot be used: a mapped column missing from the header, an unknown target, two
 * columns on one field that is not a list, or no column for `email` or `external_id`.
 */
export function resolveMapping(
  mapping: Record<string, string | null> | undefined,
  headers: readonly string[],
  customFields: readonly ImportCustomField[],
): { targets: (ColumnTarget | null)[] } | { error: string } {
  const trimmed = headers.map((h) => h.trim());
  let targets: (ColumnTarget | null)[];
  if (mapping === undefined || mapping === null) {
    targets = trimmed.map((h) => defaultTarget(h, customFields));
  } else {
    if (typeof mapping !== "object" || Array.isArray(mapping)) {
      return { error: "mapping: expected an object of column header → field" };
    }
    targets = trimmed.map(() => null);
    for (const [column, target] of Object.entries(mapping)) {
      const path = `mapping[${JSON.stringify(column)}]`;
      if (target !== null && typeof target !== "string") {
        return { error: `${path}: expected a field name or null` };
      }
      const indexes = trimmed.flatMap((h, i) => (h === column.trim() ? [i] : []));
      if (indexes.length === 0) {
        const known = trimmed.filter((h) => h !== "").map((h) => JSON.stringify(h));
        return { error: `${path}: no column "${column}" in the header (columns: ${known.join(", ")})` };
      }
      if (target === null) continue;
      if (indexes.length > 1) return { error: `${path}: the header has ${indexes.length} columns named so` };
      const t = explicitTarget(target.trim(), customFields);
      if ("error" in t) return { error: `${path}: ${t.error}` };
      targets[indexes[0]] = t;
    }
  }
  const seen = new Map<string, number>();
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t === null) continue;
    const name = targetName(t);
    const before = seen.get(name);
    if (before !== undefined && !isListTarget(t)) {
      return {
        error: `columns "${trimmed[before]}" and "${trimmed[i]}" both map to ${name}; give a mapping that ignores one`,
      };
    }
    seen.set(name, i);
  }
  if (!seen.has("email") && !seen.has("external_id")) {
    if (mapping === undefined || mapping === null) {
      const known = trimmed.filter((h) => h !== "").map((h) => JSON.stringify(h));
      return {
        error: `no column maps to email or external_id, which identify a contact (columns: ${known.join(", ")}); give a mapping`,
      };
    }
    return { error: "mapping: no column maps to email or external_id, which identify a contact" };
  }
  return { targets };
}

/** Why `mapping` cannot import a file with these headers, or null when it can. */
export function validateMapping(
  mapping: Record<string, string | null> | undefined,
  headers: readonly string[],
  customFields: readonly ImportCustomField[],
): string | null {
  const r = resolveMapping(mapping, headers, customFields);
  return "error" in r ? r.error : null;
}
