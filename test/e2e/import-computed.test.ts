/**
 * A Slice CSV export reads back as an import (docs/imports.md): the columns of computed
 * fields it carries are ignored like its `id`, not written as values (a computed field
 * takes no writes).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  const f = await s.call("POST", "/v1/fields", {
    key: "lifetime_value",
    type: "number",
    computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
  });
  expect(f.status, f.text).toBe(201);
});

afterAll(async () => {
  await s?.stop();
});

it("imports a CSV export of contacts with a computed field's column back", async () => {
  const c = await s.call("POST", "/v1/contacts", { email: "ana@example.com", status: "subscribed" });
  expect(c.status, c.text).toBe(201);
  const ev = await s.call("POST", "/v1/events", {
    type: "order_placed",
    contact: { email: "ana@example.com" },
    properties: { amount: 120 },
  });
  expect(ev.body.accepted).toBe(1);
  const exported = await s.call("GET", "/v1/segments/all/export?format=csv");
  expect(exported.status).toBe(200);
  const header = exported.text.split(/\r?\n/)[0]!;
  expect(header.split(",")).toContain("lifetime_value");
  expect(exported.text).toContain("120");

  const r = await s.call("POST", "/v1/imports", undefined, {
    raw: exported.text.replace("ana@example.com", "bea@example.com"),
    headers: { "content-type": "text/csv" },
  });
  expect(r.status, r.text).toBe(202);
  const job: Json = await eventually(
    async () => {
      const j = (await s.call("GET", `/v1/imports/${r.body.id}`)).body;
      return j.status === "done" || j.status === "failed" ? j : null;
    },
    10_000,
    "the import to finish",
  );
  expect(job.errors).toEqual([]);
  expect(job.accepted).toBe(1);
  const bea = (await s.call("GET", "/v1/contacts?email=bea%40example.com")).body.data[0];
  expect(bea.email).toBe("bea@example.com");
  // Her value is her own events' sum, none: the file's 120 was not taken as hers.
  expect(bea.computed?.lifetime_value ?? null).not.toBe(120);
});
