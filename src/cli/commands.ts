/**
 * The client commands: they talk to a running server over HTTP (SPEC §4), with the
 * server's URL from `--url` / `SLICE_URL` and the API key from `--key` / `SLICE_API_KEY`.
 * Results go to stdout, progress to stderr.
 */
import { createReadStream, createWriteStream, readFileSync, statSync, unlinkSync } from "node:fs";
import { extname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { destinationCommands } from "./destinations.ts";
import { type ExplainAnswer, printExplain } from "./explain.ts";
import { choice, withClient } from "./options.ts";
import { bytes, num, type Out, paint, stdio, table } from "./output.ts";
import { scheduleCommands } from "./schedules.ts";
import { intArg } from "./serve.ts";
import { sourceCommands } from "./sources.ts";

function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new CliError(`${what}: invalid JSON: ${(e as Error).message}`);
  }
}

function readText(file: string, what: string): string {
  try {
    return file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(
      `${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/**
 * The rule of `--rule <rule>` or `--rule-file <file>` (exactly one), as the request
 * field that carries it: JSON (it starts with `{`) goes as `rule`, anything else as
 * `rule_text`, the text form (docs/rules.md), which the server parses and whose syntax
 * errors it answers with their line and column. A JSON file may also hold an object
 * with a `rule` (a segment or a template, as the API answers them).
 */
export function ruleFrom(
  opts: { rule?: string; ruleFile?: string },
  required: boolean,
): { rule: unknown } | { rule_text: string } | undefined {
  if (opts.rule !== undefined && opts.ruleFile !== undefined) {
    throw new CliError("give --rule or --rule-file, not both");
  }
  let text: string;
  let source: string;
  if (opts.rule !== undefined) {
    text = opts.rule;
    source = "--rule";
  } else if (opts.ruleFile !== undefined) {
    text = readText(opts.ruleFile, "--rule-file");
    source = "--rule-file";
  } else {
    if (required) throw new CliError("a rule is needed: give --rule <rule> or --rule-file <file>");
    return undefined;
  }
  if (!text.trimStart().startsWith("{")) return { rule_text: text };
  const value = parseJson(text, source);
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (o.type === undefined && o.rule !== undefined) return { rule: o.rule };
  }
  return { rule: value };
}

// ---------------------------------------------------------------- shapes read

interface WireSegment {
  id: string;
  name: string;
  description?: string;
  kind: string;
  default?: boolean;
  size: number;
  rule_text?: string | null;
}

interface WireContact {
  id: string;
  email?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  country?: string | null;
  status?: string | null;
}

interface ImportJob {
  id: string;
  kind: string;
  status: "pending" | "running" | "done" | "failed";
  total: number | null;
  processed: number;
  accepted: number;
  rejected: number;
  errors: { row: number; error: string }[];
  errors_dropped: number;
  failure: string | null;
}

const contactRow = (c: WireContact): string[] => [
  c.id,
  c.email ?? "",
  [c.first_name, c.last_name].filter(Boolean).join(" "),
  c.country ?? "",
  c.status ?? "",
];

// ---------------------------------------------------------------- import

const EVENT_EXTENSIONS = new Set([".ndjson", ".jsonl", ".json"]);

interface ImportFlags extends ClientOptions {
  kind?: "contacts" | "events";
  mapping?: string;
  segment?: string;
  delimiter?: string;
  dateFormat?: string;
  wait?: boolean;
  interval: number;
}

function jobLine(j: ImportJob): string {
  const of = j.total !== null ? ` of ${num(j.total)}` : "";
  return `${num(j.processed)}${of} rows processed: ${num(j.accepted)} accepted, ${num(j.rejected)} rejected`;
}

/** Polls an import until it is done or failed, with a progress line when it moves. */
async function follow(client: Client, out: Out, id: string, intervalMs: number): Promise<ImportJob> {
  let last = "";
  let lastAt = 0;
  for (;;) {
    const job = await client.json<ImportJob>("GET", `/v1/imports/${seg(id)}`);
    if (job.status === "done" || job.status === "failed") return job;
    const line = `import ${id} ${job.status}: ${jobLine(job)}`;
    if (line !== last && Date.now() - lastAt >= 1000) {
      out.note(line);
      last = line;
      lastAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The end of an import: counts, then every rejected row; a failed import is an error. */
function report(out: Out, job: ImportJob): void {
  const state = job.status === "done" ? paint(out.color, "green", "done") : job.status;
  out.line(`import ${job.id} ${state}: ${jobLine(job)}`);
  if (job.errors.length > 0) {
    out.line("rejected rows:");
    for (const e of job.errors) out.line(`  ${job.kind === "events" ? "line" : "row"} ${e.row}: ${e.error}`);
    if (job.errors_dropped > 0) out.line(`  … and ${num(job.errors_dropped)} more`);
  }
  if (job.status === "failed")
    throw new CliError(`import ${job.id} failed: ${job.failure ?? "unknown reason"}`);
}

async function importFile(file: string, flags: ImportFlags): Promise<void> {
  const out = stdio();
  const client = new Client(flags);
  const ext = extname(file).toLowerCase();
  const kind = flags.kind ?? (EVENT_EXTENSIONS.has(ext) ? "events" : "contacts");
  if (flags.mapping !== undefined) {
    const m = parseJson(flags.mapping, "--mapping");
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      throw new CliError('--mapping: expected a JSON object of column → field, e.g. {"E-mail":"email"}');
    }
  }
  let size: number | null = null;
  if (file !== "-") {
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new CliError(`${file}: not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const source: Readable = file === "-" ? process.stdin : createReadStream(file);
  let sent = 0;
  let lastNote = Date.now();
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      if (Date.now() - lastNote >= 1000) {
        lastNote = Date.now();
        const pct = size ? ` (${Math.floor((sent / size) * 100)} %)` : "";
        out.note(`uploading ${file}: ${bytes(sent)}${size !== null ? ` of ${bytes(size)}` : ""}${pct}`);
      }
      cb(null, chunk);
    },
  });
  // The upload ends when the file is read to the end (or the transfer fails).
  const uploaded = pipeline(source, counter).catch(() => undefined);
  const job = await client.json<ImportJob>("POST", "/v1/imports", {
    query: {
      kind,
      mapping: flags.mapping,
      segment_id: flags.segment,
      delimiter: flags.delimiter,
      date_format: flags.dateFormat,
    },
    stream: Readable.toWeb(counter) as ReadableStream<Uint8Array>,
    contentType: kind === "events" ? "application/x-ndjson" : "text/csv",
  });
  out.note(`import ${job.id} started (${kind} from ${file})`);
  if (!flags.wait) {
    await uploaded;
    out.note(`uploaded ${bytes(sent)}`);
    out.line(`import ${job.id} ${job.status}; follow it with: slice imports show ${job.id} --wait`);
    return;
  }
  const done = await follow(client, out, job.id, flags.interval);
  await uploaded;
  report(out, done);
}

function importCommand(): Command {
  return withClient(
    new Command("import")
      .description("import a CSV of contacts or an NDJSON file of events (streamed; - reads stdin)")
      .argument("<file>", "the file to import, or - for stdin")
      .option(
        "--kind <kind>",
        "contacts (CSV) or events (NDJSON); default: events for .ndjson/.jsonl/.json files, else contacts",
        choice(["contacts", "events"]),
      )
      .option(
        "--mapping <json>",
        'CSV column → field, e.g. \'{"E-mail":"email","Plan":"fields.plan","Notes":null}\'',
      )
      .option("--segment <id>", "also add the imported contacts to this static segment")
      .option("--delimiter <char>", "CSV delimiter (default ,)")
      // The server checks the value and names the formats it takes.
      .option("--date-format <format>", "how the CSV writes dates: ISO (default), DD/MM/YYYY or MM/DD/YYYY")
      .option("--wait", "follow the import until it is done, then print its rejected rows")
      .option("--interval <ms>", "how often --wait asks for progress", intArg(10, 60_000), 250),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ slice import contacts.csv --wait
  $ slice import leads.csv --mapping '{"E-mail":"email","Land":"country"}' --segment seg_… --wait
  $ slice import members.csv --date-format DD/MM/YYYY --wait
  $ slice import events.ndjson --kind events --wait`,
    )
    .action((file: string, flags: ImportFlags) => importFile(file, flags));
}

function importsCommand(): Command {
  const cmd = new Command("imports").description("imports already started");
  cmd.addCommand(
    withClient(
      new Command("show")
        .description("an import's progress and rejected rows")
        .argument("<id>", "import id")
        .option("--wait", "follow it until it is done")
        .option("--interval <ms>", "how often --wait asks for progress", intArg(10, 60_000), 250),
    ).action(async (id: string, flags: ClientOptions & { wait?: boolean; interval: number }) => {
      const out = stdio();
      const client = new Client(flags);
      const job = flags.wait
        ? await follow(client, out, id, flags.interval)
        : await client.json<ImportJob>("GET", `/v1/imports/${seg(id)}`);
      report(out, job);
    }),
  );
  return cmd;
}

// ---------------------------------------------------------------- segments

function printSegments(out: Out, list: WireSegment[]): void {
  const rows = [["ID", "NAME", "KIND", "MEMBERS"]];
  for (const s of list) rows.push([s.id, s.name, s.default ? "default" : s.kind, num(s.size)]);
  const lines = table(rows);
  out.line(paint(out.color, "bold", lines[0]!));
  for (const l of lines.slice(1)) out.line(l);
}

function segmentsCommand(): Command {
  const cmd = new Command("segments").description("list, create, preview and export segments");

  cmd.addCommand(
    withClient(
      new Command("list")
        .description("every segment with its current size")
        .option("--json", "print the API's JSON answer"),
    ).action(async (flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<{ data: WireSegment[] }>("GET", "/v1/segments");
      if (flags.json) out.line(JSON.stringify(r.data, null, 2));
      else printSegments(out, r.data);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("show")
        .description("a segment: its size and its rule in text form")
        .argument("<id>", "segment id")
        .option("--json", "print the API's JSON answer"),
    ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const s = await new Client(flags).json<WireSegment>("GET", `/v1/segments/${seg(id)}`);
      if (flags.json) return out.line(JSON.stringify(s, null, 2));
      out.line(`${s.id} "${s.name}" (${s.default ? "default" : s.kind}): ${num(s.size)} members`);
      if (s.rule_text) for (const l of s.rule_text.split("\n")) out.line(`  ${l}`);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("create")
        .description("create a dynamic segment from a rule, or an empty static one")
        .requiredOption("--name <name>", "the segment's name")
        .option("--description <text>", "a description")
        .option("--rule <rule>", 'the rule, as text (country = "FR", docs/rules.md) or JSON (SPEC §3.1)')
        .option(
          "--rule-file <file>",
          "a file holding the rule as text or JSON (or a segment/template with a rule); - is stdin",
        )
        .option("--static", "a static segment (members added by API, import or action; no rule)")
        .option("--json", "print the API's JSON answer"),
    )
      .addHelpText(
        "after",
        `
Examples:
  $ slice segments create --name "Engaged in France" \\
      --rule 'country = "FR" and count(email_opened, last 30d) >= 1'
  $ slice segments create --name "Engaged in France" \\
      --rule '{"type":"and","conditions":[{"type":"field","field":"country","op":"eq","value":"FR"},
               {"type":"event","event":"email_opened","window":{"in_last":"30d"},"op":"gte","value":1}]}'
  $ slice segments create --name "Big spenders" --rule-file rules/big-spenders.json
  $ slice segments create --name "Webinar attendees" --static`,
      )
      .action(
        async (
          flags: ClientOptions & {
            name: string;
            description?: string;
            rule?: string;
            ruleFile?: string;
            static?: boolean;
            json?: boolean;
          },
        ) => {
          const out = stdio();
          const rule = ruleFrom(flags, !flags.static);
          if (flags.static && rule !== undefined) throw new CliError("a static segment has no rule");
          const s = await new Client(flags).json<WireSegment>("POST", "/v1/segments", {
            json: {
              name: flags.name,
              ...(flags.description !== undefined ? { description: flags.description } : {}),
              kind: flags.static ? "static" : "dynamic",
              ...rule,
            },
          });
          if (flags.json) out.line(JSON.stringify(s, null, 2));
          else out.line(`created ${s.id} "${s.name}" (${s.kind}): ${num(s.size)} members`);
        },
      ),
  );

  cmd.addCommand(
    withClient(
      new Command("preview")
        .description("how many contacts a rule matches now, with a sample, without saving anything")
        .option("--rule <rule>", 'the rule, as text (country = "FR", docs/rules.md) or JSON (SPEC §3.1)')
        .option("--rule-file <file>", "a file holding the rule as text or JSON; - is stdin")
        .option(
          "--segment <id>",
          "also show who would enter and leave if this segment's rule became this one",
        )
        .option("--json", "print the API's JSON answer"),
    ).action(
      async (
        flags: ClientOptions & { rule?: string; ruleFile?: string; segment?: string; json?: boolean },
      ) => {
        const out = stdio();
        const rule = ruleFrom(flags, true);
        const r = await new Client(flags).json<{
          count: number;
          sample: WireContact[];
          took_ms: number;
          diff?: { entered: number; exited: number };
        }>("POST", "/v1/segments/preview", {
          json: { ...rule, ...(flags.segment ? { segment_id: flags.segment } : {}) },
        });
        if (flags.json) {
          out.line(JSON.stringify(r, null, 2));
          return;
        }
        out.line(`${num(r.count)} contacts match (evaluated in ${r.took_ms} ms)`);
        if (r.diff) {
          out.line(
            `editing ${flags.segment} to this rule: ${num(r.diff.entered)} would enter, ${num(r.diff.exited)} would leave`,
          );
        }
        if (r.sample.length > 0) {
          out.line("sample:");
          for (const l of table(r.sample.map(contactRow))) out.line(`  ${l}`);
        }
      },
    ),
  );

  cmd.addCommand(
    withClient(
      new Command("export")
        .description("stream a segment's members as a file (to stdout, or --out)")
        .argument("<id>", "segment id")
        .option(
          "--format <format>",
          "csv, ndjson, meta (Meta custom audience) or google (Customer Match)",
          choice(["csv", "ndjson", "meta", "google"]),
          "csv",
        )
        .option("--out <file>", "write to this file instead of stdout")
        .option("--columns <list>", "csv only: the columns, comma-separated")
        .option("--include-suppressed", "also export unsubscribed, hard-bounced and complained contacts"),
    )
      .addHelpText(
        "after",
        `
Examples:
  $ slice segments export seg_… > members.csv
  $ slice segments export seg_… --format meta --out meta-audience.csv`,
      )
      .action(
        async (
          id: string,
          flags: ClientOptions & {
            format: string;
            out?: string;
            columns?: string;
            includeSuppressed?: boolean;
          },
        ) => {
          const out = stdio();
          const res = await new Client(flags).request("GET", `/v1/segments/${seg(id)}/export`, {
            query: {
              format: flags.format,
              columns: flags.columns,
              ...(flags.includeSuppressed ? { include_suppressed: "true" } : {}),
            },
          });
          if (!res.body) throw new CliError("the server sent no file");
          const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
          if (flags.out) {
            const file = flags.out;
            let written = 0;
            body.on("data", (c: Buffer) => (written += c.length));
            try {
              await pipeline(body, createWriteStream(file));
            } catch (e) {
              try {
                unlinkSync(file);
              } catch {
                // nothing written
              }
              throw new CliError(`export to ${file} failed: ${(e as Error).message}`);
            }
            out.note(`wrote ${bytes(written)} to ${file}`);
            return;
          }
          await toStdout(body);
        },
      ),
  );
  return cmd;
}

/** Copies a stream to stdout; a reader that leaves (`… | head`) ends it quietly. */
async function toStdout(body: Readable): Promise<void> {
  const stdout = process.stdout;
  let gone = false;
  let failure: NodeJS.ErrnoException | null = null;
  const onError = (e: NodeJS.ErrnoException) => {
    gone = true;
    if (e.code !== "EPIPE") failure = e;
  };
  stdout.on("error", onError);
  try {
    for await (const chunk of body) {
      if (gone) break;
      if (!stdout.write(chunk as Buffer)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            stdout.off("drain", done);
            stdout.off("error", done);
            resolve();
          };
          stdout.on("drain", done);
          stdout.on("error", done);
        });
      }
    }
  } finally {
    body.destroy();
  }
  if (failure) throw new CliError(`cannot write the export: ${(failure as Error).message}`);
}

// ---------------------------------------------------------------- explain

/**
 * A contact named by id or by email (anything with an "@"): what people have at hand is
 * usually the email. Emails are looked up case-insensitively by the server.
 */
export async function contactIdOf(client: Client, contact: string): Promise<string> {
  if (!contact.includes("@")) return contact;
  const page = await client.json<{ data: { id: string }[] }>("GET", "/v1/contacts", {
    query: { email: contact },
  });
  const found = page.data[0];
  if (!found) throw new CliError(`no contact with email "${contact}"`);
  return found.id;
}

function explainCommand(): Command {
  return withClient(
    new Command("explain")
      .description("why a contact is in or out of a segment: every rule node, measured vs needed")
      .argument("<contact>", "contact id or email")
      .requiredOption("--segment <id>", "segment id")
      .option("--json", "print the API's JSON answer"),
  )
    .addHelpText(
      "after",
      `
Example:
  $ slice explain ana@example.com --segment seg_…
  ana@example.com (ct_…) is not in "Big spenders" (seg_…)
    ✗ all of
      ✓ order_placed sum(amount) in the last 180d: measured 250, needed > 200
      ✗ order_placed count in the last 30d: measured 1, needed = 0`,
    )
    .action(async (contact: string, flags: ClientOptions & { segment: string; json?: boolean }) => {
      const out = stdio();
      const client = new Client(flags);
      const id = await contactIdOf(client, contact);
      const answer = await client.json<ExplainAnswer>("GET", `/v1/contacts/${seg(id)}/explain`, {
        query: { segment: flags.segment },
      });
      if (flags.json) {
        out.line(JSON.stringify(answer, null, 2));
        return;
      }
      const segment = await client
        .json<WireSegment>("GET", `/v1/segments/${seg(flags.segment)}`)
        .catch(() => ({ id: flags.segment }));
      printExplain(out, id === contact ? id : `${contact} (${id})`, segment, answer);
    });
}

export function clientCommands(): Command[] {
  return [
    importCommand(),
    importsCommand(),
    segmentsCommand(),
    explainCommand(),
    ...sourceCommands(),
    ...destinationCommands(),
    ...scheduleCommands(),
  ];
}
