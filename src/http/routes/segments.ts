/** Segments (SPEC §3, §4): the list, one segment, its versions, templates and previews. */
import { parseIfMatch, segmentTag } from "../../service/etag.ts";
import { listVersions, restoreVersion, versionParam } from "../../service/segment-versions.ts";
import { SEGMENT_TEMPLATES } from "../../service/templates.ts";
import { PreviewInput, SegmentInput, SegmentReplace } from "../../service/wire.ts";
import * as R from "../responses/core.ts";
import { defineRoute, type RouteSpec, tagged } from "../route.ts";

export const SEGMENT_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments",
      summary: "Default and custom segments, with sizes",
      tag: "segments",
      response: R.SegmentsPage,
    },
    async ({ ws }) => ({ data: await ws.listSegments(), next_cursor: null }),
  ),
  defineRoute(
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
  ),
  defineRoute(
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
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/segment-templates",
      summary: "Ready-made rules to start from",
      tag: "segments",
      response: R.SegmentTemplatesPage,
    },
    () => ({ data: SEGMENT_TEMPLATES, next_cursor: null }),
  ),
  defineRoute(
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
  ),
  defineRoute(
    {
      method: "PUT",
      path: "/v1/segments/{id}",
      summary: "Replace a segment's name, description and rule (412 when If-Match is stale)",
      body: SegmentReplace,
      tag: "segments",
      response: R.SegmentAnswer,
      ifMatch: true,
      etag: true,
      // A malformed If-Match, then a read-only segment, are answered before the body.
      before: ({ ws, req, params }) => {
        parseIfMatch(req.headers["if-match"]);
        ws.requireCustom(params.id!);
      },
    },
    async ({ ws, params, body, req, reply }) => {
      const s = await ws.replaceSegment(params.id!, body, { ifMatch: parseIfMatch(req.headers["if-match"]) });
      return tagged(reply, segmentTag(s.version), s);
    },
  ),
  defineRoute(
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
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/versions",
      summary: "A segment's versions, newest first",
      tag: "segments",
      response: R.SegmentVersionsPage,
    },
    ({ ws, params }) => listVersions(ws, params.id!),
  ),
  defineRoute(
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
  ),
];
