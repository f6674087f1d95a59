/**
 * Segment-compatible ingest (SPEC §4.1, docs/ingest.md): `POST /segment/v1/batch` (and
 * `/import`, its other name in Segment's HTTP API) and one route per call type. The
 * server authenticates these paths with HTTP Basic (the key as the user name) and
 * decompresses gzip bodies before they get here; the body limits are Segment's and count
 * decompressed bytes.
 */
import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiError } from "../service/errors.ts";
import { ingestSegmentBatch, ingestSegmentCall, type SegmentResult } from "../service/segment/ingest.ts";
import { MESSAGE_TYPES, SEGMENT_LIMITS, SegmentBatch, SegmentMessage } from "../service/segment/spec.ts";
import type { Slice } from "../service/slice.ts";
import { type RouteDoc, responseProblem } from "./openapi.ts";
import { SegmentAnswer } from "./responses/integrations.ts";

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError("invalid_request", `invalid JSON body: ${(e as Error).message}`, { path: "" });
  }
}

/** Some clients label their JSON `text/plain` (or nothing at all); it is read as JSON here. */
async function jsonBody(req: FastifyRequest, limit: number): Promise<unknown> {
  const body = req.body;
  if (body === null || typeof (body as Readable).pipe !== "function") return body;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as Readable) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError("payload_too_large", `request body exceeds ${limit / 1024} KB`);
    chunks.push(chunk as Buffer);
  }
  return parseJson(Buffer.concat(chunks).toString("utf8"));
}

async function workspaceOf(slice: Slice, req: FastifyRequest) {
  if (!req.caller) throw new ApiError("unauthorized", "missing write key");
  return slice.workspace(req.caller.workspace.id);
}

/** Counts each request in the workspace's `segment` source (GET /v1/sources). */
async function counted(slice: Slice, ws: string, run: () => Promise<SegmentResult>): Promise<SegmentResult> {
  try {
    const r = await run();
    slice.sources.record(ws, "segment", {
      outcome: r.errors.length > 0 && r.accepted + r.duplicates === 0 ? "rejected" : "accepted",
      accepted: r.accepted + r.duplicates,
      rejected: r.errors.length,
      detail: r.errors[0] ? `message ${r.errors[0].index}: ${r.errors[0].error}` : null,
    });
    return r;
  } catch (e) {
    if (e instanceof ApiError) {
      slice.sources.record(ws, "segment", { outcome: "rejected", rejected: 1, detail: e.message });
    }
    throw e;
  }
}

const AUTH = "HTTP Basic: the API key as the user name, an empty password";

/** The OpenAPI document lists them beside the bearer routes. */
export const SEGMENT_DOCS: readonly RouteDoc[] = [
  {
    method: "POST",
    path: "/segment/v1/batch",
    summary: `Segment-compatible batch of messages, ≤ 500 KB (${AUTH}); answers per-message errors`,
    tag: "segment",
    body: SegmentBatch,
    access: "ingest",
    auth: "basic",
    response: SegmentAnswer,
  },
  {
    method: "POST",
    path: "/segment/v1/import",
    summary: `The same as /segment/v1/batch, its other name in Segment's HTTP API (${AUTH})`,
    tag: "segment",
    body: SegmentBatch,
    access: "ingest",
    auth: "basic",
    response: SegmentAnswer,
  },
  ...MESSAGE_TYPES.map((type) => ({
    method: "POST" as const,
    path: `/segment/v1/${type}`,
    summary: `One Segment ${type} call, ≤ 32 KB (${AUTH}); a message that does not apply answers 400`,
    tag: "segment",
    body: SegmentMessage,
    access: "ingest" as const,
    auth: "basic" as const,
    response: SegmentAnswer,
  })),
];

export function registerSegmentRoutes(app: FastifyInstance, slice: Slice): void {
  const docs = SEGMENT_DOCS;
  // Not registered through route(): the answers are checked here, as route() checks its own.
  const checked = (path: string, r: SegmentResult): SegmentResult => {
    const doc = docs.find((d) => d.path === path);
    const problem = app.checkResponses && doc ? responseProblem(doc, 200, r) : null;
    if (problem) throw new Error(problem);
    return r;
  };
  void app.register(async (scope) => {
    // Segment's libraries send application/json; others have sent a form type or none.
    scope.addContentTypeParser("*", { parseAs: "string" }, (_req, text, done) => {
      try {
        done(null, parseJson(text as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    for (const path of ["/segment/v1/batch", "/segment/v1/import"]) {
      scope.post(path, { bodyLimit: SEGMENT_LIMITS.batchBytes }, async (req) => {
        const ws = await workspaceOf(slice, req);
        const r = await counted(slice, ws.id, async () =>
          ingestSegmentBatch(ws, await jsonBody(req, SEGMENT_LIMITS.batchBytes), ws.now()),
        );
        return checked(path, r);
      });
    }
    for (const type of MESSAGE_TYPES) {
      scope.post(`/segment/v1/${type}`, { bodyLimit: SEGMENT_LIMITS.messageBytes }, async (req) => {
        const ws = await workspaceOf(slice, req);
        const r = await counted(slice, ws.id, async () =>
          ingestSegmentCall(ws, type, await jsonBody(req, SEGMENT_LIMITS.messageBytes), ws.now()),
        );
        return checked(`/segment/v1/${type}`, r);
      });
    }
  });
}
