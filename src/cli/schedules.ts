/**
 * The client commands of scheduled exports (docs/exports.md): a segment exported on a
 * cron (in the workspace's time zone) to an S3-compatible bucket or an HTTPS URL, with
 * each run's rows, bytes, duration and error. Reads never show credentials: the server
 * masks them.
 */
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { notePage, objectOption, printTable, when } from "./destinations.ts";
import { choice, withClient } from "./options.ts";
import { bytes, num, type Out, paint, stdio, table } from "./output.ts";
import { intArg } from "./serve.ts";

// The server's EXPORT_FORMATS; not imported so that the CLI loads no server module.
const FORMATS = ["csv", "ndjson", "meta", "google"] as const;

interface WireSchedule {
  id: string;
  name: string;
  segment_id: string;
  format: string;
  columns: string[] | null;
  exclude_suppressed: boolean;
  cron: string;
  time_zone: string;
  state: "active" | "paused";
  target:
    | {
        kind: "s3";
        bucket: string;
        key: string;
        region: string | null;
        endpoint: string | null;
        access_key_id: string;
      }
    | { kind: "http"; url: string; headers: Record<string, string> };
  next_run_at: string | null;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
}

interface WireRun {
  id: string;
  schedule_id: string;
  state: "running" | "succeeded" | "failed";
  scheduled_for: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  rows: number;
  bytes: number;
  location: string | null;
  error: string | null;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const targetOf = (s: WireSchedule): string =>
  s.target.kind === "s3"
    ? `s3://${s.target.bucket}/${s.target.key}${s.target.endpoint ? ` (${s.target.endpoint})` : ""}`
    : s.target.url;

const duration = (ms: number | null): string => (ms === null ? "-" : `${(ms / 1000).toFixed(1)} s`);

function runsTable(out: Out, runs: WireRun[], indent = ""): void {
  const lines = table([
    ["RUN", "STATE", "SCHEDULED FOR", "STARTED", "DURATION", "ROWS", "BYTES", "LOCATION / ERROR"],
    ...runs.map((r) => [
      r.id,
      r.state,
      r.scheduled_for,
      r.started_at,
      duration(r.duration_ms),
      num(r.rows),
      bytes(r.bytes),
      r.error ?? r.location ?? "",
    ]),
  ]);
  out.line(`${indent}${paint(out.color, "bold", lines[0]!)}`);
  runs.forEach((r, i) => {
    const l = `${indent}${lines[i + 1]!}`;
    out.line(r.state === "failed" ? paint(out.color, "red", l) : l);
  });
}

function printSchedule(out: Out, s: WireSchedule, runs: WireRun[]): void {
  out.line(`${paint(out.color, "bold", s.name || s.id)} ${s.id}`);
  out.line(`segment:    ${s.segment_id}`);
  out.line(`format:     ${s.format}${s.columns ? ` (columns ${s.columns.join(",")})` : ""}`);
  out.line(`suppressed: ${s.exclude_suppressed ? "excluded" : "included"}`);
  out.line(`cron:       ${s.cron} (${s.time_zone})`);
  out.line(`state:      ${s.state === "paused" ? paint(out.color, "yellow", s.state) : s.state}`);
  out.line(`target:     ${s.target.kind} ${targetOf(s)}`);
  if (s.target.kind === "s3") out.line(`access key: ${s.target.access_key_id}`);
  else if (Object.keys(s.target.headers).length > 0) {
    out.line(`headers:    ${Object.keys(s.target.headers).join(", ")} (values never shown)`);
  }
  out.line(`next run:   ${when(s.next_run_at, s.state === "paused" ? "none while paused" : "none")}`);
  out.line(`last run:   ${when(s.last_run_at)}`);
  if (runs.length === 0) {
    out.line("recent runs: none yet");
    return;
  }
  out.line("recent runs (newest first):");
  runsTable(out, runs, "  ");
}

const RECENT_RUNS = 5;

/** Polls the schedule's runs until `runId` has ended. */
async function follow(client: Client, id: string, runId: string, intervalMs: number): Promise<WireRun> {
  for (;;) {
    const page = await client.json<Page<WireRun>>("GET", `/v1/export-schedules/${seg(id)}/runs`, {
      query: { limit: "100" },
    });
    const run = page.data.find((r) => r.id === runId);
    if (!run) throw new CliError(`run ${runId} is no longer listed for export schedule ${id}`);
    if (run.state !== "running") return run;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface CreateFlags extends ClientOptions {
  name?: string;
  segment: string;
  format?: string;
  cron: string;
  target?: string;
  targetFile?: string;
  columns?: string;
  includeSuppressed?: boolean;
  json?: boolean;
}

function columnsOf(raw: string): string[] {
  const cols = raw
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  if (cols.length === 0) throw new CliError("--columns: expected column names separated by commas");
  return cols;
}

function schedulesCommand(): Command {
  const cmd = new Command("schedules").description(
    "scheduled exports of a segment to S3 (or a compatible store) or an HTTPS URL",
  );

  cmd.addCommand(
    withClient(
      new Command("list")
        .description("every export schedule with its next and last run")
        .option("--json", "print the API's JSON answer"),
    ).action(async (flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<Page<WireSchedule>>("GET", "/v1/export-schedules");
      if (flags.json) return out.line(JSON.stringify(r.data, null, 2));
      if (r.data.length === 0)
        return out.line("no export schedules; create one with: slice schedules create --help");
      printTable(out, [
        ["ID", "NAME", "SEGMENT", "FORMAT", "CRON", "STATE", "NEXT RUN", "LAST RUN", "TARGET"],
        ...r.data.map((s) => [
          s.id,
          s.name,
          s.segment_id,
          s.format,
          s.cron,
          s.state,
          when(s.next_run_at, "-"),
          when(s.last_run_at),
          `${s.target.kind} ${targetOf(s)}`,
        ]),
      ]);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("show")
        .description("an export schedule, its target (credentials masked) and recent runs")
        .argument("<id>", "schedule id")
        .option("--json", "print the API's JSON answer, with the recent runs as recent_runs"),
    ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const client = new Client(flags);
      const s = await client.json<WireSchedule>("GET", `/v1/export-schedules/${seg(id)}`);
      const runs = await client.json<Page<WireRun>>("GET", `/v1/export-schedules/${seg(id)}/runs`, {
        query: { limit: String(RECENT_RUNS) },
      });
      if (flags.json) return out.line(JSON.stringify({ ...s, recent_runs: runs.data }, null, 2));
      printSchedule(out, s, runs.data);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("create")
        .description("schedule a segment's export; prints the schedule's id")
        .option("--name <name>", "a name to recognise it by (default: Export of <segment>)")
        .requiredOption("--segment <id>", "the segment to export")
        .option("--format <format>", `${FORMATS.join(", ")} (default csv)`, choice(FORMATS))
        .requiredOption("--cron <expr>", "five-field cron expression, in the workspace's time zone")
        .option("--target <json>", 'where to upload: {"kind":"s3",…} or {"kind":"http","url":…}')
        .option(
          "--target-file <file>",
          "the same from a file (- reads stdin), to keep credentials off the command line",
        )
        .option("--columns <a,b,c>", "the columns to export, separated by commas (default: all)")
        .option("--include-suppressed", "also export suppressed contacts (excluded by default)")
        .option("--json", "print the API's JSON answer"),
    )
      .addHelpText(
        "after",
        `
Target placeholders: {date} {time} {segment_id} {schedule_id} (the slot, in the
workspace's time zone), in an S3 key or an http URL.

Examples:
  $ slice schedules create --segment seg_… --cron "0 2 * * *" \\
      --target '{"kind":"http","url":"https://hooks.example.com/slice/{date}.csv","headers":{"Authorization":"Bearer …"}}'
  $ slice schedules create --name "Nightly to S3" --segment seg_… --format ndjson --cron "30 1 * * *" \\
      --columns email,first_name,country --target-file s3-target.json
  $ slice schedules run sch_… --wait`,
      )
      .action(async (flags: CreateFlags) => {
        const out = stdio();
        const target = objectOption("target", flags.target, flags.targetFile, true);
        const s = await new Client(flags).json<WireSchedule>("POST", "/v1/export-schedules", {
          json: {
            ...(flags.name !== undefined ? { name: flags.name } : {}),
            segment_id: flags.segment,
            ...(flags.format !== undefined ? { format: flags.format } : {}),
            ...(flags.columns !== undefined ? { columns: columnsOf(flags.columns) } : {}),
            ...(flags.includeSuppressed ? { exclude_suppressed: false } : {}),
            cron: flags.cron,
            target,
          },
        });
        if (flags.json) return out.line(JSON.stringify(s, null, 2));
        out.note(
          `created export schedule ${s.id} "${s.name}" (${s.format} to ${s.target.kind}); next run ${when(s.next_run_at, "none")} (${s.time_zone})`,
        );
        out.line(s.id);
      }),
  );

  for (const [name, state] of [
    ["pause", "paused"],
    ["resume", "active"],
  ] as const) {
    cmd.addCommand(
      withClient(
        new Command(name)
          .description(
            state === "paused"
              ? "stop running on the cron (`slice schedules run` still runs it)"
              : "run on the cron again, from the next slot after now (missed slots are not made up)",
          )
          .argument("<id>", "schedule id")
          .option("--json", "print the API's JSON answer"),
      ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
        const out = stdio();
        const s = await new Client(flags).json<WireSchedule>("PATCH", `/v1/export-schedules/${seg(id)}`, {
          json: { state },
        });
        if (flags.json) return out.line(JSON.stringify(s, null, 2));
        out.line(
          `${state === "paused" ? "paused" : "resumed"} export schedule ${s.id}: ${s.state}, next run ${when(s.next_run_at, "none")}`,
        );
      }),
    );
  }

  cmd.addCommand(
    withClient(
      new Command("delete")
        .description("delete an export schedule and its run history (uploaded files are left)")
        .argument("<id>", "schedule id"),
    ).action(async (id: string, flags: ClientOptions) => {
      await new Client(flags).json("DELETE", `/v1/export-schedules/${seg(id)}`);
      stdio().line(`deleted export schedule ${id}`);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("run")
        .description("run an export now (also when paused); prints the run's id")
        .argument("<id>", "schedule id")
        .option("--wait", "wait for the run to end and print its outcome (a failed run exits 1)")
        .option("--interval <ms>", "how often --wait asks", intArg(10, 60_000), 250)
        .option("--json", "print the API's JSON answer (with --wait, the ended run)"),
    ).action(
      async (id: string, flags: ClientOptions & { wait?: boolean; interval: number; json?: boolean }) => {
        const out = stdio();
        const client = new Client(flags);
        const started = await client.json<WireRun>("POST", `/v1/export-schedules/${seg(id)}/run`);
        if (!flags.wait) {
          if (flags.json) return out.line(JSON.stringify(started, null, 2));
          out.note(`run ${started.id} started; follow it with: slice schedules runs ${id}`);
          return out.line(started.id);
        }
        out.note(`run ${started.id} started`);
        const run = await follow(client, id, started.id, flags.interval);
        if (flags.json) out.line(JSON.stringify(run, null, 2));
        else {
          const state = run.state === "succeeded" ? paint(out.color, "green", run.state) : run.state;
          out.line(
            `run ${run.id} ${state}: ${num(run.rows)} rows, ${bytes(run.bytes)} in ${duration(run.duration_ms)}${run.location ? ` to ${run.location}` : ""}`,
          );
        }
        if (run.state === "failed")
          throw new CliError(`run ${run.id} failed: ${run.error ?? "unknown reason"}`);
      },
    ),
  );

  cmd.addCommand(
    withClient(
      new Command("runs")
        .description("an export schedule's runs, newest first: rows, bytes, duration, location, error")
        .argument("<id>", "schedule id")
        .option("--limit <n>", "runs to show (1 to 1,000)", intArg(1, 1000))
        .option("--cursor <cursor>", "the next page, as printed after a full page")
        .option("--json", "print the API's JSON answer"),
    ).action(
      async (id: string, flags: ClientOptions & { limit?: number; cursor?: string; json?: boolean }) => {
        const out = stdio();
        const r = await new Client(flags).json<Page<WireRun>>("GET", `/v1/export-schedules/${seg(id)}/runs`, {
          query: {
            limit: flags.limit === undefined ? undefined : String(flags.limit),
            cursor: flags.cursor,
          },
        });
        if (flags.json) return out.line(JSON.stringify(r, null, 2));
        if (r.data.length === 0) return out.line("no runs yet");
        runsTable(out, r.data);
        notePage(out, r.next_cursor, `slice schedules runs ${id}`);
      },
    ),
  );
  return cmd;
}

export function scheduleCommands(): Command[] {
  return [schedulesCommand()];
}
