/**
 * When an event condition can change with time alone: its events moving in or out of
 * a moving window, and its time-relative `where` filters changing their answer.
 */
import { type EventTable, lowerBound, upperBound } from "../events.ts";
import type { MovingRange } from "../moving.ts";
import type { Mover } from "./where.ts";

/**
 * When the contact's events of `table` can next move in or out of the window: the
 * oldest event inside leaves first, the earliest event above it enters first.
 */
export function windowNext(
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
export function moversNext(table: EventTable, c: number, movers: Mover[]): number {
  if (movers.length === 0 || c >= table.len.length) return Number.POSITIVE_INFINITY;
  let m = Number.POSITIVE_INFINITY;
  const s = table.start[c];
  for (let k = s; k < s + table.len[c]; k++) for (const mv of movers) m = Math.min(m, mv(k));
  return m;
}
