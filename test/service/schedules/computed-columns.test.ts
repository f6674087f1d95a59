/**
 * Scheduled exports of a workspace with a computed field (docs/rules.md, "Computed
 * fields"): the csv has the field's column after the stored custom fields, filled with
 * each member's value as `GET /v1/segments/{id}/export` writes it; a schedule may name
 * the column; ndjson lines carry the `computed` object.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parse } from "csv-parse/sync";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Env, openTestWorkspace, setup as setupIn, type TestWorkspace } from "./setup.ts";

let tw: TestWorkspace;
let server: Server;
let base: string;
let env: Env | undefined;
const bodies: string[] = [];

beforeAll(async () => {
  tw = await openTestWorkspace();
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      bodies.push(Buffer.concat(parts).toString("utf8"));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { ws } = tw;
  await ws.createField({ key: "plan", type: "string" });
  await ws.createField({
    key: "lifetime_value",
    type: "number",
    computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
  });
  await ws.patchContact("c1", { fields: { plan: "pro" } });
  const r = await ws.ingest([
    {
      type: "order_placed",
      contact: { id: "c1" },
      timestamp: "2026-01-01T00:00:00Z",
      properties: { amount: 30 },
    },
    {
      type: "order_placed",
      contact: { id: "c1" },
      timestamp: "2026-01-01T00:00:00Z",
      properties: { amount: 12.5 },
    },
    {
      type: "order_placed",
      contact: { id: "c2" },
      timestamp: "2026-01-01T00:00:00Z",
      properties: { amount: 7 },
    },
  ]);
  expect(r.accepted).toBe(3);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await tw?.close();
});

afterEach(async () => {
  await env?.close();
  env = undefined;
  bodies.length = 0;
});

/** Creates a schedule of the subscribed contacts at 01:30 Paris, runs it, and answers the uploaded body. */
async function runOnce(format: "csv" | "ndjson", options: Record<string, unknown> = {}): Promise<string> {
  env = await setupIn(tw, "2026-03-02T12:00:00Z");
  await env.create({
    segment_id: "subscribed",
    format,
    cron: "30 1 * * *",
    target: { kind: "http", url: `${base}/drop/{date}.${format}` },
    ...options,
  });
  env.clock.set("2026-03-03T00:30:05Z");
  const [run] = await env.runner.runDue(env.clock.now());
  expect(run).toMatchObject({ state: "succeeded", rows_written: 2, error: null });
  expect(bodies).toHaveLength(1);
  return bodies[0]!;
}

describe("scheduled exports with a computed field", () => {
  it("csv: the computed column after the stored fields, holding each member's value", async () => {
    const rows: string[][] = parse(await runOnce("csv"));
    const header = rows[0]!;
    expect(header.slice(-2)).toEqual(["plan", "lifetime_value"]);
    const at = (name: string) => header.indexOf(name);
    expect(rows.slice(1).map((r) => [r[at("id")], r[at("plan")], r[at("lifetime_value")]])).toEqual([
      ["c1", "pro", "42.5"],
      ["c2", "", "7"],
    ]);
  });

  it("csv: a schedule's columns may name the computed field, bare or as computed.<key>", async () => {
    const text = await runOnce("csv", { columns: ["id", "computed.lifetime_value", "plan"] });
    expect(parse(text)).toEqual([
      ["id", "computed.lifetime_value", "plan"],
      ["c1", "42.5", "pro"],
      ["c2", "7", ""],
    ]);
  });

  it("ndjson: each line carries the computed values, the stored fields without them", async () => {
    const lines = (await runOnce("ndjson"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((c) => [c.id, c.fields, c.computed])).toEqual([
      ["c1", { plan: "pro" }, { lifetime_value: 42.5 }],
      ["c2", {}, { lifetime_value: 7 }],
    ]);
  });
});
