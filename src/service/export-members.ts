/**
 * What a segment export reads, shared by `GET /v1/segments/{id}/export` and scheduled
 * exports so both write the same columns and values: the workspace's field keys split
 * into stored and computed ones, and the members' records by pages, each with its
 * effective status and its computed values.
 */
import type { Store } from "../store/types.ts";
import { computedReader } from "./computed-fields.ts";
import type { ExportRecord } from "./exports.ts";
import type { WorkspaceService } from "./workspace.ts";

const PAGE = 2000;

/** `customFields` (values stored on contacts) and `computedFields` of `ExportOptions`. */
export function exportFieldKeys(ws: WorkspaceService): { customFields: string[]; computedFields: string[] } {
  const computed = ws.engine.computedFields();
  return {
    customFields: ws.registry
      .custom()
      .map((f) => f.key)
      .filter((k) => !computed.has(k)),
    computedFields: [...computed.keys()],
  };
}

/**
 * The contacts `ids` (a segment's members) by pages, with their effective status and
 * email_status and, when the workspace has computed fields, their values read at one
 * instant per page. Contacts deleted since the ids were taken are left out.
 */
export async function* exportPages(
  store: Store,
  ws: WorkspaceService,
  ids: readonly string[],
): AsyncIterable<ExportRecord[]> {
  for (let k = 0; k < ids.length; k += PAGE) {
    const recs = await store.getContacts(ws.id, ids.slice(k, k + PAGE));
    const values = computedReader(ws.engine);
    yield recs.flatMap((r) => {
      if (!r) return [];
      const w = ws.wireContact(r, false, values);
      return [
        {
          ...r,
          status: w.status,
          email_status: w.email_status,
          ...(w.computed ? { computed: w.computed } : {}),
        },
      ];
    });
  }
}
