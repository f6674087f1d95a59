/**
 * A Segment `identify` call's traits (https://segment.com/docs/connections/spec/identify/#traits)
 * as a contact write: the reserved traits go to the built-in fields, with the checks and
 * normalisation of the REST API (`contactChanges`); the others to custom fields by their
 * snake_case key — type-checked when the workspace declared the field, kept as they are
 * otherwise (docs/ingest.md). A trait that fails its check, or names a computed field
 * (its value is a measure of events, never written), is dropped with a warning; the rest
 * of the call still applies.
 */
import { BUILTIN_KEYS, type BuiltinKey } from "../../contract/fields.ts";
import type { FieldRegistry, FieldType } from "../../rules/fields.ts";
import type { ContactValue } from "../../store/types.ts";
import { ApiError } from "../errors.ts";
import { type ContactChanges, type ContactInput, contactChanges, issuePath } from "../wire.ts";

/** `Order Completed`, `orderCompleted`, `order-completed ` → `order_completed`, `order-completed`. */
export function snakeCase(s: string, keep = ".:-"): string {
  const other = new RegExp(`[^a-z0-9${keep.replace(/[-\\\]^]/g, "\\$&")}]+`, "g");
  return s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(other, "_")
    .replace(/_+/g, "_")
    .replace(/^_|_$/g, "");
}

/** A custom field key (as `FieldRegistry` accepts them) for a trait key, or null. */
export function traitKey(key: string): string | null {
  const k = snakeCase(key, "");
  return /^[a-z][a-z0-9_]{0,63}$/.test(k) ? k : null;
}

/** Built-in fields traits do not set: subscription and deliverability come from the REST API and email events, tags from `group` calls. */
type NotFromTraits = "status" | "email_status" | "tags" | "subscribed_at" | "external_id";

/** Trait keys (as sent) read into built-in fields; the first one present wins. */
const BUILTIN_TRAITS: [Exclude<BuiltinKey, NotFromTraits>, string[]][] = [
  ["email", ["email"]],
  ["first_name", ["firstName", "first_name"]],
  ["last_name", ["lastName", "last_name"]],
  ["phone", ["phone"]],
  ["country", ["address.country", "country"]],
  ["city", ["address.city", "city"]],
  ["region", ["address.state", "address.region", "state", "region"]],
  ["postal_code", ["address.postalCode", "address.postal_code", "postalCode", "postal_code"]],
  ["timezone", ["timezone", "context.timezone"]],
  ["language", ["language", "locale", "context.locale"]],
  ["created_at", ["createdAt", "created_at"]],
];

const FROM_TRAITS: ReadonlySet<string> = new Set(BUILTIN_TRAITS.map(([field]) => field));

/** Traits consumed by the mapping above (or reserved), never kept as custom fields. */
const CONSUMED = new Set([
  ...BUILTIN_TRAITS.flatMap(([, keys]) => keys.filter((k) => !k.includes("."))),
  "address",
  "id",
  "name",
  // Keys of the built-in fields that traits do not set.
  ...BUILTIN_KEYS.filter((k) => !FROM_TRAITS.has(k)),
]);

/** The keys of a workspace's computed fields (`Engine.computedFields()` answers one). */
export interface ComputedKeys {
  has(key: string): boolean;
}

const NO_COMPUTED: ComputedKeys = new Set<string>();

const COMPUTED_WARNING = "computed field; not applied";

export interface TraitChanges {
  changes: ContactChanges;
  /** Keys stored under `fields` that the workspace had not declared when checked. */
  undeclared: string[];
  warnings: string[];
}

const blank = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

function lookup(traits: Record<string, unknown>, context: Record<string, unknown> | null, path: string) {
  const [head, tail] = path.split(".") as [string, string | undefined];
  if (tail === undefined) return traits[head];
  const parent = head === "context" ? context : traits[head];
  if (typeof parent !== "object" || parent === null || Array.isArray(parent)) return undefined;
  return (parent as Record<string, unknown>)[tail];
}

function storable(v: unknown): v is ContactValue {
  return (
    typeof v === "string" ||
    typeof v === "boolean" ||
    (typeof v === "number" && Number.isFinite(v)) ||
    (Array.isArray(v) && v.every((x) => typeof x === "string"))
  );
}

/**
 * The contact write of `traits` (and of `context.timezone` / `context.locale`). Null
 * and blank values are ignored: traits add to a profile and never clear it.
 */
export function traitChanges(
  traits: Record<string, unknown>,
  context: Record<string, unknown> | null,
  registry: FieldRegistry,
  tz: string,
  paths: { traits: string; message: string },
  computed: ComputedKeys = NO_COMPUTED,
): TraitChanges {
  const root = paths.traits;
  const changes: ContactChanges = {};
  const warnings: string[] = [];
  const undeclared: string[] = [];
  const check = (input: ContactInput, at: string): ContactChanges | null => {
    try {
      return contactChanges(input, registry, tz);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      warnings.push(`${at}: ${e.message.replace(/^[\w.]+: /, "")}; not applied`);
      return null;
    }
  };
  for (const [field, keys] of BUILTIN_TRAITS) {
    const key = keys.find((k) => !blank(lookup(traits, context, k)));
    if (key === undefined) continue;
    const raw = lookup(traits, context, key);
    const at = issuePath(key.startsWith("context.") ? paths.message : root, key.split("."));
    if (field !== "created_at" && typeof raw !== "string") {
      warnings.push(`${at}: expected a string; not applied`);
      continue;
    }
    const ch = check({ [field]: raw } as ContactInput, at);
    if (ch) Object.assign(changes, ch);
  }
  // `name` fills first and last names when they are not given (Segment's reserved trait).
  if (
    typeof traits.name === "string" &&
    changes.first_name === undefined &&
    changes.last_name === undefined
  ) {
    const [first, ...rest] = traits.name.trim().split(/\s+/);
    if (first) changes.first_name = first;
    if (rest.length > 0) changes.last_name = rest.join(" ");
  }
  const fields: Record<string, ContactValue> = {};
  for (const [raw, value] of Object.entries(traits)) {
    if (CONSUMED.has(raw) || blank(value)) continue;
    const at = issuePath(root, [raw]);
    const key = traitKey(raw);
    const def = key === null ? undefined : registry.get(key);
    if (key === null || def?.builtin) {
      warnings.push(`${at}: not a usable field key; not applied`);
      continue;
    }
    if (computed.has(key)) {
      warnings.push(`${at}: ${COMPUTED_WARNING}`);
      continue;
    }
    if (def) {
      const ch = check({ fields: { [key]: value } }, at);
      if (ch?.fields) Object.assign(fields, ch.fields);
      continue;
    }
    if (!storable(value)) {
      warnings.push(`${at}: expected a string, number, boolean or list of strings; not applied`);
      continue;
    }
    fields[key] = typeof value === "string" ? value.trim() : value;
    undeclared.push(key);
  }
  if (Object.keys(fields).length > 0) changes.fields = fields;
  return { changes, undeclared, warnings };
}

/**
 * Re-checks keys stored as undeclared against the fields declared now (a field may have
 * been declared since the call was parsed): a value of the wrong type, or of a field
 * declared computed, is dropped.
 */
export function recheckUndeclared(
  t: TraitChanges,
  declared: Map<string, string>,
  registry: FieldRegistry,
  tz: string,
  root: string,
  computed: ComputedKeys = NO_COMPUTED,
): void {
  const fields = t.changes.fields;
  if (!fields) return;
  for (const key of t.undeclared) {
    if (computed.has(key) && Object.hasOwn(fields, key)) {
      delete fields[key];
      t.warnings.push(`${issuePath(root, [key])}: ${COMPUTED_WARNING}`);
      continue;
    }
    if (!declared.has(key) || registry.get(key)) continue;
    try {
      contactChanges(
        { fields: { [key]: fields[key] } },
        registry.withField({ key, type: declared.get(key) as FieldType }),
        tz,
      );
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      delete fields[key];
      t.warnings.push(`${issuePath(root, [key])}: ${e.message.replace(/^[\w.]+: /, "")}; not applied`);
    }
  }
}
