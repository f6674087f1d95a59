/**
 * Scheduled exports of a segment to an S3-compatible bucket or an HTTPS URL
 * (docs/exports.md): the schedules and their run history.
 */
import { ScheduleInput, SchedulePatch } from "../../service/schedules/input.ts";
import { Schedule, ScheduleList, ScheduleRun, ScheduleRunPage } from "../responses/integrations.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

export const SCHEDULE_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/export-schedules",
      summary: "Schedule a segment's export (cron in the workspace's time zone) to S3 or an HTTPS URL",
      body: ScheduleInput,
      response: Schedule,
      ok: [201],
      tag: "exports",
    },
    async ({ slice, ws, body, reply }) => {
      const s = await slice.schedules.create(ws, body);
      reply.status(201);
      return s;
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/export-schedules",
      summary: "Export schedules",
      response: ScheduleList,
      tag: "exports",
    },
    async ({ slice, ws }) => ({ data: await slice.schedules.list(ws), next_cursor: null }),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/export-schedules/{id}",
      summary: "An export schedule",
      response: Schedule,
      tag: "exports",
    },
    ({ slice, ws, params }) => slice.schedules.get(ws, params.id!),
  ),
  defineRoute(
    {
      method: "PATCH",
      path: "/v1/export-schedules/{id}",
      summary: "Change an export schedule: name, cron, columns, target, or pause and resume (state)",
      body: SchedulePatch,
      // Every field is optional: no body changes nothing (and answers the schedule).
      emptyBody: "object",
      response: Schedule,
      tag: "exports",
    },
    ({ slice, ws, params, body }) => slice.schedules.update(ws, params.id!, body),
  ),
  defineRoute(
    {
      method: "DELETE",
      path: "/v1/export-schedules/{id}",
      summary: "Delete an export schedule and its run history",
      tag: "exports",
    },
    async ({ slice, ws, params }) => {
      await slice.schedules.delete(ws, params.id!);
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/export-schedules/{id}/runs",
      summary: "Runs of an export schedule, newest first: rows, bytes, duration, location, error",
      query: ["limit", "cursor"],
      response: ScheduleRunPage,
      tag: "exports",
    },
    ({ slice, ws, params, query }) =>
      slice.schedules.runs(ws, params.id!, {
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      }),
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/export-schedules/{id}/run",
      summary: "Run an export schedule now (also when paused); answers the run as started",
      response: ScheduleRun,
      ok: [202],
      tag: "exports",
    },
    async ({ slice, ws, params, reply }) => {
      const run = await slice.schedules.runNow(ws, params.id!);
      reply.status(202);
      return run;
    },
  ),
];
