import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as run } from "../support/cli.ts";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

const TOKEN = "Bearer target-token-0123456789";

interface Upload {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** An upload target: keeps every request; answers 500 to paths under /fail. */
async function startTarget(): Promise<{ url: string; uploads: Upload[]; server: Server }> {
  const uploads: Upload[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      uploads.push({
        method: req.method ?? "",
        path,
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        body: Buffer.concat(chunks).toString("utf8"),
      });
      if (path.startsWith("/fail")) res.writeHead(500).end("disk full");
      else res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uploads, server };
}

const rowOf = (stdout: string, id: string): string | undefined =>
  stdout.split("\n").find((l) => l.split(/\s+/)[0] === id);

describe("slice schedules", () => {
  let t: TestServer;
  let target: Awaited<ReturnType<typeof startTarget>>;
  let env: Record<string, string>;
  let segmentId: string;
  const slice = (...args: string[]) => run(args, env);

  beforeAll(async () => {
    target = await startTarget();
    t = await startTestServer(
      { kind: "sqlite" },
      { secretKey: "cli-schedules-secret-key", allowInsecureExportTargets: true },
    );
    env = { SLICE_URL: t.url, SLICE_API_KEY: ADMIN_KEY };
    const batch = await t.call("POST", "/v1/contacts/batch", {
      contacts: [
        { email: "ana@example.com", country: "FR", status: "subscribed" },
        { email: "bo@example.com", country: "FR", status: "subscribed" },
        { email: "dee@example.com", country: "DE", status: "subscribed" },
      ],
    });
    expect(batch.status, batch.text).toBe(200);
    const s = await t.call("POST", "/v1/segments", {
      name: "France",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(s.status).toBe(201);
    segmentId = s.body.id;
  });
  afterAll(async () => {
    await t?.stop();
    if (target) {
      target.server.closeAllConnections();
      await new Promise<void>((resolve) => target.server.close(() => resolve()));
    }
  });

  it("lists its commands in help", async () => {
    const top = await run(["schedules", "--help"], {});
    for (const c of ["list", "show", "create", "pause", "resume", "delete", "run", "runs"]) {
      expect(top.stdout).toContain(c);
    }
    const create = await run(["schedules", "create", "--help"], {});
    for (const o of ["--segment", "--format", "--cron", "--target", "--target-file", "--columns"]) {
      expect(create.stdout).toContain(o);
    }
  });

  it("creates, lists, runs now, shows the run, pauses, resumes and deletes", async () => {
    const made = await slice(
      "schedules",
      "create",
      "--name",
      "Nightly",
      "--segment",
      segmentId,
      "--format",
      "csv",
      "--cron",
      "0 2 * * *",
      "--columns",
      "email, country",
      "--target",
      JSON.stringify({
        kind: "http",
        url: `${target.url}/exports/{segment_id}.csv`,
        headers: { Authorization: TOKEN },
      }),
    );
    expect(made.code, made.stderr).toBe(0);
    const id = made.stdout.trim();
    expect(id.split("\n")).toHaveLength(1);
    expect(made.stderr).toContain('"Nightly" (csv to http)');

    const list = await slice("schedules", "list");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      /^ID\s+NAME\s+SEGMENT\s+FORMAT\s+CRON\s+STATE\s+NEXT RUN\s+LAST RUN\s+TARGET/,
    );
    expect(rowOf(list.stdout, id)).toMatch(
      new RegExp(
        `Nightly\\s+${segmentId}\\s+csv\\s+0 2 \\* \\* \\*\\s+active\\s+\\d{4}-\\S+\\s+never\\s+http `,
      ),
    );

    const show = await slice("schedules", "show", id);
    expect(show.stdout).toMatch(/^format:\s+csv \(columns email,country\)$/m);
    expect(show.stdout).toContain("headers:    Authorization (values never shown)");
    expect(show.stdout).toContain("recent runs: none yet");
    expect(show.stdout).not.toContain(TOKEN);

    const ran = await slice("schedules", "run", id, "--wait", "--interval", "50");
    expect(ran.code, ran.stderr).toBe(0);
    const line = ran.stdout.trim();
    expect(line).toMatch(
      /^run \S+ succeeded: 2 rows, \d+ B in \d+\.\d s to http:\/\/127\.0\.0\.1:\d+\/exports\//,
    );
    const runId = line.split(" ")[1]!;

    const upload = target.uploads.find((u) => u.path === `/exports/${segmentId}.csv`);
    expect(upload).toMatchObject({ method: "PUT", authorization: TOKEN });
    expect(upload!.body.trim().split(/\r?\n/)).toEqual([
      "email,country",
      expect.stringMatching(/^(ana|bo)@example\.com,FR$/),
      expect.stringMatching(/^(ana|bo)@example\.com,FR$/),
    ]);

    const runs = await slice("schedules", "runs", id);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(
      /^RUN\s+STATE\s+SCHEDULED FOR\s+STARTED\s+DURATION\s+ROWS\s+BYTES\s+LOCATION/,
    );
    expect(rowOf(runs.stdout, runId)).toMatch(/succeeded\s+\S+\s+\S+\s+\d+\.\d s\s+2\s+\d+ B\s+http:\/\//);
    const json = JSON.parse((await slice("schedules", "runs", id, "--json")).stdout) as Json;
    expect(json.data[0]).toMatchObject({ id: runId, state: "succeeded", rows: 2 });

    const paused = await slice("schedules", "pause", id);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(`paused export schedule ${id}: paused, next run none`);
    expect(rowOf((await slice("schedules", "list")).stdout, id)).toMatch(/\bpaused\s+-\s+\d{4}-/);
    const resumed = await slice("schedules", "resume", id);
    expect(resumed.stdout).toMatch(new RegExp(`resumed export schedule ${id}: active, next run \\d{4}-`));

    const shown = JSON.parse((await slice("schedules", "show", id, "--json")).stdout) as Json;
    expect(shown).toMatchObject({ id, state: "active", columns: ["email", "country"] });
    expect(shown.recent_runs[0].id).toBe(runId);

    const del = await slice("schedules", "delete", id);
    expect(del.code, del.stderr).toBe(0);
    const gone = await slice("schedules", "show", id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: .*not found/);
  });

  it("exits 1 when a run it waits for fails, and shows the server's refusals", async () => {
    const made = await slice(
      "schedules",
      "create",
      "--segment",
      segmentId,
      "--cron",
      "0 3 * * *",
      "--target",
      JSON.stringify({ kind: "http", url: `${target.url}/fail/x.csv` }),
    );
    expect(made.code, made.stderr).toBe(0);
    const id = made.stdout.trim();
    const failed = await slice("schedules", "run", id, "--wait", "--interval", "50");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^run \S+ failed/);
    expect(failed.stderr).toMatch(
      /^error: run \S+ failed: PUT http:\/\/127\.0\.0\.1:\d+\/fail\/x\.csv answered 500/m,
    );
    expect((await slice("schedules", "runs", id)).stdout).toMatch(/failed.*answered 500: disk full/);

    const badCron = await slice(
      "schedules",
      "create",
      "--segment",
      segmentId,
      "--cron",
      "every day",
      "--target",
      JSON.stringify({ kind: "http", url: `${target.url}/x.csv` }),
    );
    expect(badCron.code).toBe(1);
    expect(badCron.stderr).toMatch(/^error: cron: invalid cron expression "every day"/);

    const badTarget = await slice(
      "schedules",
      "create",
      "--segment",
      segmentId,
      "--cron",
      "0 3 * * *",
      "--target",
      '{"kind":"s3","key":"k"}',
    );
    expect(badTarget.code).toBe(1);
    expect(badTarget.stderr).toBe("error: target.bucket: required\n");

    const notJson = await slice(
      "schedules",
      "create",
      "--segment",
      segmentId,
      "--cron",
      "0 3 * * *",
      "--target",
      "[",
    );
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^error: --target: invalid JSON/);
  });
});
