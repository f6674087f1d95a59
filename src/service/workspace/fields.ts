/**
 * Fields (SPEC §4): the built-in and custom ones on the wire, declaring a custom or
 * computed field (with what was stored under its key before), deleting a computed one.
 */
import { type ComputedDefinition, computedText, validateComputed } from "../../rules/computed.ts";
import { FieldRegistry } from "../../rules/fields.ts";
import type { ContactRecord, CustomField, StoreOps } from "../../store/types.ts";
import { definitionError, fieldInUse, type WireField } from "../computed-fields.ts";
import { ApiError, invalid, notFound } from "../errors.ts";
import { contactChanges, type FieldInput } from "../wire.ts";
import { iso, storeError, type WorkspaceCore } from "./core.ts";

export async function listFields(ws: WorkspaceCore): Promise<WireField[]> {
  const custom = await ws.store.workspace(ws.id).fields.list();
  const builtins = ws.registry.all().filter((f) => f.builtin);
  return [
    ...builtins.map((f) => ({
      key: f.key,
      type: f.type,
      label: f.label ?? f.key,
      builtin: true,
      created_at: null,
      computed: null,
      computed_text: null,
    })),
    ...custom.map((f) => wireField(ws, f)),
  ];
}

/** A custom field on the wire; a computed one with its definition, also in the text form. */
export function wireField(ws: WorkspaceCore, f: CustomField): WireField {
  const def = ws.engine.computedFields().get(f.key) ?? null;
  return {
    key: f.key,
    type: f.type,
    label: f.label,
    builtin: false,
    created_at: iso(f.created_at),
    computed: def,
    computed_text: def === null ? null : computedText(def),
  };
}

export async function createField(ws: WorkspaceCore, input: FieldInput): Promise<CustomField> {
  const problem = FieldRegistry.checkCustom(
    { key: input.key, type: input.type },
    new Map(ws.registry.all().map((f) => [f.key, f])),
  );
  if (problem) {
    const conflict = problem.includes("already declared");
    throw conflict
      ? new ApiError("conflict", problem, { path: "key" })
      : invalid("key", problem.replace(/^field key "[^"]*": /, ""));
  }
  if (input.computed !== undefined) return createComputedField(ws, input);
  const { result } = await ws.live.write(
    async (tx) => {
      const f = await tx
        .workspace(ws.id)
        .fields.create({ key: input.key, type: input.type, label: input.label ?? input.key })
        .catch((e) => storeError(e, "key"));
      return { f, ...(await storedValuesOf(ws, tx, f)) };
    },
    async ({ f, usable }) => {
      await ws.engine.defineField({ key: f.key, type: f.type, label: f.label });
      for (const r of usable)
        await ws.engine.patchContact({ id: r.id, fields: r.fields }, { receivedAt: r.updated_at });
    },
  );
  return result.f;
}

/**
 * A computed field (docs/rules.md): its definition checked as an event condition, its
 * type the measure's. Values stored under its key before (undeclared traits) are
 * dropped: the key now names the computed value.
 */
async function createComputedField(ws: WorkspaceCore, input: FieldInput): Promise<CustomField> {
  let def: ComputedDefinition;
  try {
    def = validateComputed(input.computed, {
      type: input.type,
      fields: ws.registry,
      timeZone: ws.timeZone,
    });
  } catch (e) {
    definitionError(e);
  }
  const { result } = await ws.live.write(
    async (tx) => {
      const f = await tx
        .workspace(ws.id)
        .fields.create({
          key: input.key,
          type: input.type,
          label: input.label ?? input.key,
          computed: def,
        })
        .catch((e) => storeError(e, "key"));
      await dropStoredValues(ws, tx, f.key);
      return f;
    },
    (f) => ws.engine.defineComputedField({ key: f.key, type: f.type, label: f.label }, def),
  );
  return result;
}

async function dropStoredValues(ws: WorkspaceCore, tx: StoreOps, key: string): Promise<void> {
  if (ws.live.engineCurrent && !(await ws.engine.holdsUndeclared(key))) return;
  const contacts = tx.workspace(ws.id).contacts;
  const changed: ContactRecord[] = [];
  for await (const page of contacts.stream()) {
    for (const r of page) {
      if (!Object.hasOwn(r.fields, key)) continue;
      const fields = { ...r.fields };
      delete fields[key];
      changed.push({ ...r, fields });
    }
  }
  if (changed.length > 0) await contacts.put(changed);
}

/**
 * Deletes a computed field: 404 unknown, 409 while a segment's rule names it; a
 * built-in or stored custom field is not deleted (its values would be lost).
 */
export async function deleteField(ws: WorkspaceCore, key: string): Promise<void> {
  const def = ws.registry.get(key);
  if (!def) throw notFound("field", key);
  if (def.builtin) throw new ApiError("forbidden", `field "${key}" is a built-in field`);
  if (!ws.engine.computedFields().has(key)) {
    throw new ApiError(
      "conflict",
      `field "${key}" holds contacts' values; only computed fields can be deleted`,
      { path: "key" },
    );
  }
  const uses = ws.engine.fieldUses(key);
  if (uses.length > 0) throw fieldInUse(key, uses);
  await ws.live.write(
    (tx) => tx.workspace(ws.id).fields.delete(key),
    () => ws.engine.removeComputedField(key),
  );
}

/**
 * Values stored under a field's key before it was declared (Segment traits, docs/ingest.md):
 * the contacts whose value has the field's type, for the engine, which knew no such
 * field; values of another type are dropped from the store, which keeps only values a
 * declared field can hold.
 */
async function storedValuesOf(
  ws: WorkspaceCore,
  tx: StoreOps,
  f: CustomField,
): Promise<{ usable: ContactRecord[] }> {
  // The engine has seen every stored contact (loaded or written), and notes the keys it
  // skipped: a key it never saw has no stored values, unless writes ahead of this one
  // in its group commit, not applied yet, stored some.
  if (ws.live.engineCurrent && !(await ws.engine.holdsUndeclared(f.key))) return { usable: [] };
  const registry = ws.registry.withField({ key: f.key, type: f.type, label: f.label });
  const usable: ContactRecord[] = [];
  const dropped: ContactRecord[] = [];
  const contacts = tx.workspace(ws.id).contacts;
  for await (const page of contacts.stream()) {
    for (const r of page) {
      if (!Object.hasOwn(r.fields, f.key)) continue;
      try {
        contactChanges({ fields: { [f.key]: r.fields[f.key] } }, registry, ws.timeZone);
        usable.push(r);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        const fields = { ...r.fields };
        delete fields[f.key];
        dropped.push({ ...r, fields });
      }
    }
  }
  if (dropped.length > 0) await contacts.put(dropped);
  return { usable };
}
