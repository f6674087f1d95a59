/** The answer of `GET /v1/event-types` (src/service/event-types.ts). */
import { z } from "zod";
import { Count, wholeList } from "./common.ts";

export const EventTypeSchema = z.strictObject({
  type: z.string().meta({ description: "An event type the workspace has events of" }),
  count: Count.meta({ description: "Its events held now" }),
  properties: z
    .array(
      z.strictObject({
        name: z.string().meta({ description: "Dotted property path, as `where` and measures name it" }),
        types: z
          .array(z.enum(["number", "string", "boolean", "array", "object"]))
          .min(1)
          .meta({ description: "The JSON types its values had" }),
      }),
    )
    .meta({ description: "By name" }),
});

export const EventTypesList = wholeList(EventTypeSchema);
