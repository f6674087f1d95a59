/**
 * Meta (Facebook) customer-list custom audience export: normalisation and SHA-256
 * hashing of each identifier as Meta documents it (docs/exports.md, "Meta"), plus the
 * helpers the Google export shares (hashing, phone numbers).
 */
import { createHash } from "node:crypto";
import { isSupportedCountry, parsePhoneNumberFromString } from "libphonenumber-js";
import type { BuiltinKey } from "../contract/fields.ts";
import type { ContactRecord } from "../store/types.ts";

/** What a normaliser may need besides the value itself: the contact's country. */
export interface NormalizeContext {
  /** ISO 3166-1 alpha-2 (any case); the default region of phone numbers without `+`. */
  country?: string | null;
}

// ---------------------------------------------------------------- shared helpers

/** Lower-case hex SHA-256 of the UTF-8 bytes of `s`. */
export function sha256Hex(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** True when `s` already is a SHA-256 digest in hex (either case). */
export function isSha256Hex(s: string): boolean {
  return SHA256_HEX.test(s);
}

/** The contact's country as an upper-case code libphonenumber knows, or undefined. */
function phoneRegion(country: string | null | undefined) {
  if (!country) return undefined;
  const c = country.trim().toUpperCase();
  return isSupportedCountry(c) ? c : undefined;
}

function possibleE164(text: string, region?: ReturnType<typeof phoneRegion>): string | null {
  const p = parsePhoneNumberFromString(text, region);
  return p?.isPossible() ? p.number : null;
}

/**
 * A phone number in E.164 (`+` then country code and number), or null when it cannot
 * be read as a possible number. A number with `+` is read as international; one
 * without is read in the contact's country (its national prefix such as a leading 0
 * is dropped, and the country's international prefix such as `00` or `011` is
 * understood). Failing that, `00…` is read as `+…`, and, when the contact has no
 * country, the digits are taken to start with a country code (`1 415 555 2671`).
 * Extensions are dropped.
 */
export function toE164(raw: string, country?: string | null): string | null {
  const text = raw.trim();
  if (text === "") return null;
  const region = phoneRegion(country);
  const direct = possibleE164(text, region);
  if (direct) return direct;
  const compact = text.replace(/[\s().-]/g, "");
  if (compact.startsWith("00")) {
    const viaIdd = possibleE164(`+${compact.slice(2)}`);
    if (viaIdd) return viaIdd;
  }
  if (!region && !compact.startsWith("+")) {
    const digits = compact.replace(/\D/g, "").replace(/^0+/, "");
    if (digits) return possibleE164(`+${digits}`);
  }
  return null;
}

/** NFC, lower-case, and only letters (any script, accents kept): no spaces, digits or punctuation. */
export function lettersOnly(s: string): string {
  return s
    .normalize("NFC")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}]/gu, "");
}

/** A two-letter country code in lower case, or null when the value is not one. */
function countryCode(s: string | null | undefined): string | null {
  if (!s) return null;
  const c = lettersOnly(s);
  return /^[a-z]{2}$/.test(c) ? c : null;
}

// ---------------------------------------------------------------- US states

/** US states, DC and territories: full name (letters only, lower case) → USPS code. */
const US_STATES: Readonly<Record<string, string>> = {
  alabama: "al",
  alaska: "ak",
  arizona: "az",
  arkansas: "ar",
  california: "ca",
  colorado: "co",
  connecticut: "ct",
  delaware: "de",
  districtofcolumbia: "dc",
  florida: "fl",
  georgia: "ga",
  hawaii: "hi",
  idaho: "id",
  illinois: "il",
  indiana: "in",
  iowa: "ia",
  kansas: "ks",
  kentucky: "ky",
  louisiana: "la",
  maine: "me",
  maryland: "md",
  massachusetts: "ma",
  michigan: "mi",
  minnesota: "mn",
  mississippi: "ms",
  missouri: "mo",
  montana: "mt",
  nebraska: "ne",
  nevada: "nv",
  newhampshire: "nh",
  newjersey: "nj",
  newmexico: "nm",
  newyork: "ny",
  northcarolina: "nc",
  northdakota: "nd",
  ohio: "oh",
  oklahoma: "ok",
  oregon: "or",
  pennsylvania: "pa",
  rhodeisland: "ri",
  southcarolina: "sc",
  southdakota: "sd",
  tennessee: "tn",
  texas: "tx",
  utah: "ut",
  vermont: "vt",
  virginia: "va",
  washington: "wa",
  westvirginia: "wv",
  wisconsin: "wi",
  wyoming: "wy",
  americansamoa: "as",
  guam: "gu",
  northernmarianaislands: "mp",
  puertorico: "pr",
  usvirginislands: "vi",
  virginislands: "vi",
  unitedstatesvirginislands: "vi",
};

// ---------------------------------------------------------------- Meta

/** Meta's customer-list identifiers used here, in the order of the file's columns. */
export const META_FIELDS = ["email", "phone", "fn", "ln", "ct", "st", "zip", "country", "extern_id"] as const;
export type MetaField = (typeof META_FIELDS)[number];

/** The built-in contact field each Meta identifier is read from. */
export const META_SOURCES = {
  email: "email",
  phone: "phone",
  fn: "first_name",
  ln: "last_name",
  ct: "city",
  st: "region",
  zip: "postal_code",
  country: "country",
  extern_id: "external_id",
} as const satisfies Record<MetaField, BuiltinKey>;

/** The header row of a Meta export (Meta's customer-list column names). */
export const META_HEADER: readonly string[] = META_FIELDS;

/**
 * A value normalised as Meta asks before hashing, or null to leave the cell empty.
 * `ctx.country` is the contact's country: the default region of phone numbers without
 * `+`, and it selects the US rules for `st` and `zip`.
 */
export function metaNormalize(field: MetaField, value: string, ctx: NormalizeContext = {}): string | null {
  const v = value.trim();
  if (v === "") return null;
  const country = countryCode(ctx.country);
  let out: string | null;
  switch (field) {
    case "email":
      out = v.toLowerCase();
      break;
    case "phone": {
      // Meta: digits only, with the country code, no `+` and no leading zeros.
      const e164 = toE164(v, ctx.country);
      out = e164 ? e164.slice(1) : null;
      break;
    }
    case "fn":
    case "ln":
    case "ct":
      out = lettersOnly(v);
      break;
    case "st": {
      const s = lettersOnly(v);
      out = country === null || country === "us" ? (US_STATES[s] ?? s) : s;
      break;
    }
    case "zip": {
      const z = v.toLowerCase().replace(/[\s-]/g, "");
      if (country === "us" || (country === null && /^\d{9}$/.test(z))) {
        // US: the first five digits (ZIP+4 loses its extension).
        out = /^\d{5}/.test(z) ? z.slice(0, 5) : z;
      } else if (country === "gb") {
        // UK: area, district and sector (`SW1A 1AA` → `sw1a1`).
        const m = /^([a-z]{1,2}\d[a-z\d]?)(\d)[a-z]{2}$/.exec(z);
        out = m ? m[1] + m[2] : z;
      } else {
        out = z;
      }
      break;
    }
    case "country":
      out = countryCode(v);
      break;
    case "extern_id":
      out = v;
      break;
  }
  return out === "" ? null : out;
}

/**
 * The cell Meta expects for a value: SHA-256 (lower-case hex) of the normalised value;
 * a value that already is a SHA-256 hex digest is passed through, lower-cased;
 * `extern_id` is not hashed (Meta matches it in plain text). Empty when there is
 * nothing to send.
 */
export function metaHash(
  field: MetaField,
  value: string | null | undefined,
  ctx: NormalizeContext = {},
): string {
  const v = value?.trim() ?? "";
  if (v === "") return "";
  if (field === "extern_id") return metaNormalize(field, v, ctx) ?? "";
  if (isSha256Hex(v)) return v.toLowerCase();
  const n = metaNormalize(field, v, ctx);
  return n === null ? "" : sha256Hex(n);
}

/** One contact's cells, in `META_FIELDS` order. */
export function metaRow(r: ContactRecord): string[] {
  const ctx: NormalizeContext = { country: r.country };
  return META_FIELDS.map((f) => metaHash(f, r[META_SOURCES[f]], ctx));
}
