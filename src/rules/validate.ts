/**
 * Validation of a rule against a workspace: structure (schema.ts), then meaning —
 * fields exist, operators fit their types, values have the right shape, durations and
 * dates are real, segment references exist and form no cycle. Every problem is
 * reported with the path of the bad part. This file walks the rule; the checks of values,
 * dates, windows and property filters are in validate-values.ts, the references between
 * segments in segment-refs.ts.
 */
import type { z } from "zod";
import { BUCKET_OPS } from "./bucket.ts";
import { formatPath, type PathPart, type RuleIssue, RuleValidationError } from "./errors.ts";
import type { FieldRegistry, FieldType } from "./fields.ts";
import { DATE_OPS, NUMBER_OPS, OPS_BY_TYPE, type Op, STRING_OPS } from "./operators.ts";
import { RELATIVE_MEASURES } from "./rank.ts";
import {
  type BucketNode,
  type EventNode,
  measureType,
  type RuleNode,
  RuleSchema,
  type SequenceNode,
} from "./schema.ts";
import { findCycle } from "./segment-refs.ts";
import { ValueChecker } from "./validate-values.ts";

export { findCycle, segmentRefs } from "./segment-refs.ts";

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

class Checker extends ValueChecker {
  nodes = 0;
  constructor(
    private readonly ctx: ValidationContext,
    root: string,
    issues: RuleIssue[],
  ) {
    super(ctx.timeZone, root, issues);
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
