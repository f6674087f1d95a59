/**
 * Contacts as the API reads them: the wire form with the effective status and the
 * computed values now, one contact, a page (of a segment, a search or a lookup).
 */
import type { ContactRecord, Page } from "../../store/types.ts";
import { computedReader } from "../computed-fields.ts";
import { notFound } from "../errors.ts";
import type { ContactRef } from "../wire.ts";
import { type ComputedValues, toWireContact, type WireContact } from "../wire-contact.ts";
import { requireSegment, type WorkspaceCore } from "./core.ts";

/** Up to this many contacts matching a search are paged by their ids, without a store scan. */
const SEARCH_SORTED_MAX = 10_000;

/**
 * The wire form with the effective status / email_status (profile effects applied).
 * With computed fields, `computed` holds their values now (`values` reads them; pass one
 * reader for a page of contacts, null to leave them out, as ETags do).
 */
export function wireContact(
  ws: WorkspaceCore,
  r: ContactRecord,
  withSegments = false,
  values: ((id: string) => ComputedValues) | null = computedReader(ws.engine),
): WireContact & { segments?: string[] } {
  const e = ws.engine;
  const i = e.contacts.index(r.id);
  const effective: ContactRecord = { ...r };
  if (i !== undefined) {
    const st = e.contacts.valueOf(i, "status");
    const es = e.contacts.valueOf(i, "email_status");
    effective.status = typeof st === "string" ? st : null;
    effective.email_status = typeof es === "string" ? es : null;
  }
  const wire: WireContact & { segments?: string[] } = toWireContact(effective);
  if (values) wire.computed = values(r.id);
  if (withSegments) wire.segments = ws.engine.segmentsOf(r.id);
  return wire;
}

/** `wireContact` for a page of contacts: the computed values read at one instant. */
export function wireMany(ws: WorkspaceCore): (r: ContactRecord) => WireContact {
  const values = computedReader(ws.engine);
  return (r) => wireContact(ws, r, false, values);
}

export async function getContact(ws: WorkspaceCore, id: string): Promise<WireContact> {
  const r = await ws.store.workspace(ws.id).contacts.get(id);
  if (!r) throw notFound("contact", id);
  return wireContact(ws, r, true);
}

/**
 * A page of contacts in id order, of one segment and/or matching a search text
 * (`ContactTable.search`), with `total`, the number of contacts matching the whole
 * filter; or the one contact an email or external_id names (no `total`).
 */
export async function listContacts(
  ws: WorkspaceCore,
  req: {
    segment?: string;
    q?: string;
    cursor?: string;
    limit: number;
    email?: string;
    external_id?: string;
  },
): Promise<Page<WireContact> & { total?: number }> {
  if (req.email !== undefined || req.external_id !== undefined) {
    if (req.segment !== undefined) requireSegment(ws, req.segment);
    return lookup(ws, req, req.segment);
  }
  if (req.segment !== undefined) requireSegment(ws, req.segment);
  const members = req.segment !== undefined ? ws.engine.members(req.segment) : null;
  const q = req.q?.trim() ?? "";
  const cursor = req.cursor ? { cursor: req.cursor } : {};
  if (q === "") {
    const page = await ws.store.workspace(ws.id).contacts.list({
      limit: req.limit,
      ...cursor,
      ...(members ? { segmentMembers: members } : {}),
    });
    const total = members ? members.count : ws.engine.contacts.count;
    return { data: page.data.map(wireMany(ws)), next_cursor: page.next_cursor, total };
  }
  const table = ws.engine.contacts;
  let found = table.search(q);
  if (members) found = found.filter((i) => members.has(table.ids[i]));
  const total = found.length;
  if (total > SEARCH_SORTED_MAX) {
    // Many matches: the store's scan in its own order finds a page of them soon.
    const hit = new Set(found.map((i) => table.ids[i]));
    const page = await ws.store.workspace(ws.id).contacts.list({
      limit: req.limit,
      ...cursor,
      segmentMembers: hit,
    });
    return { data: page.data.map(wireMany(ws)), next_cursor: page.next_cursor, total };
  }
  // Few matches: page their ids here rather than scan the whole table for them. Ids
  // are generated ASCII, so JavaScript's order is the store's (binary, COLLATE "C").
  const after = req.cursor ?? "";
  const ids = found
    .map((i) => table.ids[i])
    .filter((id) => id > after)
    .sort();
  const pageIds = ids.slice(0, req.limit);
  const recs = await ws.store.workspace(ws.id).contacts.getMany(pageIds);
  return {
    data: recs.filter((r): r is ContactRecord => r !== null).map(wireMany(ws)),
    next_cursor: ids.length > req.limit ? pageIds[pageIds.length - 1] : null,
    total,
  };
}

/**
 * The contact every given key names (email case-insensitively, as `findContacts`),
 * as a page of 0 or 1; with `segment`, only if it is a member now.
 */
export async function lookup(
  ws: WorkspaceCore,
  keys: { id?: string; email?: string; external_id?: string },
  segment?: string,
): Promise<Page<WireContact>> {
  const refs: ContactRef[] = [];
  if (keys.id !== undefined) refs.push({ id: keys.id });
  if (keys.email !== undefined) refs.push({ email: keys.email });
  if (keys.external_id !== undefined) refs.push({ external_id: keys.external_id });
  const found = await ws.store.workspace(ws.id).contacts.find(refs);
  const first = found[0];
  const one = first && found.every((r) => r?.id === first.id) ? first : null;
  const inSegment = one && (segment === undefined || ws.engine.members(segment).has(one.id));
  return { data: one && inSegment ? [wireContact(ws, one)] : [], next_cursor: null };
}

export async function contactsByIds(ws: WorkspaceCore, ids: string[]): Promise<WireContact[]> {
  if (ids.length === 0) return [];
  const recs = await ws.store.workspace(ws.id).contacts.getMany(ids);
  return recs.filter((r): r is ContactRecord => r !== null).map(wireMany(ws));
}
