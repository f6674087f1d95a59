/**
 * The client commands: they talk to a running server over HTTP (SPEC §4), with the
 * server's URL from `--url` / `SLICE_URL` and the API key from `--key` / `SLICE_API_KEY`.
 * Results go to stdout, progress to stderr. Each group of commands has its own file
 * (imports.ts, segments.ts, sources.ts, …); `explain` is here.
 */
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { destinationCommands } from "./destinations.ts";
import { type ExplainAnswer, printExplain } from "./explain.ts";
import { importCommand, importsCommand } from "./imports.ts";
import { withClient } from "./options.ts";
import { stdio } from "./output.ts";
import { scheduleCommands } from "./schedules.ts";
import { segmentsCommand, type WireSegment } from "./segments.ts";
import { sourceCommands } from "./sources.ts";

export { ruleFrom } from "./input.ts";

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
