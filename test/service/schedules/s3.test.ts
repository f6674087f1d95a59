/**
 * Scheduled exports to a real local S3-compatible server: slots computed in the
 * workspace's zone (across a DST change), the object landed with the expected rows,
 * failures recorded, each slot run once, missed slots run once.
 */
import { createHash } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ScheduleRunner, STALE_RUN_ERROR } from "../../../src/service/schedules/runner.ts";
import { uploadS3 } from "../../../src/service/schedules/targets.ts";
import { type LocalS3, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, startS3 } from "../../support/s3.ts";
import { type Env, openTestWorkspace, setup as setupIn, type TestWorkspace } from "./setup.ts";

const BUCKET = "exports";
let s3: LocalS3;
let client: S3Client;
let env: Env | undefined;
let tw: TestWorkspace;
const setup = (start: string) => setupIn(tw, start);

beforeAll(async () => {
  tw = await openTestWorkspace();
  s3 = await startS3([BUCKET]);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY },
  });
});

afterAll(async () => {
  await tw?.close();
  client?.destroy();
  await s3?.stop();
});

afterEach(async () => {
  await env?.close();
  env = undefined;
});

function s3Target(over: Record<string, unknown> = {}) {
  return {
    kind: "s3",
    bucket: BUCKET,
    key: "daily/{date}/{segment_id}-{time}.csv",
    endpoint: s3.endpoint,
    access_key_id: S3_ACCESS_KEY_ID,
    secret_access_key: S3_SECRET_ACCESS_KEY,
    ...over,
  };
}

async function object(key: string): Promise<string> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return got.Body!.transformToString();
}

async function keys(prefix: string): Promise<string[]> {
  const list = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (list.Contents ?? []).map((c) => c.Key!).sort();
}

describe("scheduled exports to S3", () => {
  it("runs a due slot in the workspace's zone and lands the CSV with the expected rows", async () => {
    env = await setup("2026-03-28T12:00:00Z");
    const s = await env.create({
      name: "nightly",
      segment_id: "all",
      format: "csv",
      columns: ["id", "email", "first_name"],
      cron: "0 2 * * *",
      target: s3Target({ key: "nightly/{date}/{segment_id}-{time}-{schedule_id}.csv" }),
    });
    // 02:00 does not exist in Paris on 29 March 2026 (clocks go from 02:00 to 03:00):
    // the slot is the first valid time after the gap, 03:00 CEST = 01:00Z.
    expect(s.next_run_at).toBe("2026-03-29T01:00:00.000Z");
    expect(s.time_zone).toBe("Europe/Paris");

    // Not due yet: nothing runs.
    env.clock.set("2026-03-29T00:59:59Z");
    expect(await env.runner.runDue(env.clock.now())).toEqual([]);

    env.clock.set("2026-03-29T01:00:30Z");
    const runs = await env.runner.runDue(env.clock.now());
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.error).toBeNull();
    expect(run.state).toBe("succeeded");
    // c3 is unsubscribed: left out by default.
    expect(run.rows_written).toBe(2);

    const key = `nightly/2026-03-29/all-030000-${s.id}.csv`;
    expect(run.location).toBe(`s3://${BUCKET}/${key}`);
    const text = await object(key);
    expect(text).toBe(
      'id,email,first_name\r\nc1,ann@example.com,Ann\r\nc2,bob@example.com,"Bob, ""Jr""\nthe 2nd"\r\n',
    );
    expect(run.bytes_written).toBe(Buffer.byteLength(text));

    // The next slot: 02:00 CEST on 30 March is 00:00Z.
    const after = await env.schedules.get(env.ws, s.id);
    expect(after.next_run_at).toBe("2026-03-30T00:00:00.000Z");
    expect(after.last_run_at).toBe("2026-03-29T01:00:00.000Z");

    const history = await env.schedules.runs(env.ws, s.id, {});
    expect(history.next_cursor).toBeNull();
    expect(history.data).toEqual([
      {
        id: run.id,
        schedule_id: s.id,
        state: "succeeded",
        scheduled_for: "2026-03-29T01:00:00.000Z",
        started_at: "2026-03-29T01:00:30.000Z",
        finished_at: "2026-03-29T01:00:30.000Z",
        duration_ms: 0,
        rows: 2,
        bytes: Buffer.byteLength(text),
        location: `s3://${BUCKET}/${key}`,
        error: null,
      },
    ]);
  });

  it("computes slots in winter time before the change", async () => {
    env = await setup("2026-03-27T12:00:00Z");
    const s = await env.create({
      segment_id: "all",
      cron: "30 9 * * 1-5",
      target: s3Target(),
    });
    // Friday 27 March, after 09:30 CET: next is Monday 30 March 09:30 CEST = 07:30Z.
    expect(s.next_run_at).toBe("2026-03-30T07:30:00.000Z");
  });

  it("runs each slot once, also with two processes looking at the same instant", async () => {
    env = await setup("2026-05-01T10:00:00Z");
    const s = await env.create({
      segment_id: "subscribed",
      format: "ndjson",
      cron: "15 12 * * *",
      target: s3Target({ key: "twice/{date}.ndjson" }),
    });
    expect(s.next_run_at).toBe("2026-05-01T10:15:00.000Z"); // 12:15 CEST
    env.clock.set("2026-05-01T10:15:00Z");
    const other = env.second();
    const [a, b] = await Promise.all([
      env.runner.runDue(env.clock.now()),
      other.runner.runDue(env.clock.now()),
    ]);
    expect(a.length + b.length).toBe(1);
    // Again, and later the same day: the slot is taken.
    expect(await env.runner.runDue(env.clock.now())).toEqual([]);
    env.clock.set("2026-05-01T18:00:00Z");
    expect(await other.runner.runDue(env.clock.now())).toEqual([]);
    // The unique slot index refuses a second claim of the same slot outright.
    const repo = env.store.workspace(env.ws.id).schedules;
    expect(await repo.claimRun(s.id, Date.parse("2026-05-01T10:15:00Z"), env.clock.now())).toBeNull();

    const history = await env.schedules.runs(env.ws, s.id, {});
    expect(history.data.map((r) => [r.state, r.scheduled_for, r.rows])).toEqual([
      ["succeeded", "2026-05-01T10:15:00.000Z", 2],
    ]);
    const lines = (await object("twice/2026-05-01.ndjson")).trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(["c1", "c2"]);
  });

  it("runs slots missed while no process ran once, at start-up, then waits for the next", async () => {
    env = await setup("2026-06-01T08:10:00Z");
    const s = await env.create({
      segment_id: "all",
      cron: "0 * * * *",
      target: s3Target({ key: "hourly/{date}T{time}.csv" }),
    });
    expect(s.next_run_at).toBe("2026-06-01T09:00:00.000Z");
    // Five hourly slots pass with no process running; then one starts.
    env.clock.set("2026-06-01T13:20:00Z");
    env.runner.start();
    await env.runner.stop();
    const history = await env.schedules.runs(env.ws, s.id, {});
    expect(history.data.map((r) => [r.state, r.scheduled_for])).toEqual([
      ["succeeded", "2026-06-01T09:00:00.000Z"],
    ]);
    expect(await keys("hourly/")).toEqual(["hourly/2026-06-01T110000.csv"]);
    expect((await env.schedules.get(env.ws, s.id)).next_run_at).toBe("2026-06-01T14:00:00.000Z");
  });

  it("records a failed run with the service's error: bad credentials, unknown bucket", async () => {
    env = await setup("2026-06-01T08:10:00Z");
    const badKey = await env.create({
      segment_id: "all",
      cron: "0 * * * *",
      target: s3Target({ access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "not-the-secret" }),
    });
    const noBucket = await env.create({
      segment_id: "all",
      cron: "0 * * * *",
      target: s3Target({ bucket: "no-such-bucket" }),
    });
    env.clock.set("2026-06-01T09:00:00Z");
    const runs = await env.runner.runDue(env.clock.now());
    expect(runs).toHaveLength(2);
    const [k] = (await env.schedules.runs(env.ws, badKey.id, {})).data;
    expect(k).toMatchObject({ state: "failed", location: null });
    expect(k!.error).toMatch(/^InvalidAccessKeyId: .*\(HTTP 403\)$/);
    const [b] = (await env.schedules.runs(env.ws, noBucket.id, {})).data;
    expect(b).toMatchObject({ state: "failed", location: null });
    expect(b!.error).toMatch(/^NoSuchBucket: /);
    // A failed run does not stop the schedule.
    expect((await env.schedules.get(env.ws, badKey.id)).next_run_at).toBe("2026-06-01T10:00:00.000Z");
  });

  it("runs now on request, keeps the stored credentials when a change of target leaves them out", async () => {
    env = await setup("2026-06-01T08:10:00Z");
    const s = await env.create({
      segment_id: "all",
      cron: "0 3 * * *",
      target: s3Target({ key: "manual/first.csv" }),
    });
    const changed = await env.update(s.id, {
      target: { kind: "s3", bucket: BUCKET, key: "manual/{schedule_id}.csv", endpoint: s3.endpoint },
      columns: ["email"],
    });
    expect(changed.target).toMatchObject({ key: "manual/{schedule_id}.csv", access_key_id: "****" });
    const started = await env.schedules.runNow(env.ws, s.id);
    expect(started.state).toBe("running");
    await env.schedules.drain();
    const [run] = (await env.schedules.runs(env.ws, s.id, {})).data;
    expect(run).toMatchObject({ id: started.id, state: "succeeded", rows: 2 });
    expect(await object(`manual/${s.id}.csv`)).toBe("email\r\nann@example.com\r\nbob@example.com\r\n");
    // A manual run does not move the schedule's next slot.
    expect((await env.schedules.get(env.ws, s.id)).next_run_at).toBe(s.next_run_at);
  });

  it("pages the run history newest first", async () => {
    env = await setup("2026-06-01T08:00:00Z");
    const s = await env.create({
      segment_id: "all",
      cron: "0 3 * * *",
      target: s3Target({ key: "paged/{time}.csv" }),
    });
    const ids: string[] = [];
    for (const t of ["08:01", "08:02", "08:03"]) {
      env.clock.set(`2026-06-01T${t}:00Z`);
      ids.push((await env.schedules.runNow(env.ws, s.id)).id);
      await env.schedules.drain();
    }
    const first = await env.schedules.runs(env.ws, s.id, { limit: "2" });
    expect(first.data.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    expect(first.next_cursor).not.toBeNull();
    const second = await env.schedules.runs(env.ws, s.id, { limit: "2", cursor: first.next_cursor! });
    expect(second.data.map((r) => r.id)).toEqual([ids[0]]);
    expect(second.next_cursor).toBeNull();
    await expect(env.schedules.runs(env.ws, s.id, { cursor: "x" })).rejects.toThrow("cursor: invalid cursor");
  });

  it("pauses (no run, no next slot) and resumes from now", async () => {
    env = await setup("2026-06-01T08:10:00Z");
    const s = await env.create({
      segment_id: "all",
      cron: "0 * * * *",
      target: s3Target({ key: "paused/{time}.csv" }),
    });
    const paused = await env.update(s.id, { state: "paused" });
    expect(paused).toMatchObject({ state: "paused", next_run_at: null });
    env.clock.set("2026-06-01T12:30:00Z");
    expect(await env.runner.runDue(env.clock.now())).toEqual([]);
    const resumed = await env.update(s.id, { state: "active" });
    expect(resumed).toMatchObject({ state: "active", next_run_at: "2026-06-01T13:00:00.000Z" });
    const recron = await env.update(s.id, { cron: "45 23 * * 0" });
    // Sunday 7 June 23:45 CEST.
    expect(recron.next_run_at).toBe("2026-06-07T21:45:00.000Z");
  });

  it("marks a run left running by a stopped process failed once it is stale", async () => {
    env = await setup("2026-06-01T08:00:00Z");
    const s = await env.create({
      segment_id: "all",
      cron: "0 3 * * *",
      target: s3Target({ key: "stale/{time}.csv" }),
    });
    const repo = env.store.workspace(env.ws.id).schedules;
    const left = await repo.claimRun(s.id, env.clock.now(), env.clock.now());
    const runner = new ScheduleRunner(env.schedules, async () => [env!.ws], { staleAfterMs: 3_600_000 });
    env.clock.set("2026-06-01T08:59:00Z");
    await runner.runDue(env.clock.now());
    expect((await env.schedules.runs(env.ws, s.id, {})).data[0]).toMatchObject({
      id: left!.id,
      state: "running",
    });
    env.clock.set("2026-06-01T09:01:00Z");
    await runner.runDue(env.clock.now());
    expect((await env.schedules.runs(env.ws, s.id, {})).data[0]).toMatchObject({
      id: left!.id,
      state: "failed",
      error: STALE_RUN_ERROR,
      finished_at: "2026-06-01T09:01:00.000Z",
    });
  });

  it("lands an empty export as an empty object, a csv one as its header", async () => {
    env = await setup("2026-06-01T08:00:00Z");
    const seg = await env.ws.createSegment({ name: "nobody", kind: "static" });
    expect(seg.size).toBe(0);
    for (const [format, key] of [
      ["ndjson", "empty/x.ndjson"],
      ["csv", "empty/x.csv"],
    ] as const) {
      const s = await env.create({
        segment_id: seg.id,
        format,
        ...(format === "csv" ? { columns: ["id", "email"] } : {}),
        cron: "0 3 * * *",
        target: s3Target({ key }),
      });
      await env.schedules.runNow(env.ws, s.id);
      await env.schedules.drain();
      const [run] = (await env.schedules.runs(env.ws, s.id, {})).data;
      expect(run, format).toMatchObject({ state: "succeeded", rows: 0, error: null });
      expect(await object(key)).toBe(format === "csv" ? "id,email\r\n" : "");
    }
    await env.ws.deleteSegment(seg.id);
  });

  it("uploads a body bigger than one part as a multipart upload, byte for byte", async () => {
    const line = `${"x".repeat(1023)}\n`;
    const hash = createHash("sha256");
    async function* body() {
      for (let i = 0; i < 20 * 1024; i++) {
        const b = Buffer.from(`${i.toString().padStart(8, "0")}${line.slice(8)}`);
        hash.update(b);
        yield b;
      }
    }
    const location = await uploadS3(
      { kind: "s3", bucket: BUCKET, key: "big/20mb.txt", endpoint: s3.endpoint },
      { access_key_id: S3_ACCESS_KEY_ID, secret_access_key: S3_SECRET_ACCESS_KEY },
      "big/20mb.txt",
      body(),
      "text/plain",
    );
    expect(location).toBe(`s3://${BUCKET}/big/20mb.txt`);
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "big/20mb.txt" }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.length).toBe(20 * 1024 * 1024);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(hash.digest("hex"));
  });
});
