/**
 * Contact references (by id, email or external id) to contact ids: answered by the
 * engine when it knows them, else by the store; events create the contacts they name
 * (SPEC §2).
 */
import type { ContactRecord, ContactWrite, StoreOps } from "../../store/types.ts";
import { emailProblem } from "../email.ts";
import type { ContactMatch } from "../live-workspace.ts";
import type { ContactRef, EventInput } from "../wire.ts";
import { newContact } from "./contact-writes.ts";
import { storeError, type WorkspaceCore } from "./core.ts";

/**
 * Resolves contact references; with `create`, unknown emails and external ids become
 * new contacts (SPEC §2), written through `tx`. Returns per reference the id or an error.
 */
export async function resolve(
  ws: WorkspaceCore,
  refs: ContactRef[],
  opts: { tx?: StoreOps; now?: number; path: (k: number) => string },
): Promise<{
  ids: (string | null)[];
  errors: (string | null)[];
  /** Per refused reference, its path and whether it names no contact (else it is invalid). */
  refused: ({ path: string; missing: boolean } | undefined)[];
  created: ContactRecord[];
}> {
  // References are answered by the engine, which holds every committed contact and
  // knows them by email and external id too, except inside a group commit behind other
  // writes, which the engine does not show yet (LiveWorkspace.engineCurrent): those ask
  // the store. An email or external id the engine does not know is asked of the store
  // too (a miss costs a query, never a wrong answer).
  const found: (ContactRecord | { id: string } | null)[] = new Array(refs.length).fill(null);
  const lookups: ContactRef[] = [];
  const lookupAt: number[] = [];
  const engineKnows = opts.tx === undefined || ws.live.engineCurrent;
  refs.forEach((ref, k) => {
    if (engineKnows) {
      const id = inMemory(ws, ref);
      if (id !== undefined) {
        found[k] = { id };
        return;
      }
      if ("id" in ref) return;
    }
    lookups.push(ref);
    lookupAt.push(k);
  });
  if (lookups.length > 0) {
    const rows = await (opts.tx ?? ws.store).workspace(ws.id).contacts.find(lookups);
    rows.forEach((r, j) => {
      found[lookupAt[j]!] = r;
    });
  }
  const ids: (string | null)[] = [];
  const errors: (string | null)[] = [];
  const refused: ({ path: string; missing: boolean } | undefined)[] = [];
  const toCreate = new Map<string, { write: ContactWrite; positions: number[] }>();
  refs.forEach((ref, k) => {
    const r = found[k];
    if (r) {
      ids.push(r.id);
      errors.push(null);
      return;
    }
    ids.push(null);
    if ("id" in ref || !opts.tx) {
      const key =
        "id" in ref
          ? `id "${ref.id}"`
          : "email" in ref
            ? `email "${ref.email}"`
            : `external_id "${ref.external_id}"`;
      errors.push(`${opts.path(k)}: no contact with ${key}`);
      refused[k] = { path: opts.path(k), missing: true };
      return;
    }
    const email = "email" in ref ? ref.email.trim().toLowerCase() : null;
    // A contact made by an event passes the same email check as one written directly.
    const problem = email !== null ? emailProblem(email) : null;
    if (problem) {
      const shown = JSON.stringify(email!.length > 80 ? `${email!.slice(0, 80)}…` : email);
      errors.push(`${opts.path(k)}.email: ${shown} ${problem}`);
      refused[k] = { path: `${opts.path(k)}.email`, missing: false };
      return;
    }
    errors.push(null);
    const key = email !== null ? `e:${email}` : `x:${(ref as { external_id: string }).external_id}`;
    const entry = toCreate.get(key);
    if (entry) entry.positions.push(k);
    else {
      toCreate.set(key, {
        write: newContact(
          email !== null ? { email } : { external_id: (ref as { external_id: string }).external_id },
          opts.now!,
        ),
        positions: [k],
      });
    }
  });
  let created: ContactRecord[] = [];
  if (toCreate.size > 0) {
    const entries = [...toCreate.values()];
    created = await opts
      .tx!.workspace(ws.id)
      .contacts.put(entries.map((e) => e.write))
      .catch((e) => storeError(e, ""));
    entries.forEach((e, j) => {
      for (const p of e.positions) ids[p] = created[j]!.id;
    });
  }
  return { ids, errors, refused, created };
}

/** The live contact a reference names, as the engine knows it; undefined when it knows none. */
export function inMemory(ws: WorkspaceCore, ref: ContactRef): string | undefined {
  if ("id" in ref) return ws.live.hasContact(ref.id) ? ref.id : undefined;
  return ws.live.contactBy(ref)?.id;
}

/**
 * The events' contacts when the engine knows every one (by id, email or external id),
 * with how each was named when not by id (the commit checks it still is); null when
 * one is unknown, so the batch must go through the store (SPEC §2 creates the contact).
 */
export function namedInMemory(
  ws: WorkspaceCore,
  valid: readonly { e: EventInput }[],
): { ids: string[]; named: (ContactMatch | null)[] | undefined; found: Int32Array } | null {
  const ids: string[] = new Array(valid.length);
  const found = new Int32Array(valid.length).fill(-1);
  let named: (ContactMatch | null)[] | undefined;
  for (let k = 0; k < valid.length; k++) {
    const ref = valid[k]!.e.contact;
    if ("id" in ref) {
      const c = ws.live.contactIndex(ref.id);
      if (c < 0) return null;
      ids[k] = ref.id;
      found[k] = c;
      continue;
    }
    const m = ws.live.contactBy(ref);
    if (m === undefined) return null;
    ids[k] = m.id;
    named ??= new Array(valid.length).fill(null);
    named[k] = m;
  }
  return { ids, named, found };
}
