/** Destinations (SPEC §4.2, docs/destinations.md): live audience sync of a segment to a provider. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { DestinationInput, DestinationPatch } from "../service/destinations/service.ts";
import type { Slice } from "../service/slice.ts";
import { listLimit } from "../service/wire.ts";
import {
  Destination,
  DestinationCreated,
  DestinationList,
  DestinationOutcomePage,
  DestinationRun,
  DestinationRunPage,
  DryRun,
} from "./responses/integrations.ts";
import { route } from "./routes.ts";

export function registerDestinationRoutes(app: FastifyInstance, slice: Slice): void {
  const svc = slice.destinations;
  const tag = "destinations";
  route(
    app,
    slice,
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
    async ({ caller, body, reply }) => {
      const d = await svc.create(caller.workspace.id, body);
      reply.status(201);
      return d;
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/destinations",
      summary: "Destinations with their sync status",
      response: DestinationList,
      tag,
    },
    ({ caller }) => svc.list(caller.workspace.id),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/destinations/{id}",
      summary:
        "A destination: state, last sync, pending adds and removes, last error (never its credentials)",
      response: Destination,
      tag,
    },
    ({ caller, params }) => svc.get(caller.workspace.id, params.id!),
  );
  route(
    app,
    slice,
    {
      method: "PATCH",
      path: "/v1/destinations/{id}",
      summary: "Rename a destination",
      body: DestinationPatch,
      response: Destination,
      tag,
    },
    ({ caller, params, body }) => svc.update(caller.workspace.id, params.id!, body),
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/destinations/{id}",
      summary: "Delete a destination (the remote audience is left as it is)",
      tag,
    },
    async ({ caller, params }) => {
      await svc.delete(caller.workspace.id, params.id!);
    },
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/destinations/{id}/pause",
      summary: "Stop sending until resumed (changes keep being noted)",
      response: Destination,
      tag,
    },
    ({ caller, params }) => svc.setPaused(caller.workspace.id, params.id!, true),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/destinations/{id}/resume",
      summary: "Send again, starting with what changed while paused",
      response: Destination,
      tag,
    },
    ({ caller, params }) => svc.setPaused(caller.workspace.id, params.id!, false),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/destinations/{id}/dry-run",
      summary:
        "What the next sync would send (counts and the first requests, credentials redacted), sending nothing",
      response: DryRun,
      tag,
    },
    ({ caller, params }) => svc.dryRun(caller.workspace.id, params.id!),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/destinations/{id}/runs",
      summary: "Sync runs, newest first, with counts",
      query: ["limit", "cursor"],
      response: DestinationRunPage,
      tag,
    },
    ({ caller, params, query }) =>
      svc.runs(caller.workspace.id, params.id!, {
        limit: listLimit(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      }),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/destinations/{id}/runs/{run}",
      summary: "One sync run",
      response: DestinationRun,
      tag,
    },
    ({ caller, params }) => svc.run(caller.workspace.id, params.id!, params.run!),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/destinations/{id}/runs/{run}/outcomes",
      summary: "Per-contact outcomes of a run (operation, status, provider error); `status=failed` filters",
      tag,
      query: ["limit", "cursor", "status"],
      queryTypes: { status: z.enum(["ok", "failed", "skipped"]) },
      response: DestinationOutcomePage,
    },
    ({ caller, params, query }) =>
      svc.outcomes(caller.workspace.id, params.id!, params.run!, {
        limit: listLimit(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
      }),
  );
}
