/**
 * `slice import` and `slice imports`: a file streamed to the server as it is read, then
 * the import followed until it is done, its rejected rows printed.
 */
import { createReadStream, statSync } from "node:fs";
import { extname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { parseJson } from "./input.ts";
import { choice, withClient } from "./options.ts";
import { bytes, num, type Out, paint, stdio } from "./output.ts";
import { intArg } from "./serve.ts";

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

export function importCommand(): Command {
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

export function importsCommand(): Command {
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
