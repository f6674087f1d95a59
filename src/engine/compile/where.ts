/**
 * `where` filters on event properties: one predicate over the slots of an event
 * table, reading property columns that may appear after the rule compiled. Filters
 * relative to now register a `Mover` telling when a slot's answer can next change.
 */
import type { Op } from "../../rules/operators.ts";
import type { PropertyFilter } from "../../rules/schema.ts";
import { parseTimeValue } from "../../rules/time.ts";
import type { CompileEnv } from "../compile.ts";
import { CodeTable, normalize } from "../dictionary.ts";
import type { EventTable, PropColumn } from "../events.ts";
import { perInstant } from "../moving.ts";
import { dateTest, numberPredicate, splitNegation, stringPredicate } from "../predicates.ts";
import type { JsonValue } from "../types.ts";

/** A property column that may not exist yet when the rule is compiled. */
export class PropRef {
  private col: PropColumn | undefined;
  constructor(
    private readonly table: EventTable,
    private readonly path: string,
  ) {}
  get(): PropColumn | undefined {
    if (this.col === undefined) this.col = this.table.props.get(this.path);
    return this.col;
  }
}

/** Compiles `where` filters into one predicate over slots of `table`, or null when there are none. */
export function compileWhere(
  filters: PropertyFilter[] | undefined,
  table: EventTable,
  env: CompileEnv,
  movers: Mover[],
): ((slot: number) => boolean) | null {
  if (!filters || filters.length === 0) return null;
  const tests = filters.map((f) => compileFilter(f, table, env, movers));
  if (tests.length === 1) return tests[0];
  return (s) => {
    for (const t of tests) if (!t(s)) return false;
    return true;
  };
}

/** When a slot's answer to a time-relative filter can next change. */
export type Mover = (slot: number) => number;

function compileFilter(
  f: PropertyFilter,
  table: EventTable,
  env: CompileEnv,
  movers: Mover[],
): (slot: number) => boolean {
  const { pos, negate } = splitNegation(f.op);
  const positive = propertyTest(pos, f.value, new PropRef(table, f.property), env, movers);
  return negate ? (s) => !positive(s) : positive;
}

function elementEquals(e: JsonValue | undefined, v: string | number | boolean): boolean {
  if (typeof v === "string") return typeof e === "string" && normalize(e) === normalize(v);
  return e === v;
}

function propertyTest(
  op: Op,
  value: unknown,
  ref: PropRef,
  env: CompileEnv,
  movers: Mover[],
): (slot: number) => boolean {
  const dict = env.events.dict;
  const otherAt = (s: number): JsonValue | undefined => ref.get()?.other?.[s];
  switch (op) {
    case "is_set":
      return (s) => ref.get()?.isSet(s) ?? false;
    case "eq": {
      if (typeof value === "number") return (s) => ref.get()?.numAt(s) === value;
      if (typeof value === "boolean") return (s) => otherAt(s) === value;
      const v = normalize(value as string);
      return (s) => {
        const col = ref.get();
        return col !== undefined && col.strAt(s) >= 0 && col.strAt(s) === dict.lookup(v);
      };
    }
    case "in": {
      const nums = new Set((value as unknown[]).filter((x): x is number => typeof x === "number"));
      const strs = new Set(
        (value as unknown[]).filter((x): x is string => typeof x === "string").map(normalize),
      );
      const table = new CodeTable(dict, (s) => strs.has(s));
      return (s) => {
        const col = ref.get();
        if (col === undefined) return false;
        return nums.has(col.numAt(s)) || table.test(col.strAt(s));
      };
    }
    case "contains": {
      const v = value as string;
      const table = new CodeTable(dict, stringPredicate("contains", v));
      return (s) => {
        const col = ref.get();
        if (col === undefined) return false;
        if (table.test(col.strAt(s))) return true;
        const o = col.other?.[s];
        return Array.isArray(o) && o.some((e) => elementEquals(e, v));
      };
    }
    case "starts_with":
    case "ends_with": {
      const table = new CodeTable(dict, stringPredicate(op, value));
      return (s) => {
        const col = ref.get();
        return col !== undefined && table.test(col.strAt(s));
      };
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return numericProp(numberPredicate(op, value), ref);
    case "between":
      if (Array.isArray(value) && typeof value[0] === "number")
        return numericProp(numberPredicate(op, value), ref);
      return dateProp(op, value, ref, env, movers);
    case "contains_any":
    case "contains_all": {
      const vs = value as string[];
      const all = op === "contains_all";
      return (s) => {
        const o = otherAt(s);
        if (!Array.isArray(o)) return false;
        return all
          ? vs.every((v) => o.some((e) => elementEquals(e, v)))
          : vs.some((v) => o.some((e) => elementEquals(e, v)));
      };
    }
    default:
      return dateProp(op, value, ref, env, movers);
  }
}

function numericProp(p: (x: number) => boolean, ref: PropRef): (slot: number) => boolean {
  return (s) => {
    const col = ref.get();
    return col !== undefined && p(col.numAt(s));
  };
}

/** Date operators on a property read string values that parse as ISO dates or instants (cached per value). */
function dateProp(
  op: Op,
  value: unknown,
  ref: PropRef,
  env: CompileEnv,
  movers: Mover[],
): (slot: number) => boolean {
  const dict = env.events.dict;
  const dt = dateTest(op, value, env.tz);
  const p = perInstant(() => env.now, dt.at);
  const cache = new Map<number, number>();
  const timeOf = (code: number): number => {
    let t = cache.get(code);
    if (t === undefined) {
      try {
        t = parseTimeValue(dict.values[code].toUpperCase(), env.tz).start;
      } catch {
        t = Number.NaN;
      }
      cache.set(code, t);
    }
    return t;
  };
  const slotTime = (s: number): number => {
    const col = ref.get();
    const code = col === undefined ? -1 : col.strAt(s);
    return code >= 0 ? timeOf(code) : Number.NaN;
  };
  if (dt.moving) movers.push((s) => dt.next(slotTime(s), env.now));
  return (s) => p()(slotTime(s));
}
