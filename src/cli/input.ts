/** What the client commands read from their arguments and files: JSON, text, and a rule in either form. */
import { readFileSync } from "node:fs";
import { CliError } from "./client.ts";

export function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new CliError(`${what}: invalid JSON: ${(e as Error).message}`);
  }
}

export function readText(file: string, what: string): string {
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
