/**
 * The client commands of destinations (docs/destinations.md): live sync of a segment to
 * a provider's audience, with its state, pending changes, runs and per-contact outcomes.
 * A signing secret the server makes for an http destination is shown once, at creation:
 * it goes to stdout so that it can be piped, what it is goes to stderr.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { choice, withClient } from "./options.ts";
import { num, type Out, paint, stdio, table } from "./output.ts";
import { intArg } from "./serve.ts";

// Kept here rather than imported from the service: the CLI talks to a server over HTTP
// and a built CLI should not load the server's modules for one list.
const KINDS = ["http", "mailchimp", "brevo", "kit", "meta", "google"] as const;
const OUTCOME_STATUSES = ["ok", "failed", "skipped"] as const;

interface WireDestination {
  id: string;
  name: string;
  kind: string;
  segment_id: string;
  config: Record<string, unknown>;
  state: "live" | "initial_sync" | "failing" | "paused";
  last_sync_at: string | null;
  pending: { adds: number; removes: number };
  sync_lag_s: number;
  remote_size: number;
  last_error: string | null;
  next_attempt_at: string | null;
  counters: { added: number; removed: number; failed: number; skipped: number; provider?: unknown };
  created_at: string | null;
  updated_at: string | null;
  secret?: string;
}

interface WireRun {
  id: string;
  kind: "full" | "incremental" | "dry_run";
  state: "running" | "succeeded" | "partial" | "failed";
  added: number;
  removed: number;
  failed: number;
  skipped: number;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
}

interface WireOutcome {
  contact_id: string;
  op: "add" | "remove";
  status: "ok" | "failed" | "skipped";
  error: string | null;
  at: string | null;
}

interface DryRun {
  run_id: string;
  would_add: number;
  would_remove: number;
  requests: { method: string; url: string; headers: Record<string, string>; body: unknown; rows: number }[];
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

// ---------------------------------------------------------------- shared with schedules.ts

export function printTable(out: Out, rows: string[][]): void {
  const lines = table(rows);
  out.line(paint(out.color, "bold", lines[0]!));
  for (const l of lines.slice(1)) out.line(l);
}

/**
 * The JSON object of `--<name> <json>` or `--<name>-file <file>` (exactly one; `-` reads
 * stdin), or undefined when neither is given and `required` is false.
 */
export function objectOption(
  name: string,
  inline: string | undefined,
  file: string | undefined,
  required: boolean,
): Record<string, unknown> | undefined {
  const flag = `--${name}`;
  const fileFlag = `--${name}-file`;
  if (inline !== undefined && file !== undefined) throw new CliError(`give ${flag} or ${fileFlag}, not both`);
  let raw: string;
  let what: string;
  if (inline !== undefined) {
    raw = inline;
    what = flag;
  } else if (file !== undefined) {
    what = fileFlag;
    try {
      raw = readFileSync(file === "-" ? 0 : file, "utf8");
    } catch (e) {
      throw new CliError(
        `${fileFlag}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  } else {
    if (required) throw new CliError(`${name} is needed: give ${flag} <json> or ${fileFlag} <file>`);
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw new CliError(`${what}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError(`${what}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

export const when = (iso: string | null, none = "never"): string => iso ?? none;

/** Notes the cursor of the next page on stderr, so that stdout stays the page. */
export function notePage(out: Out, next: string | null, again: string): void {
  if (next) out.note(`more: ${again} --cursor ${next}`);
}

// ---------------------------------------------------------------- destinations

function stateOf(out: Out, d: WireDestination): string {
  if (d.state === "failing") return paint(out.color, "red", d.state);
  if (d.state === "paused") return paint(out.color, "yellow", d.state);
  return d.state;
}

const pendingOf = (d: WireDestination): string => `+${num(d.pending.adds)}/-${num(d.pending.removes)}`;

/** A long provider error would push the table off the screen; `show` has it whole. */
const short = (s: string | null, max = 60): string => {
  if (!s) return "";
  const line = s.replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

function runsTable(out: Out, runs: WireRun[], indent = ""): void {
  const lines = table([
    ["RUN", "KIND", "STATE", "ADDED", "REMOVED", "FAILED", "SKIPPED", "STARTED", "FINISHED", "ERROR"],
    ...runs.map((r) => [
      r.id,
      r.kind,
      r.state,
      num(r.added),
      num(r.removed),
      num(r.failed),
      num(r.skipped),
      when(r.started_at, ""),
      when(r.finished_at, "-"),
      short(r.error),
    ]),
  ]);
  out.line(`${indent}${paint(out.color, "bold", lines[0]!)}`);
  runs.forEach((r, i) => {
    const l = `${indent}${lines[i + 1]!}`;
    out.line(r.state === "failed" ? paint(out.color, "red", l) : l);
  });
}

function printDestination(out: Out, d: WireDestination, runs: WireRun[]): void {
  out.line(`${paint(out.color, "bold", d.name || d.id)} (${d.kind}) ${d.id}`);
  out.line(`segment:       ${d.segment_id}`);
  const config = Object.entries(d.config ?? {});
  if (config.length > 0) {
    out.line(
      `config:        ${config.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}`,
    );
  }
  out.line(`state:         ${stateOf(out, d)}`);
  out.line(`last sync:     ${when(d.last_sync_at)}`);
  out.line(`pending:       ${num(d.pending.adds)} adds, ${num(d.pending.removes)} removes`);
  out.line(`sync lag:      ${d.sync_lag_s} s`);
  out.line(`remote size:   ${num(d.remote_size)}`);
  const c = d.counters;
  const failed = num(c.failed);
  out.line(
    `counters:      ${num(c.added)} added, ${num(c.removed)} removed, ${c.failed > 0 ? paint(out.color, "red", failed) : failed} failed, ${num(c.skipped)} skipped`,
  );
  if (d.last_error) out.line(`last error:    ${paint(out.color, "red", d.last_error)}`);
  if (d.next_attempt_at) out.line(`next attempt:  ${d.next_attempt_at}`);
  if (runs.length === 0) {
    out.line("recent runs:   none yet");
    return;
  }
  out.line("recent runs (newest first):");
  runsTable(out, runs, "  ");
}

const RECENT_RUNS = 5;

interface CreateFlags extends ClientOptions {
  name: string;
  kind: string;
  segment: string;
  config?: string;
  configFile?: string;
  paused?: boolean;
  json?: boolean;
}

function destinationsCommand(): Command {
  const cmd = new Command("destinations").description(
    "live sync of a segment to an audience (http, mailchimp, brevo, kit, meta, google)",
  );

  cmd.addCommand(
    withClient(
      new Command("list")
        .description("every destination with its state and pending changes")
        .option("--json", "print the API's JSON answer"),
    ).action(async (flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<Page<WireDestination>>("GET", "/v1/destinations");
      if (flags.json) return out.line(JSON.stringify(r.data, null, 2));
      if (r.data.length === 0)
        return out.line("no destinations; create one with: slice destinations create --help");
      const lines = table([
        ["ID", "NAME", "KIND", "SEGMENT", "STATE", "PENDING", "LAST SYNC", "LAST ERROR"],
        ...r.data.map((d) => [
          d.id,
          d.name,
          d.kind,
          d.segment_id,
          d.state,
          pendingOf(d),
          when(d.last_sync_at),
          short(d.last_error),
        ]),
      ]);
      out.line(paint(out.color, "bold", lines[0]!));
      r.data.forEach((d, i) => {
        const l = lines[i + 1]!;
        out.line(d.state === "failing" ? paint(out.color, "red", l) : l);
      });
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("show")
        .description("a destination's state, counters, last error and recent runs")
        .argument("<id>", "destination id")
        .option("--json", "print the API's JSON answer, with the recent runs as recent_runs"),
    ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const client = new Client(flags);
      const d = await client.json<WireDestination>("GET", `/v1/destinations/${seg(id)}`);
      const runs = await client.json<Page<WireRun>>("GET", `/v1/destinations/${seg(id)}/runs`, {
        query: { limit: String(RECENT_RUNS) },
      });
      if (flags.json) return out.line(JSON.stringify({ ...d, recent_runs: runs.data }, null, 2));
      printDestination(out, d, runs.data);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("create")
        .description("sync a segment to a destination; prints its id (and an http secret Slice made, once)")
        .requiredOption("--name <name>", "a name to recognise it by")
        .requiredOption("--kind <kind>", KINDS.join(", "), choice(KINDS))
        .requiredOption("--segment <id>", "the segment to sync")
        .option("--config <json>", "the kind's settings and credentials, as a JSON object")
        .option(
          "--config-file <file>",
          "the same from a file (- reads stdin), to keep credentials off the command line",
        )
        .option(
          "--paused",
          "create it paused: nothing is sent until `slice destinations resume` (dry-run first)",
        )
        .option("--json", "print the API's JSON answer"),
    )
      .addHelpText(
        "after",
        `
The first line of output is the id. For an http destination created without a
"secret", Slice makes the signing secret and the second line is that secret: it is
shown once, keep it (the receiver verifies calls with it).

Examples:
  $ slice destinations create --name "CRM" --kind http --segment seg_… --paused \\
      --config '{"add_url":"https://crm.example.com/add","remove_url":"https://crm.example.com/remove"}'
  $ slice destinations create --name "Newsletter" --kind mailchimp --segment seg_… --config-file mailchimp.json
  $ slice destinations dry-run dst_…
  $ slice destinations resume dst_…`,
      )
      .action(async (flags: CreateFlags) => {
        const out = stdio();
        const config = objectOption("config", flags.config, flags.configFile, true);
        const d = await new Client(flags).json<WireDestination>("POST", "/v1/destinations", {
          json: {
            name: flags.name,
            kind: flags.kind,
            segment_id: flags.segment,
            config,
            ...(flags.paused ? { paused: true } : {}),
          },
        });
        if (flags.json) return out.line(JSON.stringify(d, null, 2));
        out.note(`created destination ${d.id} "${d.name}" (${d.kind}), ${d.state}`);
        out.line(d.id);
        if (d.secret !== undefined) {
          out.note("its signing secret is shown once, keep it (the receiver verifies calls with it):");
          out.line(d.secret);
        }
        if (d.state === "paused") out.note(`nothing is sent until: slice destinations resume ${d.id}`);
      }),
  );

  for (const [name, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    cmd.addCommand(
      withClient(
        new Command(name)
          .description(
            paused
              ? "stop sending until resumed (changes keep being noted)"
              : "send again, starting with what changed while paused",
          )
          .argument("<id>", "destination id")
          .option("--json", "print the API's JSON answer"),
      ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
        const out = stdio();
        const d = await new Client(flags).json<WireDestination>(
          "POST",
          `/v1/destinations/${seg(id)}/${name}`,
        );
        if (flags.json) return out.line(JSON.stringify(d, null, 2));
        out.line(`${paused ? "paused" : "resumed"} destination ${d.id}: ${d.state}, pending ${pendingOf(d)}`);
      }),
    );
  }

  cmd.addCommand(
    withClient(
      new Command("delete")
        .description("delete a destination (the remote audience is left as it is)")
        .argument("<id>", "destination id"),
    ).action(async (id: string, flags: ClientOptions) => {
      await new Client(flags).json("DELETE", `/v1/destinations/${seg(id)}`);
      stdio().line(`deleted destination ${id}; the remote audience is left as it is`);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("dry-run")
        .description("what the next sync would send (counts and the first requests), sending nothing")
        .argument("<id>", "destination id")
        .option("--json", "print the API's JSON answer"),
    ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<DryRun>("POST", `/v1/destinations/${seg(id)}/dry-run`);
      if (flags.json) return out.line(JSON.stringify(r, null, 2));
      out.line(`would_add:    ${num(r.would_add)}`);
      out.line(`would_remove: ${num(r.would_remove)}`);
      out.line(`run:          ${r.run_id}`);
      if (r.requests.length === 0) return out.line("requests:     none");
      out.line(`requests (the first ${r.requests.length}, credentials redacted):`);
      out.line(JSON.stringify(r.requests, null, 2));
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("runs")
        .description("a destination's sync runs, newest first, with counts")
        .argument("<id>", "destination id")
        .option("--limit <n>", "runs to show (1 to 1,000)", intArg(1, 1000))
        .option("--cursor <cursor>", "the next page, as printed after a full page")
        .option("--json", "print the API's JSON answer"),
    ).action(
      async (id: string, flags: ClientOptions & { limit?: number; cursor?: string; json?: boolean }) => {
        const out = stdio();
        const r = await new Client(flags).json<Page<WireRun>>("GET", `/v1/destinations/${seg(id)}/runs`, {
          query: {
            limit: flags.limit === undefined ? undefined : String(flags.limit),
            cursor: flags.cursor,
          },
        });
        if (flags.json) return out.line(JSON.stringify(r, null, 2));
        if (r.data.length === 0) return out.line("no runs yet");
        runsTable(out, r.data);
        notePage(out, r.next_cursor, `slice destinations runs ${id}`);
      },
    ),
  );

  cmd.addCommand(
    withClient(
      new Command("outcomes")
        .description("per-contact outcomes of a run: operation, status and the provider's error")
        .argument("<id>", "destination id")
        .argument("<run>", "run id (see: slice destinations runs <id>)")
        .option("--status <status>", OUTCOME_STATUSES.join(", "), choice(OUTCOME_STATUSES))
        .option("--limit <n>", "outcomes to show (1 to 1,000)", intArg(1, 1000))
        .option("--cursor <cursor>", "the next page, as printed after a full page")
        .option("--json", "print the API's JSON answer"),
    ).action(
      async (
        id: string,
        run: string,
        flags: ClientOptions & { status?: string; limit?: number; cursor?: string; json?: boolean },
      ) => {
        const out = stdio();
        const r = await new Client(flags).json<Page<WireOutcome>>(
          "GET",
          `/v1/destinations/${seg(id)}/runs/${seg(run)}/outcomes`,
          {
            query: {
              status: flags.status,
              limit: flags.limit === undefined ? undefined : String(flags.limit),
              cursor: flags.cursor,
            },
          },
        );
        if (flags.json) return out.line(JSON.stringify(r, null, 2));
        if (r.data.length === 0)
          return out.line(flags.status ? `no ${flags.status} outcomes` : "no outcomes");
        const lines = table([
          ["CONTACT", "OP", "STATUS", "AT", "ERROR"],
          ...r.data.map((o) => [o.contact_id, o.op, o.status, when(o.at, ""), o.error ?? ""]),
        ]);
        out.line(paint(out.color, "bold", lines[0]!));
        r.data.forEach((o, i) => {
          const l = lines[i + 1]!;
          out.line(o.status === "failed" ? paint(out.color, "red", l) : l);
        });
        const again = `slice destinations outcomes ${id} ${run}${flags.status ? ` --status ${flags.status}` : ""}`;
        notePage(out, r.next_cursor, again);
      },
    ),
  );
  return cmd;
}

export function destinationCommands(): Command[] {
  return [destinationsCommand()];
}
