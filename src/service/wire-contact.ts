/**
 * The wire form of a contact (SPEC §1, §4): what the API answers and what an NDJSON
 * export writes, one per line. Dates are ISO 8601 instants in UTC. `segments` is not
 * part of it: reads that show memberships add it themselves (`WireContactWithSegments`).
 * The type is inferred from the schema, which the OpenAPI document and the response
 * check use too, so the shape is written down once.
 */
import { z } from "zod";
import { CONTACT_STATUSES, EMAIL_STATUSES } from "../rules/fields.ts";
import type { ContactRecord } from "../store/types.ts";

/** A custom field's value (`ContactValue`). */
export const WireContactValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.null()]);

export const WireContactSchema = z.strictObject({
  id: z.string(),
  email: z.string().nullable(),
  external_id: z.string().nullable(),
  phone: z.string().nullable(),
  first_name: z.string().nullable(),
  last_name: z.string().nullable(),
  country: z.string().nullable(),
  region: z.string().nullable(),
  city: z.string().nullable(),
  postal_code: z.string().nullable(),
  timezone: z.string().nullable(),
  language: z.string().nullable(),
  /** The effective status, event effects applied. */
  status: z.enum(CONTACT_STATUSES).nullable(),
  email_status: z.enum(EMAIL_STATUSES).nullable(),
  tags: z.array(z.string()),
  created_at: z.string().meta({ description: "ISO 8601, e.g. `2024-05-01T12:00:00.000Z`" }),
  subscribed_at: z.string().nullable().meta({ description: "ISO 8601, or null when never opted in" }),
  fields: z.record(z.string(), WireContactValue),
  computed: z
    .record(z.string(), z.union([z.string(), z.number(), z.null()]))
    .optional()
    .meta({
      description:
        "The computed fields' values now, when the workspace has computed fields (docs/rules.md, Computed fields); read-only",
    }),
});

export type WireContact = Omit<z.infer<typeof WireContactSchema>, "status" | "email_status"> & {
  // Typed as the records they are copied from; the schema names the values answered.
  status: string | null;
  email_status: string | null;
};

/** The values of computed fields by key: numbers, ISO instants, strings as rules see them, or null. */
export type ComputedValues = Record<string, string | number | null>;

/**
 * A wire contact without its computed values: what its ETag is made from, so that the
 * tag changes with the stored profile only, not as events arrive or time passes.
 */
export function storedProfile<T extends { computed?: unknown }>(c: T): Omit<T, "computed"> {
  const { computed: _, ...rest } = c;
  return rest;
}

/** A contact with the ids of the segments it is in now (single-contact reads and writes). */
export const WireContactWithSegments = WireContactSchema.extend({ segments: z.array(z.string()) });

/** Epoch milliseconds to an ISO 8601 UTC instant. */
export function isoInstant(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A stored contact in its wire form, keys in SPEC order. `status` and `email_status`
 * are taken as they are in the record: pass a record holding the effective values
 * (the engine's, with event effects applied) when that is what should be shown.
 */
export function toWireContact(r: ContactRecord): WireContact {
  return {
    id: r.id,
    email: r.email,
    external_id: r.external_id,
    phone: r.phone,
    first_name: r.first_name,
    last_name: r.last_name,
    country: r.country,
    region: r.region,
    city: r.city,
    postal_code: r.postal_code,
    timezone: r.timezone,
    language: r.language,
    status: r.status,
    email_status: r.email_status,
    tags: [...r.tags],
    created_at: isoInstant(r.created_at),
    subscribed_at: r.subscribed_at == null ? null : isoInstant(r.subscribed_at),
    fields: { ...r.fields },
  };
}
