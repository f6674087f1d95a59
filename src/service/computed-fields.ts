/**
 * The service side of computed fields (docs/rules.md, "Computed fields"): checking a
 * declaration, refusing writes of their keys, and their values on the wire.
 */
import type { Engine } from "../engine/engine.ts";
import type { ComputedDefinition } from "../rules/computed.ts";
import { RuleValidationError } from "../rules/errors.ts";
import type { FieldType } from "../rules/fields.ts";
import { ApiError, invalid } from "./errors.ts";
import { issuePath } from "./wire.ts";
import type { ComputedValues } from "./wire-contact.ts";

/** A field as `GET /v1/fields` answers it. */
export interface WireField {
  key: string;
  type: FieldType;
  label: string;
  builtin: boolean;
  created_at: string | null;
  computed: ComputedDefinition | null;
  /** The definition in the rule text form. */
  computed_text: string | null;
}

/** A validation error of a definition as the 400 naming its first bad part. */
export function definitionError(e: unknown): never {
  if (e instanceof RuleValidationError) throw invalid(e.path, e.issues[0]?.message ?? e.message);
  throw e;
}

/**
 * Refuses a write of a computed field's key (`fields.lifetime_value`): its value is
 * the measure of the contact's events, never given. `root` prefixes the path.
 */
export function refuseComputedWrites(
  fields: Record<string, unknown> | null | undefined,
  computed: ReadonlyMap<string, ComputedDefinition>,
  root = "",
): void {
  if (!fields || computed.size === 0) return;
  for (const key of Object.keys(fields)) {
    if (computed.has(key)) {
      throw invalid(
        issuePath(root, ["fields", key]),
        `"${key}" is a computed field: its value is computed from events and cannot be written`,
      );
    }
  }
}

/** A reader of computed values for many contacts at one instant; null when the workspace has none. */
export function computedReader(engine: Engine): ((contactId: string) => ComputedValues) | null {
  if (engine.computedFields().size === 0) return null;
  const read = engine.computedReader();
  return (id) => read(id) as ComputedValues;
}

/** The 409 of deleting a field rules use, with the segments as `details.uses`. */
export function fieldInUse(key: string, segments: string[]): ApiError {
  const uses = segments.map((id) => ({ type: "segment", id }));
  return new ApiError(
    "conflict",
    `field "${key}" is in use by ${uses.map((u) => `${u.type} ${u.id}`).join(", ")}`,
    { uses },
  );
}
