/**
 * Input faults of the write paths (issue 14), end to end: instants outside the range
 * every reader can print, NUL bytes, reserved object keys, a single bad event, per-field
 * length caps, a rule with thousands of errors, phones, countries and time zones. Every
 * refusal is a 400 naming the path, and a refused write leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIELD_CAPS } from "../../src/service/wire.ts";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  for (const [key, type] of [
    ["birthday", "date"],
    ["plan", "string"],
    ["colours", "string_list"],
  ] as const) {
    expect((await s.call("POST", "/v1/fields", { key, type })).status).toBe(201);
  }
});
afterAll(async () => {
  await s?.stop();
});

function expect400(r: { status: number; body: Json; text: string }, path: string): void {
  expect(r.status, r.text.slice(0, 300)).toBe(400);
  expect(r.body.error.code).toBe("invalid_request");
  expect(r.body.error.details.path).toBe(path);
}

async function emails(): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await s.call("GET", `/v1/contacts?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status).toBe(200);
    out.push(...r.body.data.map((c: { email: string | null }) => c.email));
    cursor = r.body.next_cursor;
  } while (cursor);
  return out;
}

describe("instants outside the supported range", () => {
  const bad: unknown[] = [1e20, -1e20, 9e15, 8.64e15, 253402300800000, "+275760-09-13T00:00:00Z"];

  it("a contact's created_at or subscribed_at is a 400 with the path, and nothing is stored", async () => {
    for (const [k, v] of bad.entries()) {
      for (const key of ["created_at", "subscribed_at"]) {
        const email = `instant-${key}-${k}@example.com`;
        expect400(await s.call("POST", "/v1/contacts", { email, [key]: v }), key);
      }
    }
    const batch = await s.call("POST", "/v1/contacts/batch", {
      contacts: [
        { email: "batch-ok@example.com", created_at: "2024-01-01T00:00:00Z" },
        { email: "batch-bad@example.com", created_at: 1e20 },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.errors).toEqual([
      { index: 1, error: expect.stringMatching(/^contacts\[1\]\.created_at: /) },
    ]);
    const stored = await emails();
    expect(stored).toContain("batch-ok@example.com");
    expect(stored.filter((e) => e.startsWith("instant-") || e === "batch-bad@example.com")).toEqual([]);
  });

  it("a patch, a custom date field, an event timestamp and a member's expires_at are refused too", async () => {
    const c = await s.call("POST", "/v1/contacts", { email: "patch-instant@example.com" });
    expect(c.status).toBe(201);
    const id = c.body.id;
    expect400(await s.call("PATCH", `/v1/contacts/${id}`, { subscribed_at: 9e15 }), "subscribed_at");
    expect400(
      await s.call("PATCH", `/v1/contacts/${id}`, { fields: { birthday: "+275760-09-13" } }),
      "fields.birthday",
    );
    const after = await s.call("GET", `/v1/contacts/${id}`);
    expect(after.status).toBe(200);
    expect(after.body.subscribed_at ?? null).toBeNull();
    expect400(
      await s.call("POST", "/v1/events", {
        type: "page_viewed",
        contact: { id },
        timestamp: "+275760-09-13T00:00:00Z",
      }),
      "timestamp",
    );
    const seg = await s.call("POST", "/v1/segments", { name: "Static instants", kind: "static" });
    expect(seg.status).toBe(201);
    expect400(
      await s.call("POST", `/v1/segments/${seg.body.id}/members`, {
        contacts: [{ id }],
        expires_at: "+275760-09-13T00:00:00Z",
      }),
      "expires_at",
    );
    const members = await s.call("GET", `/v1/segments/${seg.body.id}/contacts`);
    expect(members.body.data).toEqual([]);
  });

  it("the edges of the range are accepted and read back", async () => {
    const lo = await s.call("POST", "/v1/contacts", {
      email: "lo@example.com",
      created_at: "0000-01-01T00:00:00Z",
    });
    expect(lo.status).toBe(201);
    const hi = await s.call("POST", "/v1/contacts", {
      email: "hi@example.com",
      created_at: "9999-12-31T23:59:59.999Z",
    });
    expect(hi.status).toBe(201);
    expect(hi.body.created_at).toBe("9999-12-31T23:59:59.999Z");
    expect((await s.call("GET", "/v1/contacts?limit=1000")).status).toBe(200);
  });
});

describe("NUL bytes", () => {
  it("are refused with the path in contacts, custom fields, tags, events and their properties", async () => {
    expect400(
      await s.call("POST", "/v1/contacts", { email: "nul1@example.com", first_name: "a\u0000b" }),
      "first_name",
    );
    expect400(await s.call("POST", "/v1/contacts", { email: "nul\u0000@example.com" }), "email");
    expect400(
      await s.call("POST", "/v1/contacts", { email: "nul2@example.com", fields: { plan: "x\u0000" } }),
      "fields.plan",
    );
    expect400(
      await s.call("POST", "/v1/contacts", { email: "nul3@example.com", tags: ["ok", "b\u0000"] }),
      "tags[1]",
    );
    expect400(
      await s.call("POST", "/v1/events", {
        type: "page_viewed",
        contact: { email: "nul4\u0000@example.com" },
      }),
      "contact.email",
    );
    expect400(
      await s.call("POST", "/v1/events", {
        type: "page_viewed",
        contact: { email: "nul5@example.com" },
        properties: { page: { title: "a\u0000" } },
      }),
      "properties.page.title",
    );
    const r = await s.call("POST", "/v1/events", [
      { type: "page_viewed", contact: { external_id: "x\u0000" } },
      { type: "page_viewed", contact: { email: "nul6@example.com" }, properties: { "k\u0000": 1 } },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(0);
    expect(r.body.errors.map((e: { error: string }) => e.error.split(":")[0])).toEqual([
      "[0].contact.external_id",
      "[1].properties",
    ]);
    const stored = await emails();
    expect(stored.filter((e) => e?.startsWith("nul"))).toEqual([]);
  });
});

describe("reserved keys", () => {
  it("fields.__proto__, constructor and prototype are a 400 with the path", async () => {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      const r = await s.call("POST", "/v1/contacts", undefined, {
        raw: `{"email":"proto-${key}@example.com","fields":{"${key}":{"plan":"x"}}}`,
        headers: { "content-type": "application/json" },
      });
      expect400(r, `fields.${key}`);
    }
    const ev = await s.call("POST", "/v1/events", undefined, {
      raw: '{"type":"page_viewed","contact":{"email":"proto-ev@example.com"},"properties":{"__proto__":{"x":1}}}',
      headers: { "content-type": "application/json" },
    });
    expect400(ev, "properties.__proto__");
    expect((await emails()).filter((e) => e?.startsWith("proto-"))).toEqual([]);
  });
});

describe("POST /v1/events with one event", () => {
  it("answers 400 with the path when the event is invalid; an array keeps per-item errors", async () => {
    expect400(
      await s.call("POST", "/v1/events", { type: "Bad Type", contact: { email: "one@example.com" } }),
      "type",
    );
    expect400(
      await s.call("POST", "/v1/events", { type: "page_viewed", contact: { email: "not-an-address" } }),
      "contact.email",
    );
    expect400(
      await s.call("POST", "/v1/events", {
        type: "page_viewed",
        contact: { email: "one@example.com" },
        properties: { n: "x".repeat(17 * 1024) },
      }),
      "properties",
    );
    const unknown = await s.call("POST", "/v1/events", {
      type: "page_viewed",
      contact: { id: "no_such_contact" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.details.path).toBe("contact");
    const arr = await s.call("POST", "/v1/events", [
      { type: "Bad Type", contact: { email: "one@example.com" } },
    ]);
    expect(arr.status).toBe(200);
    expect(arr.body.errors[0].index).toBe(0);
    expect((await emails()).filter((e) => e === "one@example.com")).toEqual([]);
    const ok = await s.call("POST", "/v1/events", {
      type: "page_viewed",
      contact: { email: "one@example.com" },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ accepted: 1, errors: [] });
  });
});

describe("per-field length caps", () => {
  const long = (n: number) => "x".repeat(n + 1);

  it("every built-in string field is capped, with the path", async () => {
    const cases: [string, unknown, string][] = [
      ["first_name", long(FIELD_CAPS.name), "first_name"],
      ["last_name", long(FIELD_CAPS.name), "last_name"],
      ["city", long(FIELD_CAPS.place), "city"],
      ["region", long(FIELD_CAPS.place), "region"],
      ["postal_code", long(FIELD_CAPS.postal_code), "postal_code"],
      ["language", long(FIELD_CAPS.language), "language"],
      ["external_id", long(FIELD_CAPS.external_id), "external_id"],
      ["phone", long(FIELD_CAPS.phone), "phone"],
      ["tags", ["ok", long(FIELD_CAPS.tag)], "tags[1]"],
      ["tags", Array.from({ length: FIELD_CAPS.tags + 1 }, (_, i) => `t${i}`), "tags"],
    ];
    for (const [key, value, path] of cases) {
      expect400(
        await s.call("POST", "/v1/contacts", { email: `cap-${key}@example.com`, [key]: value }),
        path,
      );
    }
    expect400(
      await s.call("POST", "/v1/contacts", { id: long(FIELD_CAPS.id), email: "cap-id@example.com" }),
      "id",
    );
    const big = await s.call("POST", "/v1/contacts", {
      email: "cap-big@example.com",
      first_name: "x".repeat(32 << 20),
    });
    expect([400, 413]).toContain(big.status);
    expect((await emails()).filter((e) => e?.startsWith("cap-"))).toEqual([]);
  });

  it("custom string fields, string lists, and event types are capped", async () => {
    expect400(
      await s.call("POST", "/v1/contacts", {
        email: "cap-c@example.com",
        fields: { plan: long(FIELD_CAPS.customString) },
      }),
      "fields.plan",
    );
    expect400(
      await s.call("POST", "/v1/contacts", {
        email: "cap-c@example.com",
        fields: { colours: ["a", long(FIELD_CAPS.customString)] },
      }),
      "fields.colours[1]",
    );
    expect400(
      await s.call("POST", "/v1/events", {
        type: long(FIELD_CAPS.eventType),
        contact: { email: "cap-c@example.com" },
      }),
      "type",
    );
    const atCap = await s.call("POST", "/v1/contacts", {
      email: "at-cap@example.com",
      first_name: "y".repeat(FIELD_CAPS.name),
      fields: { plan: "z".repeat(FIELD_CAPS.customString) },
      tags: ["t".repeat(FIELD_CAPS.tag)],
    });
    expect(atCap.status).toBe(201);
  });
});

describe("a rule with thousands of errors", () => {
  it("answers the first issues and their count, in a small body", async () => {
    const conditions = Array.from({ length: 10_000 }, (_, i) => ({
      type: "field",
      field: `nope_${i}`,
      op: "eq",
      value: 1,
    }));
    const r = await s.call("POST", "/v1/segments", {
      name: "Many errors",
      rule: { type: "and", conditions },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details.issues.length).toBeLessThanOrEqual(100);
    expect(r.body.error.details.issue_count).toBeGreaterThanOrEqual(10_000);
    expect(r.text.length).toBeLessThan(50_000);
  });
});

describe("phones, countries and time zones", () => {
  it("stores phones in E.164 with the contact's country as the default region, others as given", async () => {
    const fr = await s.call("POST", "/v1/contacts", {
      email: "ph-fr@example.com",
      country: "fr",
      phone: " 06 12 34 56 78 ",
    });
    expect(fr.status).toBe(201);
    expect(fr.body.phone).toBe("+33612345678");
    expect(fr.body.country).toBe("FR");
    const intl = await s.call("POST", "/v1/contacts", {
      email: "ph-us@example.com",
      phone: "+1 (415) 555-2671",
    });
    expect(intl.body.phone).toBe("+14155552671");
    const odd = await s.call("POST", "/v1/contacts", { email: "ph-odd@example.com", phone: " ext. 12 " });
    expect(odd.status).toBe(201);
    expect(odd.body.phone).toBe("ext. 12");
  });

  it("refuses a country that is not ISO 3166-1 alpha-2 and a time zone that is not IANA", async () => {
    for (const country of ["XX", "ZZ", "FRA", "F1"])
      expect400(await s.call("POST", "/v1/contacts", { email: "geo@example.com", country }), "country");
    for (const timezone of ["Mars/Olympus", "CEST", "Europe/Nowhere"])
      expect400(await s.call("POST", "/v1/contacts", { email: "geo@example.com", timezone }), "timezone");
    const ok = await s.call("POST", "/v1/contacts", {
      email: "geo@example.com",
      country: "gb",
      timezone: "europe/london",
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ country: "GB", timezone: "Europe/London" });
  });
});
