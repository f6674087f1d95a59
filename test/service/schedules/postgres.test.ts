/**
 * The schedules repository on PostgreSQL (JSONB columns, BIGINT instants, the slot
 * claim's ON CONFLICT): a due slot lands its object once with two processes looking,
 * the history pages newest first, a deleted schedule takes its runs along.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgServer, startPostgres } from "../../support/postgres.ts";
import { type LocalS3, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, startS3 } from "../../support/s3.ts";
import { openTestWorkspace, setup, type TestWorkspace } from "./setup.ts";

let pg: PgServer;
let s3: LocalS3;
let tw: TestWorkspace;

beforeAll(async () => {
  pg = await startPostgres("slice_schedules");
  s3 = await startS3(["pg"]);
  tw = await openTestWorkspace(pg.url);
}, 120_000);

afterAll(async () => {
  await tw?.close();
  await s3?.stop();
  await pg?.stop();
});

describe("scheduled exports on PostgreSQL", () => {
  it("runs a due slot once, records it, and deletes the history with the schedule", async () => {
    const env = await setup(tw, "2026-03-28T12:00:00Z");
    try {
      const s = await env.create({
        segment_id: "all",
        columns: ["id", "email"],
        cron: "0 2 * * *",
        target: {
          kind: "s3",
          bucket: "pg",
          key: "{date}/{time}.csv",
          endpoint: s3.endpoint,
          access_key_id: S3_ACCESS_KEY_ID,
          secret_access_key: S3_SECRET_ACCESS_KEY,
        },
      });
      expect(s.next_run_at).toBe("2026-03-29T01:00:00.000Z");
      expect(s.columns).toEqual(["id", "email"]);
      env.clock.set("2026-03-29T01:00:00Z");
      const other = env.second();
      const [a, b] = await Promise.all([
        env.runner.runDue(env.clock.now()),
        other.runner.runDue(env.clock.now()),
      ]);
      expect([...a, ...b].map((r) => [r.state, r.rows_written, r.error])).toEqual([["succeeded", 2, null]]);
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY },
      });
      const got = await client.send(new GetObjectCommand({ Bucket: "pg", Key: "2026-03-29/030000.csv" }));
      expect(await got.Body!.transformToString()).toBe(
        "id,email\r\nc1,ann@example.com\r\nc2,bob@example.com\r\n",
      );
      client.destroy();

      for (const t of ["2026-03-29T05:00:00Z", "2026-03-29T06:00:00Z"]) {
        env.clock.set(t);
        await env.schedules.runNow(env.ws, s.id);
        await env.schedules.drain();
      }
      const first = await env.schedules.runs(env.ws, s.id, { limit: "2" });
      expect(first.data.map((r) => r.scheduled_for)).toEqual([
        "2026-03-29T06:00:00.000Z",
        "2026-03-29T05:00:00.000Z",
      ]);
      const rest = await env.schedules.runs(env.ws, s.id, { limit: "2", cursor: first.next_cursor! });
      expect(rest).toMatchObject({
        next_cursor: null,
        data: [{ scheduled_for: "2026-03-29T01:00:00.000Z" }],
      });
      expect((await env.schedules.get(env.ws, s.id)).next_run_at).toBe("2026-03-30T00:00:00.000Z");

      await env.schedules.delete(env.ws, s.id);
      expect((await env.store.workspace(env.ws.id).schedules.listRuns(s.id, { limit: 10 })).data).toEqual([]);
    } finally {
      await env.close();
    }
  });
});
