/**
 * A segment's members (SPEC §3, §3.3a): now, at an instant, or one contact; static
 * members and overrides; bulk actions; the enter/exit log and what refers to it.
 */
import { invalid } from "../../service/errors.ts";
import { ActionInput, MembersInput, RefsInput } from "../../service/wire.ts";
import * as R from "../responses/core.ts";
import { defineRoute, page, type RouteSpec } from "../route.ts";
import { lookupOf } from "./contacts.ts";

export const MEMBER_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/contacts",
      summary: "Members now, or at a past instant with ?at=; with ?email= (external_id=, id=): is it in?",
      query: ["cursor", "limit", "at", "email", "external_id", "id"],
      queryTypes: { at: R.InstantQuery },
      tag: "segments",
      response: R.MembersPage,
    },
    ({ ws, params, query }) => {
      const contact = lookupOf(query, ["id", "email", "external_id"]);
      if (contact && query.at !== undefined) {
        throw invalid("query.at", "not with a contact lookup: members at an instant are listed whole");
      }
      return ws.members(params.id!, {
        ...page(query),
        ...(query.at !== undefined ? { at: query.at } : {}),
        ...(contact ? { contact } : {}),
      });
    },
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/segments/{id}/members",
      summary: "Add static members (or 'added' overrides of a dynamic segment)",
      body: MembersInput,
      before: ({ ws, params }) => ws.requireMemberWrite(params.id!),
      tag: "segments",
      response: R.MembersAdded,
    },
    ({ ws, params, body }) => ws.addMembers(params.id!, body),
  ),
  defineRoute(
    {
      method: "DELETE",
      path: "/v1/segments/{id}/members",
      summary: "Remove static members (or 'removed' overrides)",
      body: RefsInput,
      before: ({ ws, params }) => ws.requireMemberWrite(params.id!),
      tag: "segments",
      response: R.MembersRemoved,
    },
    ({ ws, params, body }) => ws.removeMembers(params.id!, body),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/overrides",
      summary: "A dynamic segment's manual overrides",
      tag: "segments",
      response: R.OverridesPage,
    },
    async ({ ws, params }) => ({ data: await ws.overrides(params.id!), next_cursor: null }),
  ),
  defineRoute(
    {
      method: "DELETE",
      path: "/v1/segments/{id}/overrides",
      summary: "Lift overrides",
      body: RefsInput,
      before: ({ ws, params }) => ws.requireOverridable(params.id!, true),
      tag: "segments",
      response: R.OverridesLifted,
    },
    ({ ws, params, body }) => ws.liftOverrides(params.id!, body),
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/segments/{id}/actions",
      summary: "Bulk action on the current members",
      body: ActionInput,
      before: ({ ws, params }) => ws.requireSegment(params.id!),
      tag: "segments",
      response: R.ActionAnswer,
    },
    ({ ws, params, body }) => ws.action(params.id!, body),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/changes",
      summary: "Enter/exit log, oldest first",
      query: ["since", "cursor", "limit"],
      queryTypes: { since: R.InstantQuery },
      tag: "segments",
      response: R.ChangesPage,
    },
    ({ ws, params, query }) =>
      ws.changes(params.id!, {
        ...page(query),
        ...(query.since !== undefined ? { since: query.since } : {}),
      }),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/segments/{id}/uses",
      summary: "What refers to a segment",
      tag: "segments",
      response: R.UsesPage,
    },
    async ({ ws, params }) => ({ data: await ws.uses(params.id!), next_cursor: null }),
  ),
];
