/**
 * A rule as requests give it (SPEC §3.1): as JSON in `rule`, or as text in `rule_text`
 * (docs/rules.md, "Text form"), and the text form every segment read carries.
 */
import { isDeepStrictEqual } from "node:util";
import type { RuleNode } from "../rules/schema.ts";
import { parseRuleText, printRule, RuleTextError } from "../rules/text/index.ts";
import type { JsonValue } from "../store/types.ts";
import { invalid } from "./errors.ts";

/**
 * The rule of a request: `rule`, or `rule_text` parsed. Both may be given when they say
 * the same (a segment's own representation, read and sent back); otherwise the text's
 * syntax errors answer 400 at `rule_text` with their line, column and caret.
 */
export function ruleOfInput(input: { rule?: unknown; rule_text?: string | null }): unknown {
  if (input.rule_text === undefined || input.rule_text === null) return input.rule;
  let parsed: RuleNode;
  try {
    parsed = parseRuleText(input.rule_text);
  } catch (e) {
    if (e instanceof RuleTextError) {
      throw invalid("rule_text", `line ${e.line}, column ${e.column}: ${e.message}`, {
        line: e.line,
        column: e.column,
        caret: e.caret,
      });
    }
    throw e;
  }
  if (input.rule !== undefined && input.rule !== null && !isDeepStrictEqual(parsed, input.rule)) {
    throw invalid("rule_text", "says something else than rule: give one of them, or both saying the same");
  }
  return parsed;
}

/** The text form of a stored rule; null for a static segment (or a rule the printer cannot read). */
export function ruleTextOf(rule: JsonValue | RuleNode | null | undefined): string | null {
  if (rule === null || rule === undefined) return null;
  try {
    return printRule(rule as RuleNode);
  } catch {
    return null;
  }
}
