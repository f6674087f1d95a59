/**
 * The `slice` command (SPEC §5): `slice serve` runs the service; the other commands are
 * clients of a running server. Run through `bin/slice.js` (`npx slice …` from a
 * checkout). A failure prints `error: <message>` on stderr and exits with code 1.
 */
import { Command, CommanderError } from "commander";
import { sliceVersion } from "../version.ts";
import { CliError } from "./client.ts";
import { clientCommands } from "./commands.ts";
import { serveCommand } from "./serve.ts";

export function buildProgram(): Command {
  const program = new Command("slice")
    .description("Slice: real-time contact segmentation. `slice serve` runs the API; the rest talk to it.")
    .version(sliceVersion(), "-V, --version")
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      `
Client commands reach the server at --url (env SLICE_URL, default http://127.0.0.1:8080)
with the API key --key (env SLICE_API_KEY).

Examples:
  $ slice serve --demo
  $ export SLICE_API_KEY=sk_…
  $ slice segments list
  $ slice segments preview --rule '{"type":"field","field":"country","op":"eq","value":"FR"}'
  $ slice import contacts.csv --wait
  $ slice explain ct_… --segment seg_…`,
    );
  program.addCommand(serveCommand());
  for (const c of clientCommands()) program.addCommand(c);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // `slice … | head`: once the reader has gone, there is nobody to tell anything.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
    throw e;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    const message = e instanceof CliError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: ${message}\n`);
    if (!(e instanceof CliError) && process.env.SLICE_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}

await main();
