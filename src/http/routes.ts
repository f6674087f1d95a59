/**
 * The route table of SPEC §4, one file per resource under ./routes/. Every route names
 * its request and response schemas (from `src/service/wire.ts`, `src/rules/` and
 * ./responses/), which `openapi.ts` turns into the OpenAPI document; handlers only read
 * the query, call the service and shape the answer. The table is declared once: every
 * server mounts the same routes and answers the same document.
 */
import type { FastifyInstance } from "fastify";
import type { Slice } from "../service/slice.ts";
import { registerDocs } from "./docs.ts";
import { openApiDocument, type RouteDoc } from "./openapi.ts";
import { mountRoutes, type RouteSpec } from "./route.ts";
import { CONTACT_ROUTES } from "./routes/contacts.ts";
import { DESTINATION_ROUTES } from "./routes/destinations.ts";
import { EVENT_ROUTES } from "./routes/events.ts";
import { FIELD_ROUTES } from "./routes/fields.ts";
import { IMPORT_ROUTES } from "./routes/imports.ts";
import { MEMBER_ROUTES } from "./routes/members.ts";
import { RECEIVER_ROUTES } from "./routes/receivers.ts";
import { SCHEDULE_ROUTES } from "./routes/schedules.ts";
import { SEGMENT_DATA_ROUTES } from "./routes/segment-data.ts";
import { SEGMENT_ROUTES } from "./routes/segments.ts";
import { STREAM_ROUTES } from "./routes/stream.ts";
import { WEBHOOK_ROUTES } from "./routes/webhooks.ts";
import { WORKSPACE_ROUTES } from "./routes/workspaces.ts";
import { SEGMENT_DOCS } from "./segment-routes.ts";

/** The bearer routes, in the order they are mounted and documented. */
const API_ROUTES: readonly RouteSpec[] = [
  ...WORKSPACE_ROUTES,
  ...CONTACT_ROUTES,
  ...EVENT_ROUTES,
  ...FIELD_ROUTES,
  ...SEGMENT_ROUTES,
  ...MEMBER_ROUTES,
  ...SEGMENT_DATA_ROUTES,
  ...WEBHOOK_ROUTES,
  ...STREAM_ROUTES,
  ...IMPORT_ROUTES,
  ...RECEIVER_ROUTES,
  ...DESTINATION_ROUTES,
  ...SCHEDULE_ROUTES,
];

/** Every documented route: the Segment-compatible ones (segment-routes.ts), then the API's. */
export const ROUTES: readonly RouteDoc[] = [...SEGMENT_DOCS, ...API_ROUTES.map((r) => r.doc)];

let document: Record<string, unknown> | null = null;

export function registerRoutes(app: FastifyInstance, slice: Slice, publicUrl?: string): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  // Liveness above; readiness here: 503 with the load's progress until every workspace
  // is loaded (the server listens at once, docs/operations.md).
  app.get("/readyz", async (_req, reply) => {
    const r = app.readiness.snapshot();
    if (r.status !== "ready") reply.status(503).header("retry-after", "5");
    return r;
  });
  mountRoutes(app, slice, API_ROUTES, publicUrl);
  registerDocs(app, () => {
    document ??= openApiDocument(ROUTES);
    return document;
  });
}
