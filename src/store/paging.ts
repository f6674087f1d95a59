/** Keyset paging shared by the store's queries: limits, cursors and pages. */
import { type Page, type PageRequest, StoreError } from "./types.ts";

const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

export function limitOf(req: PageRequest | undefined): number {
  const l = req?.limit;
  if (l === undefined || !Number.isFinite(l)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(1, Math.floor(l)));
}

export function seqCursor(cursor: string | null | undefined): number {
  if (cursor === null || cursor === undefined || cursor === "") return 0;
  if (!/^\d{1,16}$/.test(cursor)) throw new StoreError("invalid", `invalid cursor "${cursor}"`);
  return Number(cursor);
}

export function keyCursor(cursor: string | null | undefined): string {
  return cursor ?? "";
}

export function page<T>(rows: T[], limit: number, cursorOf: (last: T) => string): Page<T> {
  if (rows.length > limit) {
    const data = rows.slice(0, limit);
    return { data, next_cursor: cursorOf(data[data.length - 1]) };
  }
  return { data: rows, next_cursor: null };
}
