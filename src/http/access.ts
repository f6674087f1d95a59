/**
 * What each key role may do (SPEC §4). A route declares the access it needs; by default
 * a GET reads and anything else writes. Checked on the routed path, before the handler.
 */
import { ApiError } from "../service/errors.ts";
import type { KeyRole } from "../store/types.ts";

/**
 * `read`: reads (and read-like POSTs such as a preview); `ingest`: writing contacts and
 * events; `write`: every other change; `admin`: across workspaces.
 */
export type Access = "read" | "ingest" | "write" | "admin";

const ALLOWED: Record<KeyRole, readonly Access[]> = {
  admin: ["read", "ingest", "write", "admin"],
  read_write: ["read", "ingest", "write"],
  read_only: ["read"],
  ingest: ["ingest"],
};

const WHAT: Record<Access, string> = {
  read: "read",
  ingest: "write contacts and events",
  write: "make changes",
  admin: "administer workspaces",
};

export function mayAccess(role: KeyRole, access: Access): boolean {
  return ALLOWED[role].includes(access);
}

export function requireAccess(role: KeyRole, access: Access): void {
  if (!mayAccess(role, access)) {
    throw new ApiError("forbidden", `a key with the ${role} role may not ${WHAT[access]}`, {
      role,
      needed: access,
    });
  }
}
