/**
 * Searching every contact: `GET /v1/contacts?q=` matches a part of the email, first
 * name, last name or external id (any case), combines with `segment=` and cursor
 * paging, and the answer's `total` counts every match, not only the page.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
let france: string;

/** Contacts p0 … p149 at shop.example, every third one in France, then a few to find. */
const SHOP = 150;
const shopFrench = Array.from({ length: SHOP }, (_, i) => i).filter((i) => i % 3 === 0).length;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  const shop = Array.from({ length: SHOP }, (_, i) => ({
    email: `p${i}@shop.example`,
    first_name: `Shopper${i}`,
    last_name: "Martin",
    external_id: `crm-${i}`,
    country: i % 3 === 0 ? "FR" : "DE",
  }));
  const b = await s.call("POST", "/v1/contacts/batch", shop);
  expect(b.status, b.text).toBe(200);
  expect(b.body.accepted).toBe(SHOP);
  for (const c of [
    {
      email: "zoe@rare.example",
      first_name: "Zoë",
      last_name: "Van Dyke",
      external_id: "ACME-777",
      country: "FR",
    },
    {
      email: "leo@other.example",
      first_name: "Léo",
      last_name: "Dykstra",
      external_id: "acme-778",
      country: "DE",
    },
    { email: "nameless@other.example", external_id: "X-1", country: "DE" },
  ]) {
    const r = await s.call("POST", "/v1/contacts", c);
    expect(r.status, r.text).toBe(201);
  }
  const seg = await s.call("POST", "/v1/segments", { name: "France", rule_text: 'country = "FR"' });
  expect(seg.status, seg.text).toBe(201);
  france = seg.body.id;
}, 60_000);

afterAll(async () => {
  await s?.stop();
});

const emails = (r: { body: Json }) => (r.body.data as Json[]).map((c) => c.email).sort();

async function search(query: string) {
  const r = await s.call("GET", `/v1/contacts?${query}`);
  expect(r.status, r.text).toBe(200);
  return r;
}

/** Every page of a listing, following `next_cursor`. */
async function allPages(query: string, limit: number) {
  const seen: string[] = [];
  const totals = new Set<number>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await search(`${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(r.body.data.length).toBeLessThanOrEqual(limit);
    seen.push(...(r.body.data as Json[]).map((c) => c.email as string));
    totals.add(r.body.total);
    cursor = r.body.next_cursor;
    pages++;
  } while (cursor !== null && pages < 1000);
  return { seen, totals, pages };
}

describe("GET /v1/contacts?q=", () => {
  it("finds contacts by a part of their email, any case", async () => {
    const r = await search("q=RARE.exam");
    expect(emails(r)).toEqual(["zoe@rare.example"]);
    expect(r.body.total).toBe(1);
    expect(r.body.next_cursor).toBeNull();
  });

  it("finds contacts by a part of their last name or first name", async () => {
    expect(emails(await search("q=dyk"))).toEqual(["leo@other.example", "zoe@rare.example"]);
    expect(emails(await search("q=van%20dyke"))).toEqual(["zoe@rare.example"]);
    expect(emails(await search("q=l%C3%A9o"))).toEqual(["leo@other.example"]);
    // First and last name together.
    expect(emails(await search("q=zo%C3%AB%20van"))).toEqual(["zoe@rare.example"]);
  });

  it("finds contacts by a part of their external id, any case", async () => {
    expect(emails(await search("q=acme-77"))).toEqual(["leo@other.example", "zoe@rare.example"]);
    expect(emails(await search("q=ACME-777"))).toEqual(["zoe@rare.example"]);
    expect(emails(await search("q=x-1"))).toEqual(["nameless@other.example"]);
  });

  it("trims the text; a blank one lists every contact", async () => {
    expect(emails(await search("q=%20%20rare.example%20"))).toEqual(["zoe@rare.example"]);
    const all = await search("q=%20%20&limit=5");
    expect(all.body.data).toHaveLength(5);
    expect(all.body.total).toBe(SHOP + 3);
  });

  it("answers an empty page with total 0 when nothing matches", async () => {
    expect((await search("q=nobody-at-all")).body).toEqual({ data: [], next_cursor: null, total: 0 });
  });

  it("combines with a segment: only its members that match", async () => {
    const r = await search(`q=dyk&segment=${france}`);
    expect(emails(r)).toEqual(["zoe@rare.example"]);
    expect(r.body.total).toBe(1);
    const shop = await search(`q=shop.example&segment=${france}&limit=1000`);
    expect(shop.body.total).toBe(shopFrench);
    expect(shop.body.data).toHaveLength(shopFrench);
    expect((shop.body.data as Json[]).every((c) => c.country === "FR")).toBe(true);
  });

  it("pages with a cursor: every match exactly once, the same total on every page", async () => {
    const { seen, totals, pages } = await allPages("q=SHOP.example", 7);
    expect(seen).toHaveLength(SHOP);
    expect(new Set(seen).size).toBe(SHOP);
    expect(seen.every((e) => e.endsWith("@shop.example"))).toBe(true);
    expect([...totals]).toEqual([SHOP]);
    expect(pages).toBe(Math.ceil(SHOP / 7));

    const fr = await allPages(`q=martin&segment=${france}`, 4);
    expect(fr.seen).toHaveLength(shopFrench);
    expect(new Set(fr.seen).size).toBe(shopFrench);
    expect([...fr.totals]).toEqual([shopFrench]);
  });

  it("gives the total without a search too: every contact, or a segment's members", async () => {
    const all = await search("limit=2");
    expect(all.body.data).toHaveLength(2);
    expect(all.body.total).toBe(SHOP + 3);
    const fr = await search(`segment=${france}&limit=2`);
    expect(fr.body.total).toBe(shopFrench + 1);
  });

  it("refuses a text over 200 characters, and a search with a lookup", async () => {
    expect((await search(`q=${"a".repeat(200)}`)).body.total).toBe(0);
    const long = await s.call("GET", `/v1/contacts?q=${"a".repeat(201)}`);
    expect(long.status).toBe(400);
    expect(long.body.error.details.path).toBe("query.q");
    const both = await s.call("GET", "/v1/contacts?q=dyk&email=zoe%40rare.example");
    expect(both.status).toBe(400);
    expect(both.body.error.details.path).toBe("query.q");
  });

  it("keeps lookups as they were: no total", async () => {
    expect((await s.call("GET", "/v1/contacts?external_id=ACME-777")).body).toMatchObject({
      data: [{ email: "zoe@rare.example" }],
      next_cursor: null,
    });
    expect((await s.call("GET", "/v1/contacts?external_id=ACME-777")).body.total).toBeUndefined();
  });

  it("pages many matches (past the ids sorted in memory) through the store's scan", async () => {
    const BULK = 10_500;
    for (let k = 0; k < BULK; k += 5000) {
      const n = Math.min(5000, BULK - k);
      const rows = Array.from({ length: n }, (_, j) => ({ email: `bulk${k + j}@many.example` }));
      const b = await s.call("POST", "/v1/contacts/batch", rows);
      expect(b.body.accepted, b.text).toBe(n);
    }
    const { seen, totals } = await allPages("q=many.example", 1000);
    expect(seen).toHaveLength(BULK);
    expect(new Set(seen).size).toBe(BULK);
    expect([...totals]).toEqual([BULK]);
    const few = await search("q=bulk1049");
    expect(emails(few)).toEqual(
      ["bulk1049@many.example", ...range(10).map((d) => `bulk1049${d}@many.example`)].sort(),
    );
  }, 60_000);
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
