/**
 * A contact on the wire (SPEC §1, §4), both ways, derived from the built-in table of
 * src/contract/fields.ts: what the API answers and an NDJSON export writes, one per line
 * (dates as ISO 8601 instants in UTC), and what a contact write takes and how it is
 * checked for the store. `segments` is not part of the answer: reads that show
 * memberships add it themselves (`WireContactWithSegments`). The types are inferred
 * from the schemas, which the OpenAPI document and the response check use too.
 */
import { z } from "zod";
import {
  BUILTIN_CONTACT_FIELDS,
  type BuiltinFieldSpec,
  type BuiltinFields,
  CONTACT_CAPS,
  type WireKind,
  type WireValueOf,
} from "../contract/fields.ts";
import type { FieldRegistry } from "../rules/fields.ts";
import { toInstant } from "../rules/time.ts";
import { INSTANT_MAX, INSTANT_MIN, instantInRange, plainKey } from "../store/contact-row.ts";
import type { ContactRecord, ContactValue } from "../store/types.ts";
import { emailProblem } from "./email.ts";
import { invalid } from "./errors.ts";
import { ianaZone, isoCountry } from "./geo.ts";
import { isoInstant } from "./iso-instant.ts";
import { normalisePhone } from "./phone.ts";

/** `rule.conditions[1]` style path of a zod issue under `root`. */
export function issuePath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

// ---------------------------------------------------------------- answers

/** A custom field's value (`ContactValue`). */
export const WireContactValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.null()]);

type AnswerShape<T extends readonly BuiltinFieldSpec[]> = {
  -readonly [F in T[number] as F["key"]]: z.ZodType<WireValueOf<F>>;
};

function answerSchema(f: BuiltinFieldSpec): z.ZodType {
  let s: z.ZodType =
    f.wire === "enum" && f.values ? z.enum(f.values) : f.wire === "list" ? z.array(z.string()) : z.string();
  if (f.nullable) s = s.nullable();
  return f.doc === undefined ? s : s.meta({ description: f.doc });
}

/** The answer schema of a contact with `table`'s built-in fields, keys in table order. */
export function wireContactSchema<const T extends readonly BuiltinFieldSpec[]>(table: T) {
  const builtins = Object.fromEntries(table.map((f) => [f.key, answerSchema(f)])) as AnswerShape<T>;
  return z.strictObject({
    id: z.string(),
    ...builtins,
    fields: z.record(z.string(), WireContactValue),
    computed: z
      .record(z.string(), z.union([z.string(), z.number(), z.null()]))
      .optional()
      .meta({
        description:
          "The computed fields' values now, when the workspace has computed fields (docs/rules.md, Computed fields); read-only",
      }),
  });
}

/** `status` is the effective status, event effects applied. */
export const WireContactSchema = wireContactSchema(BUILTIN_CONTACT_FIELDS);

export type WireContact = Omit<z.infer<typeof WireContactSchema>, "status" | "email_status"> & {
  // Typed as the records they are copied from; the schema names the values answered.
  status: string | null;
  email_status: string | null;
};

/** The values of computed fields by key: numbers, ISO instants, strings as rules see them, or null. */
export type ComputedValues = Record<string, string | number | null>;

/**
 * A wire contact without its computed values: what its ETag is made from, so that the
 * tag changes with the stored profile only, not as events arrive or time passes.
 */
export function storedProfile<T extends { computed?: unknown }>(c: T): Omit<T, "computed"> {
  const { computed: _, ...rest } = c;
  return rest;
}

/** A contact with the ids of the segments it is in now (single-contact reads and writes). */
export const WireContactWithSegments = WireContactSchema.extend({ segments: z.array(z.string()) });

/**
 * How a stored record of `table`'s fields becomes its wire form (`toWireContact`):
 * generated as one object literal, as a hand-written one would be, since every answer
 * and NDJSON line goes through it and a loop of keyed stores cost three times as much.
 */
export function wireContactOf(table: readonly BuiltinFieldSpec[]): (r: ContactRecord) => WireContact {
  const cells = table.map((f) => {
    const v = `r.${plainKey(f.key)}`;
    const value =
      f.wire === "list"
        ? `[...${v}]`
        : f.wire === "instant"
          ? f.nullable
            ? `${v} == null ? null : iso(${v})`
            : `iso(${v})`
          : v;
    return `${f.key}: ${value}`;
  });
  return new Function("iso", `return (r) => ({ id: r.id, ${cells.join(", ")}, fields: { ...r.fields } });`)(
    isoInstant,
  );
}

/**
 * A stored contact in its wire form, keys in SPEC order. `status` and `email_status`
 * are taken as they are in the record: pass a record holding the effective values
 * (the engine's, with event effects applied) when that is what should be shown.
 */
export const toWireContact: (r: ContactRecord) => WireContact = wireContactOf(BUILTIN_CONTACT_FIELDS);

// ---------------------------------------------------------------- writes

const longer = (n: number) => ({ error: `is longer than ${n} characters` });
export const capped = (n: number) => z.string().max(n, longer(n));

/** A list of strings a write takes for `f` (`tags`). */
function listInput(f: BuiltinFieldSpec) {
  const item = f.maxLength === undefined ? z.string() : capped(f.maxLength);
  const items = f.maxItems ?? Number.MAX_SAFE_INTEGER;
  return z.array(item).max(items, { error: `at most ${items} ${f.key}` });
}

const builtin = (key: string) => BUILTIN_CONTACT_FIELDS.find((f) => f.key === key)!;

/** A list of tags as a write takes it (contact writes, `POST …/tags`). */
export const Tags = listInput(builtin("tags"));

const DateInput = z.union([z.string(), z.number()]).nullable();

type InputValueOf<F extends BuiltinFieldSpec> =
  | (F["wire"] extends "enum"
      ? NonNullable<F["values"]>[number]
      : F["wire"] extends "list"
        ? string[]
        : F["wire"] extends "instant"
          ? string | number
          : string)
  | null;

type InputShape<T extends readonly BuiltinFieldSpec[]> = {
  -readonly [F in T[number] as F["writable"] extends true ? F["key"] : never]: z.ZodOptional<
    z.ZodType<InputValueOf<F>>
  >;
};

function inputSchema(f: BuiltinFieldSpec): z.ZodType {
  switch (f.wire) {
    case "enum":
      return z.enum(f.values ?? [""]).nullable();
    case "list":
      return listInput(f).nullable();
    case "instant":
      return DateInput;
    case "text":
      // Email and country have checks of their own (`contactChanges`), which answer their length.
      return (f.maxLength === undefined ? z.string() : capped(f.maxLength)).nullable();
  }
}

/** The contact-write schema of `table`'s writable built-in fields, keys in table order. */
export function contactInputSchema<const T extends readonly BuiltinFieldSpec[]>(table: T) {
  const builtins = Object.fromEntries(
    table.filter((f) => f.writable).map((f) => [f.key, inputSchema(f).optional()]),
  ) as InputShape<T>;
  return z.strictObject({
    id: capped(CONTACT_CAPS.id).min(1).optional(),
    ...builtins,
    fields: z.record(z.string(), z.unknown()).optional(),
  });
}

export const ContactInput = contactInputSchema(BUILTIN_CONTACT_FIELDS);
export type ContactInput = z.infer<typeof ContactInput>;

type ChangeOf<F extends BuiltinFieldSpec> = F["wire"] extends "list"
  ? string[]
  : F["wire"] extends "instant"
    ? number | null
    : string | null;

type ChangesOf<T extends readonly BuiltinFieldSpec[]> = {
  -readonly [F in T[number] as F["writable"] extends true ? F["key"] : never]?: ChangeOf<F>;
};

/** The keys of a contact write, checked and converted for the store; only the keys given. */
export interface ContactChanges extends ChangesOf<BuiltinFields> {
  fields?: Record<string, ContactValue>;
}

/** A value quoted in an error message, cut so that the message stays small. */
function quoteShort(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

function blankToNull(s: string | null | undefined): string | null {
  if (s === null || s === undefined) return null;
  const t = s.trim();
  return t === "" ? null : t;
}

/** Built-in text fields with a check of their own below; the others are trimmed, blank as null. */
const OWN_CHECK: ReadonlySet<string> = new Set(["email", "country"]);

type Changes = (c: ContactInput, registry: FieldRegistry, tz: string, root?: string) => ContactChanges;

/** `contactChanges` for a table of built-in fields. */
export function contactChangesOf(table: readonly BuiltinFieldSpec[]): Changes {
  const keys = (wire: WireKind) =>
    table.filter((f) => f.writable && f.wire === wire && !OWN_CHECK.has(f.key)).map((f) => f.key);
  const text = keys("text");
  const enums = keys("enum");
  const lists = keys("list");
  const instants = keys("instant");
  return (c, registry, tz, root = "") => {
    const at = (k: string) => issuePath(root, [k]);
    const given = c as Record<string, unknown>;
    const out: ContactChanges = {};
    const set = out as Record<string, unknown>;
    if (c.email !== undefined) {
      const e = blankToNull(c.email)?.toLowerCase() ?? null;
      const problem = e === null ? null : emailProblem(e);
      if (problem) throw invalid(at("email"), `${quoteShort(c.email ?? "")} ${problem}`);
      out.email = e;
    }
    for (const k of text) if (given[k] !== undefined) set[k] = blankToNull(given[k] as string | null);
    if (c.country !== undefined) {
      const v = blankToNull(c.country);
      const code = v === null ? null : isoCountry(v);
      if (v !== null && code === null) {
        throw invalid(
          at("country"),
          `expected an ISO 3166-1 alpha-2 code such as "FR", got ${quoteShort(c.country ?? "")}`,
        );
      }
      out.country = code;
    }
    if (out.timezone) {
      const zone = ianaZone(out.timezone);
      if (zone === null)
        throw invalid(
          at("timezone"),
          `expected an IANA time zone such as "Europe/Paris", got ${quoteShort(out.timezone)}`,
        );
      out.timezone = zone;
    }
    // SPEC §1: E.164 where possible, the contact's country (given now, else unknown here)
    // as the default region. A patch without a country parses international forms only.
    if (out.phone) out.phone = normalisePhone(out.phone, out.country ?? null);
    for (const k of enums) if (given[k] !== undefined) set[k] = given[k];
    for (const k of lists) {
      const v = given[k] as string[] | null | undefined;
      if (v !== undefined) set[k] = [...new Set((v ?? []).map((t) => t.trim()).filter((t) => t !== ""))];
    }
    for (const k of instants) {
      const v = given[k] as string | number | null | undefined;
      if (v === undefined) continue;
      if (v === null) set[k] = null;
      else set[k] = checkedInstant(v, tz, at(k));
    }
    if (c.fields !== undefined) {
      const fields: Record<string, ContactValue> = {};
      for (const [key, value] of Object.entries(c.fields)) {
        const path = issuePath(root, ["fields", key]);
        const def = registry.get(key);
        if (!def || def.builtin) {
          throw invalid(path, `unknown custom field "${key}" (declare it with POST /v1/fields)`);
        }
        fields[key] = customValue(value, def.type, tz, path);
      }
      out.fields = fields;
    }
    return out;
  };
}

/**
 * Validates a parsed contact against the workspace's fields: custom keys declared and
 * of the right type, dates that parse, a plausible email, a two-letter country.
 * Throws a 400 naming the bad part (`root.fields.score: expected a number`).
 */
export const contactChanges: Changes = contactChangesOf(BUILTIN_CONTACT_FIELDS);

/** An instant given as epoch ms or ISO 8601 text, inside the range every reader can print. */
export function checkedInstant(v: string | number, tz: string, path: string): number {
  let t: number;
  try {
    t = toInstant(v, tz);
  } catch (e) {
    throw invalid(path, (e as Error).message);
  }
  if (!instantInRange(t)) throw invalid(path, OUT_OF_RANGE);
  return t;
}

const OUT_OF_RANGE = `is outside the supported range (${new Date(INSTANT_MIN).toISOString()} to ${new Date(INSTANT_MAX).toISOString()})`;

function customValue(v: unknown, type: string, tz: string, path: string): ContactValue {
  if (v === null) return null;
  switch (type) {
    case "string":
      if (typeof v !== "string") throw invalid(path, "expected a string");
      if (v.length > CONTACT_CAPS.customString)
        throw invalid(path, `is longer than ${CONTACT_CAPS.customString} characters`);
      return v;
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(path, "expected a number");
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw invalid(path, "expected a boolean");
      return v;
    case "date":
      if (typeof v !== "string") throw invalid(path, "expected an ISO 8601 date or instant");
      if (v.length > 100) throw invalid(path, "expected an ISO 8601 date or instant");
      checkedInstant(v, tz, path);
      return v.trim();
    case "string_list": {
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
        throw invalid(path, "expected a list of strings");
      if (v.length > CONTACT_CAPS.customListItems)
        throw invalid(path, `at most ${CONTACT_CAPS.customListItems} items`);
      const long = v.findIndex((x: string) => x.length > CONTACT_CAPS.customString);
      if (long >= 0)
        throw invalid(`${path}[${long}]`, `is longer than ${CONTACT_CAPS.customString} characters`);
      return v as string[];
    }
    default:
      throw invalid(path, `unsupported field type ${type}`);
  }
}
