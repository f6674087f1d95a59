/**
 * Merging two contacts that turn out to be one person (an anonymous visitor who
 * identifies, a Segment `alias`): the absorbed contact's events and identities move to
 * the kept one, its profile fills the kept one's gaps, and it is erased (SPEC §1:
 * `segment.exited` for every segment it was in). The store side runs inside the caller's
 * `LiveWorkspace.write` commit, the engine side in its apply, so a merge is one durable
 * write and membership follows it live (docs/ingest.md).
 */
import { BUILTIN_FIELDS } from "../rules/fields.ts";
import type { ContactRecord, ContactWrite, EventRecord, StoreOps } from "../store/types.ts";
import type { WorkspaceEngine } from "./engine-port/port.ts";
import { notFound } from "./errors.ts";
import type { ContactChanges } from "./wire.ts";
import type { WorkspaceService } from "./workspace.ts";

/**
 * The profile's free-form strings (SPEC §1), from the built-in field table: subscription
 * and deliverability statuses are the kept contact's own (see `absorbedChanges`).
 */
const FILLED = BUILTIN_FIELDS.filter(
  (f) => f.type === "string" && f.key !== "status" && f.key !== "email_status",
).map((f) => f.key as keyof ContactWrite & keyof ContactChanges);

const set = (v: unknown) => v !== null && v !== undefined && v !== "";

/**
 * What the kept contact's profile gains from the absorbed one: its values win, the
 * absorbed one fills the gaps (built-in and custom fields), tags are unioned.
 * Subscription and deliverability stay the kept contact's: they were written for it,
 * and the moved events' effects apply to it anyway.
 */
export function absorbedChanges(kept: ContactWrite, absorbed: ContactWrite): ContactChanges {
  const out: ContactChanges = {};
  for (const k of FILLED) {
    if (!set(kept[k]) && set(absorbed[k])) (out as Record<string, unknown>)[k] = absorbed[k];
  }
  const tags = [...(kept.tags ?? [])];
  const seen = new Set(tags.map((t) => t.toLowerCase()));
  for (const t of absorbed.tags ?? []) {
    if (!seen.has(t.toLowerCase())) {
      seen.add(t.toLowerCase());
      tags.push(t);
    }
  }
  if (tags.length !== (kept.tags ?? []).length) out.tags = tags;
  const fields: Record<string, NonNullable<ContactWrite["fields"]>[string]> = {};
  for (const [k, v] of Object.entries(absorbed.fields ?? {})) {
    if (!set(kept.fields?.[k]) && set(v)) fields[k] = v;
  }
  if (Object.keys(fields).length > 0) out.fields = fields;
  return out;
}

/** The store side of absorbing `from` into `to` (both stored): what the engine must get after. */
export interface MovedContact {
  from: string;
  to: string;
  /** `from`'s events as they were, now `to`'s. */
  events: EventRecord[];
}

/**
 * Moves `from`'s events and identities to `to` and erases `from`, in the caller's
 * transaction. `to` must be stored already. The events are read first: the engine,
 * which erases `from` with its events, gets them again as `to`'s.
 */
export async function moveContact(tx: StoreOps, ws: string, from: string, to: string): Promise<MovedContact> {
  const repos = tx.workspace(ws);
  const events: EventRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await repos.events.listOfContact(from, { limit: 10_000, ...(cursor ? { cursor } : {}) });
    events.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor !== null);
  await repos.identities.moveContactData(from, to);
  await repos.contacts.delete(from);
  return { from, to, events };
}

/** The engine side of `moveContact`s, once `to`'s profile is applied: `from` is erased first. */
export function applyMovedEvents(engine: WorkspaceEngine, moved: MovedContact[]): Promise<void> {
  return engine.addEvents(
    moved.flatMap((m) =>
      m.events.map((e) => ({
        type: e.type,
        contact_id: m.to,
        timestamp: e.timestamp,
        properties: e.properties,
      })),
    ),
  );
}

/**
 * Merges contact `from` into contact `to` as one write: `to` keeps its values and gains
 * `from`'s where it has none, `from`'s events and identities become `to`'s, `from` is erased.
 */
export async function mergeContacts(
  ws: WorkspaceService,
  pair: { from: string; to: string },
): Promise<{ contact: ContactRecord; events: number }> {
  const { from, to } = pair;
  const { result } = await ws.live.write(
    async (tx) => {
      const now = ws.now();
      const contacts = tx.workspace(ws.id).contacts;
      const [a, b] = await contacts.getMany([from, to]);
      if (!a) throw notFound("contact", from);
      if (!b) throw notFound("contact", to);
      const ch = absorbedChanges(b, a);
      const moved = await moveContact(tx, ws.id, from, to);
      const [rec] = await contacts.put([await ws.contactWrite(b, ch, now)]);
      return { rec: rec!, ch, moved, now };
    },
    async ({ rec, ch, moved, now }) => {
      await ws.engine.removeContact(moved.from);
      await ws.applyContactWrite(rec, ch, false, now);
      await applyMovedEvents(ws.engine, [moved]);
    },
  );
  return { contact: result.rec, events: result.moved.events.length };
}
