/**
 * The measures an event condition or a computed field reads (docs/rules.md, "Measures").
 * Data only, so the web app imports it too.
 */
export const MEASURE_FNS = [
  "count",
  "distinct",
  "sum",
  "avg",
  "min",
  "max",
  "first_at",
  "last_at",
  "most_frequent",
] as const;
export type MeasureFn = (typeof MEASURE_FNS)[number];
