/**
 * Workspaces and API keys (SPEC §4). A non-admin key is refused a new workspace before
 * its body is read; a key's role is checked against the caller's once the body is parsed.
 */
import { requireWorkspaceCreator } from "../../service/slice.ts";
import { KeyInput, WorkspaceInput } from "../../service/wire.ts";
import type { ApiKey, Workspace } from "../../store/types.ts";
import * as R from "../responses/core.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

const wireKey = (k: ApiKey) => ({
  id: k.id,
  workspace_id: k.workspace_id,
  name: k.name,
  prefix: k.prefix,
  role: k.role,
  admin: k.admin,
  created_at: new Date(k.created_at).toISOString(),
});

const wireWorkspace = (w: Workspace) => ({ ...w, created_at: new Date(w.created_at).toISOString() });

export const WORKSPACE_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/workspaces",
      summary: "Create a workspace (admin key only)",
      body: WorkspaceInput,
      before: ({ caller }) => requireWorkspaceCreator(caller),
      tag: "workspaces",
      response: R.WorkspaceCreated,
      ok: [201],
    },
    async ({ slice, caller, body, reply }) => {
      const r = await slice.createWorkspace(caller, body);
      reply.status(201);
      // Instants are ISO 8601 on the wire, as everywhere else (it answered epoch milliseconds).
      return { ...r, workspace: wireWorkspace(r.workspace) };
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/workspace",
      summary: "The caller's workspace",
      tag: "workspaces",
      response: R.WorkspaceAnswer,
    },
    ({ caller }) => wireWorkspace(caller.workspace),
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/keys",
      summary: "Create an API key of the caller's workspace (the secret is shown once)",
      body: KeyInput,
      // Both fields are optional, so no body at all asks for a key with the defaults.
      emptyBody: "object",
      tag: "keys",
      response: R.KeyCreated,
      ok: [201],
    },
    async ({ slice, caller, body, reply }) => {
      const { key, secret } = await slice.createKey(caller, body);
      reply.status(201);
      return { ...wireKey(key), key: secret };
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/keys",
      summary: "The caller's workspace's keys",
      tag: "keys",
      access: "write",
      response: R.KeysPage,
    },
    async ({ slice, caller }) => ({
      data: (await slice.store.workspace(caller.workspace.id).apiKeys.list()).map(wireKey),
      next_cursor: null,
    }),
  ),
  defineRoute(
    { method: "DELETE", path: "/v1/keys/{id}", summary: "Revoke a key", tag: "keys", ok: [204] },
    async ({ slice, caller, params }) => {
      await slice.deleteKey(caller, params.id!);
    },
  ),
];
