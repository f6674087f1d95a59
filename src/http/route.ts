/**
 * How an API route is declared and mounted. A route is data: its document (`RouteDoc`:
 * path, schemas, access, answers) and its handler. The request body is parsed with the
 * route's own `body` schema before the handler runs, so the handler and the service get
 * the parsed type and the OpenAPI document names the same schema; a route whose service
 * parses the items of a batch one by one (per-item errors) says `bodyParsedBy: "service"`.
 * A route whose fields are all optional may say `emptyBody: "object"`: no body reads as `{}`.
 * Declared once at module level, the routes' documents are the same for every server.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { invalid } from "../service/errors.ts";
import type { Caller, Slice } from "../service/slice.ts";
import { listLimit, parse } from "../service/wire.ts";
import type { WorkspaceService } from "../service/workspace.ts";
import { StoreError } from "../store/types.ts";
import { requireAccess } from "./access.ts";
import { type RouteDoc, responseProblem } from "./openapi.ts";

export type Query = Record<string, string | undefined>;
export type Params = Record<string, string>;

export interface Ctx<B = unknown> {
  req: FastifyRequest;
  reply: FastifyReply;
  slice: Slice;
  /** `SLICE_PUBLIC_URL`, for the URLs an answer shows (receivers). */
  publicUrl: string | undefined;
  caller: Caller;
  ws: WorkspaceService;
  params: Params;
  query: Query;
  body: B;
}

type Handler<B> = (ctx: Ctx<B>) => Promise<unknown> | unknown;

/** Who parses the body: the route, with its schema (default), or the service (batches). */
type BodyParser = "route" | "service";

type BodyOf<S, P extends BodyParser> = P extends "service"
  ? unknown
  : S extends z.ZodType
    ? z.output<S>
    : unknown;

export interface RouteSpec {
  doc: RouteDoc;
  bodyParsedBy: BodyParser;
  /** What a missing (or null) body is parsed as: `{}`, or refused ("expected a JSON body"). */
  emptyBody: "object" | "refused";
  /** Checks of the path run before the body is parsed (a read-only segment answers 403 first). */
  before: ((ctx: Ctx) => void) | undefined;
  handler: Handler<unknown>;
}

export function defineRoute<S extends z.ZodType | undefined = undefined, P extends BodyParser = "route">(
  doc: Omit<RouteDoc, "body"> & {
    body?: S;
    bodyParsedBy?: P;
    emptyBody?: "object" | "refused";
    before?: (ctx: Ctx) => void;
  },
  handler: Handler<BodyOf<S, P>>,
): RouteSpec {
  const { bodyParsedBy, emptyBody, before, ...rest } = doc;
  return {
    doc: rest as RouteDoc,
    bodyParsedBy: bodyParsedBy ?? "route",
    emptyBody: emptyBody ?? "refused",
    before,
    handler: handler as Handler<unknown>,
  };
}

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

/** The store refusing a route's `cursor` (one it did not issue) is the cursor's 400. */
function cursorError(e: unknown, doc: RouteDoc, query: Query): unknown {
  if (e instanceof StoreError && e.code === "invalid" && doc.query?.includes("cursor") && query.cursor) {
    return invalid("cursor", e.message);
  }
  return e;
}

export function mountRoutes(
  app: FastifyInstance,
  slice: Slice,
  routes: readonly RouteSpec[],
  publicUrl?: string,
): void {
  for (const r of routes) mount(app, slice, r, publicUrl);
}

function mount(app: FastifyInstance, slice: Slice, r: RouteSpec, publicUrl: string | undefined): void {
  const { doc } = r;
  const access = doc.access ?? (doc.method === "GET" ? "read" : "write");
  const url = doc.path.replace(/\{(\w+)\}/g, ":$1");
  const parseBody = doc.body !== undefined && r.bodyParsedBy === "route";
  app.route({
    method: doc.method,
    url,
    handler: async (req, reply) => {
      const caller = req.caller!;
      requireAccess(caller.key.role, access);
      if (doc.query) checkQuery(req.query, doc.query);
      const ws = await slice.workspace(caller.workspace.id);
      const query = req.query as Query;
      const ctx: Ctx = {
        req,
        reply,
        slice,
        publicUrl,
        caller,
        ws,
        params: req.params as Params,
        query,
        body: req.body,
      };
      let out: unknown;
      try {
        r.before?.(ctx);
        if (parseBody) ctx.body = parse(doc.body!, r.emptyBody === "object" ? (req.body ?? {}) : req.body);
        out = await r.handler(ctx);
      } catch (e) {
        throw cursorError(e, doc, query);
      }
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

export const page = (q: Query) => ({
  limit: listLimit(q.limit),
  ...(q.cursor ? { cursor: q.cursor } : {}),
});

/** The reply's ETag, and the value for chaining. */
export function tagged<T>(reply: FastifyReply, tag: string, value: T): T {
  reply.header("etag", tag);
  return value;
}
