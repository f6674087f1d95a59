/**
 * The plumbing every condition shares: a positive per-contact test wrapped into a
 * compiled node, negated when the operator is negative, with a whole-bitset selection
 * (by default the test over every contact of the mask) and a next instant.
 */
import type { RuleNode } from "../../rules/schema.ts";
import { Bitset } from "../bitset.ts";
import type { CompiledNode } from "../compile.ts";
import type { ExplainNode } from "../types.ts";

export const NEVER = (): number => Number.POSITIVE_INFINITY;

/** Wraps a positive per-contact test into a node, negating when the operator is negative. */
export function leaf(
  rule: RuleNode,
  cost: number,
  test: (c: number) => boolean,
  negate: boolean,
  explain: (c: number, result: boolean) => ExplainNode,
  selectPositive: (mask: Bitset) => Bitset = (mask) => Bitset.select(mask, test),
  next: (c: number) => number = NEVER,
): CompiledNode {
  const one = negate ? (c: number) => !test(c) : test;
  return {
    rule,
    cost,
    one,
    next,
    all: negate ? (mask) => mask.clone().andNot(selectPositive(mask)) : selectPositive,
    explain: (c) => explain(c, one(c)),
  };
}
