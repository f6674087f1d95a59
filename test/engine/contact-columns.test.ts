/**
 * `loadContactColumns` (start-up: a page of contacts as columns, each distinct value
 * converted once) is `loadContacts` of the same rows: same values, same checks, and on a
 * bad value the same error with nothing loaded.
 */
import { describe, expect, it } from "vitest";
import { type ContactColumns, type ContactInput, Engine, type LoadColumn } from "../../src/engine/index.ts";

const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const CUSTOM = [
  { key: "score", type: "number" },
  { key: "vip", type: "boolean" },
  { key: "since", type: "date" },
  { key: "topics", type: "string_list" },
  { key: "plan", type: "string" },
] as const;

function engine(): Engine {
  const eng = new Engine({ clock: { now: () => NOW }, defaultSegments: false, timeZone: "Europe/Paris" });
  for (const f of CUSTOM) eng.defineField({ key: f.key, type: f.type });
  return eng;
}

type Row = ContactInput & { status_written_at?: number | null; email_status_written_at?: number | null };

const ROWS: Row[] = [
  {
    id: "a",
    email: " Ann@Example.com ",
    country: "FR",
    status: "Subscribed",
    tags: ["VIP", " new ", "vip", ""],
    created_at: "2026-01-02",
    subscribed_at: NOW - 1000,
    fields: { score: 3, vip: true, since: "2025-12-31T23:30:00Z", topics: ["Shoes", "shoes"], plan: " Pro " },
    status_written_at: NOW - 5000,
  },
  { id: "b", email: "bob@example.com", country: " fr ", tags: [], fields: {}, created_at: NOW },
  {
    id: "c",
    email: null,
    country: "",
    tags: ["new"],
    fields: { plan: "pro", vip: false },
    email_status: "soft_bouncing",
  },
  { id: "d", first_name: "Dee", fields: { topics: [] }, email_status_written_at: NOW - 9000 },
  { id: "e", email: "ann@example.com", country: "FR", tags: ["VIP", " new ", "vip", ""] },
];

/** Rows as the columns a start-up reader sends: distinct values and codes, or numbers. */
function columns(rows: Row[]): ContactColumns {
  const keys = new Set<string>();
  for (const r of rows)
    for (const k of Object.keys(r)) if (k !== "id" && !k.endsWith("_written_at")) keys.add(k);
  const out: Record<string, LoadColumn> = {};
  for (const key of keys) {
    const values: unknown[] = [];
    const codes = Int32Array.from(rows, (r) => {
      const v = (r as unknown as Record<string, unknown>)[key] ?? null;
      let c = values.findIndex((x) => JSON.stringify(x) === JSON.stringify(v));
      if (c < 0) c = values.push(v) - 1;
      return c;
    });
    out[key] = { values, codes };
  }
  return { ids: rows.map((r) => r.id), columns: out };
}

const written = (rows: Row[], key: "status_written_at" | "email_status_written_at") =>
  Float64Array.from(rows, (r) => r[key] ?? Number.NaN);

const KEYS = [
  "email",
  "country",
  "first_name",
  "status",
  "email_status",
  "tags",
  "created_at",
  "subscribed_at",
  ...CUSTOM.map((f) => f.key),
];

function profiles(eng: Engine): unknown[] {
  return eng.contactIds().map((id) => {
    const i = eng.contacts.index(id)!;
    return [id, i, ...KEYS.map((k) => eng.contacts.valueOf(i, k))];
  });
}

describe("loading contacts as columns", () => {
  it("gives every contact the values loading its row gives", () => {
    const byRows = engine();
    byRows.loadContacts(ROWS);
    const byColumns = engine();
    byColumns.loadContactColumns(columns(ROWS), {
      status: written(ROWS, "status_written_at"),
      email_status: written(ROWS, "email_status_written_at"),
    });
    expect(profiles(byColumns)).toEqual(profiles(byRows));
    const a = byColumns.contacts.index("a")!;
    expect(byColumns.contacts.valueOf(a, "tags")).toEqual(["vip", "new"]);
    expect(byColumns.contacts.valueOf(a, "since")).toBe("2025-12-31T23:30:00.000Z");
  });

  it("skips keys the workspace has not declared (kept by the store, not by the engine), by rows, columns and writes alike", () => {
    const byRows = engine();
    byRows.loadContacts([{ id: "u", fields: { plan_later: "pro" } }]);
    const byColumns = engine();
    byColumns.loadContactColumns({
      ids: ["u"],
      columns: { fields: { values: [{ plan_later: "pro" }], codes: Int32Array.of(0) } },
    });
    for (const eng of [byRows, byColumns]) {
      expect(eng.contactIds()).toEqual(["u"]);
      expect(eng.contacts.valueOf(eng.contacts.index("u")!, "plan_later")).toBeNull();
      expect([...eng.contacts.undeclared]).toEqual(["plan_later"]);
    }
    byRows.upsertContact({ id: "v", fields: { plan_later: "pro" } });
    byRows.patchContact({ id: "u", fields: { plan_later: "max" } });
    expect(byRows.contactIds().sort()).toEqual(["u", "v"]);
  });

  it("takes numbers for number and date fields, and not set where NaN", () => {
    const eng = engine();
    eng.loadContactColumns({
      ids: ["x", "y"],
      columns: {
        created_at: { numbers: Float64Array.of(NOW, Number.NaN) },
        email: { numbers: new Float64Array(2).fill(Number.NaN) },
      },
    });
    expect(eng.contacts.valueOf(0, "created_at")).toBe(new Date(NOW).toISOString());
    expect(eng.contacts.valueOf(1, "created_at")).toBeNull();
    expect(eng.contacts.valueOf(0, "email")).toBeNull();
  });

  it.each([
    [
      "a built-in key among the custom fields",
      { fields: { values: [{ email: "a@b.co" }], codes: Int32Array.of(0, 0) } },
      "contact.fields.email: unknown custom field",
    ],
    [
      "a number for a string field",
      { email: { numbers: Float64Array.of(Number.NaN, 7) } },
      "contact.email: expected a string",
    ],
    [
      "a string for a number field",
      { fields: { values: [{}, { score: "high" }], codes: Int32Array.of(0, 1) } },
      "contact.fields.score: expected a number",
    ],
    [
      "a list with a number",
      { tags: { values: [["ok", 3]], codes: Int32Array.of(0, 0) } },
      "contact.tags[1]: expected a string",
    ],
    [
      "codes that point at no value",
      { country: { values: ["FR"], codes: Int32Array.of(0, 1) } },
      "contact.country: a column's codes do not match its rows",
    ],
  ] as [string, ContactColumns["columns"], string][])("refuses %s, loading nothing", (_, cols, message) => {
    const eng = engine();
    expect(() => eng.loadContactColumns({ ids: ["p", "q"], columns: cols })).toThrow(message);
    expect(eng.contactIds()).toEqual([]);
  });
});
