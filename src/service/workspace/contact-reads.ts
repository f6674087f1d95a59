/**
 * Contacts as the API reads them: the wire form with the effective status and the
 * computed values now, one contact, a page (of a segment, a search or a lookup).
 */
import type { ContactRecord, Page } from "../../store/types.ts";
import { notFound } from "../errors.ts";
import type { ContactRef } from "../wire.ts";
import { type ComputedValues, toWireContact, type WireContact } from "../wire-contact.ts";
import { requireSegment, type WorkspaceCore } from "./core.ts";

/** Up to this many contacts matching a search are paged by their ids, without a store scan. */
const SEARCH_SORTED_MAX = 10_000;

/** What the wire forms of contacts carry beyond the stored records. */
export interface WireOptions {
  /** The computed fields' values now, read at one instant for all (default true; ETags leave them out). */
  computed?: boolean;
  /** The segments each contact is a member of now (default false). */
  segments?: boolean;
}

/**
 * The wire forms of stored records, with the effective status / email_status (profile
 * effects applied, as the engine holds them) and what `opts` asks for.
 */
export async function wireContacts(
  ws: WorkspaceCore,
  recs: readonly ContactRecord[],
  opts: WireOptions = {},
): Promise<(WireContact & { segments?: string[] })[]> {
  if (recs.length === 0) return [];
  const facts = await ws.engine.facts(
    recs.map((r) => r.id),
    { computed: opts.computed ?? true, segments: opts.segments ?? false },
  );
  return recs.map((r, k) => {
    const f = facts[k]!;
    const effective: ContactRecord = f.held ? { ...r, status: f.status, email_status: f.email_status } : r;
    const wire: WireContact & { segments?: string[] } = toWireContact(effective);
    // Computed values are numbers, strings or null (a computed field's types).
    if (f.computed) wire.computed = f.computed as ComputedValues;
    if (f.segments) wire.segments = f.segments;
    return wire;
  });
}

/** `wireContacts` of one record. */
export async function wireContact(
  ws: WorkspaceCore,
  r: ContactRecord,
  opts: WireOptions = {},
): Promise<WireContact & { segments?: string[] }> {
  return (await wireContacts(ws, [r], opts))[0]!;
}

/** The records found (null: not stored), in their wire forms. */
function wireFound(ws: WorkspaceCore, recs: readonly (ContactRecord | null)[]): Promise<WireContact[]> {
  return wireContacts(
    ws,
    recs.filter((r): r is ContactRecord => r !== null),
  );
}

export async function getContact(ws: WorkspaceCore, id: string): Promise<WireContact> {
  const r = await ws.store.workspace(ws.id).contacts.get(id);
  if (!r) throw notFound("contact", id);
  return wireContact(ws, r, { segments: true });
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
  const members = req.segment !== undefined ? await ws.engine.members(req.segment) : null;
  const q = req.q?.trim() ?? "";
  const cursor = req.cursor ? { cursor: req.cursor } : {};
  if (q === "") {
    const page = await ws.store.workspace(ws.id).contacts.list({
      limit: req.limit,
      ...cursor,
      ...(members ? { segmentMembers: members } : {}),
    });
    const total = members ? members.count : await ws.engine.contactCount();
    return { data: await wireContacts(ws, page.data), next_cursor: page.next_cursor, total };
  }
  let found = await ws.engine.search(q);
  if (members) found = found.filter((id) => members.has(id));
  const total = found.length;
  if (total > SEARCH_SORTED_MAX) {
    // Many matches: the store's scan in its own order finds a page of them soon.
    const page = await ws.store.workspace(ws.id).contacts.list({
      limit: req.limit,
      ...cursor,
      segmentMembers: new Set(found),
    });
    return { data: await wireContacts(ws, page.data), next_cursor: page.next_cursor, total };
  }
  // Few matches: page their ids here rather than scan the whole table for them. Ids
  // are generated ASCII, so JavaScript's order is the store's (binary, COLLATE "C").
  const after = req.cursor ?? "";
  const ids = found.filter((id) => id > after).sort();
  const pageIds = ids.slice(0, req.limit);
  const recs = await ws.store.workspace(ws.id).contacts.getMany(pageIds);
  return {
    data: await wireFound(ws, recs),
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
  const inSegment = one && (segment === undefined || (await ws.engine.members(segment)).has(one.id));
  return { data: one && inSegment ? [await wireContact(ws, one)] : [], next_cursor: null };
}

export async function contactsByIds(ws: WorkspaceCore, ids: string[]): Promise<WireContact[]> {
  if (ids.length === 0) return [];
  const recs = await ws.store.workspace(ws.id).contacts.getMany(ids);
  return wireFound(ws, recs);
}
