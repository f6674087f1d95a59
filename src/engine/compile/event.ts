/**
 * Event conditions: an event type, optional `where` filters and window, and a measure
 * compared with a value (or, for rank and quintile conditions, with the rest of the
 * population: rank.ts). Whole-population selections of counts and aggregates use the
 * scans of scan.ts.
 */
import type { Op } from "../../rules/operators.ts";
import { type EventNode, measureType } from "../../rules/schema.ts";
import { Bitset } from "../bitset.ts";
import type { CompiledNode, CompileEnv } from "../compile.ts";
import { computedOrigin } from "../computed-origin.ts";
import { CodeTable, type Dictionary } from "../dictionary.ts";
import { perInstant, windowRange } from "../moving.ts";
import { dateTest, numberPredicate, splitNegation, stringPredicate } from "../predicates.ts";
import { compileRelative } from "../rank.ts";
import { selectAggregate, selectCount } from "../scan.ts";
import type { ExplainNode, JsonValue } from "../types.ts";
import { leaf } from "./leaf.ts";
import { compileMeasure, countRange, countTest } from "./measure.ts";
import { moversNext, windowNext } from "./moves.ts";
import { compileWhere, type Mover, PropRef } from "./where.ts";

export function compileEvent(rule: EventNode, env: CompileEnv): CompiledNode {
  const table = env.events.table(rule.event);
  const range = windowRange(rule.window, env.tz);
  const win = perInstant(
    () => env.now,
    (n) => range.at(n),
  );
  const movers: Mover[] = [];
  const where = compileWhere(rule.where, table, env, movers);
  const dict = env.events.dict;
  const measure = compileMeasure(rule, table, win, where, !range.moving && rule.window === undefined, dict);
  if (rule.rank !== undefined || rule.score !== undefined) {
    return compileRelative(rule, env, {
      table,
      win,
      where,
      measure,
      next: (c) => Math.min(windowNext(table, c, range, win, env.now), moversNext(table, c, movers)),
    });
  }
  const fn = rule.measure?.fn ?? "count";
  const type = measureType(fn);
  const isDate = type === "date";
  const op = rule.op ?? "gte";
  const value = rule.op === undefined ? 1 : rule.value;
  const { pos, negate } = splitNegation(op);
  const dt = isDate ? dateTest(pos, value, env.tz) : null;
  const datePred = dt ? perInstant(() => env.now, dt.at) : null;
  const codePred = type === "string" ? codePredicate(pos, value, dict) : null;
  const numPred = dt || codePred ? null : numberPredicate(pos, value);
  const p = (x: number): boolean => (datePred ? datePred()(x) : codePred ? codePred(x) : numPred!(x));
  const emptyValue = fn === "count" || fn === "distinct" || fn === "sum" ? 0 : Number.NaN;
  let test = (c: number) => (c >= table.len.length || table.len[c] === 0 ? p(emptyValue) : p(measure(c)));
  let select: ((mask: Bitset) => Bitset) | undefined;
  if (fn === "count" && where === null) {
    const [kmin, kmax] = countRange(pos, value as number | number[]);
    test = countTest(table, win, [kmin, kmax]);
    const min = Math.max(0, kmin);
    select = (mask) => {
      const [lo, hi] = win();
      return kmax < min ? new Bitset(mask.size) : selectCount(mask, table, lo, hi, min, kmax);
    };
  } else if ((fn === "sum" || fn === "avg" || fn === "min" || fn === "max") && where === null && numPred) {
    const ref = new PropRef(table, rule.measure!.property!);
    select = (mask) => {
      const [lo, hi] = win();
      return selectAggregate(mask, table, ref.get()?.num ?? undefined, lo, hi, fn, numPred);
    };
  }
  const next = (c: number): number => {
    let m = Math.min(windowNext(table, c, range, win, env.now), moversNext(table, c, movers));
    if (dt?.moving) m = Math.min(m, dt.next(measure(c), env.now));
    return m;
  };
  const origin = computedOrigin(rule);
  return leaf(rule, where ? 20 : 10, test, negate, origin ? explainComputed : explainEvent, select, next);
  function measured(c: number): JsonValue {
    const m = measure(c);
    if (Number.isNaN(m)) return null;
    return isDate ? new Date(m).toISOString() : type === "string" ? dict.values[m] : m;
  }
  /** A condition on a computed field explains as the field condition it was written as. */
  function explainComputed(c: number, result: boolean): ExplainNode {
    const { node, definition } = origin!;
    const e = {
      type: "field" as const,
      field: node.field,
      op: node.op,
      ...(node.value !== undefined ? { value: node.value } : {}),
      result,
      actual: measured(c),
      computed: definition,
    };
    return e;
  }
  function explainEvent(c: number, result: boolean): ExplainNode {
    const m = measure(c);
    return {
      type: "event",
      event: rule.event,
      ...(rule.where ? { where: rule.where } : {}),
      ...(rule.window ? { window: rule.window } : {}),
      measure: rule.measure ?? { fn: "count" },
      result,
      measured: Number.isNaN(m)
        ? null
        : isDate
          ? new Date(m).toISOString()
          : type === "string"
            ? dict.values[m]
            : m,
      needed: { op, ...(value !== undefined ? { value } : {}) },
    };
  }
}

/** A string operator on a dictionary code (NaN: missing, which no positive operator accepts). */
function codePredicate(op: Op, value: unknown, dict: Dictionary): (code: number) => boolean {
  if (op === "is_set") return (code) => !Number.isNaN(code);
  const table = new CodeTable(dict, stringPredicate(op, value));
  return (code) => !Number.isNaN(code) && table.test(code);
}
