/**
 * Validation of a rule against a workspace: structure (schema.ts), then meaning —
 * fields exist, operators fit their types, values have the right shape, durations and
 * dates are real, segment references exist and form no cycle. Every problem is
 * reported with the path of the bad part.
 */
import type { z } from "zod";
import { BUCKET_OPS } from "./bucket.ts";
import { CALENDAR_PERIODS, isCalendarPeriod, WEEKDAYS } from "./calendar.ts";
import { formatPath, type PathPart, type RuleIssue, RuleValidationError } from "./errors.ts";
import type { FieldRegistry, FieldType } from "./fields.ts";
import { DATE_OPS, isNoValueOp, NUMBER_OPS, OPS_BY_TYPE, type Op, STRING_OPS } from "./operators.ts";
import { RELATIVE_MEASURES } from "./rank.ts";
import {
  type BucketNode,
  type EventNode,
  measureType,
  type PropertyFilter,
  type RuleNode,
  RuleSchema,
  type SequenceNode,
  type Window,
} from "./schema.ts";
import { parseDuration, parseTimeValue, shift } from "./time.ts";

/** Limits on a rule's size (documented in docs/rules.md). */
export const RULE_LIMITS = { maxDepth: 12, maxNodes: 500 } as const;

export interface ValidationContext {
  fields: FieldRegistry;
  /** Workspace time zone (IANA). */
  timeZone: string;
  /**
   * The segments a rule may refer to, with their rules (null for static segments).
   * Used for existence and cycle checks.
   */
  segments: ReadonlyMap<string, RuleNode | null>;
  /** The id of the segment this rule belongs to, when it is saved as one. */
  selfId?: string;
  /** Root name in error paths; default `rule`. */
  root?: string;
}

function zodIssues(error: z.ZodError, root: string): RuleIssue[] {
  const out: RuleIssue[] = [];
  for (const iss of error.issues) {
    // A failed union reports every branch; the most useful one is the deepest.
    if (
      iss.code === "invalid_union" &&
      "errors" in iss &&
      Array.isArray(iss.errors) &&
      iss.errors.length > 0
    ) {
      const branches = iss.errors as z.core.$ZodIssue[][];
      // The branch the input came closest to: fewest problems, then the deepest. When
      // several come equally close, the union itself is the bad part.
      const score = (b: z.core.$ZodIssue[]) => b.length * 100 - maxDepth(b);
      const bestScore = Math.min(...branches.map(score));
      const best = branches.find((b) => score(b) === bestScore)!;
      const unique = branches.filter((b) => score(b) === bestScore).length === 1;
      if (unique && maxDepth(best) > 0) {
        for (const sub of best) {
          out.push({
            path: formatPath(root, [...iss.path, ...sub.path] as PathPart[]),
            message: sub.message,
          });
        }
        continue;
      }
    }
    out.push({ path: formatPath(root, iss.path as PathPart[]), message: iss.message });
  }
  return out;
}

function maxDepth(issues: z.core.$ZodIssue[]): number {
  return issues.reduce((m, i) => Math.max(m, i.path.length), 0);
}

/** Parse and validate; throws RuleValidationError naming every bad part. */
export function validateRule(input: unknown, ctx: ValidationContext): RuleNode {
  const root = ctx.root ?? "rule";
  const parsed = RuleSchema.safeParse(input);
  if (!parsed.success) throw new RuleValidationError(zodIssues(parsed.error, root));
  const issues: RuleIssue[] = [];
  const v = new Checker(ctx, root, issues);
  v.node(parsed.data, [], 1);
  if (v.nodes > RULE_LIMITS.maxNodes) {
    issues.push({ path: root, message: `too many conditions (${v.nodes}; at most ${RULE_LIMITS.maxNodes})` });
  }
  if (issues.length > 0) throw new RuleValidationError(issues);
  return parsed.data;
}

/** The ids of the segments a rule refers to directly. */
export function segmentRefs(rule: RuleNode, out: Set<string> = new Set()): Set<string> {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) segmentRefs(c, out);
      break;
    case "not":
      segmentRefs(rule.condition, out);
      break;
    case "segment":
      out.add(rule.segment);
      break;
    default:
      break;
  }
  return out;
}

/** The cycle `selfId → … → selfId` a reference to `target` would close, or null. */
export function findCycle(
  selfId: string,
  target: string,
  segments: ReadonlyMap<string, RuleNode | null>,
): string[] | null {
  const stack: string[][] = [[target]];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const path = stack.pop()!;
    const id = path[path.length - 1];
    if (id === selfId) return [selfId, ...path];
    if (seen.has(id)) continue;
    seen.add(id);
    const rule = segments.get(id);
    if (!rule) continue;
    for (const ref of segmentRefs(rule)) stack.push([...path, ref]);
  }
  return null;
}

class Checker {
  nodes = 0;
  constructor(
    private readonly ctx: ValidationContext,
    private readonly root: string,
    private readonly issues: RuleIssue[],
  ) {}

  private fail(path: PathPart[], message: string): void {
    this.issues.push({ path: formatPath(this.root, path), message });
  }

  node(n: RuleNode, path: PathPart[], depth: number): void {
    this.nodes++;
    if (depth > RULE_LIMITS.maxDepth) {
      this.fail(path, `rule is nested too deeply (at most ${RULE_LIMITS.maxDepth} levels)`);
      return;
    }
    switch (n.type) {
      case "and":
      case "or":
        n.conditions.forEach((c, i) => this.node(c, [...path, "conditions", i], depth + 1));
        return;
      case "not":
        this.node(n.condition, [...path, "condition"], depth + 1);
        return;
      case "field": {
        const def = this.ctx.fields.get(n.field);
        if (!def) {
          this.fail([...path, "field"], `unknown field "${n.field}"`);
          return;
        }
        this.fieldOp(def.type, n.op as Op, n.value, path, `${def.type} field "${def.key}"`);
        return;
      }
      case "segment":
        this.segment(n.segment, path);
        return;
      case "event":
        if (n.rank !== undefined || n.score !== undefined) this.relative(n, path);
        else this.event(n, path);
        return;
      case "sequence":
        this.sequence(n, path);
        return;
      case "bucket":
        this.bucket(n, path);
        return;
    }
  }

  private bucket(n: BucketNode, path: PathPart[]): void {
    const op = n.op as Op;
    if (!(BUCKET_OPS as readonly string[]).includes(op)) {
      this.fail([...path, "op"], `"${op}" does not apply to a bucket (use ${BUCKET_OPS.join(", ")})`);
      return;
    }
    const vpath = [...path, "value"];
    if (n.value === undefined) {
      this.fail(vpath, `"${op}" needs a value`);
      return;
    }
    const inRange = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x >= 0 && x <= 100;
    if (op === "between") {
      const v = n.value;
      if (!Array.isArray(v) || v.length !== 2 || !v.every(inRange)) {
        this.fail(vpath, "expected [low, high], two numbers from 0 to 100");
        return;
      }
      if (v[0] > v[1]) this.fail(vpath, "low must not be greater than high");
      return;
    }
    if (!inRange(n.value)) this.fail(vpath, "expected a number from 0 to 100");
  }

  private segment(id: string, path: PathPart[]): void {
    if (!this.ctx.segments.has(id)) {
      this.fail([...path, "segment"], `unknown segment "${id}"`);
      return;
    }
    const self = this.ctx.selfId;
    if (self === undefined) return;
    if (id === self) {
      this.fail([...path, "segment"], `segment "${self}" cannot refer to itself`);
      return;
    }
    const cycle = findCycle(self, id, this.ctx.segments);
    if (cycle) this.fail([...path, "segment"], `reference to "${id}" makes a cycle: ${cycle.join(" → ")}`);
  }

  /** Checks an operator and its value against a field type. */
  fieldOp(type: FieldType, op: Op, value: unknown, path: PathPart[], what: string): void {
    if (!OPS_BY_TYPE[type].includes(op)) {
      this.fail([...path, "op"], `"${op}" does not apply to ${what}`);
      return;
    }
    this.value(type, op, value, [...path, "value"]);
  }

  private value(type: FieldType, op: Op, value: unknown, vpath: PathPart[]): void {
    if (isNoValueOp(op)) {
      if (value !== undefined) this.fail(vpath, `"${op}" takes no value`);
      return;
    }
    if (value === undefined) {
      this.fail(vpath, `"${op}" needs a value`);
      return;
    }
    switch (type) {
      case "string":
        if (op === "in" || op === "not_in") this.stringArray(value, vpath);
        else if (typeof value !== "string") this.fail(vpath, "expected a string");
        return;
      case "number":
        if (op === "between") this.numberPair(value, vpath);
        else if (typeof value !== "number" || !Number.isFinite(value)) this.fail(vpath, "expected a number");
        return;
      case "boolean":
        if (typeof value !== "boolean") this.fail(vpath, "expected true or false");
        return;
      case "date":
        this.dateValue(op, value, vpath);
        return;
      case "string_list":
        if (op === "contains" || op === "not_contains") {
          if (typeof value !== "string") this.fail(vpath, "expected a string");
        } else this.stringArray(value, vpath);
        return;
    }
  }

  private stringArray(value: unknown, vpath: PathPart[]): void {
    if (!Array.isArray(value) || value.length === 0) {
      this.fail(vpath, "expected a non-empty array of strings");
      return;
    }
    value.forEach((x, i) => {
      if (typeof x !== "string") this.fail([...vpath, i], "expected a string");
    });
  }

  private numberPair(value: unknown, vpath: PathPart[]): void {
    if (
      !Array.isArray(value) ||
      value.length !== 2 ||
      !value.every((x) => typeof x === "number" && Number.isFinite(x))
    ) {
      this.fail(vpath, "expected [low, high], two numbers");
      return;
    }
    if (value[0] > value[1]) this.fail(vpath, "low must not be greater than high");
  }

  private duration(value: unknown, vpath: PathPart[]): boolean {
    if (typeof value !== "string") {
      this.fail(vpath, 'expected a duration like "30d" (units m, h, d, w, mo, y)');
      return false;
    }
    try {
      parseDuration(value);
      return true;
    } catch (e) {
      this.fail(vpath, (e as Error).message);
      return false;
    }
  }

  private time(value: unknown, vpath: PathPart[]): { start: number; end: number } | null {
    if (typeof value !== "string") {
      this.fail(vpath, "expected an ISO 8601 date or instant");
      return null;
    }
    try {
      return parseTimeValue(value, this.ctx.timeZone);
    } catch (e) {
      this.fail(vpath, (e as Error).message);
      return null;
    }
  }

  private dateValue(op: Op, value: unknown, vpath: PathPart[]): void {
    switch (op) {
      case "before":
      case "after":
      case "on":
        this.time(value, vpath);
        return;
      case "between": {
        if (!Array.isArray(value) || value.length !== 2) {
          this.fail(vpath, "expected [from, to], two dates or instants");
          return;
        }
        const a = this.time(value[0], [...vpath, 0]);
        const b = this.time(value[1], [...vpath, 1]);
        if (a && b && a.start > b.end) this.fail(vpath, "from must not be after to");
        return;
      }
      case "during":
      case "anniversary_during":
        if (!isCalendarPeriod(value))
          this.fail(vpath, `expected a calendar period: ${CALENDAR_PERIODS.join(", ")}`);
        return;
      case "weekday_in":
        if (
          !Array.isArray(value) ||
          value.length === 0 ||
          !value.every((d) => (WEEKDAYS as readonly unknown[]).includes(d))
        ) {
          this.fail(vpath, `expected a non-empty array of days: ${WEEKDAYS.join(", ")}`);
        }
        return;
      default:
        this.duration(value, vpath);
    }
  }

  private window(w: Window, wpath: PathPart[]): void {
    if ("in_last" in w) this.duration(w.in_last, [...wpath, "in_last"]);
    else if ("between_ago" in w) {
      const ok1 = this.duration(w.between_ago[0], [...wpath, "between_ago", 0]);
      const ok2 = this.duration(w.between_ago[1], [...wpath, "between_ago", 1]);
      if (ok1 && ok2) {
        // Either order is accepted; durations of the same length make a window that is
        // always empty, which is a mistake. Compared at a fixed instant in UTC:
        // calendar units have no single length.
        const ref = Date.UTC(2000, 0, 31);
        const a = shift(ref, parseDuration(w.between_ago[0]), -1, "UTC");
        const b = shift(ref, parseDuration(w.between_ago[1]), -1, "UTC");
        if (a === b) this.fail([...wpath, "between_ago"], "the two durations must differ in length");
      }
    } else if ("after" in w) this.time(w.after, [...wpath, "after"]);
    else if ("before" in w) this.time(w.before, [...wpath, "before"]);
    else if ("during" in w) return;
    else {
      const a = this.time(w.between[0], [...wpath, "between", 0]);
      const b = this.time(w.between[1], [...wpath, "between", 1]);
      if (a && b && a.start > b.end) this.fail([...wpath, "between"], "from must not be after to");
    }
  }

  private where(filters: PropertyFilter[] | undefined, path: PathPart[]): void {
    filters?.forEach((f, i) => this.propertyFilter(f, [...path, "where", i]));
  }

  /** Property filters are typed by the property's JSON value, so the value's shape picks the type. */
  private propertyFilter(f: PropertyFilter, fpath: PathPart[]): void {
    const op = f.op as Op;
    const vpath = [...fpath, "value"];
    if (op === "is_empty" || op === "is_not_empty") {
      this.fail([...fpath, "op"], `"${op}" does not apply to event properties (use is_set or is_not_set)`);
      return;
    }
    if (isNoValueOp(op)) {
      if (f.value !== undefined) this.fail(vpath, `"${op}" takes no value`);
      return;
    }
    if (f.value === undefined) {
      this.fail(vpath, `"${op}" needs a value`);
      return;
    }
    const v = f.value;
    switch (op) {
      case "eq":
      case "neq":
        if (
          !(typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)))
        ) {
          this.fail(vpath, "expected a string, number or boolean");
        }
        return;
      case "in":
      case "not_in":
        if (
          !Array.isArray(v) ||
          v.length === 0 ||
          !v.every((x) => typeof x === "string" || (typeof x === "number" && Number.isFinite(x)))
        ) {
          this.fail(vpath, "expected a non-empty array of strings or numbers");
        }
        return;
      case "contains":
      case "not_contains":
      case "starts_with":
      case "ends_with":
        if (typeof v !== "string") this.fail(vpath, "expected a string");
        return;
      case "gt":
      case "gte":
      case "lt":
      case "lte":
        if (typeof v !== "number" || !Number.isFinite(v)) this.fail(vpath, "expected a number");
        return;
      case "between":
        if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number"))
          this.numberPair(v, vpath);
        else this.dateValue("between", v, vpath);
        return;
      case "contains_any":
      case "contains_all":
      case "contains_none":
        this.stringArray(v, vpath);
        return;
      default:
        if ((DATE_OPS as readonly string[]).includes(op)) {
          this.dateValue(op, v, vpath);
          return;
        }
        this.fail([...fpath, "op"], `"${op}" does not apply to event properties`);
    }
  }

  private event(n: EventNode, path: PathPart[]): void {
    this.where(n.where, path);
    if (n.window) this.window(n.window, [...path, "window"]);
    const fn = n.measure?.fn ?? "count";
    const mpath = [...path, "measure"];
    const needsProperty =
      fn === "distinct" ||
      fn === "sum" ||
      fn === "avg" ||
      fn === "min" ||
      fn === "max" ||
      fn === "most_frequent";
    if (needsProperty && !n.measure?.property) this.fail([...mpath, "property"], `"${fn}" needs a property`);
    if (!needsProperty && n.measure?.property !== undefined) {
      this.fail([...mpath, "property"], `"${fn}" takes no property`);
    }
    if (n.op === undefined) {
      if (fn !== "count") this.fail([...path, "op"], `an operator is needed with measure "${fn}"`);
      else if (n.value !== undefined) this.fail([...path, "op"], "an operator is needed with a value");
      return;
    }
    const op = n.op as Op;
    const type = measureType(fn);
    const allowed: readonly Op[] =
      type === "date"
        ? ["is_set", "is_not_set", ...DATE_OPS]
        : type === "string"
          ? ["is_set", "is_not_set", ...STRING_OPS]
          : ["is_set", "is_not_set", ...NUMBER_OPS];
    if (!allowed.includes(op)) {
      this.fail([...path, "op"], `"${op}" does not apply to measure "${fn}" (a ${type})`);
      return;
    }
    this.value(type, op, n.value, [...path, "value"]);
  }

  /** Rank and quintile conditions: a number or date measure compared with the workspace's. */
  private relative(n: EventNode, path: PathPart[]): void {
    this.where(n.where, path);
    if (n.window) this.window(n.window, [...path, "window"]);
    const fn = n.measure?.fn ?? "count";
    const mpath = [...path, "measure"];
    if (!(RELATIVE_MEASURES as readonly string[]).includes(fn)) {
      this.fail([...mpath, "fn"], `"${fn}" cannot be ranked (use ${RELATIVE_MEASURES.join(", ")})`);
      return;
    }
    const needsProperty = fn !== "count" && fn !== "first_at" && fn !== "last_at";
    if (needsProperty && !n.measure?.property) this.fail([...mpath, "property"], `"${fn}" needs a property`);
    if (!needsProperty && n.measure?.property !== undefined) {
      this.fail([...mpath, "property"], `"${fn}" takes no property`);
    }
    if (n.rank !== undefined) {
      if (n.score !== undefined) {
        this.fail([...path, "score"], 'a condition has "rank" or "score", not both');
        return;
      }
      if (n.op !== undefined || n.value !== undefined) {
        this.fail(
          [...path, n.op !== undefined ? "op" : "value"],
          "a rank condition takes no op or value: being in the top or bottom percent is the test",
        );
      }
      const p = n.rank.percent;
      if (!Number.isFinite(p) || p <= 0 || p > 100 || Math.abs(p * 100 - Math.round(p * 100)) > 1e-9) {
        this.fail(
          [...path, "rank", "percent"],
          "expected a percentage above 0 and at most 100, with at most two decimals",
        );
      }
      return;
    }
    if (n.op === undefined) {
      this.fail([...path, "op"], "a quintile score needs an operator, as in >= 4");
      return;
    }
    const op = n.op as Op;
    const allowed: readonly Op[] = ["is_set", "is_not_set", ...NUMBER_OPS];
    if (!allowed.includes(op)) {
      this.fail([...path, "op"], `"${op}" does not apply to a quintile score (a number from 1 to 5)`);
      return;
    }
    this.value("number", op, n.value, [...path, "value"]);
  }

  private sequence(n: SequenceNode, path: PathPart[]): void {
    n.steps.forEach((s, i) => this.where(s.where, [...path, "steps", i]));
    // Negative steps close the sequence: each is "not after the last step done, up to
    // the deadline", so they need a step before them and no step done after them.
    if (n.steps[0]?.not) {
      this.fail(
        [...path, "steps", 0, "not"],
        "the first step cannot be negative: a sequence starts with something the contact did",
      );
    }
    const firstNegative = n.steps.findIndex((s, i) => i > 0 && s.not === true);
    if (firstNegative >= 0) {
      n.steps.forEach((s, i) => {
        if (i > firstNegative && s.not !== true) {
          this.fail(
            [...path, "steps", i],
            `a step the contact did cannot follow a negative step (steps[${firstNegative}]): negative steps come last`,
          );
        }
      });
    }
    this.duration(n.within, [...path, "within"]);
    if (n.window) this.window(n.window, [...path, "window"]);
  }
}
