/**
 * What a segment export reads, shared by `GET /v1/segments/{id}/export` and scheduled
 * exports so both write the same columns and values: the workspace's field keys split
 * into stored and computed ones, and the members' records by pages, each with its
 * effective status and its computed values; and the export route's use case.
 */
import type { ContactRecord, Store } from "../store/types.ts";
import { ApiError, invalid } from "./errors.ts";
import {
  contentType,
  EXPORT_FORMATS,
  type ExportFormat,
  ExportOptionError,
  type ExportOptions,
  type ExportRecord,
  exportChunks,
  fileName,
  validateExportOptions,
} from "./exports.ts";
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
    const recs = (await store.workspace(ws.id).contacts.getMany(ids.slice(k, k + PAGE))).filter(
      (r): r is ContactRecord => r !== null,
    );
    const wired = await ws.wireContacts(recs);
    yield recs.map((r, j) => {
      const w = wired[j]!;
      return {
        ...r,
        status: w.status,
        email_status: w.email_status,
        ...(w.computed ? { computed: w.computed } : {}),
      };
    });
  }
}

/** The query of `GET /v1/segments/{id}/export`, as given. */
export interface ExportQuery {
  format?: string;
  columns?: string;
  include_suppressed?: string;
  formulas?: string;
}

/**
 * A segment's export (docs/exports.md): its options checked (400 naming the parameter),
 * its media type and file name, and its chunks, read by pages as they are sent.
 */
export async function segmentExport(
  store: Store,
  ws: WorkspaceService,
  id: string,
  query: ExportQuery,
): Promise<{ contentType: string; fileName: string; chunks: AsyncIterable<string | Buffer> }> {
  if (!ws.engine.segment(id)) throw new ApiError("not_found", `segment "${id}" not found`);
  const format = (query.format ?? "csv") as ExportFormat;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw invalid("format", `expected one of ${EXPORT_FORMATS.join(", ")}`);
  }
  // A value other than these was read as false without a word; it is refused instead.
  const incl = query.include_suppressed;
  if (incl !== undefined && !["true", "false", "1", "0"].includes(incl)) {
    throw invalid("include_suppressed", "expected true or false");
  }
  const opts = {
    format,
    ...exportFieldKeys(ws),
    excludeSuppressed: !(incl === "true" || incl === "1"),
    // Refused by validateExportOptions below when not `escape` or `raw`.
    ...(query.formulas !== undefined ? { formulas: query.formulas as ExportOptions["formulas"] } : {}),
    // `columns=` is an empty list, refused (docs/exports.md), not the default columns.
    ...(query.columns !== undefined
      ? { columns: query.columns.trim() === "" ? [] : query.columns.split(",").map((c) => c.trim()) }
      : {}),
  };
  try {
    validateExportOptions(opts);
  } catch (e) {
    if (e instanceof ExportOptionError) throw invalid(e.path, e.message);
    throw e;
  }
  const pages = exportPages(store, ws, (await ws.engine.members(id)).ids());
  return {
    contentType: contentType(format),
    fileName: fileName(id, format),
    chunks: exportChunks(pages, opts),
  };
}
