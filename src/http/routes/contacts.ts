/** Contacts (SPEC §4): upserts, reads, lookups and searches, erasure, a contact's events. */
import { z } from "zod";
import { EMAIL_MAX_LENGTH } from "../../service/email.ts";
import { invalid } from "../../service/errors.ts";
import { contactTag, parseIfMatch } from "../../service/etag.ts";
import { ContactInput, LIMITS } from "../../service/wire.ts";
import { storedProfile } from "../../service/wire-contact.ts";
import * as R from "../responses/core.ts";
import { defineRoute, page, type Query, type RouteSpec, tagged } from "../route.ts";

/** The longest search text of `GET /v1/contacts?q=`. */
const SEARCH_MAX = 200;

const LOOKUP_CAPS = { id: 255, email: EMAIL_MAX_LENGTH, external_id: 255 } as const;
type LookupKey = keyof typeof LOOKUP_CAPS;

/** The contact keys of a lookup (`?email=` …), each bounded; undefined when none is given. */
export function lookupOf(
  q: Query,
  keys: readonly LookupKey[],
): Partial<Record<LookupKey, string>> | undefined {
  let out: Partial<Record<LookupKey, string>> | undefined;
  for (const k of keys) {
    const v = q[k];
    if (v === undefined) continue;
    if (v === "") throw invalid(`query.${k}`, "expected a value");
    if (v.length > LOOKUP_CAPS[k]) throw invalid(`query.${k}`, `longer than ${LOOKUP_CAPS[k]} characters`);
    out = { ...out, [k]: v };
  }
  if (out && q.cursor)
    throw invalid("query.cursor", `not with ${Object.keys(out).join(", ")} (one contact at most)`);
  return out;
}

export const CONTACT_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/contacts",
      summary: "Upsert one contact (by email or external_id)",
      access: "ingest",
      body: ContactInput,
      tag: "contacts",
      response: R.ContactWithSegments,
      ok: [200, 201],
      etag: true,
    },
    async ({ ws, body, reply }) => {
      const { contact, created } = await ws.upsertContact(body);
      reply.status(created ? 201 : 200);
      return tagged(reply, contactTag(storedProfile(contact)), contact);
    },
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/contacts/batch",
      summary: "Upsert up to 10,000 contacts; per-item errors",
      access: "ingest",
      tag: "contacts",
      // The items as an array, or wrapped as `{ "contacts": [...] }` (both are taken).
      body: z.union([
        ContactInput.array().max(LIMITS.batchItems),
        z.object({ contacts: ContactInput.array().max(LIMITS.batchItems) }),
      ]),
      // On purpose: a batch keeps its valid items and reports each invalid one by its
      // index (a 200 with per-item errors), so the service parses the items one by one;
      // the schema above is what the document shows.
      bodyParsedBy: "service",
      response: R.BatchAnswer,
    },
    ({ ws, body }) => ws.upsertContacts(body),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/contacts",
      summary: "List contacts, optionally of one segment; or the one with an email or external_id",
      query: ["segment", "q", "cursor", "limit", "email", "external_id"],
      queryTypes: {
        q: z.string().max(SEARCH_MAX).meta({
          description:
            "Contacts whose email, first name, last name or external id contains this text (any case; trimmed; empty: all)",
        }),
      },
      tag: "contacts",
      response: R.ContactsPage,
    },
    ({ ws, query }) => {
      const lookup = lookupOf(query, ["email", "external_id"]);
      if ((query.q?.length ?? 0) > SEARCH_MAX)
        throw invalid("query.q", `longer than ${SEARCH_MAX} characters`);
      const q = query.q?.trim() ?? "";
      if (q && lookup) throw invalid("query.q", `not with ${Object.keys(lookup).join(", ")}`);
      return ws.listContacts({
        ...page(query),
        ...(query.segment ? { segment: query.segment } : {}),
        ...(q ? { q } : {}),
        ...lookup,
      });
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/contacts/{id}",
      summary: "A contact, with the segments it is in (and its ETag)",
      tag: "contacts",
      response: R.ContactWithSegments,
      etag: true,
    },
    async ({ ws, params, reply }) => {
      const c = await ws.getContact(params.id!);
      return tagged(reply, contactTag(storedProfile(c)), c);
    },
  ),
  defineRoute(
    {
      method: "PATCH",
      path: "/v1/contacts/{id}",
      summary: "Update the fields given (412 when If-Match is stale)",
      body: ContactInput,
      tag: "contacts",
      response: R.ContactWithSegments,
      ifMatch: true,
      etag: true,
      // A malformed If-Match is answered before the body.
      before: ({ req }) => void parseIfMatch(req.headers["if-match"]),
    },
    async ({ ws, params, body, req, reply }) => {
      const ifMatch = parseIfMatch(req.headers["if-match"]);
      const c = await ws.patchContact(params.id!, body, ifMatch);
      return tagged(reply, contactTag(storedProfile(c)), c);
    },
  ),
  defineRoute(
    {
      method: "DELETE",
      path: "/v1/contacts/{id}",
      summary: "Erase a contact (profile, events, memberships); 412 when If-Match is stale",
      tag: "contacts",
      ok: [204],
      ifMatch: true,
    },
    async ({ ws, params, req }) => {
      const ifMatch = parseIfMatch(req.headers["if-match"]);
      await ws.deleteContact(params.id!, ifMatch);
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/contacts/{id}/events",
      summary: "A contact's events, newest first",
      query: ["cursor", "limit"],
      tag: "events",
      response: R.EventsPage,
    },
    ({ ws, params, query }) => ws.contactEvents(params.id!, page(query)),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/contacts/{id}/explain",
      summary: "Why a contact is in or out of a segment",
      query: ["segment"],
      tag: "segments",
      response: R.ExplainAnswer,
    },
    ({ ws, params, query }) => {
      if (!query.segment) throw invalid("segment", "expected a segment id");
      return ws.explain(params.id!, query.segment);
    },
  ),
];
