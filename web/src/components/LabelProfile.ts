/** How a contact's built-in properties and their coded values read to a marketer. */
import { BUILTIN_CONTACT_FIELDS } from "../../../src/contract/fields.ts";
import type { Contact } from "../api.ts";

export const PROFILE_LABELS: Partial<Record<keyof Contact, string>> = Object.fromEntries(
  BUILTIN_CONTACT_FIELDS.map((f) => [f.key, "profileLabel" in f ? f.profileLabel : f.label]),
);

const VALUE_LABELS: Record<string, Readonly<Record<string, string>>> = Object.fromEntries(
  BUILTIN_CONTACT_FIELDS.flatMap((f) => ("valueLabels" in f ? [[f.key, f.valueLabels]] : [])),
);

/** A property's label; a key without one reads with its underscores as spaces. */
export function profileLabel(key: string): string {
  const known = PROFILE_LABELS[key as keyof Contact];
  if (known) return known;
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A coded value's label (`non_subscribed` → "Not subscribed"); other values as they are. */
export function valueLabel(key: string, value: string): string {
  return VALUE_LABELS[key]?.[value] ?? value;
}
