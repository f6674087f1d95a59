/**
 * Conditions on the contact itself: fields (one typed column each, string fields as
 * dictionary codes with an answer table per code), buckets, and segment references.
 */
import { BUCKET_CODES } from "../../rules/bucket.ts";
import type { Op } from "../../rules/operators.ts";
import type { BucketNode, FieldNode, RuleNode } from "../../rules/schema.ts";
import { Bitset } from "../bitset.ts";
import { bucketReader } from "../buckets.ts";
import type { CodeScan, CompiledNode, CompileEnv } from "../compile.ts";
import { CodeTable, normalize } from "../dictionary.ts";
import { perInstant } from "../moving.ts";
import { dateTest, numberPredicate, splitNegation, stringPredicate } from "../predicates.ts";
import type { ExplainNode } from "../types.ts";
import { leaf, NEVER } from "./leaf.ts";

export function compileField(rule: FieldNode, env: CompileEnv): CompiledNode {
  const col = env.contacts.columns.get(rule.field);
  if (!col) throw new Error(`unknown field "${rule.field}"`);
  const { pos, negate } = splitNegation(rule.op);
  const explain = (c: number, result: boolean): ExplainNode => ({
    type: "field",
    field: rule.field,
    op: rule.op,
    ...(rule.value !== undefined ? { value: rule.value } : {}),
    result,
    actual: env.contacts.valueOf(c, rule.field),
  });
  let test: (c: number) => boolean;
  let select: ((mask: Bitset) => Bitset) | undefined;
  let next: (c: number) => number = NEVER;
  let codes: (() => CodeScan) | undefined;
  switch (col.kind) {
    case "string": {
      let positiveLut: () => Uint8Array;
      if (pos === "is_set") {
        test = (c) => col.codes[c] >= 0;
        positiveLut = () => {
          const lut = new Uint8Array(col.dict.size + 1).fill(1);
          lut[0] = 0;
          return lut;
        };
      } else {
        const table = new CodeTable(col.dict, stringPredicate(pos, rule.value));
        test = (c) => table.test(col.codes[c]);
        positiveLut = () => table.snapshot();
      }
      select = (mask) => Bitset.selectCodes(mask, col.codes, positiveLut());
      codes = () => {
        const lut = positiveLut();
        if (negate) for (let k = 0; k < lut.length; k++) lut[k] ^= 1;
        return { codes: col.codes, lut };
      };
      break;
    }
    case "number": {
      const p = numberPredicate(pos, rule.value);
      test = (c) => p(col.values[c]);
      break;
    }
    case "date": {
      const dt = dateTest(pos, rule.value, env.tz);
      const p = perInstant(() => env.now, dt.at);
      test = (c) => p()(col.values[c]);
      const range = dt.range;
      if (range) {
        select = (mask) => {
          const [lo, hi] = range.at(env.now);
          return Bitset.selectRange(mask, col.values, lo, hi);
        };
      }
      // Calendar tests (anniversaries, weekdays) have a loop of their own over the column.
      const selectAt = dt.selectAt;
      if (selectAt) select = (mask) => selectAt(env.now, mask, col.values, col.dayCodes(env.tz));
      if (dt.moving) next = (c) => dt.next(col.values[c], env.now);
      break;
    }
    case "boolean": {
      const [lo, hi] = pos === "is_set" ? [0, 1] : rule.value === true ? [1, 1] : [0, 0];
      test = (c) => col.values[c] >= lo && col.values[c] <= hi;
      select = (mask) => Bitset.selectRange(mask, col.values, lo, hi);
      break;
    }
    case "string_list": {
      test = listTest(pos, rule.value, col.lists, (s) => col.dict.lookup(normalize(s)));
      break;
    }
  }
  const node = leaf(rule, 1, test, negate, explain, select, next);
  return codes ? { ...node, codes } : node;
}

/** The answer per bucket value is a table of 10000 entries, so a contact costs one lookup. */
export function compileBucket(rule: BucketNode, env: CompileEnv): CompiledNode {
  const { pos, negate } = splitNegation(rule.op);
  const p = numberPredicate(pos, rule.value);
  const lut = new Uint8Array(BUCKET_CODES);
  for (let k = 0; k < BUCKET_CODES; k++) lut[k] = p(k / 100) ? 1 : 0;
  const code = bucketReader(env.contacts, rule.seed);
  return leaf(
    rule,
    1,
    (c) => lut[code(c)] === 1,
    negate,
    (c, result) => ({
      type: "bucket",
      seed: rule.seed,
      op: rule.op,
      ...(rule.value !== undefined ? { value: rule.value } : {}),
      result,
      actual: code(c) / 100,
    }),
  );
}

function listTest(
  op: Op,
  value: unknown,
  lists: (Int32Array | null)[],
  code: (s: string) => number,
): (c: number) => boolean {
  switch (op) {
    case "is_set":
    case "is_not_empty":
      return (c) => {
        const l = lists[c];
        return l !== null && l !== undefined && l.length > 0;
      };
    case "contains": {
      const v = value as string;
      return (c) => {
        return lists[c]?.includes(code(v)) === true;
      };
    }
    case "contains_any": {
      const vs = value as string[];
      return (c) => {
        const l = lists[c];
        if (l === null || l === undefined) return false;
        for (const v of vs) if (l.includes(code(v))) return true;
        return false;
      };
    }
    case "contains_all": {
      const vs = value as string[];
      return (c) => {
        const l = lists[c];
        if (l === null || l === undefined) return false;
        for (const v of vs) if (!l.includes(code(v))) return false;
        return true;
      };
    }
    default:
      throw new Error(`operator "${op}" does not apply to lists`);
  }
}

export function compileSegment(id: string, negate: boolean, rule: RuleNode, env: CompileEnv): CompiledNode {
  const explain = (result: boolean): ExplainNode => ({
    type: "segment",
    op: negate ? "not_in" : "in",
    segment: id,
    result,
  });
  const one = (c: number) => env.member(id, c) !== negate;
  return {
    rule,
    cost: 0.5,
    one,
    next: (c) => env.segment(id).next(c),
    all: (mask) => {
      const bits = mask.clone();
      return negate ? bits.andNot(env.segmentBits(id)) : bits.and(env.segmentBits(id));
    },
    explain: (c) => explain(one(c)),
  };
}
