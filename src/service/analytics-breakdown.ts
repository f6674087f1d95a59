/**
 * The breakdown of segment analytics (docs/analytics.md): the members' counts by one
 * field's value as rules see it (counted by the engine, analytics-part.ts), ranked, and
 * each listed value labelled with the spelling the members' profiles use most often.
 * Split from analytics.ts, which composes it.
 */
import { normalize } from "../engine/dictionary.ts";
import { BUILTIN_FIELDS } from "../rules/fields.ts";
import type { Store } from "../store/types.ts";
import type { AnalyticsEngine, Breakdown, BreakdownValue } from "./analytics.ts";

export const OTHER_VALUE = "(other)";

/**
 * The `top` most frequent values first (ties by value), then "(other)" for the rest,
 * then null for members with no value.
 */
export function ranked(
  field: string,
  counted: { counts: [string, number][]; missing: number },
  top: number,
): Breakdown {
  const order = [...counted.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const values: BreakdownValue[] = order
    .slice(0, top)
    .map(([value, count]) => ({ value, label: value, count }));
  if (order.length > top) {
    let rest = 0;
    for (let k = top; k < order.length; k++) rest += order[k]![1];
    values.push({ value: OTHER_VALUE, label: OTHER_VALUE, count: rest });
  }
  if (counted.missing > 0) values.push({ value: null, label: null, count: counted.missing });
  return { field, values };
}

/**
 * Rules compare text in lower case, so the counts are by that form; the labels are the
 * spelling the members' profiles use most often (trimmed; ties: the first met), read
 * from the store for up to LABEL_SAMPLE members per listed value (per engine worker).
 */
export async function withLabels(
  store: Store,
  ws: string,
  engine: AnalyticsEngine,
  segmentId: string,
  now: number,
  b: Breakdown,
): Promise<Breakdown> {
  const listed = new Map<string, BreakdownValue>();
  for (const v of b.values) if (v.value !== null && v.value !== OTHER_VALUE) listed.set(v.value, v);
  const samples = await engine.labelSamples(segmentId, b.field, [...listed.keys()], now);
  if (samples.length === 0) return b;
  const ids = [...new Set(samples.flatMap(([, list]) => list))];
  const records = await store.workspace(ws).contacts.getMany(ids);
  // A built-in field's value is a column of the record; a custom one's is in `fields`.
  const builtin = BUILTIN_FIELDS.some((f) => f.key === b.field);
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
  for (const v of listed.values()) {
    const m = spellings.get(v.value!);
    if (!m) continue;
    let best: [string, number] | null = null;
    for (const e of m) if (best === null || e[1] > best[1]) best = e;
    if (best) v.label = best[0];
  }
  return b;
}
