import { createRequire } from "node:module";
import type peggy from "peggy";
import { isCalendarPeriod } from "../calendar.ts";
import { ALL_OPS, isNoValueOp, type Op } from "../operators.ts";
import {
  BucketSeed,
  DURATION_RE,
  EventType,
  MEASURE_FNS,
  type MeasureFn,
  type PropertyFilter,
  type RuleNode,
  RuleSchema,
  type SequenceStep,
  type Window,
} from "../schema.ts";
import { RuleTextError } from "./errors.ts";
import { GRAMMAR } from "./grammar.ts";
import { isReserved } from "./lexical.ts";

/** What an operator clause read: the JSON op and, unless it takes none, its value. */
interface Clause {
  op: string;
  has: boolean;
  value?: unknown;
}

interface Target {
  event: string;
  property: string | null;
  where: PropertyFilter[] | null;
  window: Window | null;
}

const MAX_PROPERTY = 200;
const MAX_FILTERS = 50;
const MIN_STEPS = 2;
const MAX_STEPS = 10;
const OP_NAMES: ReadonlySet<string> = new Set(ALL_OPS);

function withClause<T extends object>(base: T, c: Clause): T & { op: string; value?: unknown } {
  return c.has ? { ...base, op: c.op, value: c.value } : { ...base, op: c.op };
}

/**
 * Called from the grammar's actions. A string result is an error message, which the
 * grammar raises at the location of the construct being read.
 */
const helpers = {
  isReserved,
  isOpName: (w: string): boolean => OP_NAMES.has(w),
  isPeriod: isCalendarPeriod,
  opForm: (w: string): "none" | "pair" | "one" | "period" =>
    isNoValueOp(w as Op)
      ? "none"
      : w === "between"
        ? "pair"
        : w === "during" || w === "anniversary_during"
          ? "period"
          : "one",
  duration: (d: string): string | null =>
    DURATION_RE.test(d)
      ? null
      : `"${d}" is not a duration: expected a whole number from 1 to 999999 and a unit m, h, d, w, mo or y, like 30d`,
  eventType: (e: string): string | null =>
    EventType.safeParse(e).success
      ? null
      : `"${e}" is not an event type: expected lower-case letters, digits and _ . : - (at most 64)`,
  property: (p: string): string | null =>
    p.length > MAX_PROPERTY ? `a property path is at most ${MAX_PROPERTY} characters` : null,
  field: (field: string, c: Clause): RuleNode => withClause({ type: "field" as const, field }, c),
  filter: (property: string, c: Clause): PropertyFilter => withClause({ property }, c),
  where: (filters: PropertyFilter[]): PropertyFilter[] | string =>
    filters.length > MAX_FILTERS ? `at most ${MAX_FILTERS} "where" filters` : filters,
  did: (t: Target): RuleNode | string => {
    if (t.property !== null) {
      return `did(…) takes no property; use count(${t.event}.${t.property}) or another measure`;
    }
    return eventNode(t, undefined);
  },
  measure: (fn: MeasureFn, t: Target, c: Clause): RuleNode => {
    // count(e) is the default measure, written without "measure" in JSON.
    const measure =
      fn === "count" && t.property === null
        ? undefined
        : t.property === null
          ? { fn }
          : { fn, property: t.property };
    return withClause(eventNode(t, measure), c);
  },
  bucket: (seed: string, c: Clause): RuleNode | string => {
    const checked = BucketSeed.safeParse(seed);
    if (!checked.success) return checked.error.issues[0]?.message ?? "not a seed";
    return withClause({ type: "bucket" as const, seed }, c);
  },
  rank: (direction: "top" | "bottom", percent: number, fn: MeasureFn, t: Target): RuleNode => ({
    ...eventNode(t, measureOf(fn, t)),
    rank: { direction, percent },
  }),
  quintile: (fn: MeasureFn, t: Target, c: Clause): RuleNode =>
    withClause({ ...eventNode(t, measureOf(fn, t)), score: "quintile" as const }, c),
  rfm: (kind: string, given: Target | null, c: Clause): RuleNode | string => {
    const t: Target = given ?? { event: RFM_EVENT, property: null, where: null, window: null };
    const k = kind.toLowerCase();
    if (k !== "monetary" && t.property !== null) {
      return `rfm_score(${k}, …) takes an event type without a property; monetary reads a property`;
    }
    const measure =
      k === "recency"
        ? { fn: "last_at" as const }
        : k === "frequency"
          ? undefined
          : k === "monetary"
            ? { fn: "sum" as const, property: t.property ?? RFM_PROPERTY }
            : null;
    if (measure === null) return `"${kind}" is not an RFM score: expected recency, frequency or monetary`;
    return withClause({ ...eventNode(t, measure), score: "quintile" as const }, c);
  },
  sequence: (steps: SequenceStep[], within: string, window: Window | null): RuleNode | string => {
    if (steps.length < MIN_STEPS) return `a sequence needs at least ${MIN_STEPS} steps joined by "then"`;
    if (steps.length > MAX_STEPS) return `a sequence has at most ${MAX_STEPS} steps`;
    return window === null
      ? { type: "sequence", steps, within }
      : { type: "sequence", steps, within, window };
  },
  json: (v: unknown): RuleNode | string => {
    const r = RuleSchema.safeParse(v);
    if (r.success) return v as RuleNode;
    const issue = r.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return `not a rule node: ${where}${issue?.message ?? "invalid"}`;
  },
  object: (members: [string, unknown][]): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    // defineProperty, so that a "__proto__" key is data as in JSON.parse.
    for (const [k, v] of members) {
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return o;
  },
};

/** The measure of `fn(target)` as JSON: count of a bare event type is the default, written without one. */
function measureOf(fn: MeasureFn, t: Target): { fn: MeasureFn; property?: string } | undefined {
  if (fn === "count" && t.property === null) return undefined;
  return t.property === null ? { fn } : { fn, property: t.property };
}

/** What rfm_score(…) reads when no event is named (docs/rules.md, "RFM scores"). */
const RFM_EVENT = "order_placed";
const RFM_PROPERTY = "amount";

function eventNode(t: Target, measure: { fn: MeasureFn; property?: string } | undefined) {
  return {
    type: "event" as const,
    event: t.event,
    ...(t.where === null ? {} : { where: t.where }),
    ...(t.window === null ? {} : { window: t.window }),
    ...(measure === undefined ? {} : { measure }),
  };
}

let parser: peggy.Parser | undefined;

function getParser(): peggy.Parser {
  // peggy itself is loaded with the first rule text read, not with every process that
  // imports the rules (most of a second at a server's start).
  parser ??= (createRequire(import.meta.url)("peggy") as typeof peggy).generate(GRAMMAR);
  return parser;
}

interface PeggyFailure {
  message: string;
  location: { start: { offset: number; line: number; column: number } };
  expected: { type: string; text?: string; description?: string }[] | null;
}

function isPeggyFailure(e: unknown): e is PeggyFailure {
  return e instanceof Error && "location" in e && "expected" in e;
}

/**
 * Reads the text form of a rule (docs/rules.md, "Text form"). Checks syntax and the
 * shape the JSON schema requires; what depends on the workspace (fields, segments,
 * operator fit) is left to `validateRule`.
 */
export function parseRuleText(text: string): RuleNode {
  let rule: unknown;
  try {
    rule = getParser().parse(text, { helpers });
  } catch (e) {
    if (isPeggyFailure(e)) {
      const { line, column, offset } = e.location.start;
      throw new RuleTextError(text, line, column, describeFailure(text, offset, e));
    }
    if (e instanceof RangeError) throw new RuleTextError(text, 1, 1, "the rule is nested too deeply");
    throw e;
  }
  const checked = RuleSchema.safeParse(rule);
  if (!checked.success) {
    // The grammar should only build schema-valid rules; this keeps a slip from leaking out.
    throw new RuleTextError(text, 1, 1, `not a valid rule: ${checked.error.issues[0]?.message ?? "invalid"}`);
  }
  return rule as RuleNode;
}

const STARTS_CONDITION = new Set([
  "(",
  "not",
  "in",
  "all",
  "any",
  "did",
  "sequence",
  "bucket",
  "top",
  "bottom",
  "quintile",
  "rfm_score",
  "json",
  ...MEASURE_FNS,
]);
const OPENERS = new Set(["(", "[", "{"]);

function describeFailure(text: string, offset: number, e: PeggyFailure): string {
  if (e.expected === null) return e.message;
  // Named rules ("a value") are shown as they are, literal tokens in quotes.
  const named = new Set<string>();
  const literals = new Set<string>();
  let end = false;
  for (const x of e.expected) {
    if (x.type === "literal" && x.text !== undefined) literals.add(x.text.toLowerCase());
    else if (x.type === "end") end = true;
    else if (x.type === "other" && x.description !== undefined && x.description !== "whitespace") {
      named.add(x.description);
    }
  }
  // Every token that can start a condition is summed up as "a condition".
  const drop = named.has("a condition") ? STARTS_CONDITION : named.has("a value") ? OPENERS : new Set();
  const shown = [
    ...named,
    ...[...literals].filter((l) => !drop.has(l)).map((l) => JSON.stringify(l)),
    ...(end ? ["the end of the rule"] : []),
  ];
  let msg = `expected ${joinOr(shown)} but found ${foundAt(text, offset)}`;
  const word = text.slice(offset).match(/^[A-Za-z_][A-Za-z0-9_]*(?![A-Za-z0-9_.:-])/)?.[0];
  if (named.has("a value") && word && !NOT_TEXT.has(word.toLowerCase())) {
    msg += `; text values need double quotes: "${word}"`;
  } else if (named.has("a value") && text[offset] === "'") {
    msg += "; text values need double quotes";
  }
  return msg;
}

const NOT_TEXT = new Set(["and", "or", "not", "true", "false", "null"]);

function foundAt(text: string, offset: number): string {
  if (offset >= text.length) return "the end of the rule";
  const rest = text.slice(offset);
  if (rest[0] === "\n" || rest[0] === "\r") return "the end of the line";
  const tok = rest.match(/^[A-Za-z0-9_.:+-]+/)?.[0] ?? rest.match(/^"[^"\n]{0,40}"?/)?.[0] ?? rest[0];
  return JSON.stringify(tok);
}

function joinOr(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "something else";
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}
