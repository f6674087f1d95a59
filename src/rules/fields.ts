/** Field types a contact field (built-in or custom) can have (SPEC §1). */
export const FIELD_TYPES = ["string", "number", "boolean", "date", "string_list"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface FieldDef {
  key: string;
  type: FieldType;
  label?: string;
  builtin?: boolean;
}

/** The built-in contact fields of SPEC §1, in wire order. */
export const BUILTIN_FIELDS: readonly FieldDef[] = [
  { key: "email", type: "string", label: "Email", builtin: true },
  { key: "external_id", type: "string", label: "External ID", builtin: true },
  { key: "phone", type: "string", label: "Phone", builtin: true },
  { key: "first_name", type: "string", label: "First name", builtin: true },
  { key: "last_name", type: "string", label: "Last name", builtin: true },
  { key: "country", type: "string", label: "Country", builtin: true },
  { key: "region", type: "string", label: "Region", builtin: true },
  { key: "city", type: "string", label: "City", builtin: true },
  { key: "postal_code", type: "string", label: "Postal code", builtin: true },
  { key: "timezone", type: "string", label: "Time zone", builtin: true },
  { key: "language", type: "string", label: "Language", builtin: true },
  { key: "status", type: "string", label: "Subscription status", builtin: true },
  { key: "email_status", type: "string", label: "Email status", builtin: true },
  { key: "tags", type: "string_list", label: "Tags", builtin: true },
  { key: "created_at", type: "date", label: "Created at", builtin: true },
  { key: "subscribed_at", type: "date", label: "Subscribed at", builtin: true },
];

export const BUILTIN_FIELD_KEYS: ReadonlySet<string> = new Set(BUILTIN_FIELDS.map((f) => f.key));

export const CONTACT_STATUSES = ["subscribed", "unsubscribed", "non_subscribed"] as const;
export const EMAIL_STATUSES = ["deliverable", "soft_bouncing", "hard_bounced", "complained"] as const;

const CUSTOM_KEY = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The fields a workspace's rules may read: the built-ins plus declared custom fields.
 * Immutable: `withField` returns a new registry so a rule validated against one
 * registry keeps its meaning.
 */
export class FieldRegistry {
  private readonly byKey: ReadonlyMap<string, FieldDef>;

  constructor(custom: readonly FieldDef[] = []) {
    const map = new Map<string, FieldDef>();
    for (const f of BUILTIN_FIELDS) map.set(f.key, f);
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
    if (BUILTIN_FIELD_KEYS.has(f.key)) return `field key "${f.key}": shadows the built-in field "${f.key}"`;
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

  withField(f: FieldDef): FieldRegistry {
    return new FieldRegistry([...this.custom(), f]);
  }
}
