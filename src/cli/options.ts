/** Options and argument parsers shared by the client commands. */
import { type Command, InvalidArgumentError } from "commander";

/** `--url` and `--key`, on every client command. */
export function withClient(cmd: Command): Command {
  return cmd
    .option("--url <url>", "URL of the Slice server (env SLICE_URL; default http://127.0.0.1:8080)")
    .option("--key <key>", "API key (env SLICE_API_KEY)");
}

/** An argument that must be one of `values`. */
export function choice(values: readonly string[]) {
  return (raw: string): string => {
    if (!values.includes(raw)) throw new InvalidArgumentError(`expected one of ${values.join(", ")}`);
    return raw;
  };
}
