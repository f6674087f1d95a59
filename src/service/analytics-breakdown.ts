/**
 * The breakdown of segment analytics (docs/analytics.md): members counted by the value
 * of one field as rules see it, and each listed value labelled with the spelling the
 * members' profiles use most often. Split from analytics.ts, which composes it.
 */
import { DateTime } from "luxon";
import type { Bitset } from "../engine/bitset.ts";
import type { Column } from "../engine/contacts.ts";
import { normalize } from "../engine/dictionary.ts";
import type { Engine } from "../engine/engine.ts";
import type { Store } from "../store/types.ts";
import type { Breakdown, BreakdownValue } from "./analytics.ts";

export const OTHER_VALUE = "(other)";
const DAY_MS = 86_400_000;

/** Calls `fn` with every set index, ascending, without materialising the list. */
export function forEachMember(bits: Bitset, fn: (i: number) => void): void {
  const w = bits.words;
  for (let wi = 0; wi < w.length; wi++) {
    let v = w[wi] | 0;
    while (v !== 0) {
      const t = v & -v;
      fn((wi << 5) | (31 - Math.clz32(t)));
      v ^= t;
    }
  }
}

// ---------------------------------------------------------------- breakdown

/**
 * Counts of the members by the value of one field, as rules see it: strings trimmed
 * and lower-cased, numbers as written by `String`, booleans "true"/"false", dates as
 * their month `YYYY-MM` in the workspace zone, each element of a string_list counted
 * once. The `top` most frequent values come first (ties by value), then "(other)" for
 * the rest, then null for members with no value.
 */
export function breakdown(
  engine: Engine,
  members: Bitset,
  field: string,
  tz: string,
  top: number,
): Breakdown {
  const col = engine.contacts.columns.get(field)!;
  const counts = new Map<string, number>();
  let missing = 0;
  const add = (v: string) => counts.set(v, (counts.get(v) ?? 0) + 1);
  const visit = valueVisitor(col, tz, add, () => missing++);
  forEachMember(members, visit);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const values: BreakdownValue[] = ranked
    .slice(0, top)
    .map(([value, count]) => ({ value, label: value, count }));
  if (ranked.length > top) {
    let rest = 0;
    for (let k = top; k < ranked.length; k++) rest += ranked[k][1];
    values.push({ value: OTHER_VALUE, label: OTHER_VALUE, count: rest });
  }
  if (missing > 0) values.push({ value: null, label: null, count: missing });
  return { field, values };
}

/** Profiles read per breakdown value to find how its members spell it. */
const LABEL_SAMPLE = 25;

/**
 * Rules compare text in lower case, so the counts are by that form; the labels are the
 * spelling the members' profiles use most often (trimmed; ties: the first met), read
 * from the store for up to LABEL_SAMPLE members per listed value.
 */
export async function withLabels(
  store: Store,
  ws: string,
  engine: Engine,
  members: Bitset,
  b: Breakdown,
): Promise<Breakdown> {
  const col = engine.contacts.columns.get(b.field)!;
  if (col.kind !== "string" && col.kind !== "string_list") return b;
  const wanted = new Map<number, BreakdownValue>();
  for (const v of b.values) {
    if (v.value === null || v.value === OTHER_VALUE) continue;
    const code = col.dict.lookup(v.value);
    if (code >= 0) wanted.set(code, v);
  }
  const samples = new Map<number, number[]>();
  let open = wanted.size;
  const take = (i: number, code: number) => {
    if (!wanted.has(code)) return;
    let list = samples.get(code);
    if (!list) {
      list = [];
      samples.set(code, list);
    }
    if (list.length < LABEL_SAMPLE && list.push(i) === LABEL_SAMPLE) open--;
  };
  const w = members.words;
  for (let wi = 0; wi < w.length && open > 0; wi++) {
    let v = w[wi] | 0;
    while (v !== 0) {
      const t = v & -v;
      const i = (wi << 5) | (31 - Math.clz32(t));
      v ^= t;
      if (col.kind === "string") take(i, col.codes[i]);
      else for (const code of col.lists[i] ?? []) take(i, code);
    }
  }
  const indexes = [...new Set([...samples.values()].flat())];
  const records = await store.workspace(ws).contacts.getMany(indexes.map((i) => engine.contacts.ids[i]));
  const builtin = engine.fields.get(b.field)?.builtin === true;
  const raw = (r: (typeof records)[number]): unknown => {
    if (r === null) return undefined;
    const rec = r as unknown as Record<string, unknown>;
    return builtin ? rec[b.field] : (rec.fields as Record<string, unknown> | null)?.[b.field];
  };
  const spellings = new Map<string, Map<string, number>>();
  for (const r of records) {
    const v = raw(r);
    for (const s of Array.isArray(v) ? v : [v]) {
      if (typeof s !== "string") continue;
      const shown = s.trim();
      const key = normalize(shown);
      let m = spellings.get(key);
      if (!m) {
        m = new Map();
        spellings.set(key, m);
      }
      m.set(shown, (m.get(shown) ?? 0) + 1);
    }
  }
  for (const v of wanted.values()) {
    const m = spellings.get(v.value!);
    if (!m) continue;
    let best: [string, number] | null = null;
    for (const e of m) if (best === null || e[1] > best[1]) best = e;
    if (best) v.label = best[0];
  }
  return b;
}

function valueVisitor(
  col: Column,
  tz: string,
  add: (v: string) => void,
  none: () => void,
): (i: number) => void {
  switch (col.kind) {
    case "string":
      return (i) => {
        const code = col.codes[i];
        if (code < 0) none();
        else add(col.dict.values[code]);
      };
    case "string_list":
      return (i) => {
        const l = col.lists[i];
        if (!l || l.length === 0) none();
        else for (const code of l) add(col.dict.values[code]);
      };
    case "boolean":
      return (i) => {
        const v = col.values[i];
        if (v < 0) none();
        else add(v === 1 ? "true" : "false");
      };
    case "number":
      return (i) => {
        const v = col.values[i];
        if (Number.isNaN(v)) none();
        else add(String(v));
      };
    case "date": {
      // The month in the zone, memoised per UTC day: a day whose first and last
      // millisecond fall in the same local month maps to it whole; the few days that
      // straddle a month boundary (stored as "") are computed value by value.
      const month = (t: number) => DateTime.fromMillis(t, { zone: tz }).toFormat("yyyy-MM");
      const byDay = new Map<number, string>();
      return (i) => {
        const v = col.values[i];
        if (Number.isNaN(v)) {
          none();
          return;
        }
        const day = Math.floor(v / DAY_MS);
        let m = byDay.get(day);
        if (m === undefined) {
          const a = month(day * DAY_MS);
          m = a === month(day * DAY_MS + DAY_MS - 1) ? a : "";
          byDay.set(day, m);
        }
        add(m === "" ? month(v) : m);
      };
    }
  }
}

// ---------------------------------------------------------------- engagement
