/** `slice segments`: list, show, create, preview and export segments. */
import { createWriteStream, unlinkSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { ruleFrom } from "./input.ts";
import { choice, withClient } from "./options.ts";
import { bytes, num, type Out, paint, stdio, table } from "./output.ts";

export interface WireSegment {
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

const contactRow = (c: WireContact): string[] => [
  c.id,
  c.email ?? "",
  [c.first_name, c.last_name].filter(Boolean).join(" "),
  c.country ?? "",
  c.status ?? "",
];

function printSegments(out: Out, list: WireSegment[]): void {
  const rows = [["ID", "NAME", "KIND", "MEMBERS"]];
  for (const s of list) rows.push([s.id, s.name, s.default ? "default" : s.kind, num(s.size)]);
  const lines = table(rows);
  out.line(paint(out.color, "bold", lines[0]!));
  for (const l of lines.slice(1)) out.line(l);
}

export function segmentsCommand(): Command {
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
