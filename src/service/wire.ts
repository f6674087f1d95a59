/**
 * Request shapes of the HTTP API (SPEC §4), as zod schemas: the HTTP layer parses with
 * them and `GET /v1/openapi.json` is generated from them. Checks that need the
 * workspace (custom field types, time zone) are done by `contactWrite` here.
 */

import { z } from "zod";
import { CONTACT_CAPS, FIELD_TYPES } from "../contract/fields.ts";
import { ComputedDefinition } from "../rules/computed.ts";
import { isEventType } from "../rules/event-type.ts";
import { EventType } from "../rules/schema.ts";
import { isLeapYear } from "../rules/time.ts";
import { instantInRange } from "../store/contact-row.ts";
import type { JsonObject } from "../store/types.ts";
import { EMAIL_MAX_LENGTH } from "./email.ts";
import { invalid } from "./errors.ts";
import { capped, checkedInstant, issuePath, Tags } from "./wire-contact.ts";

export {
  type ContactChanges,
  ContactInput,
  contactChanges,
  issuePath,
} from "./wire-contact.ts";

export const LIMITS = {
  /** Items in one contacts batch or events request (SPEC §4). */
  batchItems: 10_000,
  /** Serialized size of one event's properties (SPEC §2). */
  propertiesBytes: 16 * 1024,
  /** Request body (a batch of 10,000 events with properties fits). */
  bodyBytes: 32 * 1024 * 1024,
  /** Contacts in one members request. */
  memberRefs: 10_000,
  listDefault: 100,
  listMax: 1000,
} as const;

/**
 * Length caps of every string a write takes, in characters (docs/security.md lists
 * them). Without them a 32 MiB first_name was stored and then rode every list. Strings
 * inside event properties (keys too) are bounded by the properties' own cap,
 * `LIMITS.propertiesBytes` (SPEC §2: 16 KiB serialized).
 */
export const FIELD_CAPS = {
  /** A contact id given by the client, and a contact named by id. */
  id: CONTACT_CAPS.id,
  /** RFC 5321. */
  email: EMAIL_MAX_LENGTH,
  external_id: CONTACT_CAPS.external_id,
  /** Before E.164 normalisation; longer is not a phone number. */
  phone: CONTACT_CAPS.phone,
  /** first_name, last_name. */
  name: CONTACT_CAPS.name,
  /** region, city. */
  place: CONTACT_CAPS.place,
  postal_code: CONTACT_CAPS.postal_code,
  /** An IANA zone name. */
  timezone: CONTACT_CAPS.timezone,
  /** A BCP 47 tag. */
  language: CONTACT_CAPS.language,
  /** One tag. */
  tag: CONTACT_CAPS.tag,
  /** Tags on one contact, and tags in one request. */
  tags: CONTACT_CAPS.tags,
  /** A custom `string` field, and each item of a `string_list`. */
  customString: CONTACT_CAPS.customString,
  /** Items of a custom `string_list`. */
  customListItems: CONTACT_CAPS.customListItems,
  /** An event's type (the pattern of SPEC §2). */
  eventType: 64,
  /** An event's client id. */
  eventId: 200,
  /** A custom field's label. */
  fieldLabel: 200,
} as const;

export const ContactRef = z.union(
  [
    z.strictObject({ id: capped(FIELD_CAPS.id).min(1) }),
    z.strictObject({ email: z.string().min(1) }),
    z.strictObject({ external_id: capped(FIELD_CAPS.external_id).min(1) }),
  ],
  { error: 'expected exactly one of {"id"}, {"email"}, {"external_id"}' },
);
export type ContactRef = z.infer<typeof ContactRef>;

export const TagsChange = z.strictObject({
  add: Tags.optional(),
  remove: Tags.optional(),
});

export const EventInput = z.strictObject({
  id: z.string().min(1).max(FIELD_CAPS.eventId).optional(),
  type: EventType,
  contact: ContactRef,
  timestamp: z.string().optional(),
  properties: z.record(z.string(), z.json()).optional(),
});
export type EventInput = z.infer<typeof EventInput>;

const EVENT_KEYS = new Set(["id", "type", "contact", "timestamp", "properties"]);

/**
 * The common event shape checked by hand (ingest validates every event of every batch,
 * and zod's general machinery costs a few µs each); anything unusual — or wrong — goes
 * through `EventInput` itself, so the answer and its error message are zod's. The input
 * comes from JSON.parse, so property values are JSON already.
 */
export function plainEvent(v: unknown): EventInput | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  for (const k in o) if (!EVENT_KEYS.has(k)) return null;
  if (!isEventType(o.type)) return null;
  if (o.id !== undefined && (typeof o.id !== "string" || o.id.length < 1 || o.id.length > FIELD_CAPS.eventId))
    return null;
  if (o.timestamp !== undefined && typeof o.timestamp !== "string") return null;
  if (
    (o.id as string | undefined)?.includes("\u0000") ||
    (o.timestamp as string | undefined)?.includes("\u0000")
  )
    return null;
  const p = o.properties;
  if (p !== undefined && (typeof p !== "object" || p === null || Array.isArray(p))) return null;
  const c = o.contact;
  if (typeof c !== "object" || c === null || Array.isArray(c)) return null;
  let n = 0;
  let ok = false;
  for (const k in c) {
    n++;
    const val = (c as Record<string, unknown>)[k];
    ok =
      (k === "id" || k === "email" || k === "external_id") &&
      typeof val === "string" &&
      val.length > 0 &&
      val.length <= FIELD_CAPS.external_id &&
      !val.includes("\u0000");
  }
  if (n !== 1 || !ok) return null;
  return o as EventInput;
}

export const FieldInput = z.strictObject({
  key: z.string(),
  type: z.enum(FIELD_TYPES),
  label: capped(FIELD_CAPS.fieldLabel).optional(),
  computed: ComputedDefinition.optional().meta({
    description:
      "Makes it a computed field: a measure of the contact's events, kept current (docs/rules.md, Computed fields)",
  }),
});
export type FieldInput = z.infer<typeof FieldInput>;

/** A rule's text form (SPEC §3.1, docs/rules.md): taken wherever `rule` is. */
const RuleText = z.string().max(100_000);

export const SegmentInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  kind: z.enum(["dynamic", "static"]).optional(),
  rule: z.unknown().optional(),
  rule_text: RuleText.optional(),
});
export type SegmentInput = z.infer<typeof SegmentInput>;

/**
 * `PUT /v1/segments/{id}`: also takes the segment's own representation as a read
 * answers it, so GET → edit → PUT works; the read-only fields are ignored, but a
 * changed `id` or `kind` is refused.
 */
export const SegmentReplace = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  rule: z.unknown().optional(),
  rule_text: RuleText.nullable().optional(),
  id: z.string().optional(),
  kind: z.enum(["dynamic", "static"]).optional(),
  default: z.boolean().optional(),
  version: z.number().optional(),
  size: z.number().optional(),
  created_at: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
});
export type SegmentReplace = z.infer<typeof SegmentReplace>;

export const PreviewInput = z.strictObject({
  rule: z.unknown().optional(),
  rule_text: RuleText.optional(),
  segment_id: z.string().optional(),
});
export type PreviewInput = z.infer<typeof PreviewInput>;

export const MembersInput = z.strictObject({
  contacts: z.array(ContactRef).min(1).max(LIMITS.memberRefs),
  expires_at: z.string().optional(),
});
export type MembersInput = z.infer<typeof MembersInput>;

export const RefsInput = z.strictObject({ contacts: z.array(ContactRef).min(1).max(LIMITS.memberRefs) });
export type RefsInput = z.infer<typeof RefsInput>;

const ActionTags = z
  .array(capped(FIELD_CAPS.tag).min(1))
  .min(1)
  .max(FIELD_CAPS.tags, { error: `at most ${FIELD_CAPS.tags} tags` });

export const ActionInput = z.union(
  [
    z.strictObject({ tag_add: ActionTags }),
    z.strictObject({ tag_remove: ActionTags }),
    z.strictObject({ copy_to: z.string().min(1) }),
  ],
  { error: 'expected one of {"tag_add": [...]}, {"tag_remove": [...]}, {"copy_to": "seg_…"}' },
);
export type ActionInput = z.infer<typeof ActionInput>;

export const WebhookInput = z.strictObject({
  url: z.string(),
  events: z
    .array(z.enum(["segment.entered", "segment.exited"]))
    .min(1)
    .optional(),
  segment_id: z.string().nullable().optional(),
  secret: z.string().min(8).optional(),
});
export type WebhookInput = z.infer<typeof WebhookInput>;

export const WorkspaceInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  time_zone: z.string().optional(),
});
export type WorkspaceInput = z.infer<typeof WorkspaceInput>;

export const KeyInput = z.strictObject({
  name: z.string().max(200).optional(),
  /** SPEC §4; `admin` keys come only from `SLICE_API_KEY` or the first start. */
  role: z.enum(["read_write", "read_only", "ingest"]).optional(),
});
export type KeyInput = z.infer<typeof KeyInput>;

/**
 * Keys that JavaScript objects treat specially: a record schema dropped `__proto__`
 * silently (the write "succeeded" without it), and none is a sensible name for data.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * The path of the first string (value or key) holding a NUL character or of the first
 * reserved key in `v`, with what is wrong; null when there is none. PostgreSQL refuses
 * NUL in text and JSON, and C-based tools downstream cut strings at it.
 */
export function inputProblem(v: unknown, root = ""): { path: string; message: string } | null {
  const at: PropertyKey[] = [];
  const walk = (x: unknown): string | null => {
    if (typeof x === "string")
      return x.includes("\u0000") ? "must not contain NUL (\\u0000) characters" : null;
    if (typeof x !== "object" || x === null) return null;
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        at.push(i);
        const m = walk(x[i]);
        if (m) return m;
        at.pop();
      }
      return null;
    }
    for (const k of Object.keys(x)) {
      if (k.includes("\u0000")) return "keys must not contain NUL (\\u0000) characters";
      at.push(k);
      if (RESERVED_KEYS.has(k)) return `"${k}" is not allowed as a key`;
      const m = walk((x as Record<string, unknown>)[k]);
      if (m) return m;
      at.pop();
    }
    return null;
  };
  const message = walk(v);
  return message === null ? null : { path: issuePath(root, at), message };
}

/** Parses `input` with `schema` or throws a 400 naming the first bad part under `root`. */
export function parse<T>(schema: z.ZodType<T>, input: unknown, root = ""): T {
  const problem = inputProblem(input, root);
  if (problem) throw invalid(problem.path, problem.message);
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  let message = issue.message;
  if (issue.code === "unrecognized_keys")
    message = `unknown key ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  if (input === undefined || input === null) message = "expected a JSON body";
  throw invalid(issuePath(root, issue.path), message);
}

/**
 * Checks an event's properties: size (SPEC §2: ≤ 16 KiB, which bounds every string in
 * them), then every number finite, every string (keys too) free of NUL, no reserved key.
 */
export function checkProperties(p: JsonObject | undefined, path: string): void {
  if (p === undefined) return;
  // The common case, small and plain, is walked once, without serializing it.
  budget = LIMITS.propertiesBytes;
  if (smallPlain(p)) return;
  if (Buffer.byteLength(JSON.stringify(p)) > LIMITS.propertiesBytes) {
    throw invalid(path, `properties exceed ${LIMITS.propertiesBytes} bytes`);
  }
  const bad = propertyProblem(p, []);
  if (bad) throw invalid(issuePath(path, bad.at), bad.message);
}

function plainString(s: string): boolean {
  return !s.includes("\u0000");
}

/** What `smallPlain` may still count, in bytes of serialized JSON. */
let budget = 0;

/**
 * True when `v` needs no refusal and its JSON takes at most `budget` bytes, counted
 * from above: 6 bytes per UTF-16 unit of a string or key (`\u001f` is six), 24 per
 * number (sign, 17 digits, point, exponent). False means "look closer", not "refuse".
 */
function smallPlain(v: unknown): boolean {
  if (typeof v === "number") {
    budget -= 24;
    return budget >= 0 && Number.isFinite(v);
  }
  if (typeof v === "string") {
    budget -= 6 * v.length + 2;
    return budget >= 0 && plainString(v);
  }
  if (typeof v !== "object" || v === null) {
    budget -= 5;
    return budget >= 0;
  }
  budget -= 2;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      budget -= 1;
      if (!smallPlain(v[i])) return false;
    }
    return budget >= 0;
  }
  for (const k in v as Record<string, unknown>) {
    budget -= 6 * k.length + 4;
    if (budget < 0 || !plainString(k) || RESERVED_KEYS.has(k)) return false;
    if (!smallPlain((v as Record<string, unknown>)[k])) return false;
  }
  return budget >= 0;
}

/** The first bad part of `v` and why. Size-checked input: shallow enough. */
function propertyProblem(
  v: unknown,
  at: (string | number)[],
): { at: (string | number)[]; message: string } | null {
  // JSON.parse reads 1e309 as Infinity, which the store would write as null: the count
  // after a restart would differ from the one answered now.
  if (typeof v === "number") return Number.isFinite(v) ? null : { at, message: "expected a finite number" };
  if (typeof v === "string") {
    return v.includes("\u0000") ? { at, message: "must not contain NUL (\\u0000) characters" } : null;
  }
  if (typeof v !== "object" || v === null) return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = propertyProblem(v[i], [...at, i]);
      if (r) return r;
    }
    return null;
  }
  for (const k in v as Record<string, unknown>) {
    if (k.includes("\u0000")) return { at, message: "keys must not contain NUL (\\u0000) characters" };
    if (RESERVED_KEYS.has(k)) return { at: [...at, k], message: `"${k}" is not allowed as a key` };
    const r = propertyProblem((v as Record<string, unknown>)[k], [...at, k]);
    if (r) return r;
  }
  return null;
}

/** `limit` per SPEC §4: 1 … 1000, default 100, larger values clamped. */
export function listLimit(raw: unknown): number {
  if (raw === undefined || raw === "") return LIMITS.listDefault;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw invalid("limit", "expected an integer from 1 to 1000");
  return Math.min(n, LIMITS.listMax);
}

/**
 * The common case of an instant with its offset (what clients send for event
 * timestamps), `YYYY-MM-DDTHH:MM[:SS[.f{1,3}]](Z|±HH:MM)`, read without a time-zone
 * library, a regular expression or `Date.parse`: ingest reads one per event, and Luxon
 * costs ~10 µs each, the expression and `Date.parse` ~0.9 µs on the bench machine.
 * Days not in the calendar (30 February) and anything else go the general way (null).
 * Exported for the test that holds it to `Date.parse`.
 */
export function fastInstant(s: string): number | null {
  const n = s.length;
  if (n < 17 || n > 29) return null;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  if (
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58
  ) {
    return null;
  }
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59) return null;
  if (d > daysInMonth(y, mo)) return null;
  let i = 16;
  let sec = 0;
  let ms = 0;
  if (s.charCodeAt(i) === 58) {
    sec = digits(s, i + 1, 2);
    if (sec < 0 || sec > 59) return null;
    i += 3;
    if (s.charCodeAt(i) === 46) {
      let k = 0;
      let scale = 100;
      for (i++; k < 3 && i < n; k++, i++, scale /= 10) {
        const c = s.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        ms += c * scale;
      }
      if (k === 0) return null;
    }
  }
  let offset = 0;
  const sign = s.charCodeAt(i);
  if (sign === 90) i++;
  else if (sign === 43 || sign === 45) {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (s.charCodeAt(i + 3) !== 58 || oh < 0 || oh > 23 || om < 0 || om > 59) return null;
    offset = (sign === 43 ? 1 : -1) * (oh * 60 + om) * 60_000;
    i += 6;
  } else return null;
  if (i !== n) return null;
  const t = daysFromCivil(y, mo, d) * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset;
  return instantInRange(t) ? t : null;
}

/** The number `count` decimal digits at `at` spell, or -1 if one is not a digit. */
function digits(s: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return isLeapYear(y) ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, mo: number, d: number): number {
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** An ISO 8601 instant from a query string or body, as epoch ms. */
export function instant(raw: unknown, path: string, tz: string): number {
  if (typeof raw !== "string" || raw.trim() === "")
    throw invalid(path, "expected an ISO 8601 date or instant");
  const fast = fastInstant(raw);
  if (fast !== null) return fast;
  if (raw.length > 100) throw invalid(path, "expected an ISO 8601 date or instant");
  return checkedInstant(raw, tz, path);
}
