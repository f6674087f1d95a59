/**
 * Google Ads Customer Match export: normalisation and SHA-256 hashing as Google
 * documents it (docs/exports.md, "Google").
 */
import type { BuiltinKey } from "../contract/fields.ts";
import type { ContactRecord } from "../store/types.ts";
import { isSha256Hex, type NormalizeContext, sha256Hex, toE164 } from "./export-meta.ts";

export const GOOGLE_FIELDS = ["email", "phone", "first_name", "last_name", "country", "zip"] as const;
export type GoogleField = (typeof GOOGLE_FIELDS)[number];

/** The built-in contact field each Customer Match identifier is read from. */
export const GOOGLE_SOURCES = {
  email: "email",
  phone: "phone",
  first_name: "first_name",
  last_name: "last_name",
  country: "country",
  zip: "postal_code",
} as const satisfies Record<GoogleField, BuiltinKey>;

/** The header row of a Google export (Customer Match's English column names). */
export const GOOGLE_HEADER: readonly string[] = [
  "Email",
  "Phone",
  "First Name",
  "Last Name",
  "Country",
  "Zip",
];

/** Fields Google wants hashed; Country and Zip are sent in plain text. */
const HASHED: ReadonlySet<GoogleField> = new Set(["email", "phone", "first_name", "last_name"]);

const GMAIL_DOMAINS: ReadonlySet<string> = new Set(["gmail.com", "googlemail.com"]);

/**
 * A value normalised as Google asks, or null to leave the cell empty.
 * - email: lower-case, all whitespace removed; for gmail.com and googlemail.com the
 *   dots of the local part are removed and so is a `+tag` (`john.doe+x@gmail.com` →
 *   `johndoe@gmail.com`); other domains keep dots and `+`.
 * - phone: E.164 with `+` (the contact's country is the default region).
 * - first_name, last_name: trimmed, lower-case (NFC).
 * - country: ISO 3166-1 alpha-2, upper case; null when the value is not two letters.
 * - zip: trimmed, inner whitespace collapsed to one space.
 */
export function googleNormalize(
  field: GoogleField,
  value: string,
  ctx: NormalizeContext = {},
): string | null {
  const v = value.trim();
  if (v === "") return null;
  let out: string | null;
  switch (field) {
    case "email": {
      const e = v.toLowerCase().replace(/\s+/g, "");
      const at = e.lastIndexOf("@");
      if (at > 0 && GMAIL_DOMAINS.has(e.slice(at + 1))) {
        const local = e.slice(0, at).split("+")[0].replaceAll(".", "");
        out = local === "" ? e : `${local}${e.slice(at)}`;
      } else {
        out = e;
      }
      break;
    }
    case "phone":
      out = toE164(v, ctx.country);
      break;
    case "first_name":
    case "last_name":
      out = v.normalize("NFC").toLowerCase();
      break;
    case "country": {
      const c = v.toUpperCase();
      out = /^[A-Z]{2}$/.test(c) ? c : null;
      break;
    }
    case "zip":
      out = v.replace(/\s+/g, " ");
      break;
  }
  return out === "" ? null : out;
}

/**
 * The cell Google expects for a value: email, phone and names as SHA-256 (lower-case
 * hex) of the normalised value, a value that already is a SHA-256 hex digest passed
 * through lower-cased; Country and Zip normalised, not hashed. Empty when there is
 * nothing to send.
 */
export function googleHash(
  field: GoogleField,
  value: string | null | undefined,
  ctx: NormalizeContext = {},
): string {
  const v = value?.trim() ?? "";
  if (v === "") return "";
  if (!HASHED.has(field)) return googleNormalize(field, v, ctx) ?? "";
  if (isSha256Hex(v)) return v.toLowerCase();
  const n = googleNormalize(field, v, ctx);
  return n === null ? "" : sha256Hex(n);
}

/** One contact's cells, in `GOOGLE_FIELDS` order. */
export function googleRow(r: ContactRecord): string[] {
  const ctx: NormalizeContext = { country: r.country };
  return GOOGLE_FIELDS.map((f) => googleHash(f, r[GOOGLE_SOURCES[f]], ctx));
}
