/**
 * What an import into a workspace may do (docs/imports.md): the segment it adds contacts
 * to is a custom static one, and only stored custom fields take values (computed ones
 * take no writes: their columns, which a CSV export has, are ignored). The runner
 * (../imports.ts) knows neither; the route asks these before it starts a job.
 */

import { ApiError, invalid } from "../errors.ts";
import type { ImportCustomField } from "../import-parse.ts";
import { isDefault, type WorkspaceCore } from "./core.ts";

/** 404 for an unknown segment, 400 for one that is not a custom static segment. */
export function requireImportSegment(ws: WorkspaceCore, id: string): void {
  const seg = ws.engine.segment(id);
  if (!seg) throw new ApiError("not_found", `segment_id: segment "${id}" not found`);
  if (seg.kind !== "static" || isDefault(id)) {
    throw invalid("segment_id", `segment "${id}" is not a static segment`);
  }
}

/** The custom fields an import writes. */
export function importFields(ws: WorkspaceCore): ImportCustomField[] {
  const computed = ws.engine.computedFields();
  return ws.registry
    .custom()
    .filter((f) => !computed.has(f.key))
    .map((f) => ({ key: f.key, type: f.type }));
}
