/**
 * Streamed exports (SPEC §4 `GET /v1/segments/{id}/export`, docs/exports.md): csv,
 * ndjson, Meta and Google customer lists, byte for byte, with the normalisation and
 * hashing rules of each platform, suppression, and a 100,000-contact streaming run.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  contentType,
  defaultCsvColumns,
  type ExportOptionError,
  type ExportOptions,
  exportChunks,
  fileName,
  googleHash,
  googleNormalize,
  metaHash,
  metaNormalize,
  toE164,
  validateExportOptions,
} from "../../src/service/exports.ts";
import { toWireContact } from "../../src/service/wire-contact.ts";
import type { ContactRecord } from "../../src/store/types.ts";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

const T0 = Date.UTC(2024, 0, 15, 9, 30, 0);
const T1 = Date.UTC(2024, 1, 1, 0, 0, 0, 250);

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

async function* pagesOf(...pages: ContactRecord[][]): AsyncIterable<ContactRecord[]> {
  for (const p of pages) yield p;
}

async function collect(chunks: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

async function run(records: ContactRecord[], opts: ExportOptions): Promise<string> {
  return (await collect(exportChunks(pagesOf(records), opts))).join("");
}

function optionError(fn: () => unknown): ExportOptionError {
  try {
    fn();
  } catch (e) {
    expect((e as Error).name).toBe("ExportOptionError");
    return e as ExportOptionError;
  }
  throw new Error("expected an ExportOptionError");
}

const ALICE = contact({
  id: "c_1",
  email: "alice@example.com",
  external_id: "u-1",
  phone: "+1 (415) 555-2671",
  first_name: "Alice",
  last_name: "Martin",
  country: "US",
  region: "California",
  city: "San Francisco",
  postal_code: "94107-1234",
  timezone: "America/Los_Angeles",
  language: "en",
  tags: ["vip", "beta"],
  fields: { plan: "pro", score: 42, vip: true, interests: ["a", "b"] },
  subscribed_at: T1,
});

const BOB = contact({
  id: "c_2",
  email: "bob.smith+news@gmail.com",
  phone: "020 7183 8750",
  first_name: "Bob",
  last_name: "O'Neil",
  country: "GB",
  city: "London",
  postal_code: "SW1A 1AA",
  status: "non_subscribed",
});

const GONE = contact({ id: "c_3", email: "gone@example.com", status: "unsubscribed" });
const BOUNCED = contact({ id: "c_4", email: "bounced@example.com", email_status: "hard_bounced" });
const COMPLAINED = contact({ id: "c_5", email: "angry@example.com", email_status: "complained" });

describe("hash literals", () => {
  it("the test's sha256 helper agrees with fixed digests", () => {
    expect(sha256("test@example.com")).toBe(
      "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
    );
    expect(sha256("john.doe@example.com")).toBe(
      "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
    );
  });
});

describe("Meta normalisation and hashing", () => {
  it("email: trimmed and lower-cased, then SHA-256", () => {
    expect(metaNormalize("email", " John.Doe@Example.COM ")).toBe("john.doe@example.com");
    expect(metaHash("email", " John.Doe@Example.COM ")).toBe(sha256("john.doe@example.com"));
    expect(metaHash("email", "TEST@example.com")).toBe(
      "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
    );
    // Meta does not remove Gmail dots.
    expect(metaNormalize("email", "John.Doe@gmail.com")).toBe("john.doe@gmail.com");
  });

  it("phone: digits with country code, no +, no leading zeros", () => {
    expect(metaNormalize("phone", "+1 (415) 555-2671")).toBe("14155552671");
    expect(metaNormalize("phone", "(415) 555-2671", { country: "US" })).toBe("14155552671");
    expect(metaNormalize("phone", "(415) 555-2671", { country: "us" })).toBe("14155552671");
    expect(metaNormalize("phone", "1-415-555-2671")).toBe("14155552671");
    expect(metaNormalize("phone", "020 7183 8750", { country: "GB" })).toBe("442071838750");
    expect(metaNormalize("phone", "0044 20 7183 8750")).toBe("442071838750");
    expect(metaNormalize("phone", "+49 0151 23456789", { country: "US" })).toBe("4915123456789");
    expect(metaHash("phone", "+1 415 555 2671")).toBe(
      "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0",
    );
    expect(metaNormalize("phone", "12")).toBeNull();
    expect(metaHash("phone", "555-2671", { country: "US" })).toBe("");
  });

  it("fn/ln: lower case, no punctuation or spaces, accents kept (NFC)", () => {
    expect(metaNormalize("fn", "  John ")).toBe("john");
    expect(metaNormalize("ln", "O'Neil-Smith")).toBe("oneilsmith");
    expect(metaNormalize("fn", "Émilie")).toBe("émilie");
    expect(metaNormalize("fn", "E\u0301milie")).toBe("émilie");
    expect(metaHash("fn", "Émilie")).toBe(sha256("émilie"));
    expect(metaHash("fn", "J.")).toBe(sha256("j"));
  });

  it("ct: lower case, no spaces or punctuation", () => {
    expect(metaNormalize("ct", "San Francisco")).toBe("sanfrancisco");
    expect(metaNormalize("ct", "St. Louis")).toBe("stlouis");
    expect(metaNormalize("ct", "Zürich")).toBe("zürich");
  });

  it("st: US states as their two-letter code, elsewhere lower case without punctuation", () => {
    expect(metaNormalize("st", "California", { country: "US" })).toBe("ca");
    expect(metaNormalize("st", "CA", { country: "US" })).toBe("ca");
    expect(metaNormalize("st", "New York")).toBe("ny");
    expect(metaNormalize("st", "District of Columbia", { country: "us" })).toBe("dc");
    expect(metaNormalize("st", "Île-de-France", { country: "FR" })).toBe("îledefrance");
    expect(metaNormalize("st", "New South Wales", { country: "AU" })).toBe("newsouthwales");
    expect(metaHash("st", "Texas", { country: "US" })).toBe(sha256("tx"));
  });

  it("zip: lower case, no spaces or dash; US first 5 digits; UK area, district and sector", () => {
    expect(metaNormalize("zip", "94107-1234", { country: "US" })).toBe("94107");
    expect(metaNormalize("zip", "941071234")).toBe("94107");
    expect(metaNormalize("zip", "94107")).toBe("94107");
    expect(metaNormalize("zip", "SW1A 1AA", { country: "GB" })).toBe("sw1a1");
    expect(metaNormalize("zip", "M1 1AE", { country: "GB" })).toBe("m11");
    expect(metaNormalize("zip", "H3Z 2Y7", { country: "CA" })).toBe("h3z2y7");
    expect(metaNormalize("zip", "01310-100", { country: "BR" })).toBe("01310100");
  });

  it("country: lower-case ISO alpha-2, anything else left empty", () => {
    expect(metaNormalize("country", " US ")).toBe("us");
    expect(metaHash("country", "US")).toBe(sha256("us"));
    expect(metaNormalize("country", "USA")).toBeNull();
    expect(metaHash("country", "United States")).toBe("");
  });

  it("extern_id is not hashed", () => {
    expect(metaHash("extern_id", " User-42 ")).toBe("User-42");
    expect(metaHash("extern_id", "")).toBe("");
  });

  it("already hashed values pass through, lower-cased; empty values stay empty", () => {
    const h = sha256("someone@example.com");
    expect(metaHash("email", h.toUpperCase())).toBe(h);
    expect(metaHash("phone", ` ${h} `)).toBe(h);
    expect(metaHash("fn", h)).toBe(h);
    expect(metaHash("fn", "   ")).toBe("");
    expect(metaHash("email", null)).toBe("");
    expect(metaHash("ln", undefined)).toBe("");
    expect(metaHash("fn", "'.-")).toBe("");
  });
});

describe("Google normalisation and hashing", () => {
  it("email: lower case, no whitespace; Gmail dots and +tag removed", () => {
    expect(googleNormalize("email", " John.Doe@GMAIL.com ")).toBe("johndoe@gmail.com");
    expect(googleNormalize("email", "j.o.h.n.doe+shopping@googlemail.com")).toBe("johndoe@googlemail.com");
    expect(googleHash("email", "John.Doe@gmail.com")).toBe(
      "06a240d11cc201676da976f7b49341181fd180da37cbe40a77432c0a366c80c3",
    );
    // Other domains keep dots and +.
    expect(googleNormalize("email", "User.Name+NYC@Example.com")).toBe("user.name+nyc@example.com");
    expect(googleHash("email", " John.Doe@Example.COM ")).toBe(sha256("john.doe@example.com"));
    expect(googleHash("email", "test@example.com")).toBe(
      "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
    );
  });

  it("phone: E.164 with + then SHA-256, with or without + in the input", () => {
    expect(googleNormalize("phone", "+1 415-555-2671")).toBe("+14155552671");
    expect(googleNormalize("phone", "(415) 555-2671", { country: "US" })).toBe("+14155552671");
    expect(googleNormalize("phone", "020 7183 8750", { country: "GB" })).toBe("+442071838750");
    expect(googleHash("phone", "(415) 555-2671", { country: "US" })).toBe(
      "cb6880e416769253645cb9c6b8989154bf66a56a77fc14c81fb1019663cbb928",
    );
    expect(googleHash("phone", "+1 415 555 2671")).toBe(sha256("+14155552671"));
    expect(googleHash("phone", "not a number")).toBe("");
  });

  it("names: trimmed and lower-cased, then hashed", () => {
    expect(googleHash("first_name", "  John ")).toBe(
      "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
    );
    expect(googleHash("last_name", "Pérez")).toBe(sha256("pérez"));
  });

  it("country and zip are not hashed", () => {
    expect(googleHash("country", " us ")).toBe("US");
    expect(googleHash("country", "USA")).toBe("");
    expect(googleHash("zip", " WC2H   8LG ")).toBe("WC2H 8LG");
    expect(googleHash("zip", "94107")).toBe("94107");
  });

  it("already hashed values pass through, lower-cased", () => {
    const h = sha256("+14155552671");
    expect(googleHash("phone", h.toUpperCase())).toBe(h);
    expect(googleHash("email", h)).toBe(h);
    expect(googleHash("first_name", null)).toBe("");
  });
});

describe("toE164", () => {
  it("reads international and national numbers", () => {
    expect(toE164("+1 (415) 555-2671 ext. 12")).toBe("+14155552671");
    expect(toE164("0151 23456789", "DE")).toBe("+4915123456789");
    expect(toE164("4415 5526 71", "ZZ")).toBeNull();
    expect(toE164("   ")).toBeNull();
  });
});

describe("toWireContact", () => {
  it("gives the SPEC wire form with ISO dates", () => {
    expect(toWireContact(ALICE)).toEqual({
      id: "c_1",
      email: "alice@example.com",
      external_id: "u-1",
      phone: "+1 (415) 555-2671",
      first_name: "Alice",
      last_name: "Martin",
      country: "US",
      region: "California",
      city: "San Francisco",
      postal_code: "94107-1234",
      timezone: "America/Los_Angeles",
      language: "en",
      status: "subscribed",
      email_status: "deliverable",
      tags: ["vip", "beta"],
      created_at: "2024-01-15T09:30:00.000Z",
      subscribed_at: "2024-02-01T00:00:00.250Z",
      fields: { plan: "pro", score: 42, vip: true, interests: ["a", "b"] },
    });
    expect(toWireContact(BOB).subscribed_at).toBeNull();
    expect(Object.keys(toWireContact(BOB))).not.toContain("status_written_at");
  });
});

describe("csv export", () => {
  const customFields = ["plan", "score", "vip", "interests"];

  it("writes the default columns, custom fields last, byte for byte", async () => {
    const out = await run([ALICE, BOB], { format: "csv", customFields });
    expect(out).toBe(
      "id,email,external_id,phone,first_name,last_name,country,region,city,postal_code,timezone,language,status,email_status,tags,created_at,subscribed_at,plan,score,vip,interests\r\n" +
        "c_1,alice@example.com,u-1,+1 (415) 555-2671,Alice,Martin,US,California,San Francisco,94107-1234,America/Los_Angeles,en,subscribed,deliverable,vip;beta,2024-01-15T09:30:00.000Z,2024-02-01T00:00:00.250Z,pro,42,true,a;b\r\n" +
        "c_2,bob.smith+news@gmail.com,,020 7183 8750,Bob,O'Neil,GB,,London,SW1A 1AA,,,non_subscribed,deliverable,,2024-01-15T09:30:00.000Z,,,,,\r\n",
    );
  });

  it("quotes commas, quotes, CR and LF (RFC 4180)", async () => {
    const tricky = contact({
      id: "c_q",
      first_name: 'Doe, "JD"',
      last_name: "line1\nline2",
      city: "a\rb",
      tags: ["x,y", "z"],
    });
    const out = await run([tricky], {
      format: "csv",
      customFields: [],
      columns: ["id", "first_name", "last_name", "city", "tags"],
    });
    expect(out).toBe(
      'id,first_name,last_name,city,tags\r\nc_q,"Doe, ""JD""","line1\nline2","a\rb","x,y;z"\r\n',
    );
  });

  it("selects and orders columns; custom fields bare or as fields.<key>", async () => {
    const out = await run([ALICE], {
      format: "csv",
      customFields,
      columns: ["email", "fields.plan", "created_at", "vip", "id"],
    });
    expect(out).toBe(
      "email,fields.plan,created_at,vip,id\r\nalice@example.com,pro,2024-01-15T09:30:00.000Z,true,c_1\r\n",
    );
  });

  it("a custom key equal to a built-in column name is fields.<key> by default", async () => {
    expect(defaultCsvColumns(["id", "plan"]).slice(-2)).toEqual(["fields.id", "plan"]);
    const r = contact({ id: "c_9", fields: { id: "mine" } });
    const out = await run([r], { format: "csv", customFields: ["id"], columns: ["id", "fields.id"] });
    expect(out).toBe("id,fields.id\r\nc_9,mine\r\n");
  });

  it("rejects an unknown column, naming it and its path", () => {
    const e = optionError(() =>
      exportChunks(pagesOf([ALICE]), { format: "csv", customFields, columns: ["email", "nope"] }),
    );
    expect(e.path).toBe("columns[1]");
    expect(e.message).toContain('"nope"');
    expect(
      optionError(() => validateExportOptions({ format: "csv", customFields, columns: ["fields.x"] })).path,
    ).toBe("columns[0]");
  });

  it("rejects repeated, empty or misplaced columns and an unknown format", () => {
    expect(
      optionError(() =>
        validateExportOptions({ format: "csv", customFields, columns: ["plan", "fields.plan"] }),
      ).path,
    ).toBe("columns[1]");
    expect(optionError(() => validateExportOptions({ format: "csv", customFields, columns: [] })).path).toBe(
      "columns",
    );
    expect(
      optionError(() => validateExportOptions({ format: "meta", customFields, columns: ["email"] })).path,
    ).toBe("columns");
    expect(
      optionError(() => validateExportOptions({ format: "xml" as unknown as "csv", customFields })).path,
    ).toBe("format");
    expect(() =>
      validateExportOptions({ format: "csv", customFields, columns: ["email", "plan"] }),
    ).not.toThrow();
  });

  it("writes the header even when there are no contacts", async () => {
    expect(await run([], { format: "csv", customFields: [], columns: ["id"] })).toBe("id\r\n");
  });
});

describe("ndjson export", () => {
  it("writes one wire contact per line", async () => {
    const out = await run([ALICE, BOB], { format: "ndjson", customFields: [] });
    expect(out).toBe(`${JSON.stringify(toWireContact(ALICE))}\n${JSON.stringify(toWireContact(BOB))}\n`);
    const lines = out.trimEnd().split("\n");
    expect(JSON.parse(lines[0]).created_at).toBe("2024-01-15T09:30:00.000Z");
    expect(JSON.parse(lines[1]).fields).toEqual({});
    expect(await run([], { format: "ndjson", customFields: [] })).toBe("");
  });
});

describe("suppression", () => {
  const all = [ALICE, GONE, BOUNCED, COMPLAINED, BOB];
  const ids = (out: string) =>
    out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).id);

  it("leaves out unsubscribed, hard-bounced and complained contacts by default", async () => {
    expect(ids(await run(all, { format: "ndjson", customFields: [] }))).toEqual(["c_1", "c_2"]);
    expect(ids(await run(all, { format: "ndjson", customFields: [], excludeSuppressed: true }))).toEqual([
      "c_1",
      "c_2",
    ]);
    const meta = await run(all, { format: "meta", customFields: [] });
    expect(meta.split("\r\n")).toHaveLength(4); // header, 2 rows, trailing empty
  });

  it("keeps them with excludeSuppressed: false", async () => {
    expect(ids(await run(all, { format: "ndjson", customFields: [], excludeSuppressed: false }))).toEqual([
      "c_1",
      "c_3",
      "c_4",
      "c_5",
      "c_2",
    ]);
    const csv = await run(all, {
      format: "csv",
      customFields: [],
      columns: ["id"],
      excludeSuppressed: false,
    });
    expect(csv).toBe("id\r\nc_1\r\nc_3\r\nc_4\r\nc_5\r\nc_2\r\n");
  });

  it("skips a page emptied by suppression instead of writing an empty chunk", async () => {
    const chunks = await collect(
      exportChunks(pagesOf([GONE, BOUNCED], [ALICE]), { format: "csv", customFields: [], columns: ["id"] }),
    );
    expect(chunks).toEqual(["id\r\n", "c_1\r\n"]);
  });
});

describe("meta export", () => {
  it("writes Meta's header and hashed rows, byte for byte", async () => {
    const out = await run([ALICE, BOB], { format: "meta", customFields: [] });
    const alice = [
      sha256("alice@example.com"),
      sha256("14155552671"),
      sha256("alice"),
      sha256("martin"),
      sha256("sanfrancisco"),
      sha256("ca"),
      sha256("94107"),
      sha256("us"),
      "u-1",
    ].join(",");
    const bob = [
      sha256("bob.smith+news@gmail.com"),
      sha256("442071838750"),
      sha256("bob"),
      sha256("oneil"),
      sha256("london"),
      "",
      sha256("sw1a1"),
      sha256("gb"),
      "",
    ].join(",");
    expect(out).toBe(`email,phone,fn,ln,ct,st,zip,country,extern_id\r\n${alice}\r\n${bob}\r\n`);
  });

  it("leaves out a contact with nothing to match on", async () => {
    const empty = contact({ id: "c_e" });
    expect(await run([empty], { format: "meta", customFields: [] })).toBe(
      "email,phone,fn,ln,ct,st,zip,country,extern_id\r\n",
    );
  });
});

describe("google export", () => {
  it("writes Customer Match's header and rows, byte for byte", async () => {
    const out = await run([ALICE, BOB], { format: "google", customFields: [] });
    const alice = [
      sha256("alice@example.com"),
      sha256("+14155552671"),
      sha256("alice"),
      sha256("martin"),
      "US",
      "94107-1234",
    ].join(",");
    const bob = [
      sha256("bobsmith@gmail.com"),
      sha256("+442071838750"),
      sha256("bob"),
      sha256("o'neil"),
      "GB",
      "SW1A 1AA",
    ].join(",");
    expect(out).toBe(`Email,Phone,First Name,Last Name,Country,Zip\r\n${alice}\r\n${bob}\r\n`);
  });
});

describe("HTTP helpers", () => {
  it("content types and file names", () => {
    expect(contentType("csv")).toBe("text/csv; charset=utf-8");
    expect(contentType("ndjson")).toBe("application/x-ndjson");
    expect(contentType("meta")).toBe("text/csv; charset=utf-8");
    expect(contentType("google")).toBe("text/csv; charset=utf-8");
    expect(fileName("seg_123", "csv")).toBe("seg_123.csv");
    expect(fileName("seg_123", "ndjson")).toBe("seg_123.ndjson");
    expect(fileName("seg_123", "meta")).toBe("seg_123-meta.csv");
    expect(fileName("seg_123", "google")).toBe("seg_123-google.csv");
    expect(fileName('a"b/c', "csv")).toBe("a_b_c.csv");
  });
});

describe("streaming", () => {
  const N = 100_000;
  const PAGE = 1_000;

  /** Pages made on demand, so the test never holds more than one page of contacts. */
  async function* generated(): AsyncIterable<ContactRecord[]> {
    for (let start = 0; start < N; start += PAGE) {
      const page: ContactRecord[] = [];
      for (let i = start; i < Math.min(N, start + PAGE); i++) {
        page.push(
          contact({
            id: `c_${i}`,
            email: `user${i}@example.com`,
            first_name: `Name, "${i}"`,
            phone: `+1415555${String(i % 10_000).padStart(4, "0")}`,
            country: "US",
            tags: ["t1", "t2"],
            // Every tenth contact unsubscribed.
            status: i % 10 === 0 ? "unsubscribed" : "subscribed",
          }),
        );
      }
      yield page;
    }
  }

  async function countLines(chunks: AsyncIterable<string>, eol: string) {
    let lines = 0;
    let count = 0;
    let maxChunk = 0;
    for await (const c of chunks) {
      count++;
      maxChunk = Math.max(maxChunk, c.length);
      for (let at = c.indexOf(eol); at !== -1; at = c.indexOf(eol, at + eol.length)) lines++;
    }
    return { lines, count, maxChunk };
  }

  it("exports 100,000 contacts as csv one page at a time", async () => {
    const r = await countLines(exportChunks(generated(), { format: "csv", customFields: [] }), "\r\n");
    expect(r.lines).toBe(1 + N * 0.9);
    expect(r.count).toBe(1 + N / PAGE);
    expect(r.maxChunk).toBeLessThan(PAGE * 400);
  });

  it("exports 100,000 contacts as ndjson, all of them without suppression", async () => {
    const r = await countLines(
      exportChunks(generated(), { format: "ndjson", customFields: [], excludeSuppressed: false }),
      "\n",
    );
    expect(r.lines).toBe(N);
    expect(r.count).toBe(N / PAGE);
  });

  it("exports 100,000 contacts as a Meta file", async () => {
    const r = await countLines(exportChunks(generated(), { format: "meta", customFields: [] }), "\r\n");
    expect(r.lines).toBe(1 + N * 0.9);
    expect(r.count).toBe(1 + N / PAGE);
  });
});
