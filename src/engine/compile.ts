/**
 * Rule → compiled tree. Each node compiles once, for one evaluation instant, into
 * closures over the columns it reads: `one(c)` answers for one contact (incremental
 * updates, explain), `all(mask)` for every contact of a bitset at once, visiting only
 * the contacts still in play (an `and` hands each child the survivors of the ones
 * before it, cheapest first).
 *
 * One file (about 1,100 lines) because its closures are the engine's hot code: split
 * into a module per node kind, the same data took 10–20 % longer to advance a day
 * (docs/architecture.md).
 */
import { BUCKET_CODES } from "../rules/bucket.ts";
import type { Op } from "../rules/operators.ts";
import type {
  BucketNode,
  EventNode,
  FieldNode,
  PropertyFilter,
  RuleNode,
  SequenceNode,
} from "../rules/schema.ts";
import { measureType } from "../rules/schema.ts";
import { type Duration, fixedLength, parseDuration, parseTimeValue, shift } from "../rules/time.ts";
import { Bitset } from "./bitset.ts";
import { bucketReader } from "./buckets.ts";
import { computedOrigin } from "./computed-origin.ts";
import type { ContactTable } from "./contacts.ts";
import { CodeTable, type Dictionary, normalize } from "./dictionary.ts";
import { type EventStore, type EventTable, lowerBound, type PropColumn, upperBound } from "./events.ts";
import { type MovingRange, perInstant, windowRange } from "./moving.ts";
import { dateTest, numberPredicate, splitNegation, stringPredicate } from "./predicates.ts";
import { compileRelative } from "./rank.ts";
import type { RankRegistry } from "./rank-index.ts";
import type { Snapshot } from "./rank-scratch.ts";
import { selectAggregate, selectCount } from "./scan.ts";
import { selectUnfollowed, selectWithEventIn } from "./sequence-scan.ts";
import type { ExplainNode, JsonValue } from "./types.ts";

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
   * several can scan them in one pass; null when `all` answers from the column's
   * bitmaps (postings.ts), which costs less than any scan.
   */
  codes?: () => CodeScan | null;
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
  /**
   * The maintained rank and quintile indexes rank conditions read (the engine's live
   * environment), or null: they compute their population from scratch at `now`.
   */
  readonly ranks: RankRegistry | null;
  /**
   * Rank cuts found over a larger population than this engine's (the partitioned
   * engine's coordinator, over every worker), by `rankCutKey`; they replace the cut of
   * this engine's own contacts.
   */
  readonly rankCuts?: ReadonlyMap<string, number>;
  /**
   * When set, each rank condition computed from scratch adds its population's values
   * here, by `relativeKey`, and selects no cut of its own (one is chosen elsewhere).
   */
  readonly rankPopulations?: Map<string, Float64Array>;
  /**
   * When set, the from-scratch values of every rank condition, by `relativeKey`, shared
   * by every node compiled in this environment: only for an environment whose `now`
   * never moves (one query's), so that its populations round and its evaluation read
   * the values computed once.
   */
  readonly rankSnapshots?: Map<string, Snapshot>;
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
    case "not": {
      const child = compile(rule.condition, env);
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

function minNext(children: CompiledNode[], c: number): number {
  let m = Number.POSITIVE_INFINITY;
  for (const ch of children) {
    const n = ch.next(c);
    if (n < m) m = n;
  }
  return m;
}

const NEVER = (): number => Number.POSITIVE_INFINITY;

function byCost(children: CompiledNode[]): CompiledNode[] {
  return [...children].sort((a, b) => a.cost - b.cost);
}

function compileAnd(children: CompiledNode[], rule: RuleNode): CompiledNode {
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
      // Conditions answered from bitmaps first, as they cost least; then those that scan
      // a string column, together in one pass when there are several; then the rest.
      const scans = new Map<CompiledNode, CodeScan>();
      const indexed: CompiledNode[] = [];
      for (const ch of ordered) {
        if (ch.codes === undefined) continue;
        const scan = ch.codes();
        if (scan === null) indexed.push(ch);
        else scans.set(ch, scan);
      }
      let cur = mask;
      for (const ch of indexed) {
        if (cur.isEmpty()) break;
        cur = ch.all(cur);
      }
      if (scans.size >= 2 && !cur.isEmpty()) cur = Bitset.selectAllCodes(cur, [...scans.values()]);
      for (const ch of ordered) {
        if (indexed.includes(ch) || (scans.size >= 2 && scans.has(ch))) continue;
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

function compileOr(children: CompiledNode[], rule: RuleNode): CompiledNode {
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

/** Wraps a positive per-contact test into a node, negating when the operator is negative. */
function leaf(
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

function compileField(rule: FieldNode, env: CompileEnv): CompiledNode {
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
  let codes: (() => CodeScan | null) | undefined;
  switch (col.kind) {
    case "string": {
      let makeLut: () => Uint8Array;
      if (pos === "is_set") {
        test = (c) => col.codes[c] >= 0;
        makeLut = () => {
          const lut = new Uint8Array(col.dict.size + 1).fill(1);
          lut[0] = 0;
          return lut;
        };
      } else {
        const table = new CodeTable(col.dict, stringPredicate(pos, rule.value));
        test = (c) => table.test(col.codes[c]);
        makeLut = () => table.snapshot();
      }
      // Made again only when the dictionary grew: a value's answer never changes, and an
      // `and` asks for the table once to choose bitmaps or a scan and once to answer (a
      // million entries for an e-mail column). Read only, never written.
      let made: Uint8Array | null = null;
      const positiveLut = (): Uint8Array => {
        if (made === null || made.length !== col.dict.size + 1) made = makeLut();
        return made;
      };
      select = (mask) => {
        const lut = positiveLut();
        return (
          col.postings.select(mask, lut, col.dict.size, col.codes) ?? Bitset.selectCodes(mask, col.codes, lut)
        );
      };
      codes = () => {
        const lut = positiveLut();
        if (col.postings.answers(lut, col.dict.size)) return null;
        return { codes: col.codes, lut: negate ? lut.map((x) => x ^ 1) : lut };
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
function compileBucket(rule: BucketNode, env: CompileEnv): CompiledNode {
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

function compileSegment(id: string, negate: boolean, rule: RuleNode, env: CompileEnv): CompiledNode {
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

/** A property column that may not exist yet when the rule is compiled. */
class PropRef {
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
function compileWhere(
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
type Mover = (slot: number) => number;

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

/**
 * The measured value of an event condition for one contact; NaN when missing. A
 * `most_frequent` measure is the dictionary code of the value.
 */
type Measure = (c: number) => number;

function compileMeasure(
  rule: EventNode,
  table: EventTable,
  win: () => [number, number],
  where: ((slot: number) => boolean) | null,
  unbounded: boolean,
  dict: Dictionary,
): Measure {
  const fn = rule.measure?.fn ?? "count";
  /** The contact's slots inside the window, as [a, b). */
  const bounds = (c: number): [number, number] => {
    if (c >= table.len.length) return [0, 0];
    const l = table.len[c];
    const s = table.start[c];
    if (l === 0 || unbounded) return [s, s + l];
    const [lo, hi] = win();
    const a = lowerBound(table.times, s, s + l, lo);
    return [a, upperBound(table.times, a, s + l, hi)];
  };
  if (fn === "count" && where === null) {
    if (unbounded) return (c) => (c < table.len.length ? table.len[c] : 0);
    // The hot path of most rules: two binary searches, no allocation.
    return (c) => {
      if (c >= table.len.length) return 0;
      const l = table.len[c];
      if (l === 0) return 0;
      const s = table.start[c];
      const times = table.times;
      const [lo, hi] = win();
      const a = lowerBound(times, s, s + l, lo);
      return upperBound(times, a, s + l, hi) - a;
    };
  }
  const prop = rule.measure?.property;
  const ref = prop !== undefined ? new PropRef(table, prop) : null;
  switch (fn) {
    case "count":
      return (c) => {
        const [a, b] = bounds(c);
        let n = 0;
        for (let s = a; s < b; s++) if (where!(s)) n++;
        return n;
      };
    case "first_at":
      return (c) => {
        const [a, b] = bounds(c);
        for (let s = a; s < b; s++) if (where === null || where(s)) return table.times[s];
        return Number.NaN;
      };
    case "last_at":
      return (c) => {
        const [a, b] = bounds(c);
        for (let s = b - 1; s >= a; s--) if (where === null || where(s)) return table.times[s];
        return Number.NaN;
      };
    case "most_frequent":
      return (c) => mostFrequent(table, ref!.get(), bounds(c), where, dict);
    case "distinct":
      return (c) => {
        const [a, b] = bounds(c);
        const col = ref!.get();
        if (col === undefined || a === b) return 0;
        const seen = new Set<string | number>();
        for (let s = a; s < b; s++) {
          if (where !== null && !where(s)) continue;
          if (!Number.isNaN(col.numAt(s))) seen.add(col.numAt(s));
          else if (col.strAt(s) >= 0) seen.add(`s${col.strAt(s)}`);
          else {
            const o = col.other?.[s];
            if (o !== undefined && o !== null) seen.add(`o${JSON.stringify(o)}`);
          }
        }
        return seen.size;
      };
    default: {
      // sum, avg, min, max over number values only
      return (c) => {
        const [a, b] = bounds(c);
        const col = ref!.get();
        let n = 0;
        let sum = 0;
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        if (col?.num) {
          const num = col.num;
          for (let s = a; s < b; s++) {
            const x = num[s];
            if (Number.isNaN(x) || (where !== null && !where(s))) continue;
            n++;
            sum += x;
            if (x < min) min = x;
            if (x > max) max = x;
          }
        }
        if (fn === "sum") return sum;
        if (n === 0) return Number.NaN;
        return fn === "avg" ? sum / n : fn === "min" ? min : max;
      };
    }
  }
}

/**
 * The code of the non-blank string value held by the most counted events in slots
 * [a, b); ties go to the value whose latest event is latest, then to the smallest
 * value (docs/rules.md, most_frequent). NaN when no counted event has one.
 */
function mostFrequent(
  table: EventTable,
  col: PropColumn | undefined,
  [a, b]: [number, number],
  where: ((slot: number) => boolean) | null,
  dict: Dictionary,
): number {
  const str = col?.str;
  if (!str || a === b) return Number.NaN;
  const counts = new Map<number, number>();
  const latest = new Map<number, number>();
  for (let s = a; s < b; s++) {
    const code = str[s];
    if (code < 0 || dict.values[code] === "" || (where !== null && !where(s))) continue;
    counts.set(code, (counts.get(code) ?? 0) + 1);
    const t = table.times[s];
    const l = latest.get(code);
    if (l === undefined || t > l) latest.set(code, t);
  }
  let best = Number.NaN;
  let bestN = 0;
  let bestT = Number.NEGATIVE_INFINITY;
  for (const [code, n] of counts) {
    const t = latest.get(code)!;
    if (n > bestN || (n === bestN && (t > bestT || (t === bestT && dict.values[code] < dict.values[best])))) {
      best = code;
      bestN = n;
      bestT = t;
    }
  }
  return best;
}

/** The counts [kmin, kmax] a numeric operator accepts, counts being whole numbers. */
function countRange(op: Op, value: number | number[]): [number, number] {
  const v = value as number;
  switch (op) {
    case "eq":
      return [Math.ceil(v), Math.floor(v)];
    case "gt":
      return [Math.floor(v) + 1, Number.POSITIVE_INFINITY];
    case "gte":
      return [Math.ceil(v), Number.POSITIVE_INFINITY];
    case "lt":
      return [0, Math.ceil(v) - 1];
    case "lte":
      return [0, Math.floor(v)];
    case "between": {
      const [a, b] = value as number[];
      return [Math.ceil(a), Math.floor(b)];
    }
    default:
      return [0, Number.POSITIVE_INFINITY];
  }
}

/**
 * "Did X between lo and hi, at least kmin and at most kmax times", without counting:
 * in a block sorted by time whose slots up to `end` are all ≤ hi, the count reaches k
 * exactly when the k-th latest of them is ≥ lo. With the usual `in_last` window, `end`
 * is the block's end and the test is one or two array reads.
 */
function countTest(
  table: EventTable,
  win: () => [number, number],
  [kmin, kmax]: [number, number],
): (c: number) => boolean {
  const min = Math.max(0, kmin);
  if (kmax < min) return () => false;
  const emptyOk = min === 0;
  return (c) => {
    if (c >= table.len.length) return emptyOk;
    const l = table.len[c];
    if (l < min) return false;
    if (l === 0) return emptyOk;
    const [lo, hi] = win();
    const s = table.start[c];
    const times = table.times;
    let end = s + l;
    if (times[end - 1] > hi) end = upperBound(times, s, end, hi);
    if (min > 0) {
      const i = end - min;
      if (i < s || times[i] < lo) return false;
    }
    if (kmax !== Number.POSITIVE_INFINITY) {
      const j = end - kmax - 1;
      if (j >= s && times[j] >= lo) return false;
    }
    return true;
  };
}

/**
 * When the contact's events of `table` can next move in or out of the window: the
 * oldest event inside leaves first, the earliest event above it enters first.
 */
function windowNext(
  table: EventTable,
  c: number,
  range: MovingRange,
  win: () => [number, number],
  now: number,
): number {
  if (!range.moving || c >= table.len.length || table.len[c] === 0) return Number.POSITIVE_INFINITY;
  const s = table.start[c];
  const e = s + table.len[c];
  const [lo, hi] = win();
  const a = lowerBound(table.times, s, e, lo);
  const b = upperBound(table.times, a, e, hi);
  let m = Number.POSITIVE_INFINITY;
  if (a < b) m = range.nextChange(table.times[a], now);
  if (b < e) m = Math.min(m, range.nextChange(table.times[b], now));
  return m;
}

/** The earliest change of any time-relative `where` filter over the contact's events. */
function moversNext(table: EventTable, c: number, movers: Mover[]): number {
  if (movers.length === 0 || c >= table.len.length) return Number.POSITIVE_INFINITY;
  let m = Number.POSITIVE_INFINITY;
  const s = table.start[c];
  for (let k = s; k < s + table.len[c]; k++) for (const mv of movers) m = Math.min(m, mv(k));
  return m;
}

function compileEvent(rule: EventNode, env: CompileEnv): CompiledNode {
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

function compileSequence(rule: SequenceNode, env: CompileEnv): CompiledNode {
  const movers: Mover[][] = [];
  const steps = rule.steps.map((s) => {
    const table = env.events.table(s.event);
    const m: Mover[] = [];
    movers.push(m);
    return { table, where: compileWhere(s.where, table, env, m) };
  });
  const range = windowRange(rule.window, env.tz);
  const win = perInstant(
    () => env.now,
    (n) => range.at(n),
  );
  const within = parseDuration(rule.within);
  if (rule.steps.some((s) => s.not === true)) {
    return compileNegativeSequence(rule, env, steps, movers, range, win, within);
  }
  /** Time the first run of the steps completes inside `within`, or NaN. */
  const completion = (c: number): number => {
    const first = steps[0];
    const t0 = first.table;
    if (c >= t0.len.length || t0.len[c] === 0) return Number.NaN;
    const [lo, hi] = win();
    const s0 = t0.start[c];
    const e0 = s0 + t0.len[c];
    for (let i = lowerBound(t0.times, s0, e0, lo); i < e0; i++) {
      const tStart = t0.times[i];
      if (tStart > hi) break;
      if (first.where !== null && !first.where(i)) continue;
      // Greedy: the earliest later match of each step gives the earliest completion from this start.
      let prev = tStart;
      let ok = true;
      for (let k = 1; k < steps.length; k++) {
        const { table, where } = steps[k];
        if (c >= table.len.length) return Number.NaN;
        const s = table.start[c];
        const e = s + table.len[c];
        let j = upperBound(table.times, s, e, prev);
        while (j < e && table.times[j] <= hi && where !== null && !where(j)) j++;
        if (j >= e || table.times[j] > hi) {
          ok = false;
          break;
        }
        prev = table.times[j];
      }
      // No later start can do better once a step has no match after an earlier start.
      if (!ok) return Number.NaN;
      if (prev <= shift(tStart, within, 1, env.tz)) return prev;
    }
    return Number.NaN;
  };
  const next = (c: number): number => {
    let m = Number.POSITIVE_INFINITY;
    steps.forEach((st, k) => {
      m = Math.min(m, windowNext(st.table, c, range, win, env.now), moversNext(st.table, c, movers[k]));
    });
    return m;
  };
  const test = (c: number): boolean => !Number.isNaN(completion(c));
  return leaf(
    rule,
    30,
    test,
    false,
    (c, result) => {
      const t = completion(c);
      return {
        type: "sequence",
        steps: rule.steps,
        within: rule.within,
        ...(rule.window ? { window: rule.window } : {}),
        result,
        completed_at: Number.isNaN(t) ? null : new Date(t).toISOString(),
      };
    },
    (mask) => {
      const [lo, hi] = win();
      return selectWithEventIn(mask, steps[0].table, lo, hi, test);
    },
    next,
  );
}

interface SequenceStepPlan {
  table: EventTable;
  where: ((slot: number) => boolean) | null;
}

/** The first slot of `table` for contact `c` in (after, until] passing `where`, or -1. */
function firstBetween(st: SequenceStepPlan, c: number, after: number, until: number): number {
  const { table, where } = st;
  // The latest event first: most contacts have none after `after`, and it is one load.
  if (c >= table.len.length || !(table.latest[c] > after)) return -1;
  const s = table.start[c];
  const e = s + table.len[c];
  for (let j = upperBound(table.times, s, e, after); j < e && table.times[j] <= until; j++) {
    if (where === null || where(j)) return j;
  }
  return -1;
}

/**
 * A sequence whose last steps are negative ("cart_added then not order_placed within
 * 1h"). A run is a start event of the first step, the later steps done (strictly
 * increasing instants, the last one done no later than the deadline = start + within,
 * every one inside the window) and no event of a negative step in (last done, deadline].
 * It holds at `now` when some run's deadline is ≤ now: the contact enters at the
 * deadline itself, and an event after the deadline changes nothing.
 *
 * For one start the middle steps are taken as early as possible and the last done step
 * as late as possible: that leaves the most room for the last one and the shortest
 * span in which a negative event cancels the run.
 */
function compileNegativeSequence(
  rule: SequenceNode,
  env: CompileEnv,
  plans: SequenceStepPlan[],
  movers: Mover[][],
  range: MovingRange,
  win: () => [number, number],
  within: Duration,
): CompiledNode {
  const done = plans.filter((_, k) => rule.steps[k].not !== true);
  const absent = plans.filter((_, k) => rule.steps[k].not === true);
  const doneTables = [...new Set(done.map((p) => p.table))];
  const first = done[0];
  const lastDone = done[done.length - 1];
  // "A, then not B within a fixed length", unfiltered, has a whole-population loop of its own.
  const fixedWithin = fixedLength(within, env.tz);
  const unfollowed =
    done.length === 1 &&
    absent.length === 1 &&
    first.where === null &&
    absent[0].where === null &&
    fixedWithin > 0
      ? absent[0].table
      : null;

  /** The deadline of the first run that holds at `now` with the window [lo, hi], or NaN. */
  const run = (c: number, now: number, lo: number, hi: number): number => {
    const t0 = first.table;
    if (c >= t0.len.length || t0.len[c] === 0) return Number.NaN;
    const s0 = t0.start[c];
    const e0 = s0 + t0.len[c];
    for (let i = lowerBound(t0.times, s0, e0, lo); i < e0; i++) {
      const tStart = t0.times[i];
      if (tStart > hi) break;
      if (first.where !== null && !first.where(i)) continue;
      const deadline = shift(tStart, within, 1, env.tz);
      // Deadlines only grow with the start: no later start is due either.
      if (deadline > now) return Number.NaN;
      const limit = Math.min(deadline, hi);
      let prev = tStart;
      let ok = true;
      for (let k = 1; k < done.length - 1; k++) {
        const j = firstBetween(done[k], c, prev, hi);
        // No match at all after an earlier start: none after a later one either.
        if (j < 0) return Number.NaN;
        prev = done[k].table.times[j];
        if (prev > limit) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      let tLast = tStart;
      if (done.length > 1) {
        const { table, where } = lastDone;
        if (c >= table.len.length) return Number.NaN;
        const s = table.start[c];
        let j = upperBound(table.times, s, s + table.len[c], limit) - 1;
        while (j >= s && table.times[j] > prev && where !== null && !where(j)) j--;
        if (j < s || table.times[j] <= prev) continue;
        tLast = table.times[j];
      }
      let cancelled = false;
      for (let k = 0; k < absent.length && !cancelled; k++)
        cancelled = firstBetween(absent[k], c, tLast, deadline) >= 0;
      if (!cancelled) return deadline;
    }
    return Number.NaN;
  };

  const holdsAt = (c: number): number => {
    const [lo, hi] = win();
    return run(c, env.now, lo, hi);
  };

  /** The start events' deadlines after `now`, earliest first (where filters applied). */
  const deadlinesAfter = (c: number, now: number): number[] => {
    const t0 = first.table;
    if (c >= t0.len.length) return [];
    const s0 = t0.start[c];
    const out: number[] = [];
    for (let i = s0 + t0.len[c] - 1; i >= s0; i--) {
      const d = shift(t0.times[i], within, 1, env.tz);
      if (d <= now) break;
      if (first.where === null || first.where(i)) out.push(d);
    }
    return out.reverse();
  };

  /** The earliest deadline after now at which the sequence holds with the events known now. */
  const pendingUntil = (c: number): number => {
    for (const d of deadlinesAfter(c, env.now)) {
      const [lo, hi] = range.at(d);
      if (!Number.isNaN(run(c, d, lo, hi))) return d;
    }
    return Number.NaN;
  };

  const next = (c: number): number => {
    let m = Number.POSITIVE_INFINITY;
    // Events of the negative steps count wherever they fall: the window moves only the others.
    for (const table of doneTables) m = Math.min(m, windowNext(table, c, range, win, env.now));
    plans.forEach((st, k) => {
      m = Math.min(m, moversNext(st.table, c, movers[k]));
    });
    // The earliest deadline still ahead: scanned from the latest start back.
    const t0 = first.table;
    if (c < t0.len.length) {
      const s0 = t0.start[c];
      for (let i = s0 + t0.len[c] - 1; i >= s0; i--) {
        const d = shift(t0.times[i], within, 1, env.tz);
        if (d <= env.now) break;
        if (d < m && (first.where === null || first.where(i))) m = d;
      }
    }
    return m;
  };

  return leaf(
    rule,
    30,
    (c) => !Number.isNaN(holdsAt(c)),
    false,
    (c, result) => {
      const t = holdsAt(c);
      const pending = result ? Number.NaN : pendingUntil(c);
      return {
        type: "sequence",
        steps: rule.steps,
        within: rule.within,
        ...(rule.window ? { window: rule.window } : {}),
        result,
        completed_at: Number.isNaN(t) ? null : new Date(t).toISOString(),
        pending_until: Number.isNaN(pending) ? null : new Date(pending).toISOString(),
      };
    },
    (mask) => {
      const [lo, hi] = win();
      const now = env.now;
      if (unfollowed !== null)
        return selectUnfollowed(mask, first.table, unfollowed, lo, hi, now, fixedWithin);
      return selectWithEventIn(mask, first.table, lo, hi, (c) => !Number.isNaN(run(c, now, lo, hi)));
    },
    next,
  );
}
