/**
 * Contact writes (SPEC §4): one upsert, a patch, a batch with per-item errors, erasure
 * and tag changes, each committed then applied to the engine (LiveWorkspace.write).
 * `merged` and `applyContact` are the two steps every contact write is made of; the
 * writes composed elsewhere (event references, Segment ingest, merges) use them too.
 */
import type { ContactInput as EngineContact } from "../../engine/index.ts";
import type { ContactRecord, ContactWrite, StoreOps } from "../../store/types.ts";
import { refuseComputedWrites } from "../computed-fields.ts";
import { ApiError, invalid, notFound } from "../errors.ts";
import { contactTag, type IfMatch, requireMatch } from "../etag.ts";
import { engineContact } from "../live-workspace.ts";
import { normalisePhone } from "../phone.ts";
import {
  type ContactChanges,
  ContactInput,
  type ContactRef,
  contactChanges,
  issuePath,
  LIMITS,
  parse,
} from "../wire.ts";
import type { WireContact } from "../wire-contact.ts";
import { wireContact } from "./contact-reads.ts";
import { type BatchResult, keptInRange, storeError, type WorkspaceCore } from "./core.ts";

/** The engine's contact input for a record's changed keys (a patch). */
function enginePatch(id: string, ch: ContactChanges): EngineContact {
  const out: EngineContact = { id };
  for (const [k, v] of Object.entries(ch)) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

/** Finds the stored contact a write is about (by id, email or external_id). */
export async function existingFor(
  ws: WorkspaceCore,
  db: StoreOps,
  ch: ContactChanges,
  id: string | undefined,
  path: string,
): Promise<ContactRecord | null> {
  if (id !== undefined) {
    const r = await db.workspace(ws.id).contacts.get(id);
    if (!r) throw new ApiError("not_found", `${issuePath(path, ["id"])}: contact "${id}" not found`);
    return r;
  }
  const refs: ContactRef[] = [];
  if (ch.email) refs.push({ email: ch.email });
  if (ch.external_id) refs.push({ external_id: ch.external_id });
  if (refs.length === 0) throw invalid(path, "expected an email or an external_id to upsert by");
  const found = await db.workspace(ws.id).contacts.find(refs);
  const distinct = [...new Map(found.filter((r) => r !== null).map((r) => [r!.id, r!])).values()];
  if (distinct.length > 1) {
    throw new ApiError(
      "conflict",
      `${path || "contact"}: email and external_id belong to two different contacts (${distinct.map((r) => r.id).join(", ")})`,
    );
  }
  return distinct[0] ?? null;
}

/** The stored record after a write of `ch` over `prev` (null: a new contact). */
export async function merged(
  ws: WorkspaceCore,
  prev: ContactRecord | null,
  ch: ContactChanges,
  now: number,
): Promise<ContactWrite> {
  const wasSubscribed = prev ? (await effectiveStatus(ws, prev.id)) === "subscribed" : false;
  return mergedOver(prev, ch, now, wasSubscribed);
}

/** A new contact's stored record, written with `ch`. */
export function newContact(ch: ContactChanges, now: number): ContactWrite {
  return mergedOver(null, ch, now, false);
}

/** `merged`, told whether `prev` is subscribed now (its effective status). */
function mergedOver(
  prev: ContactRecord | null,
  ch: ContactChanges,
  now: number,
  wasSubscribed: boolean,
): ContactWrite {
  const base: ContactWrite = prev
    ? { ...prev }
    : {
        status: "non_subscribed",
        email_status: "deliverable",
        status_written_at: null,
        email_status_written_at: null,
        tags: [],
        fields: {},
        created_at: now,
        subscribed_at: null,
      };
  const out: ContactWrite = { ...base };
  for (const [k, v] of Object.entries(ch)) {
    if (k === "fields" || k === "created_at") continue;
    (out as Record<string, unknown>)[k] = v;
  }
  if (ch.fields) out.fields = { ...(base.fields ?? {}), ...ch.fields };
  // A phone written without a country is read with the stored one (SPEC §1: E.164 where possible).
  if (ch.phone && ch.country === undefined && out.country) out.phone = normalisePhone(ch.phone, out.country);
  // SPEC §1: created_at can be given only when the contact is created; later it is kept.
  if (!prev && ch.created_at != null) out.created_at = ch.created_at;
  if (ch.status !== undefined) out.status_written_at = now;
  if (ch.email_status !== undefined) out.email_status_written_at = now;
  if (ch.status === "subscribed" && !wasSubscribed && ch.subscribed_at === undefined) out.subscribed_at = now;
  return out;
}

export async function effectiveStatus(ws: WorkspaceCore, id: string): Promise<string | null> {
  const [f] = await ws.engine.facts([id], { computed: false, segments: false });
  return f!.held ? f!.status : null;
}

/** Applies a stored write to the engine: a new contact whole, an existing one as a patch. */
export function applyContact(
  ws: WorkspaceCore,
  rec: ContactRecord,
  ch: ContactChanges | null,
  created: boolean,
  now: number,
): Promise<void> {
  if (created || ch === null) {
    const defaults: ("status" | "email_status")[] = [];
    if (rec.status_written_at === null) defaults.push("status");
    if (rec.email_status_written_at === null) defaults.push("email_status");
    return ws.engine.upsertContact(engineContact(rec), { receivedAt: now, defaults });
  } else {
    const patch = enginePatch(rec.id, ch);
    if (ch.fields) patch.fields = rec.fields;
    if (ch.phone !== undefined) patch.phone = rec.phone;
    if (rec.subscribed_at !== undefined) patch.subscribed_at = rec.subscribed_at;
    delete patch.created_at;
    return ws.engine.patchContact(patch, { receivedAt: now });
  }
}

export async function upsertContact(
  ws: WorkspaceCore,
  input: ContactInput,
  opts: { id?: string } = {},
): Promise<{ contact: WireContact; created: boolean }> {
  refuseComputedWrites(input.fields, ws.engine.computedFields());
  const ch = contactChanges(input, ws.registry, ws.timeZone);
  return ws.live
    .write(
      async (tx) => {
        const now = ws.clock.now();
        const prev = await existingFor(ws, tx, ch, opts.id ?? input.id, "");
        const write = await merged(ws, prev, ch, now);
        const [rec] = await tx
          .workspace(ws.id)
          .contacts.put([write])
          .then(keptInRange)
          .catch((e) => storeError(e, ""));
        return { rec: rec!, created: prev === null, now };
      },
      ({ rec, created, now }) => applyContact(ws, rec, ch, created, now),
    )
    .then(async ({ result }) => ({
      contact: await wireContact(ws, result.rec, { segments: true }),
      created: result.created,
    }));
}

/** With `ifMatch`, a stale tag answers 412, checked inside the commit (etag.ts). */
export async function patchContact(
  ws: WorkspaceCore,
  id: string,
  input: ContactInput,
  ifMatch?: IfMatch | null,
): Promise<WireContact> {
  if (input.id !== undefined && input.id !== id) throw invalid("id", "cannot change a contact's id");
  refuseComputedWrites(input.fields, ws.engine.computedFields());
  const ch = contactChanges(input, ws.registry, ws.timeZone);
  const { result } = await ws.live.write(
    async (tx) => {
      const now = ws.clock.now();
      const contacts = tx.workspace(ws.id).contacts;
      const prev = await contacts.get(id);
      if (!prev) throw notFound("contact", id);
      if (ifMatch) requireMatch(ifMatch, contactTag(await wireContact(ws, prev, { computed: false })));
      const [rec] = await contacts
        .put([await merged(ws, prev, ch, now)])
        .then(keptInRange)
        .catch((e) => storeError(e, ""));
      return { rec: rec!, now };
    },
    ({ rec, now }) => applyContact(ws, rec, ch, false, now),
  );
  return wireContact(ws, result.rec, { segments: true });
}

export async function upsertContacts(ws: WorkspaceCore, body: unknown): Promise<BatchResult> {
  return (await upsertContactsWithIds(ws, body)).result;
}

/**
 * A contacts batch (an array, or `{contacts: [...]}`); also the ids of the contacts
 * written (imports add them to a segment). Its items are parsed here, one by one: an
 * invalid item is answered in `errors` and the others are written.
 */
export async function upsertContactsWithIds(
  ws: WorkspaceCore,
  body: unknown,
): Promise<{ result: BatchResult; ids: string[] }> {
  const items = Array.isArray(body) ? body : (body as { contacts?: unknown })?.contacts;
  if (!Array.isArray(items)) throw invalid("contacts", "expected an array of contacts");
  if (items.length > LIMITS.batchItems) {
    throw new ApiError("payload_too_large", `contacts: at most ${LIMITS.batchItems} items per batch`);
  }
  const errors: { index: number; error: string }[] = [];
  const valid: { index: number; id?: string; ch: ContactChanges }[] = [];
  items.forEach((item, index) => {
    try {
      const input = parse(ContactInput, item, `contacts[${index}]`);
      refuseComputedWrites(input.fields, ws.engine.computedFields(), `contacts[${index}]`);
      const ch = contactChanges(input, ws.registry, ws.timeZone, `contacts[${index}]`);
      if (input.id === undefined && !ch.email && !ch.external_id) {
        throw invalid(`contacts[${index}]`, "expected an email or an external_id to upsert by");
      }
      valid.push({ index, ...(input.id !== undefined ? { id: input.id } : {}), ch });
    } catch (e) {
      if (e instanceof ApiError) errors.push({ index, error: e.message });
      else throw e;
    }
  });
  const { result } = await ws.live.write(
    async (tx) => {
      const now = ws.clock.now();
      const writes: { index: number; rec: ContactWrite; ch: ContactChanges; created: boolean }[] = [];
      // Later items about the same contact (same id, email or external_id) merge into the earlier one.
      const byKey = new Map<string, number>();
      let duplicates = 0;
      for (const v of valid) {
        const keys = [
          v.id && `id:${v.id}`,
          v.ch.email && `e:${v.ch.email}`,
          v.ch.external_id && `x:${v.ch.external_id}`,
        ];
        const seen = keys.map((k) => (k ? byKey.get(k) : undefined)).find((k) => k !== undefined);
        if (seen !== undefined) {
          const w = writes[seen]!;
          const prevRec = w.rec;
          w.rec = await merged(ws, { ...(prevRec as ContactRecord) }, v.ch, now);
          w.ch = { ...w.ch, ...v.ch };
          duplicates++;
          continue;
        }
        let prev: ContactRecord | null;
        try {
          prev = await existingFor(ws, tx, v.ch, v.id, `contacts[${v.index}]`);
        } catch (e) {
          if (e instanceof ApiError) {
            errors.push({ index: v.index, error: e.message });
            continue;
          }
          throw e;
        }
        const pos = writes.length;
        writes.push({
          index: v.index,
          rec: await merged(ws, prev, v.ch, now),
          ch: v.ch,
          created: prev === null,
        });
        for (const k of keys) if (k) byKey.set(k, pos);
        if (prev) byKey.set(`id:${prev.id}`, pos);
      }
      const recs = await tx
        .workspace(ws.id)
        .contacts.put(writes.map((w) => w.rec))
        .then(keptInRange)
        .catch((e) => storeError(e, "contacts: "));
      return { writes, recs, now, duplicates };
    },
    async ({ writes, recs, now }) => {
      for (let k = 0; k < writes.length; k++) {
        const w = writes[k]!;
        await applyContact(ws, recs[k]!, w.ch, w.created, now);
      }
    },
  );
  errors.sort((a, b) => a.index - b.index);
  return {
    result: { accepted: result.writes.length, duplicates: result.duplicates, errors },
    ids: result.recs.map((r) => r.id),
  };
}

/** With `ifMatch`, a stale tag answers 412, checked inside the commit (etag.ts). */
export async function deleteContact(ws: WorkspaceCore, id: string, ifMatch?: IfMatch | null): Promise<void> {
  await ws.live.write(
    async (tx) => {
      const contacts = tx.workspace(ws.id).contacts;
      if (ifMatch) {
        const prev = await contacts.get(id);
        if (!prev) throw notFound("contact", id);
        requireMatch(ifMatch, contactTag(await wireContact(ws, prev, { computed: false })));
      }
      const ok = await contacts.delete(id);
      if (!ok) throw notFound("contact", id);
    },
    () => ws.engine.removeContact(id),
  );
}

export async function changeTags(
  ws: WorkspaceCore,
  id: string,
  add: string[],
  remove: string[],
): Promise<void> {
  await ws.live.write(
    async (tx) => {
      const contacts = tx.workspace(ws.id).contacts;
      const prev = await contacts.get(id);
      if (!prev) throw notFound("contact", id);
      const tags = new Set(prev.tags);
      for (const t of add) tags.add(t);
      for (const t of remove) tags.delete(t);
      await contacts.put([{ ...prev, tags: [...tags] }]);
    },
    () => ws.engine.changeTags(id, { add, remove }),
  );
}
