/**
 * Events (SPEC §4): one event or a batch with per-item errors, and a contact's events.
 * A batch whose contacts the engine all knows takes LiveWorkspace.ingestEvents' way;
 * any other resolves its references in the store, creating the contacts they name.
 */
import type { EventWrite, JsonObject } from "../../store/types.ts";
import { ApiError, notFound } from "../errors.ts";
import { UnknownContactError } from "../live-workspace.ts";
import { checkProperties, EventInput, instant, issuePath, LIMITS, parse, plainEvent } from "../wire.ts";
import { applyContact } from "./contact-writes.ts";
import { type BatchResult, iso, type WorkspaceCore } from "./core.ts";
import { namedInMemory, resolve } from "./refs.ts";

/**
 * One event (answered like one contact: an error is the answer) or an array of them,
 * each parsed here so that an invalid one is answered in `errors` and the others kept.
 */
export async function ingest(ws: WorkspaceCore, body: unknown): Promise<BatchResult> {
  const items = Array.isArray(body) ? body : [body];
  if (items.length > LIMITS.batchItems) {
    throw new ApiError("payload_too_large", `events: at most ${LIMITS.batchItems} events per request`);
  }
  // One event (not an array) is answered like one contact: an error is the answer, a
  // 400 (or 404 for an unknown contact id) naming the path, and nothing is written.
  const single = !Array.isArray(body);
  const root = (i: number) => (single ? "" : `[${i}]`);
  const errors: { index: number; error: string }[] = [];
  const valid: { index: number; e: EventInput; timestamp: number | null }[] = [];
  items.forEach((item, index) => {
    try {
      const e = plainEvent(item) ?? parse(EventInput, item, root(index));
      checkProperties(e.properties as JsonObject | undefined, issuePath(root(index), ["properties"]));
      const timestamp =
        e.timestamp === undefined
          ? null
          : instant(e.timestamp, issuePath(root(index), ["timestamp"]), ws.timeZone);
      valid.push({ index, e, timestamp });
    } catch (err) {
      if (err instanceof ApiError && !single) errors.push({ index, error: err.message });
      else throw err;
    }
  });
  if (valid.length === 0) return { accepted: 0, duplicates: 0, errors };
  // Every contact one the workspace has, by id, email or external id (the common
  // case): nothing to resolve in the store, so the batch goes LiveWorkspace.ingestEvents'
  // way, committed while the engine applies the batch before it (docs/storage.md), same
  // answers. Its commit checks again that each contact is there and still has the email
  // or external id it was named by.
  const inMemory = namedInMemory(ws, valid);
  if (inMemory !== null) {
    const now = ws.clock.now();
    const writes: EventWrite[] = valid.map((v, k) => ({
      id: v.e.id ?? null,
      type: v.e.type,
      contact_id: inMemory.ids[k]!,
      timestamp: v.timestamp ?? now,
      properties: (v.e.properties as JsonObject | undefined) ?? {},
      received_at: now,
    }));
    try {
      const r = await ws.live.ingestEvents(writes, {
        found: inMemory.found,
        ...(inMemory.named ? { named: inMemory.named } : {}),
      });
      return { accepted: r.accepted, duplicates: r.duplicates, errors };
    } catch (e) {
      // A contact erased, or its email or external id changed, since the lookup above:
      // the way below resolves every reference anew in the store and answers per event.
      if (!(e instanceof UnknownContactError)) throw e;
    }
  }
  const { result } = await ws.live.write(
    async (tx) => {
      const now = ws.clock.now();
      const {
        ids,
        errors: refErrors,
        refused,
        created,
      } = await resolve(
        ws,
        valid.map((v) => v.e.contact),
        { tx, now, path: (k) => issuePath(root(valid[k]!.index), ["contact"]) },
      );
      const writes: EventWrite[] = [];
      const positions: number[] = [];
      if (single && refErrors[0]) {
        const { path, missing } = refused[0]!;
        throw missing
          ? new ApiError("not_found", refErrors[0], { path })
          : new ApiError("invalid_request", refErrors[0], { path });
      }
      valid.forEach((v, k) => {
        if (refErrors[k]) {
          errors.push({ index: v.index, error: refErrors[k]! });
          return;
        }
        positions.push(k);
        // One object shape for all (no spreads): this loop runs once per ingested event.
        writes.push({
          id: v.e.id ?? null,
          type: v.e.type,
          contact_id: ids[k]!,
          timestamp: v.timestamp ?? now,
          properties: (v.e.properties as JsonObject | undefined) ?? {},
          received_at: now,
        });
      });
      const inserted =
        writes.length > 0
          ? await tx.workspace(ws.id).events.insert(writes)
          : { accepted: 0, duplicates: 0, items: [] };
      return { writes, inserted, created, now };
    },
    async ({ writes, inserted, created, now }) => {
      for (const c of created) await applyContact(ws, c, null, true, now);
      await ws.engine.addEvents(
        writes
          .filter((_, k) => inserted.items[k] === "accepted")
          .map((w) => ({
            type: w.type,
            contact_id: w.contact_id,
            timestamp: w.timestamp,
            properties: w.properties ?? {},
          })),
      );
    },
  );
  errors.sort((a, b) => a.index - b.index);
  return { accepted: result.inserted.accepted, duplicates: result.inserted.duplicates, errors };
}

export async function contactEvents(ws: WorkspaceCore, id: string, req: { cursor?: string; limit: number }) {
  const repos = ws.store.workspace(ws.id);
  if (!(await repos.contacts.get(id))) throw notFound("contact", id);
  const page = await repos.events.listOfContact(id, {
    limit: req.limit,
    ...(req.cursor ? { cursor: ws.positions.open(req.cursor, "cursor") } : {}),
  });
  return {
    data: page.data.map((e) => ({
      id: e.id,
      type: e.type,
      contact_id: e.contact_id,
      timestamp: iso(e.timestamp),
      properties: e.properties,
      received_at: iso(e.received_at),
    })),
    next_cursor: page.next_cursor === null ? null : ws.positions.seal(page.next_cursor),
  };
}

// ---------------------------------------------------------------- fields
