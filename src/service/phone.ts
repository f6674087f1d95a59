/**
 * Phones are stored in E.164 where possible (SPEC §1): parsed with the contact's country
 * as the default region. A number that cannot be parsed, or is not a possible number of
 * its region, is kept as given (trimmed) rather than refused: imports carry extensions,
 * vanity numbers and notes, and refusing them would drop the whole contact.
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";

export function normalisePhone(raw: string, country: string | null): string {
  const trimmed = raw.trim();
  // The parser works on up to a few hundred characters; a longer value is refused by
  // its length cap before it gets here.
  const parsed = parsePhoneNumberFromString(trimmed, (country ?? undefined) as CountryCode | undefined);
  return parsed?.isPossible() ? parsed.number : trimmed;
}
