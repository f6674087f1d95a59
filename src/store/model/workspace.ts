/** Workspaces and their API keys. */
import type { JsonObject } from "./common.ts";

export interface Workspace {
  id: string;
  name: string;
  time_zone: string;
  settings: JsonObject;
  created_at: number;
}

export interface NewWorkspace {
  /** Default: a new `ws_…` id. */
  id?: string;
  name: string;
  time_zone?: string;
  settings?: JsonObject;
}

export interface WorkspacePatch {
  name?: string;
  time_zone?: string;
  settings?: JsonObject;
}

/** SPEC §4: what a key may do. `admin` is the key of `SLICE_API_KEY` or the first start. */
export const KEY_ROLES = ["admin", "read_write", "read_only", "ingest"] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

export interface ApiKey {
  id: string;
  workspace_id: string;
  name: string;
  /** The first characters of the secret, to recognise a key in a list. */
  prefix: string;
  /** Same as `role === "admin"`. */
  admin: boolean;
  role: KeyRole;
  created_at: number;
}

export interface NewApiKey {
  name?: string;
  /** Same as `role: "admin"`. */
  admin?: boolean;
  role?: KeyRole;
  /** A given secret (e.g. `SLICE_API_KEY`); default: a new random one. */
  secret?: string;
}

/** The secret is returned once, here; the store keeps only its SHA-256. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}
