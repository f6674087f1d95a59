/**
 * Scheduled exports of a segment to an S3-compatible bucket or an HTTPS URL
 * (docs/exports.md): the schedules and their run history.
 */
import type { FastifyInstance } from "fastify";
import { ScheduleInput, SchedulePatch } from "../service/schedules/input.ts";
import type { ScheduleService } from "../service/schedules/service.ts";
import type { Slice } from "../service/slice.ts";
import { Schedule, ScheduleList, ScheduleRun, ScheduleRunPage } from "./responses/integrations.ts";
import { route } from "./routes.ts";

export function registerScheduleRoutes(app: FastifyInstance, slice: Slice, schedules: ScheduleService): void {
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/export-schedules",
      summary: "Schedule a segment's export (cron in the workspace's time zone) to S3 or an HTTPS URL",
      body: ScheduleInput,
      response: Schedule,
      ok: [201],
      tag: "exports",
    },
    async ({ ws, body, reply }) => {
      const s = await schedules.create(ws, body);
      reply.status(201);
      return s;
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/export-schedules",
      summary: "Export schedules",
      response: ScheduleList,
      tag: "exports",
    },
    async ({ ws }) => ({ data: await schedules.list(ws), next_cursor: null }),
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/export-schedules/{id}",
      summary: "An export schedule",
      response: Schedule,
      tag: "exports",
    },
    ({ ws, params }) => schedules.get(ws, params.id!),
  );
  route(
    app,
    slice,
    {
      method: "PATCH",
      path: "/v1/export-schedules/{id}",
      summary: "Change an export schedule: name, cron, columns, target, or pause and resume (state)",
      body: SchedulePatch,
      response: Schedule,
      tag: "exports",
    },
    ({ ws, params, body }) => schedules.update(ws, params.id!, body),
  );
  route(
    app,
    slice,
    {
      method: "DELETE",
      path: "/v1/export-schedules/{id}",
      summary: "Delete an export schedule and its run history",
      tag: "exports",
    },
    async ({ ws, params }) => {
      await schedules.delete(ws, params.id!);
    },
  );
  route(
    app,
    slice,
    {
      method: "GET",
      path: "/v1/export-schedules/{id}/runs",
      summary: "Runs of an export schedule, newest first: rows, bytes, duration, location, error",
      query: ["limit", "cursor"],
      response: ScheduleRunPage,
      tag: "exports",
    },
    ({ ws, params, query }) =>
      schedules.runs(ws, params.id!, {
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      }),
  );
  route(
    app,
    slice,
    {
      method: "POST",
      path: "/v1/export-schedules/{id}/run",
      summary: "Run an export schedule now (also when paused); answers the run as started",
      response: ScheduleRun,
      ok: [202],
      tag: "exports",
    },
    async ({ ws, params, reply }) => {
      const run = await schedules.runNow(ws, params.id!);
      reply.status(202);
      return run;
    },
  );
}
