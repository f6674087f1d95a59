/**
 * `GET /v1/stream` (SPEC §4, docs/api.md): the workspace's membership changes as
 * server-sent events, each with its log position as `id:` (an opaque token, src/service/log-position.ts). A client that reconnects
 * with `Last-Event-ID` (or `?last_event_id=`, for clients that cannot set headers)
 * first gets every change logged after that id, then the live ones, none twice. Queues,
 * the per-key cap and the final `event: dropped`: src/service/change-stream.ts.
 */
import { z } from "zod";
import { invalid } from "../../service/errors.ts";
import type { WorkspacePositions } from "../../service/log-position.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

/** The id to resume after: the header wins, as an EventSource sends the newest there. */
function lastEventId(
  positions: WorkspacePositions,
  header: string | string[] | undefined,
  query: string | undefined,
): number | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (h !== undefined && h.trim() !== "") return positions.openSeq(h.trim(), "Last-Event-ID");
  if (query === undefined) return undefined;
  if (query === "") throw invalid("last_event_id", "expected the id of a change event");
  return positions.openSeq(query, "last_event_id");
}

export const STREAM_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "GET",
      path: "/v1/stream",
      summary: "Server-sent events: one membership change per event, resumable with Last-Event-ID",
      query: ["last_event_id"],
      queryTypes: { last_event_id: z.string().meta({ description: "The `id:` of the last event received" }) },
      produces: ["text/event-stream"],
      tag: "stream",
    },
    ({ slice, ws, caller, req, reply, query }) => {
      const after = lastEventId(ws.positions, req.headers["last-event-id"], query.last_event_id);
      const res = reply.raw;
      slice.changeStreams.open({
        workspace: ws.id,
        keyId: caller.key.id,
        sink: res,
        ...(after !== undefined ? { after } : {}),
        start: () => {
          reply.hijack();
          res.writeHead(200, {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            Connection: "keep-alive",
            "X-Accel-Buffering": "no",
          });
        },
      });
    },
  ),
];
