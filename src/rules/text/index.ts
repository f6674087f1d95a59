export { RuleTextError } from "./errors.ts";
export { parseRuleText } from "./parse.ts";
export { printRule } from "./print.ts";
