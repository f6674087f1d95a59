import {
  BUILTIN_CONTACT_FIELDS,
  type BuiltinFieldSpec,
  CONTACT_STATUSES,
  EMAIL_STATUSES,
  FIELD_TYPES,
  type FieldType,
} from "../contract/fields.ts";

export { CONTACT_STATUSES, EMAIL_STATUSES, FIELD_TYPES, type FieldType };

export interface FieldDef {
  key: string;
  type: FieldType;
  label?: string;
  builtin?: boolean;
}

/** A table's built-in fields as rules see them (key, type, label). */
export function builtinFieldDefs(table: readonly BuiltinFieldSpec[]): readonly FieldDef[] {
  return table.map((f) => ({ key: f.key, type: f.type, label: f.label, builtin: true }));
}

/** The built-in contact fields of SPEC §1, in wire order (src/contract/fields.ts). */
export const BUILTIN_FIELDS: readonly FieldDef[] = builtinFieldDefs(BUILTIN_CONTACT_FIELDS);

export const BUILTIN_FIELD_KEYS: ReadonlySet<string> = new Set(BUILTIN_FIELDS.map((f) => f.key));

const CUSTOM_KEY = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The fields a workspace's rules may read: the built-ins plus declared custom fields.
 * Immutable: `withField` returns a new registry so a rule validated against one
 * registry keeps its meaning.
 */
export class FieldRegistry {
  private readonly byKey: ReadonlyMap<string, FieldDef>;

  /**
   * `builtins` is the built-in table's fields (`builtinFieldDefs`); only a test of the
   * table's derivations passes another one.
   */
  constructor(
    custom: readonly FieldDef[] = [],
    private readonly builtins: readonly FieldDef[] = BUILTIN_FIELDS,
  ) {
    const map = new Map<string, FieldDef>();
    for (const f of builtins) map.set(f.key, f);
    for (const f of custom) {
      const problem = FieldRegistry.checkCustom(f, map);
      if (problem) throw new Error(problem);
      map.set(f.key, { key: f.key, type: f.type, label: f.label ?? f.key, builtin: false });
    }
    this.byKey = map;
  }

  /** Why a custom field definition is not acceptable, or null when it is. */
  static checkCustom(f: FieldDef, existing: ReadonlyMap<string, FieldDef>): string | null {
    if (!CUSTOM_KEY.test(f.key)) {
      return `field key "${f.key}": expected lower-case letters, digits and "_", starting with a letter (at most 64)`;
    }
    if (BUILTIN_FIELD_KEYS.has(f.key) || existing.get(f.key)?.builtin)
      return `field key "${f.key}": shadows the built-in field "${f.key}"`;
    if (existing.has(f.key)) return `field key "${f.key}": already declared`;
    if (!(FIELD_TYPES as readonly string[]).includes(f.type)) {
      return `field "${f.key}": type must be one of ${FIELD_TYPES.join(", ")}`;
    }
    return null;
  }

  get(key: string): FieldDef | undefined {
    return this.byKey.get(key);
  }

  all(): FieldDef[] {
    return [...this.byKey.values()];
  }

  custom(): FieldDef[] {
    return this.all().filter((f) => !f.builtin);
  }

  /** The built-in fields, in wire order. */
  builtin(): readonly FieldDef[] {
    return this.builtins;
  }

  withField(f: FieldDef): FieldRegistry {
    return new FieldRegistry([...this.custom(), f], this.builtins);
  }
}
