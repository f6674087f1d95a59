/**
 * Contacts to Mailchimp members and Mailchimp's answers to row outcomes (the consent
 * table is in mailchimp.ts).
 */
import { consentOf } from "./consent.ts";
import type { BatchMember, MemberStatus } from "./mailchimp-sdk.ts";
import type { RowOutcome, SyncContact } from "./types.ts";

export const keyOf = (email: string) => email.trim().toLowerCase();

/** Which batch a consent goes in, and with which status (the table at the top). */
export function sending(c: SyncContact): { status: MemberStatus; updateExisting: boolean } {
  switch (consentOf(c)) {
    case "subscribed":
      return { status: "subscribed", updateExisting: false };
    case "non_subscribed":
      return { status: "transactional", updateExisting: false };
    default:
      return { status: "unsubscribed", updateExisting: true };
  }
}

export interface Row {
  key: string;
  member: BatchMember;
  updateExisting: boolean;
  contactIds: string[];
}

/** One row per address: contacts sharing an address are sent once, the stricter consent winning. */
export function rowsOf(contacts: SyncContact[], out: RowOutcome[]): Row[] {
  const byKey = new Map<string, Row>();
  for (const c of contacts) {
    if (!c.email || c.email.trim() === "") {
      out.push({ contact_id: c.id, status: "skipped", error: "no email" });
      continue;
    }
    const key = keyOf(c.email);
    const s = sending(c);
    const prev = byKey.get(key);
    if (prev) {
      prev.contactIds.push(c.id);
      if (s.updateExisting && !prev.updateExisting) {
        prev.member.status = s.status;
        prev.updateExisting = true;
      } else if (s.status === "transactional" && prev.member.status === "subscribed") {
        prev.member.status = "transactional";
      }
      continue;
    }
    const merge: Record<string, string> = {};
    if (c.first_name) merge.FNAME = c.first_name;
    if (c.last_name) merge.LNAME = c.last_name;
    const member: BatchMember = { email_address: c.email.trim(), status: s.status };
    if (Object.keys(merge).length > 0) member.merge_fields = merge;
    byKey.set(key, { key, member, updateExisting: s.updateExisting, contactIds: [c.id] });
  }
  return [...byKey.values()];
}

export interface SubscribeAnswer {
  errors: { key: string; message: string; code: string }[];
  created: number;
  updated: number;
}

export function readSubscribeAnswer(body: unknown): SubscribeAnswer {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const errors = Array.isArray(b.errors) ? b.errors : [];
  return {
    errors: errors.flatMap((e) => {
      const x = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
      if (typeof x.email_address !== "string") return [];
      const code = typeof x.error_code === "string" ? x.error_code : "";
      const message = typeof x.error === "string" ? x.error : "refused";
      return [{ key: keyOf(x.email_address), message, code }];
    }),
    created: typeof b.total_created === "number" ? b.total_created : 0,
    updated: typeof b.total_updated === "number" ? b.total_updated : 0,
  };
}

/** `errors: [{email_addresses: [...], error}]` of the segment call, by address. */
export function segmentErrors(body: unknown): Map<string, string> {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const out = new Map<string, string>();
  for (const e of Array.isArray(b.errors) ? b.errors : []) {
    const x = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
    const message = typeof x.error === "string" ? x.error : "refused";
    for (const a of Array.isArray(x.email_addresses) ? x.email_addresses : []) {
      if (typeof a === "string") out.set(keyOf(a), message);
    }
  }
  return out;
}

export function num(body: unknown, key: string): number {
  const v = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  return typeof v === "number" ? v : 0;
}
