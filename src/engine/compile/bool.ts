/**
 * `and` and `or` nodes. Children run cheapest first; an `and` hands each child only
 * the survivors of the ones before it, and scans several string-field conditions in
 * one pass over their code columns; an `or` asks each child only about the contacts
 * not yet matched.
 */
import type { RuleNode } from "../../rules/schema.ts";
import { Bitset } from "../bitset.ts";
import type { CompiledNode } from "../compile.ts";

function minNext(children: CompiledNode[], c: number): number {
  let m = Number.POSITIVE_INFINITY;
  for (const ch of children) {
    const n = ch.next(c);
    if (n < m) m = n;
  }
  return m;
}

function byCost(children: CompiledNode[]): CompiledNode[] {
  return [...children].sort((a, b) => a.cost - b.cost);
}

export function compileAnd(children: CompiledNode[], rule: RuleNode): CompiledNode {
  const ordered = byCost(children);
  return {
    rule,
    cost: ordered.reduce((s, c) => s + c.cost, 0),
    one: (c) => {
      for (const ch of ordered) if (!ch.one(c)) return false;
      return true;
    },
    next: (c) => minNext(ordered, c),
    all: (mask) => {
      let cur = mask;
      const scans = ordered.filter((ch) => ch.codes !== undefined);
      if (scans.length >= 2)
        cur = Bitset.selectAllCodes(
          mask,
          scans.map((ch) => ch.codes!()),
        );
      for (const ch of ordered) {
        if (scans.length >= 2 && ch.codes !== undefined) continue;
        if (cur.isEmpty()) break;
        cur = ch.all(cur);
      }
      return cur === mask ? mask.clone() : cur;
    },
    explain: (c) => {
      const conditions = children.map((ch) => ch.explain(c));
      return { type: "and", result: conditions.every((e) => e.result), conditions };
    },
  };
}

export function compileOr(children: CompiledNode[], rule: RuleNode): CompiledNode {
  const ordered = byCost(children);
  return {
    rule,
    cost: ordered.reduce((s, c) => s + c.cost, 0),
    one: (c) => {
      for (const ch of ordered) if (ch.one(c)) return true;
      return false;
    },
    next: (c) => minNext(ordered, c),
    all: (mask) => {
      const out = new Bitset(mask.size);
      const rest = mask.clone();
      for (const ch of ordered) {
        if (rest.isEmpty()) break;
        const hit = ch.all(rest);
        out.or(hit);
        rest.andNot(hit);
      }
      return out;
    },
    explain: (c) => {
      const conditions = children.map((ch) => ch.explain(c));
      return { type: "or", result: conditions.some((e) => e.result), conditions };
    },
  };
}

export function compileNot(child: CompiledNode, rule: RuleNode): CompiledNode {
  return {
    rule,
    cost: child.cost,
    one: (c) => !child.one(c),
    next: (c) => child.next(c),
    all: (mask) => mask.clone().andNot(child.all(mask)),
    explain: (c) => {
      const e = child.explain(c);
      return { type: "not", result: !e.result, condition: e };
    },
  };
}
