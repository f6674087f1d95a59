/**
 * The recipe "add a built-in contact field": a row in the table of
 * src/contract/fields.ts is all the layers need. A fixture table with one more field
 * (`nickname`) goes through each derivation and the field comes out everywhere; and the
 * real table's derivations are the lists that were written out by hand before.
 */
import { describe, expect, it } from "vitest";
import {
  BUILTIN_CONTACT_FIELDS,
  BUILTIN_KEYS,
  type BuiltinFieldSpec,
  builtinKeys,
} from "../../src/contract/fields.ts";
import { BUILTIN_INPUT_KEYS, ContactTable } from "../../src/engine/contacts.ts";
import type { ContactInput } from "../../src/engine/types.ts";
import { BUILTIN_FIELD_KEYS, builtinFieldDefs, FieldRegistry } from "../../src/rules/fields.ts";
import { validateRule } from "../../src/rules/validate.ts";
import { csvColumns, DEFAULT_CSV_COLUMNS } from "../../src/service/exports.ts";
import {
  ContactInput as ContactInputSchema,
  contactChangesOf,
  contactInputSchema,
  toWireContact,
  WireContactSchema,
  wireContactOf,
  wireContactSchema,
} from "../../src/service/wire-contact.ts";
import {
  CONTACT_COLUMNS,
  contactColumns,
  contactFromRow,
  contactParams,
  contactParamsOf,
  pgArrayTypes,
  pgCasts,
  rowReader,
} from "../../src/store/contact-row.ts";
import type { ContactRecord } from "../../src/store/types.ts";

const NICKNAME = {
  key: "nickname",
  type: "string",
  label: "Nickname",
  column: "nickname",
  sql: "text",
  nullable: true,
  wire: "text",
  maxLength: 100,
  writable: true,
} as const satisfies BuiltinFieldSpec;

const TABLE = [...BUILTIN_CONTACT_FIELDS, NICKNAME] as const;

const parseJson = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;

/** A stored record of TABLE's fields (the store's record type names today's fields only). */
function record(over: Partial<ContactRecord> & { nickname?: string | null } = {}): ContactRecord {
  return {
    id: "ct_1",
    email: "ann@example.com",
    external_id: null,
    phone: null,
    first_name: "Ann",
    last_name: null,
    country: null,
    region: null,
    city: null,
    postal_code: null,
    timezone: null,
    language: null,
    status: "subscribed",
    email_status: null,
    tags: ["vip"],
    fields: {},
    created_at: Date.UTC(2024, 4, 1),
    subscribed_at: null,
    status_written_at: null,
    email_status_written_at: null,
    updated_at: Date.UTC(2024, 4, 2),
    nickname: "Annie",
    ...over,
  } as ContactRecord;
}

describe("adding a built-in field to the table", () => {
  it("gives the engine a column and an input key for it", () => {
    const registry = new FieldRegistry([], builtinFieldDefs(TABLE));
    expect(registry.builtin().map((f) => f.key)).toEqual([...BUILTIN_KEYS, "nickname"]);
    expect(registry.get("nickname")).toMatchObject({ type: "string", builtin: true });
    // A custom field may not take its name.
    expect(() => registry.withField({ key: "nickname", type: "string" })).toThrow(/shadows the built-in/);

    const table = new ContactTable(registry, "UTC");
    expect(table.columns.has("nickname")).toBe(true);
    const input = { id: "c1", email: "a@x.io", nickname: "  Bob " } as ContactInput;
    const { index, changed } = table.upsert(input);
    expect(changed).toContain("nickname");
    expect(table.valueOf(index, "nickname")).toBe("bob");
    const loaded = table.load({ id: "c2", nickname: "Al" } as ContactInput);
    expect(table.valueOf(loaded, "nickname")).toBe("al");
    const [paged] = table.loadColumns({
      ids: ["c3"],
      columns: { nickname: { values: ["Cy"], codes: Int32Array.of(0) } } as never,
    });
    expect(table.valueOf(paged!, "nickname")).toBe("cy");
    expect(() => table.upsert({ id: "c4", nickname: 3 } as unknown as ContactInput)).toThrow(
      "contact.nickname: expected a string",
    );

    // Rules may read it as they read any string field.
    const rule = { type: "field", field: "nickname", op: "starts_with", value: "b" };
    expect(() =>
      validateRule(rule, { fields: registry, timeZone: "UTC", segments: new Map() }),
    ).not.toThrow();
  });

  it("gives the store a column and reads it back from a row", () => {
    const columns = contactColumns(TABLE);
    expect(columns).toContain("nickname");
    expect(columns.slice(0, 2)).toEqual(["workspace_id", "id"]);
    // Text columns come before the JSON ones, so the new one sits before `tags`.
    expect(columns.indexOf("nickname")).toBe(columns.indexOf("tags") - 1);
    expect(pgArrayTypes(columns, TABLE)[columns.indexOf("nickname")]).toBe("text[]");

    const r = record();
    const row = columns.slice(1).map((c) => {
      if (c === "custom") return JSON.stringify(r.fields);
      if (c === "tags") return JSON.stringify(r.tags);
      return (r as unknown as Record<string, unknown>)[c];
    });
    expect(rowReader(TABLE)(row, parseJson)).toEqual(r);
    expect(contactParamsOf(TABLE)("ws_1", r, JSON.stringify)).toEqual(["ws_1", ...row]);
  });

  it("gives the wire a key that writes accept and answers carry", () => {
    const input = contactInputSchema(TABLE);
    expect(input.parse({ email: "a@x.io", nickname: "Bob" })).toEqual({ email: "a@x.io", nickname: "Bob" });
    const long = input.safeParse({ nickname: "x".repeat(101) });
    expect(long.success).toBe(false);
    expect(long.error?.issues[0]?.message).toBe("is longer than 100 characters");
    // The real table's schema knows no such key.
    expect(ContactInputSchema.safeParse({ nickname: "Bob" }).success).toBe(false);

    const changes = contactChangesOf(TABLE)(
      { nickname: "  Bob  ", first_name: " " } as never,
      new FieldRegistry([], builtinFieldDefs(TABLE)),
      "UTC",
    );
    expect(changes).toEqual({ nickname: "Bob", first_name: null });

    const wire = wireContactOf(TABLE)(record());
    expect(wire).toMatchObject({ nickname: "Annie", created_at: "2024-05-01T00:00:00.000Z", tags: ["vip"] });
    expect(Object.keys(wire)).toEqual(["id", ...builtinKeys(TABLE), "fields"]);
    const answer = wireContactSchema(TABLE);
    expect(answer.parse(wire)).toEqual(wire);
    expect(answer.safeParse({ ...wire, nickname: 3 }).success).toBe(false);
    expect(WireContactSchema.safeParse(wire).success).toBe(false);
  });

  it("gives the csv export a default column", () => {
    expect(csvColumns(TABLE)).toEqual([...DEFAULT_CSV_COLUMNS, "nickname"]);
  });
});

describe("the real table's derivations", () => {
  const KEYS = [
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
    "created_at",
    "subscribed_at",
  ];

  it("are the lists each layer used to write out", () => {
    expect([...BUILTIN_KEYS]).toEqual(KEYS);
    expect([...BUILTIN_INPUT_KEYS]).toEqual(KEYS);
    expect([...BUILTIN_FIELD_KEYS]).toEqual(KEYS);
    expect([...DEFAULT_CSV_COLUMNS]).toEqual(["id", ...KEYS]);
    expect([...CONTACT_COLUMNS]).toEqual([
      "workspace_id",
      "id",
      ...KEYS.slice(0, 14),
      "custom",
      "created_at",
      "subscribed_at",
      "status_written_at",
      "email_status_written_at",
      "updated_at",
    ]);
    expect(Object.keys(WireContactSchema.shape)).toEqual(["id", ...KEYS, "fields", "computed"]);
    expect(Object.keys(ContactInputSchema.shape)).toEqual(["id", ...KEYS, "fields"]);
  });

  it("read a row and answer a record as before", () => {
    const r = record();
    const { nickname: _, ...stored } = r as ContactRecord & { nickname?: string };
    const row = CONTACT_COLUMNS.slice(1).map((c) => {
      if (c === "custom") return JSON.stringify(stored.fields);
      if (c === "tags") return JSON.stringify(stored.tags);
      return (stored as unknown as Record<string, unknown>)[c];
    });
    expect(contactFromRow(row, parseJson)).toEqual(stored);
    expect(contactParams("ws_1", stored as ContactRecord, JSON.stringify)).toEqual(["ws_1", ...row]);
    expect(pgCasts(CONTACT_COLUMNS, BUILTIN_CONTACT_FIELDS)).toEqual(
      CONTACT_COLUMNS.map((c) => (c === "tags" || c === "custom" ? `${c}::jsonb` : c)),
    );
    expect(pgArrayTypes(CONTACT_COLUMNS, BUILTIN_CONTACT_FIELDS)).toEqual(
      CONTACT_COLUMNS.map((c) =>
        c === "tags" || c === "custom" ? "text[]" : c.endsWith("_at") ? "bigint[]" : "text[]",
      ),
    );
    expect(toWireContact(stored as ContactRecord)).toEqual({
      id: "ct_1",
      email: "ann@example.com",
      external_id: null,
      phone: null,
      first_name: "Ann",
      last_name: null,
      country: null,
      region: null,
      city: null,
      postal_code: null,
      timezone: null,
      language: null,
      status: "subscribed",
      email_status: null,
      tags: ["vip"],
      created_at: "2024-05-01T00:00:00.000Z",
      subscribed_at: null,
      fields: {},
    });
  });
});
