/**
 * Rule → compiled tree. Each node compiles once, for one evaluation instant, into
 * closures over the columns it reads: `one(c)` answers for one contact (incremental
 * updates, explain), `all(mask)` for every contact of a bitset at once, visiting only
 * the contacts still in play (an `and` hands each child the survivors of the ones
 * before it, cheapest first).
 *
 * The nodes of each kind compile in compile/: bool.ts (and, or, not), field.ts
 * (fields, buckets, segment references), event.ts with where.ts, measure.ts and
 * moves.ts (event conditions), sequence.ts and negative-sequence.ts; leaf.ts holds
 * what every condition shares.
 */
import type { RuleNode } from "../rules/schema.ts";
import type { Bitset } from "./bitset.ts";
import { compileAnd, compileNot, compileOr } from "./compile/bool.ts";
import { compileEvent } from "./compile/event.ts";
import { compileBucket, compileField, compileSegment } from "./compile/field.ts";
import { compileSequence } from "./compile/sequence.ts";
import type { ContactTable } from "./contacts.ts";
import type { EventStore } from "./events.ts";
import type { ExplainNode } from "./types.ts";

export interface CompiledNode {
  readonly rule: RuleNode;
  /** Rough relative cost per contact, to order the children of `and`/`or`. */
  readonly cost: number;
  one(c: number): boolean;
  /**
   * The earliest instant after `env.now` at which `one(c)` can change with no new
   * data (+∞ if never). May be early, never late: live membership re-checks then.
   */
  next(c: number): number;
  /** The members of `mask` for which the node holds (a new bitset). */
  all(mask: Bitset): Bitset;
  explain(c: number): ExplainNode;
  /**
   * For conditions on a string field: the code column and a lookup table of the
   * node's answer per code (`lut[code + 1]`, negation folded in), so an `and` of
   * several can scan them in one pass.
   */
  codes?: () => CodeScan;
}

export interface CodeScan {
  codes: Int32Array;
  lut: Uint8Array;
}

export interface CompileEnv {
  /** The evaluation instant; compiled nodes read it on every call, so one tree serves every instant. */
  readonly now: number;
  readonly tz: string;
  readonly contacts: ContactTable;
  readonly events: EventStore;
  /** The compiled rule of a segment at the same instant. */
  segment(id: string): CompiledNode;
  /** All members of a segment at the same instant. */
  segmentBits(id: string): Bitset;
  /** Whether contact `c` is in a segment at the same instant. */
  member(id: string, c: number): boolean;
}

export function compile(rule: RuleNode, env: CompileEnv): CompiledNode {
  switch (rule.type) {
    case "and":
      return compileAnd(
        rule.conditions.map((c) => compile(c, env)),
        rule,
      );
    case "or":
      return compileOr(
        rule.conditions.map((c) => compile(c, env)),
        rule,
      );
    case "not":
      return compileNot(compile(rule.condition, env), rule);
    case "field":
      return compileField(rule, env);
    case "segment":
      return compileSegment(rule.segment, rule.op === "not_in", rule, env);
    case "event":
      return compileEvent(rule, env);
    case "sequence":
      return compileSequence(rule, env);
    case "bucket":
      return compileBucket(rule, env);
  }
}
