/**
 * The Mailchimp tag a destination writes: a static segment of the audience, found by
 * name (`GET /lists/{list_id}/segments?type=static`, paged) or created
 * (`POST /lists/{list_id}/segments {name, static_segment: []}`), its id kept in the
 * destination's state as `mailchimp_segment: {list_id, tag, id}` so that later passes
 * skip the lookup, and a changed list or tag is looked up afresh.
 */
import type { JsonObject } from "../../store/types.ts";
import { ProviderError } from "./http-call.ts";
import type { MailchimpApi } from "./mailchimp-sdk.ts";

export interface SegmentCache {
  list_id: string;
  tag: string;
  id: number;
}

/** Segments per listing page (the documented maximum of `count`). */
const PAGE = 1000;

export function readCachedSegment(state: JsonObject, listId: string, tag: string): number | null {
  const c = state.mailchimp_segment;
  if (typeof c !== "object" || c === null || Array.isArray(c)) return null;
  if (c.list_id !== listId || c.tag !== tag || typeof c.id !== "number") return null;
  return c.id;
}

function field(o: unknown, key: string): unknown {
  return typeof o === "object" && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * The static segment named `tag`: Mailchimp treats tag names without regard to case, so
 * an exact match is preferred, then one differing only in case.
 */
export async function findSegment(
  api: MailchimpApi,
  listId: string,
  tag: string,
): Promise<SegmentCache | null> {
  let loose: SegmentCache | null = null;
  for (let offset = 0; ; offset += PAGE) {
    const page = await api.listStaticSegments(listId, offset, PAGE);
    const segments = field(page, "segments");
    const list = Array.isArray(segments) ? segments : [];
    for (const s of list) {
      const id = field(s, "id");
      const name = field(s, "name");
      if (typeof id !== "number" || typeof name !== "string") continue;
      if (name === tag) return { list_id: listId, tag, id };
      if (!loose && name.toLowerCase() === tag.toLowerCase()) loose = { list_id: listId, tag, id };
    }
    const total = field(page, "total_items");
    if (list.length < PAGE || typeof total !== "number" || offset + PAGE >= total) return loose;
  }
}

export async function ensureSegment(api: MailchimpApi, listId: string, tag: string): Promise<SegmentCache> {
  const found = await findSegment(api, listId, tag);
  if (found) return found;
  try {
    const created = await api.createStaticSegment(listId, tag);
    const id = field(created, "id");
    if (typeof id !== "number") {
      throw new ProviderError(`POST /lists/${listId}/segments answered no segment id`, null, false, created);
    }
    return { list_id: listId, tag, id };
  } catch (e) {
    // Someone created it between the lookup and the creation: take theirs.
    if (e instanceof ProviderError && e.status === 400) {
      const again = await findSegment(api, listId, tag);
      if (again) return again;
    }
    throw e;
  }
}
