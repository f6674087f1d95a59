/** Values and paging shared by every resource of the store; times are epoch milliseconds. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Dialect = "sqlite" | "postgres";

/** A page of a cursor-paginated list; `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface PageRequest {
  /** Opaque cursor from a previous page's `next_cursor`. */
  cursor?: string | null;
  /** 1 … 10,000 (clamped); default 100. */
  limit?: number;
}

export interface StreamOptions {
  /** Rows per page (default 10,000). */
  pageSize?: number;
}

/** `fenced`: a cluster node's transaction for a workspace another node now holds (docs/cluster.md). */
export type StoreErrorCode = "conflict" | "not_found" | "invalid" | "workspace_mismatch" | "fenced";

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** For a conflict: which unique key (`email`, `external_id`, `id`, `key`, …). */
    readonly field?: string,
  ) {
    super(message);
    this.name = "StoreError";
  }
}
