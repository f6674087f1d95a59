/**
 * A segment's edit history over the API (SPEC §4): every stored version, and restoring
 * one, which writes a new version through the same path as `PUT` so that the engine,
 * the change log and webhooks follow as for any edit.
 */
import { z } from "zod";
import type { JsonValue, SegmentVersion } from "../store/types.ts";
import { ApiError, invalid } from "./errors.ts";
import type { IfMatch } from "./etag.ts";
import { ruleTextOf } from "./rule-input.ts";
import type { WireSegment, WorkspaceService } from "./workspace.ts";

export const WireSegmentVersion = z.object({
  version: z.number().int().positive(),
  name: z.string(),
  description: z.string(),
  rule: z.unknown(),
  rule_text: z.string().nullable(),
  /** ISO 8601; null for a default segment's built-in version. */
  created_at: z.string().nullable(),
});
export type WireSegmentVersion = z.infer<typeof WireSegmentVersion>;

export function wireVersion(v: SegmentVersion, builtin: boolean): WireSegmentVersion {
  return {
    version: v.version,
    name: v.name,
    description: v.description,
    rule: v.rule,
    rule_text: v.rule === null ? null : ruleTextOf(v.rule),
    created_at: builtin ? null : new Date(v.created_at).toISOString(),
  };
}

/** Newest first. */
export async function listVersions(
  ws: WorkspaceService,
  id: string,
): Promise<{ data: WireSegmentVersion[]; next_cursor: null }> {
  const versions = await ws.segmentVersions(id);
  return { data: versions.map((v) => wireVersion(v, ws.isDefault(id))), next_cursor: null };
}

/** The `{version}` of a path: a positive integer. */
export function versionParam(raw: string): number {
  if (!/^[1-9]\d{0,8}$/.test(raw)) throw invalid("version", "expected a version number (1, 2, …)");
  return Number(raw);
}

export async function restoreVersion(
  ws: WorkspaceService,
  id: string,
  version: number,
  opts: { ifMatch?: IfMatch | null } = {},
): Promise<WireSegment> {
  if (ws.isDefault(id)) throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
  const old = (await ws.segmentVersions(id)).find((v) => v.version === version);
  if (!old) throw new ApiError("not_found", `segment "${id}" has no version ${version}`);
  const body: { name: string; description: string; rule?: JsonValue } = {
    name: old.name,
    description: old.description,
  };
  if (old.rule !== null) body.rule = old.rule;
  return ws.replaceSegment(id, body, opts);
}
