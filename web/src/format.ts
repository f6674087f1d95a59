/**
 * Numbers and instants as a person reads them, the same on every page: digits grouped
 * ("12,480"), instants in the workspace's zone ("12 Mar 2026, 14:05").
 */

const INTEGER = new Intl.NumberFormat("en");
const COMPACT = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const PERCENT = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

/** 12480 → "12,480". */
export const formatNumber = (n: number): string => INTEGER.format(n);

/** 1_240_000 → "1.2M", for tight places (a chart's axis). */
export const formatCompact = (n: number): string => COMPACT.format(n);

/** 0.1234 → "12.3%". */
export const formatPercent = (share: number): string => PERCENT.format(share);

/** (1, "member") → "1 member"; (2480, "member") → "2,480 members". */
export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatNumber(n)} ${n === 1 ? singular : plural}`;
}

/** An instant in `timeZone` (the workspace's), to the minute: "12 Mar 2026, 14:05". */
export function formatDateTime(iso: string, timeZone: string | undefined): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const opts: Intl.DateTimeFormatOptions = { dateStyle: "medium", timeStyle: "short" };
  try {
    return d.toLocaleString("en-GB", timeZone ? { ...opts, timeZone } : opts);
  } catch {
    // A zone the browser does not know: its own rather than nothing.
    return d.toLocaleString("en-GB", opts);
  }
}
