/**
 * The route table of SPEC §4. Every route names its request schemas (from
 * `src/service/wire.ts` and `src/rules/`), which `openapi.ts` turns into the OpenAPI
 * document; handlers only parse the query, call the service and shape the answer.
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { AnalyticsError, segmentAnalytics } from "../service/analytics.ts";
import { EMAIL_MAX_LENGTH } from "../service/email.ts";
import { ApiError, invalid } from "../service/errors.ts";
import { contactTag, parseIfMatch, segmentTag } from "../service/etag.ts";
import { eventTypes } from "../service/event-types.ts";
import { exportFieldKeys, exportPages } from "../service/export-members.ts";
import {
  contentType,
  EXPORT_FORMATS,
  type ExportFormat,
  ExportOptionError,
  type ExportOptions,
  exportChunks,
  FORMULA_MODES,
  fileName,
  validateExportOptions,
} from "../service/exports.ts";
import { listVersions, restoreVersion, versionParam } from "../service/segment-versions.ts";
import type { Caller, Slice } from "../service/slice.ts";
import { SEGMENT_TEMPLATES } from "../service/templates.ts";
import {
  ActionInput,
  ContactInput,
  EventInput,
  FieldInput,
  KeyInput,
  LIMITS,
  listLimit,
  MembersInput,
  PreviewInput,
  RefsInput,
  SegmentInput,
  SegmentReplace,
  WorkspaceInput,
} from "../service/wire.ts";
import { storedProfile } from "../service/wire-contact.ts";
import type { WorkspaceService } from "../service/workspace.ts";
import type { ApiKey, Workspace } from "../store/types.ts";
import { requireAccess } from "./access.ts";
import { registerDestinationRoutes } from "./destination-routes.ts";
import { registerDocs } from "./docs.ts";
import { registerImports } from "./imports.ts";
import { openApiDocument, type RouteDoc, responseProblem } from "./openapi.ts";
import { registerReceiverRoutes } from "./receiver-routes.ts";
import * as R from "./responses/core.ts";
import { EventTypesList } from "./responses/event-types.ts";
import { registerScheduleRoutes } from "./schedule-routes.ts";
import { registerStreamRoutes } from "./stream-routes.ts";
import { registerWebhookRoutes } from "./webhook-routes.ts";

type Query = Record<string, string | undefined>;
type Params = Record<string, string>;

export interface Ctx {
  req: FastifyRequest;
  reply: FastifyReply;
  caller: Caller;
  ws: WorkspaceService;
  params: Params;
  query: Query;
  body: unknown;
}

export const ROUTES: RouteDoc[] = [];

/**
 * A route that lists its query parameters refuses any other, and any given twice:
 * a misspelt filter (`?emial=`) silently ignored answers the whole list.
 */
function checkQuery(query: unknown, allowed: readonly string[]): void {
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (!allowed.includes(k)) throw invalid(`query.${k}`, "unknown parameter");
    if (Array.isArray(v)) throw invalid(`query.${k}`, "given more than once");
  }
}

export function route(
  app: FastifyInstance,
  slice: Slice,
  doc: Omit<RouteDoc, "method" | "path"> & { method: RouteDoc["method"]; path: string; body?: z.ZodType },
  handler: (ctx: Ctx) => Promise<unknown> | unknown,
): void {
  ROUTES.push(doc);
  const access = doc.access ?? (doc.method === "GET" ? "read" : "write");
  const url = doc.path.replace(/\{(\w+)\}/g, ":$1");
  app.route({
    method: doc.method,
    url,
    handler: async (req, reply) => {
      const caller = req.caller!;
      requireAccess(caller.key.role, access);
      if (doc.query) checkQuery(req.query, doc.query);
      const ws = await slice.workspace(caller.workspace.id);
      const out = await handler({
        req,
        reply,
        caller,
        ws,
        params: req.params as Params,
        query: req.query as Query,
        body: req.body,
      });
      // A streamed answer (export, stream) has been sent, or its client went away.
      if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return reply;
      if (app.checkResponses) {
        const problem = responseProblem(doc, out === undefined ? 204 : reply.statusCode, out);
        if (problem) throw new Error(problem);
      }
      if (out === undefined) return reply.status(204).send();
      return out;
    },
  });
}

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

const page = (q: Query) => ({ limit: listLimit(q.limit), ...(q.cursor ? { cursor: q.cursor } : {}) });

/** The longest search text of `GET /v1/contacts?q=`. */
const SEARCH_MAX = 200;

const LOOKUP_CAPS = { id: 255, email: EMAIL_MAX_LENGTH, external_id: 255 } as const;
type LookupKey = keyof typeof LOOKUP_CAPS;

/** The contact keys of a lookup (`?email=` …), each bounded; undefined when none is given. */
function lookupOf(q: Query, keys: readonly LookupKey[]): Partial<Record<LookupKey, string>> | undefined {
  let out: Partial<Record<LookupKey, string>> | undefined;
  for (const k of keys) {
    const v = q[k];
    if (v === undefined) continue;
    if (v === "") throw invalid(`query.${k}`, "expected a value");
    if (v.length > LOOKUP_CAPS[k]) throw invalid(`query.${k}`, `longer than ${LOOKUP_CAPS[k]} characters`);
    out = { ...out, [k]: v };
  }
  if (out && q.cursor)
    throw invalid("query.cursor", `not with ${Object.keys(out).join(", ")} (one contact at most)`);
  return out;
}

/** The reply's ETag, and the value for chaining. */
function tagged<T>(reply: FastifyReply, tag: string, value: T): T {
  reply.header("etag", tag);
  return value;
}

export function registerRoutes(app: FastifyInstance, slice: Slice, publicUrl?: string): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  // Liveness above; readiness here: 503 with the load's progress until every workspace
  // is loaded (the server listens at once, docs/operations.md).
  app.get("/readyz", async (_req, reply) => {
    const r = app.readiness.snapshot();
    if (r.status !== "ready") reply.status(503).header("retry-after", "5");
    return r;
  });

  // ---------------------------------------------------------------- workspaces and keys
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/workspaces",
      summary: "Create a workspace (admin key only)",
      body: WorkspaceInput,
      tag: "workspaces",
      response: R.WorkspaceCreated,
      ok: [201],
    },
    async ({ caller, body, reply }) => {
      const r = await slice.createWorkspace(caller, body);
      reply.status(201);
      // Instants are ISO 8601 on the wire, as everywhere else (it answered epoch milliseconds).
      return { ...r, workspace: wireWorkspace(r.workspace) };
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/workspace",
      summary: "The caller's workspace",
      tag: "workspaces",
      response: R.WorkspaceAnswer,
    },
    ({ caller }) => wireWorkspace(caller.workspace),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/keys",
      summary: "Create an API key of the caller's workspace (the secret is shown once)",
      body: KeyInput,
      tag: "keys",
      response: R.KeyCreated,
      ok: [201],
    },
    async ({ caller, body, reply }) => {
      const { key, secret } = await slice.createKey(caller, body);
      reply.status(201);
      return { ...wireKey(key), key: secret };
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/keys",
      summary: "The caller's workspace's keys",
      tag: "keys",
      access: "write",
      response: R.KeysPage,
    },
    async ({ caller }) => ({
      data: (await slice.store.listApiKeys(caller.workspace.id)).map(wireKey),
      next_cursor: null,
    }),
  );
  route(
    app,
    slice,
    { method: "DELETE", path: "/v1/keys/{id}", summary: "Revoke a key", tag: "keys", ok: [204] },
    async ({ caller, params }) => {
      await slice.deleteKey(caller, params.id!);
    },
  );

  // ---------------------------------------------------------------- contacts
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/contacts",
      summary: "Upsert one contact (by email or external_id)",
      access: "ingest",
      body: ContactInput,
      tag: "contacts",
      response: R.ContactWithSegments,
      ok: [200, 201],
      etag: true,
    },
    async ({ ws, body, reply }) => {
      const { contact, created } = await ws.upsertContact(body);
      reply.status(created ? 201 : 200);
      return tagged(reply, contactTag(storedProfile(contact)), contact);
    },
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/contacts/batch",
      summary: "Upsert up to 10,000 contacts; per-item errors",
      access: "ingest",
      tag: "contacts",
      body: ContactInput.array().max(LIMITS.batchItems),
      response: R.BatchAnswer,
    },
    ({ ws, body }) => ws.upsertContacts(body),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/contacts",
      summary: "List contacts, optionally of one segment; or the one with an email or external_id",
      query: ["segment", "q", "cursor", "limit", "email", "external_id"],
      queryTypes: {
        q: z.string().max(SEARCH_MAX).meta({
          description:
            "Contacts whose email, first name, last name or external id contains this text (any case; trimmed; empty: all)",
        }),
      },
      tag: "contacts",
      response: R.ContactsPage,
    },
    ({ ws, query }) => {
      const lookup = lookupOf(query, ["email", "external_id"]);
      if ((query.q?.length ?? 0) > SEARCH_MAX)
        throw invalid("query.q", `longer than ${SEARCH_MAX} characters`);
      const q = query.q?.trim() ?? "";
      if (q && lookup) throw invalid("query.q", `not with ${Object.keys(lookup).join(", ")}`);
      return ws.listContacts({
        ...page(query),
        ...(query.segment ? { segment: query.segment } : {}),
        ...(q ? { q } : {}),
        ...lookup,
      });
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/contacts/{id}",
      summary: "A contact, with the segments it is in (and its ETag)",
      tag: "contacts",
      response: R.ContactWithSegments,
      etag: true,
    },
    async ({ ws, params, reply }) => {
      const c = await ws.getContact(params.id!);
      return tagged(reply, contactTag(storedProfile(c)), c);
    },
  );
  route(
    app,
    slice,
    {
      method: "PATCH",
      path: "/v1/contacts/{id}",
      summary: "Update the fields given (412 when If-Match is stale)",
      body: ContactInput,
      tag: "contacts",
      response: R.ContactWithSegments,
      ifMatch: true,
      etag: true,
    },
    async ({ ws, params, body, req, reply }) => {
      const ifMatch = parseIfMatch(req.headers["if-match"]);
      const c = await ws.patchContact(params.id!, body, ifMatch);
      return tagged(reply, contactTag(storedProfile(c)), c);
    },
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/contacts/{id}",
      summary: "Erase a contact (profile, events, memberships); 412 when If-Match is stale",
      tag: "contacts",
      ok: [204],
      ifMatch: true,
    },
    async ({ ws, params, req }) => {
      const ifMatch = parseIfMatch(req.headers["if-match"]);
      await ws.deleteContact(params.id!, ifMatch);
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/contacts/{id}/events",
      summary: "A contact's events, newest first",
      query: ["cursor", "limit"],
      tag: "events",
      response: R.EventsPage,
    },
    ({ ws, params, query }) => ws.contactEvents(params.id!, page(query)),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/contacts/{id}/explain",
      summary: "Why a contact is in or out of a segment",
      query: ["segment"],
      tag: "segments",
      response: R.ExplainAnswer,
    },
    ({ ws, params, query }) => {
      if (!query.segment) throw invalid("segment", "expected a segment id");
      return ws.explain(params.id!, query.segment);
    },
  );

  // ---------------------------------------------------------------- events
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/events",
      summary: "Record one event or an array of up to 10,000",
      access: "ingest",
      body: z.union([EventInput, z.array(EventInput).max(LIMITS.batchItems)]),
      tag: "events",
      response: R.BatchAnswer,
    },
    ({ ws, body }) => ws.ingest(body),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/event-types",
      summary: "The event types the workspace has events of, with their property names and value types",
      tag: "events",
      response: EventTypesList,
    },
    ({ ws }) => ({ data: eventTypes(ws.engine), next_cursor: null }),
  );

  // ---------------------------------------------------------------- fields
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/fields",
      summary: "Built-in and custom fields",
      tag: "fields",
      response: R.FieldsPage,
    },
    async ({ ws }) => ({ data: await ws.listFields(), next_cursor: null }),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/fields",
      summary: "Declare a custom field",
      body: FieldInput,
      tag: "fields",
      response: R.FieldAnswer,
      ok: [201],
    },
    async ({ ws, body, reply }) => {
      const f = await ws.createField(body);
      reply.status(201);
      return ws.wireField(f);
    },
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/fields/{key}",
      summary: "Delete a computed field (409 while a segment's rule uses it)",
      tag: "fields",
      ok: [204],
    },
    async ({ ws, params }) => {
      await ws.deleteField(params.key!);
    },
  );

  // ---------------------------------------------------------------- segments
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments",
      summary: "Default and custom segments, with sizes",
      tag: "segments",
      response: R.SegmentsPage,
    },
    async ({ ws }) => ({ data: await ws.listSegments(), next_cursor: null }),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/segments",
      summary: "Create a segment",
      body: SegmentInput,
      tag: "segments",
      response: R.SegmentAnswer,
      ok: [201],
      etag: true,
    },
    async ({ ws, body, reply }) => {
      const s = await ws.createSegment(body);
      reply.status(201);
      return tagged(reply, segmentTag(s.version), s);
    },
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/segments/preview",
      summary: "Count and sample of a rule without saving; the edit diff with segment_id",
      access: "read",
      body: PreviewInput,
      tag: "segments",
      response: R.PreviewAnswer,
    },
    ({ ws, body }) => ws.preview(body),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segment-templates",
      summary: "Ready-made rules to start from",
      tag: "segments",
      response: R.SegmentTemplatesPage,
    },
    () => ({ data: SEGMENT_TEMPLATES, next_cursor: null }),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments/{id}",
      summary: "A segment (and its ETag)",
      tag: "segments",
      response: R.SegmentAnswer,
      etag: true,
    },
    async ({ ws, params, reply }) => {
      const s = await ws.getSegment(params.id!);
      return tagged(reply, segmentTag(s.version), s);
    },
  );
  route(
    app,
    slice,
    {
      method: "PUT",
      path: "/v1/segments/{id}",
      summary: "Replace a segment's name, description and rule (412 when If-Match is stale)",
      body: SegmentReplace,
      tag: "segments",
      response: R.SegmentAnswer,
      ifMatch: true,
      etag: true,
    },
    async ({ ws, params, body, req, reply }) => {
      const s = await ws.replaceSegment(params.id!, body, { ifMatch: parseIfMatch(req.headers["if-match"]) });
      return tagged(reply, segmentTag(s.version), s);
    },
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/segments/{id}",
      summary: "Delete a segment (409 with details.uses when in use; 412 when If-Match is stale)",
      tag: "segments",
      ok: [204],
      ifMatch: true,
    },
    async ({ ws, params, req }) => {
      await ws.deleteSegment(params.id!, { ifMatch: parseIfMatch(req.headers["if-match"]) });
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments/{id}/versions",
      summary: "A segment's versions, newest first",
      tag: "segments",
      response: R.SegmentVersionsPage,
    },
    ({ ws, params }) => listVersions(ws, params.id!),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/segments/{id}/versions/{version}/restore",
      summary: "Restore a version: writes a new version with its name, description and rule",
      tag: "segments",
      response: R.SegmentAnswer,
      ifMatch: true,
      etag: true,
    },
    async ({ ws, params, req, reply }) => {
      const s = await restoreVersion(ws, params.id!, versionParam(params.version!), {
        ifMatch: parseIfMatch(req.headers["if-match"]),
      });
      return tagged(reply, segmentTag(s.version), s);
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments/{id}/contacts",
      summary: "Members now, or at a past instant with ?at=; with ?email= (external_id=, id=): is it in?",
      query: ["cursor", "limit", "at", "email", "external_id", "id"],
      queryTypes: { at: R.InstantQuery },
      tag: "segments",
      response: R.MembersPage,
    },
    ({ ws, params, query }) => {
      const contact = lookupOf(query, ["id", "email", "external_id"]);
      if (contact && query.at !== undefined) {
        throw invalid("query.at", "not with a contact lookup: members at an instant are listed whole");
      }
      return ws.members(params.id!, {
        ...page(query),
        ...(query.at !== undefined ? { at: query.at } : {}),
        ...(contact ? { contact } : {}),
      });
    },
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/segments/{id}/members",
      summary: "Add static members (or 'added' overrides of a dynamic segment)",
      body: MembersInput,
      tag: "segments",
      response: R.MembersAdded,
    },
    ({ ws, params, body }) => ws.addMembers(params.id!, body),
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/segments/{id}/members",
      summary: "Remove static members (or 'removed' overrides)",
      body: RefsInput,
      tag: "segments",
      response: R.MembersRemoved,
    },
    ({ ws, params, body }) => ws.removeMembers(params.id!, body),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments/{id}/overrides",
      summary: "A dynamic segment's manual overrides",
      tag: "segments",
      response: R.OverridesPage,
    },
    ({ ws, params }) => ({ data: ws.overrides(params.id!), next_cursor: null }),
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/segments/{id}/overrides",
      summary: "Lift overrides",
      body: RefsInput,
      tag: "segments",
      response: R.OverridesLifted,
    },
    ({ ws, params, body }) => ws.liftOverrides(params.id!, body),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/segments/{id}/actions",
      summary: "Bulk action on the current members",
      body: ActionInput,
      tag: "segments",
      response: R.ActionAnswer,
    },
    ({ ws, params, body }) => ws.action(params.id!, body),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments/{id}/changes",
      summary: "Enter/exit log, oldest first",
      query: ["since", "cursor", "limit"],
      queryTypes: { since: R.InstantQuery },
      tag: "segments",
      response: R.ChangesPage,
    },
    ({ ws, params, query }) =>
      ws.changes(params.id!, {
        ...page(query),
        ...(query.since !== undefined ? { since: query.since } : {}),
      }),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/segments/{id}/uses",
      summary: "What refers to a segment",
      tag: "segments",
      response: R.UsesPage,
    },
    async ({ ws, params }) => ({ data: await ws.uses(params.id!), next_cursor: null }),
  );
  route(
    app,
    slice,
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
    async ({ ws, params, query }) => {
      const num = (k: string) => {
        const v = query[k];
        if (v === undefined || v === "") return undefined;
        const n = Number(v);
        if (!Number.isInteger(n)) throw invalid(k, "expected an integer");
        return n;
      };
      try {
        const days = num("days");
        const top = num("top");
        // The daily figures come from the change log: bring it up to the engine first.
        await ws.live.tick();
        return await segmentAnalytics({
          store: slice.store,
          ws: ws.id,
          engine: ws.engine,
          segmentId: params.id!,
          timeZone: ws.timeZone,
          now: slice.clock.now(),
          ...(days !== undefined ? { days } : {}),
          ...(top !== undefined ? { top } : {}),
          ...(query.breakdown ? { breakdownField: query.breakdown } : {}),
          ...(query.overlap ? { overlapWith: query.overlap } : {}),
        });
      } catch (e) {
        if (e instanceof AnalyticsError) {
          const names: Record<string, string> = { breakdownField: "breakdown", overlapWith: "overlap" };
          const path = names[e.path] ?? e.path;
          if (e.code === "not_found") throw new ApiError("not_found", e.message);
          throw invalid(path, e.message);
        }
        throw e;
      }
    },
  );
  route(
    app,
    slice,
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
    async ({ ws, params, query, reply }) => {
      const id = params.id!;
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
        excludeSuppressed: !(query.include_suppressed === "true" || query.include_suppressed === "1"),
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
      const pages = exportPages(slice.store, ws, ws.engine.members(id).ids());
      reply
        .header("Content-Type", contentType(format))
        .header("Content-Disposition", `attachment; filename="${fileName(id, format)}"`);
      return reply.send(Readable.from(exportChunks(pages, opts)));
    },
  );

  // ---------------------------------------------------------------- webhooks
  registerWebhookRoutes(app, slice);

  // ---------------------------------------------------------------- stream
  registerStreamRoutes(app, slice);

  registerImports(app, slice);
  registerReceiverRoutes(app, slice, publicUrl);
  registerDestinationRoutes(app, slice);
  registerScheduleRoutes(app, slice, slice.schedules);
  registerDocs(app, () => openApiDocument(ROUTES));
}
