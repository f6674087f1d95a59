/** How a contact's built-in properties and their coded values read to a marketer. */
import type { Contact } from "../api.ts";

export const PROFILE_LABELS: Partial<Record<keyof Contact, string>> = {
  email: "Email",
  external_id: "External ID",
  phone: "Phone",
  first_name: "First name",
  last_name: "Last name",
  country: "Country",
  region: "Region",
  city: "City",
  postal_code: "Postal code",
  timezone: "Time zone",
  language: "Language",
  status: "Status",
  email_status: "Email status",
  tags: "Tags",
  created_at: "Created",
  subscribed_at: "Subscribed",
};

const VALUE_LABELS: Record<string, Record<string, string>> = {
  status: {
    subscribed: "Subscribed",
    unsubscribed: "Unsubscribed",
    non_subscribed: "Not subscribed",
  },
  email_status: {
    deliverable: "Deliverable",
    soft_bouncing: "Soft bouncing",
    hard_bounced: "Hard bounced",
    complained: "Complained",
  },
};

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
