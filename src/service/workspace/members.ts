/**
 * A segment's members (SPEC §3, §3.3a): now or at a past instant, static members and
 * the overrides of a dynamic segment, bulk actions on the members, and the enter/exit
 * log. The checks a request's path is subject to (`requireMemberWrite`,
 * `requireOverridable`) are exported: a route runs them before parsing its body, so that
 * a missing or read-only segment is answered before a malformed body.
 */
import type { ChangeRecord, ContactRecord, Page } from "../../store/types.ts";
import { ApiError, invalid } from "../errors.ts";
import { isoInstant } from "../iso-instant.ts";
import { type ActionInput, type ContactRef, instant, type MembersInput, type RefsInput } from "../wire.ts";
import type { WireContact } from "../wire-contact.ts";
import { listContacts, lookup, wireContacts } from "./contact-reads.ts";
import { isDefault, iso, requireCustom, requireSegment, type WorkspaceCore } from "./core.ts";
import { resolve } from "./refs.ts";

export function wireChange(c: ChangeRecord) {
  return {
    segment_id: c.segment_id,
    contact_id: c.contact_id,
    change: c.change,
    at: isoInstant(c.at),
  };
}

/** Static members (or overrides) are written to custom segments only, which must exist. */
export function requireMemberWrite(ws: WorkspaceCore, id: string): void {
  requireCustom(id);
  requireSegment(ws, id);
}

/** Members now (from the engine) or at a past instant (from the change log). */
export async function members(
  ws: WorkspaceCore,
  id: string,
  req: {
    cursor?: string;
    limit: number;
    at?: string;
    contact?: { id?: string; email?: string; external_id?: string };
  },
): Promise<Page<WireContact>> {
  requireSegment(ws, id);
  // "Is this contact in?": the one contact named, if it is a member now.
  if (req.contact !== undefined) return lookup(ws, req.contact, id);
  if (req.at !== undefined) {
    const at = instant(req.at, "at", ws.timeZone);
    // The log is read below, but changes are appended to it lazily (with the next write
    // or tick): without this, `?at=` just after an acknowledged write (or a time-driven
    // change) missed it, against SPEC §3.3a. tick() moves the engine to now and logs
    // every pending change first.
    await ws.live.tick();
    const repos = ws.store.workspace(ws.id);
    const page = await repos.changes.membersAt(id, at, {
      limit: req.limit,
      ...(req.cursor ? { cursor: req.cursor } : {}),
    });
    const recs = await repos.contacts.getMany(page.data);
    const stored = recs.filter((r): r is ContactRecord => r !== null);
    const wired = new Map((await wireContacts(ws, stored, { computed: false })).map((w) => [w.id, w]));
    return {
      // An erased contact is still counted in the past, with nothing but its id.
      data: page.data.map((cid) => wired.get(cid) ?? ({ id: cid } as WireContact)),
      next_cursor: page.next_cursor,
    };
  }
  const { data, next_cursor } = await listContacts(ws, {
    segment: id,
    limit: req.limit,
    ...(req.cursor ? { cursor: req.cursor } : {}),
  });
  return { data, next_cursor };
}

async function refsToIds(ws: WorkspaceCore, refs: ContactRef[], root: string): Promise<string[]> {
  const { ids, errors } = await resolve(ws, refs, { path: (k) => `${root}[${k}]` });
  const bad = errors.findIndex((e) => e !== null);
  if (bad >= 0) throw new ApiError("not_found", errors[bad]!, { path: `${root}[${bad}]` });
  return ids as string[];
}

export async function addMembers(
  ws: WorkspaceCore,
  id: string,
  input: MembersInput,
): Promise<{ added: number }> {
  requireMemberWrite(ws, id);
  const expiresAt =
    input.expires_at !== undefined ? instant(input.expires_at, "expires_at", ws.timeZone) : null;
  if (expiresAt !== null && expiresAt <= ws.clock.now()) throw invalid("expires_at", "must be in the future");
  const ids = [...new Set(await refsToIds(ws, input.contacts, "contacts"))];
  await ws.live.write(
    (tx) =>
      tx.workspace(ws.id).members.put(
        id,
        ids.map((contact_id) => ({ contact_id, action: "added" as const, expires_at: expiresAt })),
      ),
    () => ws.engine.addMembers(id, ids, expiresAt !== null ? { expiresAt } : {}),
  );
  return { added: ids.length };
}

export async function removeMembers(
  ws: WorkspaceCore,
  id: string,
  input: RefsInput,
): Promise<{ removed: number }> {
  requireMemberWrite(ws, id);
  const ids = [...new Set(await refsToIds(ws, input.contacts, "contacts"))];
  const isStatic = ws.engine.segment(id)!.kind === "static";
  await ws.live.write(
    (tx) =>
      isStatic
        ? tx.workspace(ws.id).members.delete(id, ids)
        : tx.workspace(ws.id).members.put(
            id,
            ids.map((contact_id) => ({ contact_id, action: "removed" as const, expires_at: null })),
          ),
    () => ws.engine.removeMembers(id, ids),
  );
  return { removed: ids.length };
}

/**
 * A static segment has members, not overrides (SPEC §3): its members are stored like
 * "added" overrides, so without this check GET …/overrides listed them as overrides
 * and DELETE …/overrides silently removed them. A default segment is read-only: lifting
 * reached the engine after the commit and answered 500.
 */
export function requireOverridable(ws: WorkspaceCore, id: string, write: boolean): void {
  requireSegment(ws, id);
  if (write && isDefault(id))
    throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
  if (ws.engine.segment(id)!.kind === "static") {
    throw new ApiError(
      "invalid_request",
      `segment "${id}" is static: it has members, not overrides (use /v1/segments/${id}/members)`,
      { path: "id" },
    );
  }
}

export async function overrides(ws: WorkspaceCore, id: string) {
  requireOverridable(ws, id, false);
  return (await ws.engine.overrides(id)).map((o) => ({ ...o, expires_at: iso(o.expires_at) }));
}

export async function liftOverrides(
  ws: WorkspaceCore,
  id: string,
  input: RefsInput,
): Promise<{ lifted: number }> {
  requireOverridable(ws, id, true);
  const ids = [...new Set(await refsToIds(ws, input.contacts, "contacts"))];
  const { result } = await ws.live.write(
    (tx) => tx.workspace(ws.id).members.delete(id, ids),
    () => ws.engine.liftOverrides(id, ids),
  );
  return { lifted: result };
}

export async function action(
  ws: WorkspaceCore,
  id: string,
  input: ActionInput,
): Promise<{ changed: number }> {
  requireSegment(ws, id);
  const members = (await ws.engine.members(id)).ids();
  if ("copy_to" in input) {
    const target = input.copy_to;
    if (!ws.engine.segment(target)) throw new ApiError("not_found", `copy_to: segment "${target}" not found`);
    if (ws.engine.segment(target)!.kind !== "static")
      throw invalid("copy_to", `segment "${target}" is not static`);
    const before = await ws.engine.members(target);
    const fresh = members.filter((c) => !before.has(c));
    for (let k = 0; k < fresh.length; k += 5000) {
      const chunk = fresh.slice(k, k + 5000);
      await ws.live.write(
        (tx) =>
          tx.workspace(ws.id).members.put(
            target,
            chunk.map((contact_id) => ({ contact_id, action: "added" as const })),
          ),
        () => ws.engine.addMembers(target, chunk),
      );
    }
    return { changed: fresh.length };
  }
  const add = "tag_add" in input ? input.tag_add.map((t) => t.trim()) : [];
  const remove = "tag_remove" in input ? input.tag_remove.map((t) => t.trim()) : [];
  let changed = 0;
  for (let k = 0; k < members.length; k += 1000) {
    const chunk = members.slice(k, k + 1000);
    const { result } = await ws.live.write(
      async (tx) => {
        const contacts = tx.workspace(ws.id).contacts;
        const recs = (await contacts.getMany(chunk)).filter((r): r is ContactRecord => r !== null);
        const writes = recs.flatMap((r) => {
          const tags = new Set(r.tags);
          for (const t of add) tags.add(t);
          for (const t of remove) tags.delete(t);
          if (tags.size === r.tags.length && r.tags.every((t) => tags.has(t))) return [];
          return [{ ...r, tags: [...tags] }];
        });
        if (writes.length > 0) await contacts.put(writes);
        return writes.map((w) => w.id!);
      },
      async (ids) => {
        for (const c of ids) await ws.engine.changeTags(c, { add, remove });
      },
    );
    changed += result.length;
  }
  return { changed };
}

export async function changes(
  ws: WorkspaceCore,
  id: string,
  req: { since?: string; cursor?: string; limit: number },
) {
  requireSegment(ws, id);
  await ws.live.flush();
  const since = req.since !== undefined ? instant(req.since, "since", ws.timeZone) : undefined;
  const page = await ws.store.workspace(ws.id).changes.list({
    segmentId: id,
    limit: req.limit,
    ...(since !== undefined ? { since } : {}),
    ...(req.cursor ? { cursor: String(ws.positions.openSeq(req.cursor, "cursor")) } : {}),
  });
  return {
    data: page.data.map(wireChange),
    next_cursor: page.next_cursor === null ? null : ws.positions.seal(page.next_cursor),
  };
}
