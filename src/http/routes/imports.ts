/**
 * `POST /v1/imports`: the file is the request body (text/csv for contacts,
 * application/x-ndjson for events), options in the query string; the job runs in the
 * background and `GET /v1/imports/{id}` reports its progress and rejected rows.
 */
import { PassThrough, type Readable } from "node:stream";
import { z } from "zod";
import { ApiError, invalid } from "../../service/errors.ts";
import { DATE_FORMATS, type DateFormat } from "../../service/imports.ts";
import { listLimit } from "../../service/wire.ts";
import type { ImportJob } from "../../store/types.ts";
import { ImportJobSchema, ImportPage } from "../responses/integrations.ts";
import { defineRoute, type RouteSpec } from "../route.ts";
import { receiveUpload } from "../upload.ts";

export function wireImport(j: ImportJob) {
  const t = (v: number | null) => (v === null ? null : new Date(v).toISOString());
  return { ...j, created_at: t(j.created_at), updated_at: t(j.updated_at), finished_at: t(j.finished_at) };
}

export const IMPORT_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/imports",
      summary:
        "Import a CSV of contacts (Content-Type: text/csv) or NDJSON of events (application/x-ndjson); options in the query: kind, mapping (JSON), segment_id, delimiter, date_format",
      query: ["kind", "mapping", "segment_id", "delimiter", "date_format"],
      queryTypes: {
        kind: z
          .enum(["contacts", "events"])
          .meta({ description: "Default: events for application/x-ndjson, else contacts" }),
        mapping: z.string().meta({
          description:
            'A JSON object of column header → field (null ignores the column), e.g. {"E-mail":"email"}',
        }),
        segment_id: z.string().meta({ description: "A static segment the imported contacts are added to" }),
        delimiter: z
          .string()
          .length(1)
          .meta({ description: "One character, default `,` (e.g. `;` or a tab)" }),
        date_format: z.enum(DATE_FORMATS).meta({
          description:
            "How the CSV writes dates (created_at, subscribed_at, date fields): ISO (default, 1990-12-13), DD/MM/YYYY (13/12/1990) or MM/DD/YYYY (12/13/1990); separators / . - and a time (14:30) allowed",
        }),
      },
      consumes: ["text/csv", "application/x-ndjson"],
      response: ImportJobSchema,
      ok: [202],
      tag: "imports",
    },
    async ({ slice, ws, req, query, body, reply }) => {
      const type = String(req.headers["content-type"] ?? "")
        .split(";")[0]!
        .trim();
      const kind = query.kind ?? (type.includes("ndjson") ? "events" : "contacts");
      if (kind !== "contacts" && kind !== "events") throw invalid("kind", 'expected "contacts" or "events"');
      // Refused here, as a 400, rather than accepted (202) and then failed by the job.
      if (kind === "events") {
        for (const k of ["mapping", "segment_id", "delimiter", "date_format"] as const) {
          if (query[k] !== undefined) throw invalid(k, "applies to contact imports (CSV) only");
        }
      }
      if (!body || typeof (body as Readable).pipe !== "function") {
        throw invalid(
          "",
          "send the file as the request body with Content-Type text/csv or application/x-ndjson",
        );
      }
      let mapping: Record<string, string | null> | undefined;
      if (query.mapping) {
        try {
          mapping = JSON.parse(query.mapping) as Record<string, string | null>;
        } catch {
          throw invalid("mapping", "expected a JSON object of column → field");
        }
        if (typeof mapping !== "object" || mapping === null || Array.isArray(mapping)) {
          throw invalid("mapping", "expected a JSON object of column → field");
        }
      }
      let dateFormat: DateFormat | undefined;
      if (query.date_format !== undefined) {
        dateFormat = DATE_FORMATS.find((f) => f === query.date_format);
        if (dateFormat === undefined) {
          throw invalid(
            "date_format",
            `expected one of ${DATE_FORMATS.map((f) => `"${f}"`).join(", ")}, got ${JSON.stringify(query.date_format)}`,
          );
        }
      }
      if (query.segment_id) ws.requireImportSegment(query.segment_id);
      // Start consuming the request at once, into a buffer with backpressure. The job reads
      // the file only after a few store round trips, and Node discards (`_dump`) a request
      // body nobody has begun to read when the response finishes: the 202 went out first on
      // PostgreSQL and the job saw an empty file; on SQLite a 1.5 MB file was cut short after
      // the first buffers and reported `done`. A failed upload destroys `file` with the error.
      const file = new PassThrough();
      const uploaded = receiveUpload(body as Readable, file);
      let job: ImportJob;
      try {
        job = await slice.importer(ws).start(
          ws.id,
          kind,
          file,
          {
            ...(mapping ? { mapping } : {}),
            ...(query.segment_id ? { segment_id: query.segment_id } : {}),
            ...(query.delimiter ? { delimiter: query.delimiter } : {}),
            ...(dateFormat ? { date_format: dateFormat } : {}),
          },
          ws.importFields(),
        );
      } catch (e) {
        file.resume(); // no job reads it: drain the upload so the connection stays usable
        throw e;
      }
      // The 202 is the answer to the whole upload (src/http/upload.ts); the job reads the
      // file meanwhile, and its progress is on GET /v1/imports/{id}.
      await uploaded;
      reply.status(202);
      return wireImport(job);
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/imports/{id}",
      summary: "An import's progress and rejected rows",
      response: ImportJobSchema,
      tag: "imports",
    },
    async ({ slice, ws, params }) => {
      const job = await slice.store.workspace(ws.id).imports.get(params.id!);
      if (!job) throw new ApiError("not_found", `import "${params.id}" not found`);
      return wireImport(job);
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/imports",
      summary: "Imports, newest first",
      query: ["cursor", "limit"],
      response: ImportPage,
      tag: "imports",
    },
    async ({ slice, ws, query }) => {
      const p = await slice.store.workspace(ws.id).imports.list({
        limit: listLimit(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return { data: p.data.map(wireImport), next_cursor: p.next_cursor };
    },
  ),
];
