/** The pieces every answer schema is made of (src/http/responses/*.ts). */
import { z } from "zod";

/** `Date#toISOString()`; checked as such, documented without zod's long date-time pattern. */
export const Instant = z
  .string()
  .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, { error: "expected an ISO 8601 instant" })
  .meta({ format: "date-time", description: "ISO 8601 instant, UTC" });

export const Count = z.int().min(0);

/** A list answer: `{data, next_cursor}`, the cursor given back as `cursor` for the next page (null on the last). */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.strictObject({ data: z.array(item), next_cursor: z.string().nullable() });
}

/** A list answered whole: `next_cursor` is always null. */
export function wholeList<T extends z.ZodType>(item: T) {
  return z.strictObject({ data: z.array(item), next_cursor: z.null() });
}
