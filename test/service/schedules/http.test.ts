/**
 * Scheduled exports PUT to an HTTP(S) URL: a local server (plain http, allowed by the
 * service's test option) receives the streamed body with the stored headers; an error
 * answer is recorded as the run's error; https is required without the option.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Env, openTestWorkspace, setup as setupIn, type TestWorkspace } from "./setup.ts";

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let tw: TestWorkspace;
let server: Server;
let base: string;
let env: Env | undefined;
const received: Received[] = [];
/** The status the server answers with (and the body). */
let answer: [number, string] = [200, ""];

beforeAll(async () => {
  tw = await openTestWorkspace();
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(parts).toString("utf8"),
      });
      res.statusCode = answer[0];
      res.end(answer[1]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await tw?.close();
});

afterEach(async () => {
  await env?.close();
  env = undefined;
  received.length = 0;
  answer = [200, ""];
});

describe("scheduled exports to an HTTP URL", () => {
  it("PUTs the export as a chunked body with the stored headers, on schedule", async () => {
    env = await setupIn(tw, "2026-10-24T12:00:00Z");
    const s = await env.create({
      segment_id: "subscribed",
      format: "ndjson",
      cron: "30 1 * * *",
      target: {
        kind: "http",
        url: `${base}/drop/{date}/{segment_id}.ndjson?token=abc`,
        headers: { Authorization: "Bearer s3cr3t-token", "X-Tenant": "acme" },
      },
    });
    // 01:30 CEST on Sunday 25 October 2026 (the clocks go back at 03:00 that night).
    expect(s.next_run_at).toBe("2026-10-24T23:30:00.000Z");
    expect(s.target).toEqual({
      kind: "http",
      url: `${base}/drop/{date}/{segment_id}.ndjson?token=abc`,
      headers: { Authorization: "****", "X-Tenant": "****" },
    });
    env.clock.set("2026-10-24T23:30:05Z");
    const [run] = await env.runner.runDue(env.clock.now());
    expect(run).toMatchObject({ state: "succeeded", rows_written: 2, error: null });
    expect(run!.location).toBe(`${base}/drop/2026-10-25/subscribed.ndjson`);
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.method).toBe("PUT");
    expect(r.url).toBe("/drop/2026-10-25/subscribed.ndjson?token=abc");
    expect(r.headers.authorization).toBe("Bearer s3cr3t-token");
    expect(r.headers["x-tenant"]).toBe("acme");
    expect(r.headers["content-type"]).toBe("application/x-ndjson");
    // Streamed: no length known in advance.
    expect(r.headers["transfer-encoding"]).toBe("chunked");
    expect(r.headers["content-length"]).toBeUndefined();
    const rows = r.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows.map((c) => [c.id, c.email])).toEqual([
      ["c1", "ann@example.com"],
      ["c2", "bob@example.com"],
    ]);
    expect(run!.bytes_written).toBe(Buffer.byteLength(r.body));
    // 01:30 happens once on 26 October (CET): 00:30Z.
    expect((await env.schedules.get(env.ws, s.id)).next_run_at).toBe("2026-10-26T00:30:00.000Z");
  });

  it("records the answer of a refusing server as the run's error", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z");
    answer = [403, "signature does not match"];
    const s = await env.create({
      segment_id: "all",
      cron: "0 3 * * *",
      target: { kind: "http", url: `${base}/denied.csv` },
    });
    await env.schedules.runNow(env.ws, s.id);
    await env.schedules.drain();
    const [run] = (await env.schedules.runs(env.ws, s.id, {})).data;
    expect(run).toMatchObject({ state: "failed", location: null });
    expect(run!.error).toBe(`PUT ${base}/denied.csv answered 403: signature does not match`);
  });

  it("records an unreachable address as the run's error", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z");
    // A port that was free a moment ago: nothing listens there now.
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
    const port = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const s = await env.create({
      segment_id: "all",
      cron: "0 3 * * *",
      target: { kind: "http", url: `http://127.0.0.1:${port}/x.csv` },
    });
    await env.schedules.runNow(env.ws, s.id);
    await env.schedules.drain();
    const [run] = (await env.schedules.runs(env.ws, s.id, {})).data;
    expect(run).toMatchObject({ state: "failed" });
    expect(run!.error).toMatch(new RegExp(`^PUT http://127.0.0.1:${port}/x.csv: .*ECONNREFUSED`));
  });

  it("requires https without the test option", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z", { allowInsecureHttp: false });
    await expect(
      env.create({
        segment_id: "all",
        cron: "0 3 * * *",
        target: { kind: "http", url: `${base}/x.csv` },
      }),
    ).rejects.toThrow("target.url: must use https");
    const ok = await env.create({
      segment_id: "all",
      cron: "0 3 * * *",
      target: { kind: "http", url: "https://upload.example.com/{date}.csv" },
    });
    expect(ok.target).toEqual({ kind: "http", url: "https://upload.example.com/{date}.csv", headers: {} });
  });
});
