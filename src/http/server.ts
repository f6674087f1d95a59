/**
 * The HTTP server (SPEC §4) on Fastify: auth, errors, limits and the route table.
 * Routes are thin: they parse the query, call `src/service`, and shape the answer.
 */
import type { Readable } from "node:stream";
import { createGunzip, createInflate } from "node:zlib";
import rateLimit from "@fastify/rate-limit";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { type Logger, requestId } from "../observability/logger.ts";
import { Readiness } from "../observability/readiness.ts";
import { ApiError } from "../service/errors.ts";
import type { Caller, Slice } from "../service/slice.ts";
import { LIMITS } from "../service/wire.ts";
import { StoreError } from "../store/types.ts";
import {
  type AuthFailureLimit,
  AuthFailures,
  authenticate,
  DEFAULT_AUTH_FAILURE_LIMIT,
  schemeOf,
} from "./auth.ts";
import { checkJsonTextDepth, checkValueDepth } from "./body-limits.ts";
import { type Forwarding, registerForwarding } from "./forward.ts";
import { registerIdempotency } from "./idempotency.ts";
import { type Metrics, registerMetrics } from "./metrics.ts";
import { registerHookRoute } from "./routes/receivers.ts";
import { registerRoutes } from "./routes.ts";
import { registerSegmentRoutes } from "./segment-routes.ts";
import { registerStatic } from "./static.ts";

export interface ServerOptions {
  /** Requests per key per window before 429 (default 6,000 a minute). */
  rateLimit?: { max: number; windowMs: number };
  bodyLimit?: number;
  /** The request log (pino): one line per request, with its request id. */
  loggerInstance?: Logger;
  /** Start-up progress: API requests are refused with 503 until ready (default: ready). */
  readiness?: Readiness;
  /** `GET /metrics` and the hooks feeding it; absent, no metrics. */
  metrics?: Metrics;
  /** `SLICE_METRICS_TOKEN`: a bearer token for `GET /metrics` besides admin keys. */
  metricsToken?: string;
  /** `SLICE_PUBLIC_URL`: the start of the URLs Slice shows (receivers); default the request's own. */
  publicUrl?: string;
  /** Failed authentications per client address before 429 (default 20 a minute). */
  authFailureLimit?: AuthFailureLimit;
  /** `SLICE_CHECK_RESPONSES=1`: every JSON answer is checked against its documented schema (500 if not). */
  checkResponses?: boolean;
  /** One node of a cluster: requests for workspaces other nodes serve go there (src/http/forward.ts). */
  forwarding?: Forwarding;
}

declare module "fastify" {
  interface FastifyRequest {
    caller: Caller | null;
  }
  interface FastifyInstance {
    readiness: Readiness;
    checkResponses: boolean;
  }
}

function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/** Liveness and readiness probes. */
const PROBES = new Set(["/healthz", "/readyz"]);

/** What waits for the engines: every API and ingest route (reads too, to answer from loaded data only). */
const NEEDS_LOAD = /^\/(v1|segment\/v1|hooks)\//;
/** Still public while loading: the API description. */
const NO_LOAD = new Set(["/v1/openapi.json"]);

/** Routes that take a file as the request body, streamed (src/http/imports.ts). */
const STREAMED = new Set(["/v1/imports"]);

/** Body types read as a stream by STREAMED routes; Segment's clients label JSON with some of them. */
const STREAM_TYPES = [
  "text/csv",
  "application/x-ndjson",
  "application/ndjson",
  "text/plain",
  "application/octet-stream",
];

/** Whether a parsed body has had its depth checked (by the JSON parser, from its text). */
const DEPTH_CHECKED = Symbol("depthChecked");

function unsupportedType(req: FastifyRequest): ApiError {
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]!
    .trim();
  return new ApiError(
    "unsupported_media_type",
    `unsupported Content-Type${type ? ` "${type.slice(0, 100)}"` : ""}: expected application/json`,
  );
}

/** JSON text to a value, refusing bodies nested too deep before parsing. */
function parseJsonBody(text: string): unknown {
  // Only a short body can be blank; trimming a big batch would copy it for nothing.
  if (text.length === 0 || (text.length < 64 && text.trim() === "")) return undefined;
  checkJsonTextDepth(text);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError("invalid_request", `invalid JSON body: ${(e as Error).message}`, { path: "" });
  }
}

export function buildServer(slice: Slice, opts: ServerOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(opts.loggerInstance
      ? { loggerInstance: opts.loggerInstance as FastifyBaseLogger }
      : { logger: false }),
    genReqId: requestId,
    // One line per request, at its end (onResponse below), instead of two.
    logController: new LogController({ requestIdLogLabel: "req_id", disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? LIMITS.bodyBytes,
    // Big batches of events are the main load; keep-alive helps the clients that send them.
    keepAliveTimeout: 65_000,
  });
  app.decorateRequest("caller", null);
  const readiness = opts.readiness ?? Readiness.readyNow();
  app.decorate("readiness", readiness);
  app.decorate("checkResponses", opts.checkResponses ?? false);

  // Before every other hook: the request id goes back to the client (set on the raw
  // response so that streamed and hijacked answers carry it too), and nothing reaches
  // a workspace that is not loaded yet.
  app.addHook("onRequest", async (req, reply) => {
    reply.raw.setHeader("x-request-id", req.id);
    // No answer is to be sniffed into another type (an export read as HTML…).
    reply.raw.setHeader("x-content-type-options", "nosniff");
    if (readiness.ready) return;
    // The routed path: an encoded one must not slip past the wait either.
    const path = req.routeOptions.url ?? req.url.split("?")[0]!;
    if (!NEEDS_LOAD.test(path) || NO_LOAD.has(path)) return;
    opts.metrics?.notReady.inc();
    const p = readiness.snapshot();
    reply.header("retry-after", "5");
    throw new ApiError(
      "unavailable",
      readiness.failed
        ? `Slice failed to start: ${p.error ?? "unknown error"}`
        : `Slice is starting: loading ${p.phase}${p.total ? ` (${p.done} of ${p.total})` : ""}; retry shortly`,
    );
  });
  app.addHook("onResponse", async (req, reply) => {
    const status = reply.statusCode;
    const line = { req, res: reply, ms: Math.round(reply.elapsedTime * 10) / 10 };
    // Probes come every few seconds: their lines are for debugging only. A 503 while
    // loading is expected, not a failure.
    if (status >= 500 && status !== 503) req.log.error(line, "request failed");
    else if (PROBES.has(req.url)) req.log.debug(line, "request completed");
    else req.log.info(line, "request completed");
  });

  // An empty body with a JSON content type (a DELETE from many clients) is no body.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, text, done) => {
    try {
      const body = parseJsonBody(text as string);
      (req as unknown as Record<symbol, boolean>)[DEPTH_CHECKED] = true;
      done(null, body);
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  // The RudderStack SDK gzips its batches. The body limit counts the decompressed bytes,
  // as Fastify measures the stream this hook returns.
  app.addHook("preParsing", async (req, _reply, payload) => {
    const encoding = String(req.headers["content-encoding"] ?? "identity")
      .trim()
      .toLowerCase();
    if (encoding === "identity" || encoding === "") return payload;
    const inflate =
      encoding === "gzip" || encoding === "x-gzip"
        ? createGunzip()
        : encoding === "deflate"
          ? createInflate()
          : null;
    if (!inflate) {
      throw new ApiError(
        "unsupported_media_type",
        `unsupported Content-Encoding "${encoding}" (send gzip, deflate or none)`,
      );
    }
    // Fastify compares Content-Length with this count of the bytes as sent.
    const out = inflate as typeof inflate & { receivedEncodedLength: number };
    out.receivedEncodedLength = 0;
    payload.on("data", (chunk: Buffer) => {
      out.receivedEncodedLength += chunk.length;
    });
    payload.on("error", (e) => inflate.destroy(e));
    return payload.pipe(out);
  });

  // Imports upload files as they are: the route streams them. Segment's clients may label
  // their JSON text/plain: read as JSON there. Any other route takes JSON only.
  app.addContentTypeParser(STREAM_TYPES, async (req: FastifyRequest, payload: Readable) => {
    const routed = req.routeOptions.url ?? "";
    if (STREAMED.has(routed)) return payload;
    if (!routed.startsWith("/segment/v1/")) throw unsupportedType(req);
    const limit = req.routeOptions.bodyLimit ?? LIMITS.bodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new ApiError("payload_too_large", `request body exceeds ${limit / 1024} KB`);
      chunks.push(chunk as Buffer);
    }
    const body = parseJsonBody(Buffer.concat(chunks).toString("utf8"));
    (req as unknown as Record<symbol, boolean>)[DEPTH_CHECKED] = true;
    return body;
  });

  // Bodies parsed elsewhere (Segment's catch-all parser) get the same depth limit.
  app.addHook("preValidation", async (req) => {
    if ((req as unknown as Record<symbol, boolean>)[DEPTH_CHECKED]) return;
    const body = req.body;
    if (body !== null && typeof body === "object" && typeof (body as Readable).pipe !== "function") {
      checkValueDepth(body);
    }
  });

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof ApiError) {
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    if (err instanceof StoreError) {
      // What reaches here unhandled is the caller's input or a race lost to another
      // writer (a unique key taken in between). A refused cursor was named by its route
      // (route.ts), which knows it took one.
      if (err.code === "fenced") {
        // This node's hold on the workspace ended mid-write: nothing was committed.
        return reply
          .status(503)
          .header("retry-after", "1")
          .send(errorBody("unavailable", `${err.message}; retry`));
      }
      const code =
        err.code === "conflict" ? "conflict" : err.code === "not_found" ? "not_found" : "invalid_request";
      const status = code === "conflict" ? 409 : code === "not_found" ? 404 : 400;
      const path = err.field ?? "";
      return reply
        .status(status)
        .send(errorBody(code, path ? `${path}: ${err.message}` : err.message, { path }));
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE" || e.statusCode === 413) {
      return reply.status(413).send(errorBody("payload_too_large", "request body too large"));
    }
    if (e.statusCode === 429)
      return reply.status(429).send(errorBody("rate_limited", e.message ?? "too many requests"));
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || e.statusCode === 415) {
        return reply.status(415).send(errorBody("unsupported_media_type", unsupportedType(_req).message));
      }
      const message =
        e.code === "FST_ERR_CTP_EMPTY_JSON_BODY"
          ? "expected a JSON body"
          : `invalid JSON body: ${e.message ?? ""}`;
      return reply.status(400).send(errorBody("invalid_request", message, { path: "" }));
    }
    reply.log.error({ err }, "internal error");
    if (!opts.loggerInstance)
      process.stderr.write(`Slice: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return reply.status(500).send(errorBody("internal", "internal error"));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody("not_found", `no route ${req.method} ${req.url.split("?")[0]}`));
  });

  // On the routed path (src/http/auth.ts): however the URL was written, a /v1 route
  // answers 401 before its handler runs.
  const failures = new AuthFailures(opts.authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT, () =>
    slice.clock.now(),
  );
  app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    req.caller = await authenticate(slice, failures, req, (s) => reply.header("retry-after", String(s)));
  });
  if (opts.forwarding) registerForwarding(app, slice, opts.forwarding);
  // A route that needs a key never runs without one, whatever hook order plugins add.
  app.addHook("preHandler", async (req) => {
    if (req.caller === null && schemeOf(req) !== "none") {
      throw new ApiError("unauthorized", "missing API key: send Authorization: Bearer <api key>");
    }
  });
  registerIdempotency(app, slice);

  if (opts.metrics)
    registerMetrics(app, slice, opts.metrics, opts.metricsToken ? { token: opts.metricsToken } : {});

  const limit = opts.rateLimit ?? { max: 6000, windowMs: 60_000 };
  void app.register(rateLimit, {
    global: true,
    max: limit.max,
    timeWindow: limit.windowMs,
    hook: "preHandler",
    keyGenerator: (req) => req.caller?.key.id ?? req.ip,
    allowList: (req) => req.caller === null,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: { code: "rate_limited", message: `rate limit of ${ctx.max} requests per ${ctx.after} exceeded` },
    }),
  });

  void app.register(async (scope) => registerRoutes(scope, slice, opts.publicUrl));
  void app.register(async (scope) => registerHookRoute(scope, slice));
  registerSegmentRoutes(app, slice);
  void app.register(async (scope) => registerStatic(scope));
  return app;
}
