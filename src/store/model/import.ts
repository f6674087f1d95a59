/** Import jobs. */
import type { JsonObject } from "./common.ts";

export type ImportKind = "contacts" | "events";
export type ImportStatus = "pending" | "running" | "done" | "failed";

export interface ImportRowError {
  /** 1-based row (or line) number in the uploaded file. */
  row: number;
  error: string;
}

export interface ImportJob {
  id: string;
  kind: ImportKind;
  status: ImportStatus;
  options: JsonObject;
  /** Rows in the file, when known. */
  total: number | null;
  processed: number;
  accepted: number;
  rejected: number;
  /** At most MAX_IMPORT_ERRORS; `errors_dropped` counts the rest. */
  errors: ImportRowError[];
  errors_dropped: number;
  /** Why the job failed as a whole. */
  failure: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface NewImport {
  kind: ImportKind;
  options?: JsonObject;
  total?: number | null;
}

export interface ImportProgress {
  processed?: number;
  accepted?: number;
  rejected?: number;
  errors?: ImportRowError[];
  total?: number | null;
}

export const MAX_IMPORT_ERRORS = 10_000;
