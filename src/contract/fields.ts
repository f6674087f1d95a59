/**
 * The built-in contact fields (SPEC §1): one table from which the engine's input keys,
 * the store's columns, the wire schemas, the export columns, the import matching and
 * the web app's `Contact` type are derived. Data and types only, so that the web app
 * can import it without pulling server code into its bundle.
 *
 * Adding a built-in field is adding a row here (and a migration for its column); the
 * layers pick it up from the table.
 */

/** Field types a contact field (built-in or custom) can have (SPEC §1). */
export const FIELD_TYPES = ["string", "number", "boolean", "date", "string_list"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const CONTACT_STATUSES = ["subscribed", "unsubscribed", "non_subscribed"] as const;
export const EMAIL_STATUSES = ["deliverable", "soft_bouncing", "hard_bounced", "complained"] as const;
export type ContactStatus = (typeof CONTACT_STATUSES)[number];
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

/**
 * Length caps of the strings a contact write takes, in characters (docs/security.md):
 * without them a 32 MiB first_name was stored and then rode every list.
 */
export const CONTACT_CAPS = {
  /** A contact id given by the client, and a contact named by id. */
  id: 255,
  external_id: 255,
  /** Before E.164 normalisation; longer is not a phone number. */
  phone: 64,
  /** first_name, last_name. */
  name: 1000,
  /** region, city. */
  place: 1000,
  postal_code: 64,
  /** An IANA zone name. */
  timezone: 64,
  /** A BCP 47 tag. */
  language: 64,
  /** One tag. */
  tag: 255,
  /** Tags on one contact, and tags in one request. */
  tags: 1000,
  /** A custom `string` field, and each item of a `string_list`. */
  customString: 10_000,
  /** Items of a custom `string_list`. */
  customListItems: 1000,
} as const;

/**
 * How a built-in value travels on the wire, and so how it is checked, stored and
 * written to a csv cell: `text` a string, `enum` one of `values`, `list` a list of
 * strings (a JSON column), `instant` an ISO 8601 instant (epoch ms in the store).
 */
export type WireKind = "text" | "enum" | "list" | "instant";

/**
 * A column's SQL type, named by role; each database's migrations spell it (`key` is a
 * text that is indexed, so PostgreSQL collates it bytewise).
 */
export type SqlType = "key" | "text" | "json" | "bigint";

export interface BuiltinFieldSpec {
  /** The name on the wire, in rules, in the engine and in csv headers. */
  readonly key: string;
  /** Its type in rules. */
  readonly type: FieldType;
  /** Its label in the field list and the rule editor. */
  readonly label: string;
  /** Its label on a contact's profile (the web app), where shorter than `label`. */
  readonly profileLabel?: string;
  /** Its column in the contacts table. */
  readonly column: string;
  readonly sql: SqlType;
  /** Whether the column (and so the store's record) may hold null. */
  readonly nullable: boolean;
  readonly wire: WireKind;
  /** The values an `enum` takes, in the order documented. */
  readonly values?: readonly [string, ...string[]];
  /** How each of `values` reads to a marketer (the web app); a value without one reads as written. */
  readonly valueLabels?: Readonly<Record<string, string>>;
  /** Longest string a write takes (per item for a list); none: the field's own check bounds it. */
  readonly maxLength?: number;
  /** Most items of a list a write takes. */
  readonly maxItems?: number;
  /** Whether a contact write may set it (`POST /v1/contacts`, imports, traits). */
  readonly writable: boolean;
  /** Import headers (normalised: lower case, `_` for spaces) that map to this field by default. */
  readonly importAliases?: readonly string[];
  /** What the OpenAPI document says of the answered value. */
  readonly doc?: string;
}

/** The built-in contact fields of SPEC §1, in wire order (also the csv order and the rule editor's). */
export const BUILTIN_CONTACT_FIELDS = [
  {
    key: "email",
    type: "string",
    label: "Email",
    column: "email",
    sql: "key",
    nullable: true,
    wire: "text",
    writable: true,
    importAliases: ["email_address", "e_mail", "mail"],
  },
  {
    key: "external_id",
    type: "string",
    label: "External ID",
    column: "external_id",
    sql: "key",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.external_id,
    writable: true,
  },
  {
    key: "phone",
    type: "string",
    label: "Phone",
    column: "phone",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.phone,
    writable: true,
    importAliases: ["phone_number"],
  },
  {
    key: "first_name",
    type: "string",
    label: "First name",
    column: "first_name",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.name,
    writable: true,
    importAliases: ["firstname"],
  },
  {
    key: "last_name",
    type: "string",
    label: "Last name",
    column: "last_name",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.name,
    writable: true,
    importAliases: ["lastname", "surname"],
  },
  {
    key: "country",
    type: "string",
    label: "Country",
    column: "country",
    sql: "text",
    nullable: true,
    wire: "text",
    writable: true,
  },
  {
    key: "region",
    type: "string",
    label: "Region",
    column: "region",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.place,
    writable: true,
  },
  {
    key: "city",
    type: "string",
    label: "City",
    column: "city",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.place,
    writable: true,
  },
  {
    key: "postal_code",
    type: "string",
    label: "Postal code",
    column: "postal_code",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.postal_code,
    writable: true,
    importAliases: ["zip", "zip_code", "postcode"],
  },
  {
    key: "timezone",
    type: "string",
    label: "Time zone",
    column: "timezone",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.timezone,
    writable: true,
  },
  {
    key: "language",
    type: "string",
    label: "Language",
    column: "language",
    sql: "text",
    nullable: true,
    wire: "text",
    maxLength: CONTACT_CAPS.language,
    writable: true,
  },
  {
    key: "status",
    type: "string",
    label: "Subscription status",
    profileLabel: "Status",
    column: "status",
    sql: "text",
    nullable: true,
    wire: "enum",
    values: CONTACT_STATUSES,
    valueLabels: { subscribed: "Subscribed", unsubscribed: "Unsubscribed", non_subscribed: "Not subscribed" },
    writable: true,
  },
  {
    key: "email_status",
    type: "string",
    label: "Email status",
    column: "email_status",
    sql: "text",
    nullable: true,
    wire: "enum",
    values: EMAIL_STATUSES,
    valueLabels: {
      deliverable: "Deliverable",
      soft_bouncing: "Soft bouncing",
      hard_bounced: "Hard bounced",
      complained: "Complained",
    },
    writable: true,
  },
  {
    key: "tags",
    type: "string_list",
    label: "Tags",
    column: "tags",
    sql: "json",
    nullable: false,
    wire: "list",
    maxLength: CONTACT_CAPS.tag,
    maxItems: CONTACT_CAPS.tags,
    writable: true,
    importAliases: ["tag"],
  },
  {
    key: "created_at",
    type: "date",
    label: "Created at",
    profileLabel: "Created",
    column: "created_at",
    sql: "bigint",
    nullable: false,
    wire: "instant",
    writable: true,
    doc: "ISO 8601, e.g. `2024-05-01T12:00:00.000Z`",
  },
  {
    key: "subscribed_at",
    type: "date",
    label: "Subscribed at",
    profileLabel: "Subscribed",
    column: "subscribed_at",
    sql: "bigint",
    nullable: true,
    wire: "instant",
    writable: true,
    doc: "ISO 8601, or null when never opted in",
  },
] as const satisfies readonly BuiltinFieldSpec[];

export type BuiltinFields = typeof BUILTIN_CONTACT_FIELDS;
export type BuiltinField = BuiltinFields[number];
export type BuiltinKey = BuiltinField["key"];

/** The keys of a table of built-in fields, in its order. */
export function builtinKeys<const T extends readonly BuiltinFieldSpec[]>(
  table: T,
): { [I in keyof T]: T[I]["key"] } {
  return table.map((f) => f.key) as { [I in keyof T]: T[I]["key"] };
}

/** The keys of the built-in fields, in wire order. */
export const BUILTIN_KEYS = builtinKeys(BUILTIN_CONTACT_FIELDS);

// ---------------------------------------------------------------- types derived from the table

/** A field's value on the wire, as answered. */
export type WireValueOf<F extends BuiltinFieldSpec> =
  | (F["wire"] extends "enum"
      ? NonNullable<F["values"]>[number]
      : F["wire"] extends "list"
        ? string[]
        : string)
  | (F["nullable"] extends true ? null : never);

/**
 * The built-in part of a contact as the API answers it. Typed from a table, so a table
 * with one more row gives a type with one more key.
 */
export type WireBuiltins<T extends readonly BuiltinFieldSpec[] = BuiltinFields> = {
  -readonly [F in T[number] as F["key"]]: WireValueOf<F>;
};

/** A field's value as the engine takes it: strings, lists, instants as ISO text or epoch ms; null is "not set". */
export type InputValueOf<F extends BuiltinFieldSpec> =
  | (F["wire"] extends "list" ? string[] : F["wire"] extends "instant" ? string | number : string)
  | null;

/** The built-in part of a contact as the engine takes it: every key optional. */
export type InputBuiltins<T extends readonly BuiltinFieldSpec[] = BuiltinFields> = {
  -readonly [F in T[number] as F["key"]]?: InputValueOf<F>;
};

/** A field's value as the store keeps it (epoch ms for instants). */
export type StoredValueOf<F extends BuiltinFieldSpec> =
  | (F["wire"] extends "list" ? string[] : F["wire"] extends "instant" ? number : string)
  | (F["nullable"] extends true ? null : never);

/** The built-in part of a stored contact record. */
export type StoredBuiltins<T extends readonly BuiltinFieldSpec[] = BuiltinFields> = {
  -readonly [F in T[number] as F["key"]]: StoredValueOf<F>;
};
