/** Fields (SPEC §4): built-in and custom ones, declaring one, deleting a computed one. */
import { FieldInput } from "../../service/wire.ts";
import * as R from "../responses/core.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

export const FIELD_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "GET",
      path: "/v1/fields",
      summary: "Built-in and custom fields",
      tag: "fields",
      response: R.FieldsPage,
    },
    async ({ ws }) => ({ data: await ws.listFields(), next_cursor: null }),
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/fields",
      summary: "Declare a custom field",
      body: FieldInput,
      tag: "fields",
      response: R.FieldAnswer,
      ok: [201],
    },
    async ({ ws, body, reply }) => {
      const f = await ws.createField(body);
      reply.status(201);
      return ws.wireField(f);
    },
  ),
  defineRoute(
    {
      method: "DELETE",
      path: "/v1/fields/{key}",
      summary: "Delete a computed field (409 while a segment's rule uses it)",
      tag: "fields",
      ok: [204],
    },
    async ({ ws, params }) => {
      await ws.deleteField(params.key!);
    },
  ),
];
