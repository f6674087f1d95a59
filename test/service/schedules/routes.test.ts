/**
 * `/v1/export-schedules` over HTTP (the server's own error handling and key checks):
 * create, read, change, run now, history, delete, against a local S3-compatible server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../../src/http/server.ts";
import type { ScheduleService } from "../../../src/service/schedules/service.ts";
import { Slice } from "../../../src/service/slice.ts";
import { openStore } from "../../../src/store/index.ts";
import { type LocalS3, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, startS3 } from "../../support/s3.ts";
import type { Json } from "../../support/server.ts";

const KEY = "sk_admin_schedules_0123456789abcdef";
let dir: string;
let slice: Slice;
let app: FastifyInstance;
let schedules: ScheduleService;
let s3: LocalS3;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-schedule-routes-"));
  s3 = await startS3(["routes"]);
  const store = await openStore({ sqlitePath: join(dir, "slice.db") });
  slice = await Slice.start({
    store,
    apiKey: KEY,
    log: () => {},
    secretKey: "routes-test-secret-key",
    allowInsecureExportTargets: true,
    allowPrivateAddresses: true,
  });
  schedules = slice.schedules;
  app = buildServer(slice);
  await app.ready();
});

afterAll(async () => {
  await schedules?.drain();
  await app?.close();
  await slice?.stop();
  await slice?.store.close();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await app.inject({
    method: method as "GET",
    url,
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: res.statusCode, body: res.body === "" ? null : JSON.parse(res.body) };
}

describe("/v1/export-schedules", () => {
  it("creates, reads, changes, runs now, lists runs and deletes", async () => {
    const contact = await call("POST", "/v1/contacts", { email: "ann@example.com" });
    expect(contact.status).toBeLessThan(300);
    const bad = await call("POST", "/v1/export-schedules", {
      segment_id: "all",
      cron: "every day",
      target: { kind: "s3", key: "k" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.message).toBe("target.bucket: required");

    const created = await call("POST", "/v1/export-schedules", {
      name: "daily",
      segment_id: "all",
      columns: ["id", "email"],
      cron: "0 6 * * *",
      target: {
        kind: "s3",
        bucket: "routes",
        key: "{segment_id}/{date}.csv",
        endpoint: s3.endpoint,
        access_key_id: S3_ACCESS_KEY_ID,
        secret_access_key: S3_SECRET_ACCESS_KEY,
      },
    });
    expect(created.status).toBe(201);
    const s = created.body;
    expect(s).toMatchObject({ name: "daily", state: "active", time_zone: "UTC", format: "csv" });
    expect(s.next_run_at).toMatch(/T06:00:00\.000Z$/);
    expect(JSON.stringify(s)).not.toContain(S3_SECRET_ACCESS_KEY);

    const cron = await call("PATCH", `/v1/export-schedules/${s.id}`, { cron: "0 25 * * *" });
    expect(cron.status).toBe(400);
    expect(cron.body.error.message).toMatch(/^cron: invalid cron expression "0 25 \* \* \*"/);
    const paused = await call("PATCH", `/v1/export-schedules/${s.id}`, { state: "paused" });
    expect(paused.body).toMatchObject({ state: "paused", next_run_at: null });

    const list = await call("GET", "/v1/export-schedules");
    expect(list.body.data.map((x: Json) => x.id)).toEqual([s.id]);

    const started = await call("POST", `/v1/export-schedules/${s.id}/run`);
    expect(started.status).toBe(202);
    expect(started.body.state).toBe("running");
    await schedules.drain();
    const runs = await call("GET", `/v1/export-schedules/${s.id}/runs`);
    expect(runs.status).toBe(200);
    expect(runs.body.next_cursor).toBeNull();
    expect(runs.body.data).toHaveLength(1);
    expect(runs.body.data[0]).toMatchObject({
      id: started.body.id,
      state: "succeeded",
      rows: 1,
      error: null,
    });
    expect(runs.body.data[0].location).toMatch(/^s3:\/\/routes\/all\/\d{4}-\d{2}-\d{2}\.csv$/);

    expect((await call("DELETE", `/v1/export-schedules/${s.id}`)).status).toBe(204);
    expect((await call("GET", `/v1/export-schedules/${s.id}`)).status).toBe(404);
    expect((await call("GET", `/v1/export-schedules/${s.id}/runs`)).status).toBe(404);
  });
});
