/** Destinations (SPEC §4.2, docs/destinations.md): live audience sync of a segment to a provider. */
import { z } from "zod";
import { DestinationInput, DestinationPatch } from "../../service/destinations/service.ts";
import { listLimit } from "../../service/wire.ts";
import {
  Destination,
  DestinationCreated,
  DestinationList,
  DestinationOutcomePage,
  DestinationRun,
  DestinationRunPage,
  DryRun,
} from "../responses/integrations.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

const tag = "destinations";

export const DESTINATION_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/destinations",
      summary:
        "Sync a segment to a destination (http, mailchimp, brevo, kit, meta, google); an http destination's signing secret, when Slice makes it, is shown once here",
      body: DestinationInput,
      response: DestinationCreated,
      ok: [201],
      tag,
    },
    async ({ slice, caller, body, reply }) => {
      const d = await slice.destinations.create(caller.workspace.id, body);
      reply.status(201);
      return d;
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/destinations",
      summary: "Destinations with their sync status",
      response: DestinationList,
      tag,
    },
    ({ slice, caller }) => slice.destinations.list(caller.workspace.id),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/destinations/{id}",
      summary:
        "A destination: state, last sync, pending adds and removes, last error (never its credentials)",
      response: Destination,
      tag,
    },
    ({ slice, caller, params }) => slice.destinations.get(caller.workspace.id, params.id!),
  ),
  defineRoute(
    {
      method: "PATCH",
      path: "/v1/destinations/{id}",
      summary: "Rename a destination",
      body: DestinationPatch,
      response: Destination,
      tag,
    },
    ({ slice, caller, params, body }) => slice.destinations.update(caller.workspace.id, params.id!, body),
  ),
  defineRoute(
    {
      method: "DELETE",
      path: "/v1/destinations/{id}",
      summary: "Delete a destination (the remote audience is left as it is)",
      tag,
    },
    async ({ slice, caller, params }) => {
      await slice.destinations.delete(caller.workspace.id, params.id!);
    },
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/destinations/{id}/pause",
      summary: "Stop sending until resumed (changes keep being noted)",
      response: Destination,
      tag,
    },
    ({ slice, caller, params }) => slice.destinations.setPaused(caller.workspace.id, params.id!, true),
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/destinations/{id}/resume",
      summary: "Send again, starting with what changed while paused",
      response: Destination,
      tag,
    },
    ({ slice, caller, params }) => slice.destinations.setPaused(caller.workspace.id, params.id!, false),
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/destinations/{id}/dry-run",
      summary:
        "What the next sync would send (counts and the first requests, credentials redacted), sending nothing",
      response: DryRun,
      tag,
    },
    ({ slice, caller, params }) => slice.destinations.dryRun(caller.workspace.id, params.id!),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/destinations/{id}/runs",
      summary: "Sync runs, newest first, with counts",
      query: ["limit", "cursor"],
      response: DestinationRunPage,
      tag,
    },
    ({ slice, caller, params, query }) =>
      slice.destinations.runs(caller.workspace.id, params.id!, {
        limit: listLimit(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      }),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/destinations/{id}/runs/{run}",
      summary: "One sync run",
      response: DestinationRun,
      tag,
    },
    ({ slice, caller, params }) => slice.destinations.run(caller.workspace.id, params.id!, params.run!),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/destinations/{id}/runs/{run}/outcomes",
      summary: "Per-contact outcomes of a run (operation, status, provider error); `status=failed` filters",
      tag,
      query: ["limit", "cursor", "status"],
      queryTypes: { status: z.enum(["ok", "failed", "skipped"]) },
      response: DestinationOutcomePage,
    },
    ({ slice, caller, params, query }) =>
      slice.destinations.outcomes(caller.workspace.id, params.id!, params.run!, {
        limit: listLimit(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
      }),
  ),
];
