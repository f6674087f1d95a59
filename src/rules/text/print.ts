import { isCalendarPeriod } from "../calendar.ts";
import { isNoValueOp, type Op } from "../operators.ts";
import {
  DURATION_RE,
  type EventNode,
  type FieldNode,
  type PropertyFilter,
  type RuleNode,
  RuleSchema,
  type SequenceNode,
  type Window,
} from "../schema.ts";
import { DATE_TOKEN_RE, isReserved, PATH_RE, WORD_RE } from "./lexical.ts";

/** Lines longer than this are broken at "and" / "or". */
const WIDTH = 80;

/** Which strings a value may be written bare as: dates after date operators, durations after relative ones. */
type Ctx = "date" | "duration" | "plain";

const SPELLING: Record<Op, string> = {
  eq: "=",
  neq: "!=",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  in: "in",
  not_in: "not in",
  contains: "contains",
  not_contains: "not contains",
  starts_with: "starts with",
  ends_with: "ends with",
  between: "between",
  before: "before",
  after: "after",
  on: "on",
  in_last: "in last",
  more_than_ago: "more than",
  in_next: "in next",
  anniversary_in_next: "anniversary in next",
  during: "during",
  anniversary_during: "anniversary during",
  weekday_in: "weekday in",
  contains_any: "contains any",
  contains_all: "contains all",
  contains_none: "contains none",
  is_set: "is set",
  is_not_set: "is not set",
  is_empty: "is empty",
  is_not_empty: "is not empty",
};

const DATE_OPS: ReadonlySet<string> = new Set(["before", "after", "on", "between"]);
const DURATION_OPS: ReadonlySet<string> = new Set([
  "in_last",
  "more_than_ago",
  "in_next",
  "anniversary_in_next",
]);

/**
 * The text form of a rule (docs/rules.md, "Text form"): `parseRuleText(printRule(r))`
 * deep-equals `r` for every rule the schema accepts. A node the readable syntax has
 * no spelling for (a value where its operator takes none, an explicit
 * `{"fn": "count"}`…) is written as `json {…}`.
 */
export function printRule(rule: RuleNode): string {
  const checked = RuleSchema.safeParse(rule);
  if (!checked.success) {
    throw new TypeError(`not a valid rule: ${checked.error.issues[0]?.message ?? "invalid"}`);
  }
  return printNode(rule, 0);
}

function printNode(node: RuleNode, indent: number): string {
  switch (node.type) {
    case "and":
    case "or":
      return printGroup(node.type, node.conditions, indent);
    case "not": {
      const c = node.condition;
      // A bare `not in segment x` is the segment node with op not_in, so `not` of a segment is bracketed.
      if (c.type === "event" || c.type === "sequence") {
        const inner = printNode(c, indent);
        if (inner.startsWith("did(") || inner.startsWith("sequence(")) return `not ${inner}`;
      }
      return `not ${bracket(c, indent)}`;
    }
    case "field":
      return printField(node) ?? printJson(node);
    case "segment":
      return `${node.op === "not_in" ? "not in" : "in"} segment ${name(node.segment, PATH_RE)}`;
    case "event":
      return printEvent(node) ?? printJson(node);
    case "sequence":
      return printSequence(node) ?? printJson(node);
    case "bucket": {
      const c = clause(node.op, node.value);
      return c === null ? printJson(node) : `bucket(${name(node.seed, WORD_RE)}) ${c}`;
    }
  }
}

function isGroup(n: RuleNode): boolean {
  return (n.type === "and" || n.type === "or") && n.conditions.length > 1;
}

function printGroup(type: "and" | "or", conditions: RuleNode[], indent: number): string {
  if (conditions.length === 1) {
    const only = conditions[0] as RuleNode;
    const head = type === "and" ? "all of" : "any of";
    const inner = printNode(only, indent + 2);
    if (!inner.includes("\n") && indent + head.length + inner.length + 3 <= WIDTH)
      return `${head} (${inner})`;
    return `${head} (\n${pad(indent + 2)}${inner}\n${pad(indent)})`;
  }
  const parts = conditions.map((c) => (isGroup(c) ? bracket(c, indent) : printNode(c, indent)));
  const oneLine = parts.join(` ${type} `);
  if (!oneLine.includes("\n") && indent + oneLine.length <= WIDTH) return oneLine;
  return parts.join(`\n${pad(indent)}${type} `);
}

function bracket(n: RuleNode, indent: number): string {
  const inner = printNode(n, indent + 2);
  if (!inner.includes("\n") && indent + inner.length + 2 <= WIDTH) return `(${inner})`;
  return `(\n${pad(indent + 2)}${printNode(n, indent + 2)}\n${pad(indent)})`;
}

function pad(n: number): string {
  return " ".repeat(n);
}

/** `op value` for a field, filter or measure; null when the value's presence does not fit the operator. */
function clause(op: string, value: unknown): string | null {
  const spelled = SPELLING[op as Op];
  if (isNoValueOp(op as Op)) return value === undefined ? spelled : null;
  if (value === undefined) return null;
  const ctx: Ctx = DATE_OPS.has(op) ? "date" : DURATION_OPS.has(op) ? "duration" : "plain";
  if (op === "between") {
    if (!Array.isArray(value) || value.length !== 2) return null;
    return `between ${printValue(value[0], ctx)} and ${printValue(value[1], ctx)}`;
  }
  if (op === "more_than_ago") return `more than ${printValue(value, ctx)} ago`;
  // A calendar period is written bare; anything else the schema lets through is quoted.
  if (op === "during" || op === "anniversary_during")
    return `${spelled} ${isCalendarPeriod(value) ? value : printValue(value, ctx)}`;
  return `${spelled} ${printValue(value, ctx)}`;
}

function printField(n: FieldNode): string | null {
  const c = clause(n.op, n.value);
  return c === null ? null : `${name(n.field, PATH_RE)} ${c}`;
}

function printWhere(where: PropertyFilter[] | undefined): string | null {
  if (where === undefined) return "";
  if (where.length === 0) return null;
  const parts: string[] = [];
  for (const f of where) {
    const c = clause(f.op, f.value);
    if (c === null) return null;
    parts.push(`${name(f.property, PATH_RE)} ${c}`);
  }
  return ` where ${parts.join(" and ")}`;
}

function printEvent(n: EventNode): string | null {
  const where = printWhere(n.where);
  if (where === null) return null;
  const prop = n.measure?.property === undefined ? "" : `.${name(n.measure.property, PATH_RE)}`;
  const target = `${name(n.event, WORD_RE)}${prop}${where}${n.window ? `, ${printWindow(n.window)}` : ""}`;
  if (n.rank !== undefined || n.score !== undefined) return printRelative(n, target);
  if (n.measure === undefined) {
    if (n.op === undefined) return n.value === undefined ? `did(${target})` : null;
    const c = clause(n.op, n.value);
    return c === null ? null : `count(${target}) ${c}`;
  }
  // count without a property would read back as the default (no "measure" key).
  if (n.op === undefined || (n.measure.fn === "count" && n.measure.property === undefined)) return null;
  const c = clause(n.op, n.value);
  return c === null ? null : `${n.measure.fn}(${target}) ${c}`;
}

/** `top 10% by sum(…)` and `quintile(sum(…)) >= 4`; the printed measure reads back as the node's. */
function printRelative(n: EventNode, target: string): string | null {
  if (n.measure?.fn === "count" && n.measure.property === undefined) return null;
  const m = `${n.measure?.fn ?? "count"}(${target})`;
  if (n.rank !== undefined) {
    if (n.score !== undefined || n.op !== undefined || n.value !== undefined) return null;
    return `${n.rank.direction} ${printJsonValue(n.rank.percent)}% by ${m}`;
  }
  if (n.op === undefined) return null;
  const c = clause(n.op, n.value);
  return c === null ? null : `quintile(${m}) ${c}`;
}

function printSequence(n: SequenceNode): string | null {
  const steps: string[] = [];
  for (const s of n.steps) {
    const where = printWhere(s.where);
    if (where === null) return null;
    steps.push(`${s.not ? "not " : ""}${name(s.event, WORD_RE)}${where}`);
  }
  const window = n.window ? `, ${printWindow(n.window)}` : "";
  return `sequence(${steps.join(" then ")} within ${n.within}${window})`;
}

function printWindow(w: Window): string {
  if ("in_last" in w) return `last ${w.in_last}`;
  if ("between_ago" in w) return `between ${w.between_ago[0]} and ${w.between_ago[1]} ago`;
  if ("after" in w) return `after ${printValue(w.after, "date")}`;
  if ("before" in w) return `before ${printValue(w.before, "date")}`;
  if ("during" in w) return `during ${w.during}`;
  return `between ${printValue(w.between[0], "date")} and ${printValue(w.between[1], "date")}`;
}

function name(s: string, bare: RegExp): string {
  return bare.test(s) && !isReserved(s) ? s : JSON.stringify(s);
}

function printValue(v: unknown, ctx: Ctx): string {
  if (typeof v === "string") {
    if (ctx === "date" && DATE_TOKEN_RE.test(v)) return v;
    if (ctx === "duration" && DURATION_RE.test(v)) return v;
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `(${v.map((x) => printValue(x, ctx)).join(", ")})`;
  return printJsonValue(v);
}

function printJson(node: RuleNode): string {
  return `json ${printJsonValue(node)}`;
}

/** JSON, except that -0 stays -0 (JSON.stringify writes 0). */
function printJsonValue(v: unknown): string {
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError(`not a JSON number: ${v}`);
    return Object.is(v, -0) ? "-0" : String(v);
  }
  if (Array.isArray(v)) {
    return `[${Array.from(v, (x) => {
      if (x === undefined) throw new TypeError("an array in a rule holds undefined");
      return printJsonValue(x);
    }).join(", ")}]`;
  }
  if (typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${printJsonValue(x)}`).join(", ")}}`;
  }
  throw new TypeError(`not a JSON value: ${typeof v}`);
}
