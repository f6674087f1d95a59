/**
 * Checks of a contact's `country` (ISO 3166-1 alpha-2) and `timezone` (IANA). The
 * country list is written out because no runtime list matches the standard: the phone
 * library's regions include non-ISO ones (AC, TA, XK) and `Intl.DisplayNames` names any
 * two letters.
 */
import { IANAZone } from "luxon";

/** The 249 officially assigned ISO 3166-1 alpha-2 codes. */
const ISO_3166_1_ALPHA_2 = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ " +
    "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM " +
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS " +
    "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN " +
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ " +
    "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV " +
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI " +
    "VN VU WF WS YE YT ZA ZM ZW"
  ).split(" "),
);

/** The code in upper case, or null when it is not an assigned ISO 3166-1 alpha-2 code. */
export function isoCountry(raw: string): string | null {
  const up = raw.toUpperCase();
  return up.length === 2 && ISO_3166_1_ALPHA_2.has(up) ? up : null;
}

/**
 * The zone's canonical spelling ("europe/paris" → "Europe/Paris"), or null when it is
 * not an IANA zone. Fixed offsets such as "+02:00" or "UTC+2" are not zones of the
 * database and are refused; "UTC" and "Etc/…" are.
 */
export function ianaZone(raw: string): string | null {
  if (raw.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(raw)) return null;
  if (!IANAZone.isValidZone(raw)) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: raw }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}
