/**
 * Generative HTTP fuzzing over every operation of `/v1/openapi.json` (issue: harden):
 * bodies generated from each operation's own JSON Schema (valid-looking) and broken
 * ones (any JSON, wrong types, huge strings, deep nesting, odd path and query values),
 * against a real server. Asserts, for every request: no 5xx; no request slower than a
 * generous bound; every 400 names the path of the bad part; and a refused write leaves
 * the store's data exactly as it was (a dump of the data tables compared before and after).
 *
 * The seed is fixed (FUZZ_SEED overrides it, FUZZ_RUNS the number of requests); fast-check
 * prints the seed and the shrunk request of a failure.
 */
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
/** Generous: the slowest legitimate request here takes well under a second. */
const SLOW_MS = 10_000;
const DATA_TABLES = [
  "contacts",
  "events",
  "fields",
  "segments",
  "segment_versions",
  "segment_members",
  "changes",
  "webhooks",
  "receivers",
  "destinations",
  "export_schedules",
  "identities",
];
/** Long-lived or out-of-band routes: the stream never ends, imports take files. */
const SKIP = new Set(["GET /v1/stream", "POST /v1/imports"]);

let s: TestServer;
let dbPath: string;
const ops: { method: string; path: string; schema: Json | null; query: string[] }[] = [];
let defs: Record<string, Json> = {};
const ids: Record<string, string[]> = {};

function dump(): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const parts: string[] = [];
    for (const t of DATA_TABLES) {
      const exists = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(t);
      if (!exists) continue;
      const rows = db.prepare(`SELECT * FROM ${t}`).all() as Record<string, unknown>[];
      const lines = rows.map((r) => JSON.stringify(r)).sort();
      parts.push(`${t}:${lines.join("\n")}`);
    }
    return parts.join("\n--\n");
  } finally {
    db.close();
  }
}

/** Values shaped by a JSON Schema (zod's output), depth-bounded; unknown shapes give any JSON. */
function fromSchema(schema: Json, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || typeof schema !== "object" || depth > 5) return fc.jsonValue({ maxDepth: 2 });
  if (schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    const target = schema.$defs?.[name] ?? defs[name];
    return target ? fromSchema(target, depth + 1) : fc.jsonValue({ maxDepth: 2 });
  }
  if (schema.$defs) defs = { ...defs, ...schema.$defs };
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const alts = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alts) && alts.length > 0)
    return fc.oneof(...alts.map((a: Json) => fromSchema(a, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom("FR", "2026-01-01", "30d", "a@example.com", "seg_x", "all", "email_opened"),
      );
    case "number":
    case "integer":
      return fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double({ noNaN: true }));
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(fromSchema(schema.items ?? {}, depth + 1), { maxLength: 3 });
    case "object": {
      const props: Record<string, Json> = schema.properties ?? {};
      const required = new Set<string>(schema.required ?? []);
      const rec: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) rec[k] = fromSchema(v, depth + 1);
      return fc.record(rec, { requiredKeys: [...required].filter((k) => k in rec) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A body to send: JSON to serialise, or raw text (too deep for anything to build as a value). */
type Body = { json: unknown } | { raw: string };

/** Bodies nobody should send: wrong types, huge strings, deep nesting, prototype keys. */
const broken: fc.Arbitrary<Body> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((json) => ({ json })),
  fc.constant({ json: { name: "x".repeat(100_000) } }),
  fc.constant({ raw: `${"[".repeat(100_000)}${"]".repeat(100_000)}` }),
  fc.constant({ raw: `{"rule":${'{"type":"not","condition":'.repeat(20_000)}{}${"}".repeat(20_000)}}` }),
  fc.constant({ raw: '{"__proto__": {"x": 1}, "fields": {"__proto__": 1}}' }),
  fc.constant({ json: { email: `${"a".repeat(50_000)}@example.com` } }),
  fc.constant({ json: { created_at: 1e20 } }),
  // Well-formed but for one poisoned value: these reach the write paths.
  fc.constantFrom(1e20, -1e20, 9e15, "275760-09-14T00:00:00Z").map((v) => ({
    json: { email: `poison${String(v).length}@example.com`, created_at: v, subscribed_at: v },
  })),
  fc.constant({ json: { email: "nul@example.com", first_name: "a\u0000b" } }),
  fc.constant({ raw: '{"email":"proto@example.com","fields":{"__proto__":{"x":1}}}' }),
  fc.constant({
    json: [{ id: "ev-poison", type: "order_placed", timestamp: 1e20, contact: { email: "ev@example.com" } }],
  }),
  fc.constant({ json: [{ type: "x", contact: { email: "a\u0000@example.com" } }] }),
);

function pathValue(name: string): fc.Arbitrary<string> {
  const known = ids[name] ?? [];
  return fc.oneof(
    ...(known.length > 0 ? [fc.constantFrom(...known)] : []),
    fc.constantFrom("nope", "%2e%2e", "x".repeat(300), "all", "0"),
    fc.string({ minLength: 1, maxLength: 12 }),
  );
}

beforeAll(async () => {
  // A clock that stands still: a segment an earlier request defined with a time window
  // must not change by itself between the two dumps around a refused request (under a
  // loaded machine a request can take long enough for a window's edge to pass).
  const now = Date.now();
  s = await startTestServer(
    { kind: "sqlite" },
    { secretKey: "fuzz-secret-key-0123456789", clock: { now: () => now } },
  );
  dbPath = s.sqlitePath!;
  const doc = (await s.call("GET", "/v1/openapi.json")).body;
  defs = doc.components?.schemas ?? {};
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const m = method.toUpperCase();
      if (SKIP.has(`${m} ${path}`)) continue;
      const query = (op.parameters ?? []).filter((p: Json) => p.in === "query").map((p: Json) => p.name);
      ops.push({
        method: m,
        path,
        schema: op.requestBody?.content?.["application/json"]?.schema ?? null,
        query,
      });
    }
  }
  // Real ids for path parameters, so that handlers are reached, not only 404s.
  await s.call("POST", "/v1/contacts/batch", {
    contacts: [{ email: "f1@example.com", country: "FR" }, { email: "f2@example.com" }],
  });
  const c = (await s.call("GET", "/v1/contacts?limit=2")).body.data.map((x: Json) => x.id);
  const seg = (
    await s.call("POST", "/v1/segments", {
      name: "fz",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    })
  ).body.id;
  const stat = (await s.call("POST", "/v1/segments", { name: "fz static", kind: "static" })).body.id;
  ids.id = [...c, seg, stat, "all"];
  ids.segment_id = [seg, stat];
  ids.key = ["plan"];
  expect(ops.length).toBeGreaterThan(40);
}, 60_000);

afterAll(async () => {
  await s?.stop();
});

describe("HTTP fuzzing over the OpenAPI document", () => {
  it("never answers 5xx, names the path of every 400, and leaves the store as it was after a refusal", async () => {
    const request = fc.constantFrom(...ops).chain((op) =>
      fc.record({
        op: fc.constant(op),
        params: fc.tuple(...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => pathValue(m[1]!)), fc.constant(0)),
        query: fc.dictionary(
          fc.constantFrom(...op.query, "limit", "cursor", "bogus"),
          fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("-1", "1e9", "%00", "10")),
          { maxKeys: 2 },
        ),
        body: op.schema
          ? fc.oneof({ weight: 3, arbitrary: fromSchema(op.schema) }, { weight: 2, arbitrary: broken })
          : fc.constant(undefined),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ op, params, query, body }) => {
        let k = 0;
        const path = op.path.replace(/\{(\w+)\}/g, () => encodeURIComponent(String(params[k++])));
        const qs = new URLSearchParams(query as Record<string, string>).toString();
        const url = qs ? `${path}?${qs}` : path;
        const write = op.method !== "GET";
        // Changes of earlier accepted writes are logged lazily (by the tick): settle them first.
        if (write) await s.server.slice.tick();
        const before = write ? dump() : "";
        const b = body as Body | undefined;
        const t0 = performance.now();
        const r =
          b === undefined
            ? await s.call(op.method, url)
            : "raw" in b
              ? await s.call(op.method, url, undefined, {
                  raw: b.raw,
                  headers: { "content-type": "application/json" },
                })
              : await s.call(op.method, url, b.json);
        const ms = performance.now() - t0;
        const what = `${op.method} ${url.slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`;
        expect(r.status, what).toBeLessThan(500);
        expect(ms, `${what} took ${Math.round(ms)} ms`).toBeLessThan(SLOW_MS);
        if (r.status === 400) expect(typeof r.body?.error?.details?.path, what).toBe("string");
        if (write && r.status >= 400) {
          // Refused: nothing of it may have been stored (group commits settle within the answer).
          await s.server.slice.tick();
          expect(dump() === before, `${what}: the store changed`).toBe(true);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 600_000);
});
