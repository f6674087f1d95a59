/** Events (SPEC §4): recording them, and the event types seen with their properties. */
import { z } from "zod";
import { EventInput, LIMITS } from "../../service/wire.ts";
import * as R from "../responses/core.ts";
import { EventTypesList } from "../responses/event-types.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

export const EVENT_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/events",
      summary: "Record one event or an array of up to 10,000",
      access: "ingest",
      body: z.union([EventInput, z.array(EventInput).max(LIMITS.batchItems)]),
      // On purpose: a batch keeps its valid events and reports each invalid one by its
      // index (a 200 with per-item errors), so the service parses the events one by one;
      // the schema above is what the document shows.
      bodyParsedBy: "service",
      tag: "events",
      response: R.BatchAnswer,
    },
    ({ ws, body }) => ws.ingest(body),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/event-types",
      summary: "The event types the workspace has events of, with their property names and value types",
      tag: "events",
      response: EventTypesList,
    },
    async ({ ws }) => ({ data: await ws.engine.eventTypes(), next_cursor: null }),
  ),
];
