/** What is read out of a segment: its analytics and its streamed export. */
import { Readable } from "node:stream";
import { z } from "zod";
import { invalid } from "../../service/errors.ts";
import { segmentExport } from "../../service/export-members.ts";
import { EXPORT_FORMATS, FORMULA_MODES } from "../../service/exports.ts";
import * as R from "../responses/core.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

const optional = <K extends string>(k: K, v: number | undefined) =>
  (v === undefined ? {} : { [k]: v }) as Partial<Record<K, number>>;

export const SEGMENT_DATA_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/analytics",
      summary: "Size, daily entries/exits, share, breakdown, engagement, overlap",
      query: ["days", "breakdown", "top", "overlap"],
      queryTypes: {
        days: z
          .int()
          .min(1)
          .meta({ description: "Days of history, today included: 30 by default, at most 365" }),
        top: z
          .int()
          .min(1)
          .meta({ description: "Breakdown values listed before (other): 10 by default, at most 100" }),
        breakdown: z.string().meta({ description: "A field key: counts of the members by its value" }),
        overlap: z.string().meta({ description: "A segment id: the members both have" }),
      },
      tag: "segments",
      response: R.AnalyticsAnswer,
    },
    ({ ws, params, query }) => {
      const num = (k: string) => {
        const v = query[k];
        if (v === undefined || v === "") return undefined;
        const n = Number(v);
        if (!Number.isInteger(n)) throw invalid(k, "expected an integer");
        return n;
      };
      return ws.analytics(params.id!, {
        ...optional("days", num("days")),
        ...optional("top", num("top")),
        ...(query.breakdown ? { breakdown: query.breakdown } : {}),
        ...(query.overlap ? { overlap: query.overlap } : {}),
      });
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/export",
      summary: "Streamed export: csv, ndjson, meta, google",
      query: ["format", "columns", "include_suppressed", "formulas"],
      queryTypes: {
        format: z.enum(EXPORT_FORMATS).meta({ description: "csv by default" }),
        columns: z.string().meta({ description: "csv only: comma-separated column names, in order" }),
        // z.enum drops numeric-looking members ("1", "0") from the JSON Schema; literals keep them.
        include_suppressed: z.literal(["true", "false", "1", "0"]).meta({
          description: "Also export unsubscribed, hard-bounced and complained contacts (default false)",
        }),
        formulas: z.enum(FORMULA_MODES).meta({
          description:
            "escape (default): cells a spreadsheet would run as a formula are neutralised; raw: as stored",
        }),
      },
      produces: ["text/csv", "application/x-ndjson"],
      tag: "segments",
    },
    async ({ slice, ws, params, query, reply }) => {
      const id = params.id!;
      const out = await segmentExport(slice.store, ws, id, query);
      reply
        .header("Content-Type", out.contentType)
        .header("Content-Disposition", `attachment; filename="${out.fileName}"`);
      return reply.send(Readable.from(out.chunks));
    },
  ),
];
