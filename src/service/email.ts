/**
 * The one email check of every write path (REST contacts, imports, Segment traits,
 * sending-platform recipients). Written as index scans instead of a pattern such as
 * `^[^\s@]+@[^\s@]+\.[^\s@]+$`, whose backtracking takes time quadratic in the length
 * (40 KB: 1.2 s of a blocked server), and bounded first: RFC 5321 allows 254 characters.
 */

export const EMAIL_MAX_LENGTH = 254;

/**
 * Why `email` (trimmed, lower-cased) is not an address, or null when it is: one `@`,
 * something before it, a dot inside the domain with something on both sides, no white
 * space or control character, at most 254 characters.
 */
export function emailProblem(email: string): string | null {
  if (email.length > EMAIL_MAX_LENGTH) return `is longer than ${EMAIL_MAX_LENGTH} characters`;
  const at = email.indexOf("@");
  if (at <= 0 || at !== email.lastIndexOf("@") || /\s/.test(email) || hasControl(email))
    return "is not an email address";
  const domain = email.slice(at + 1);
  const dot = domain.indexOf(".", 1);
  if (dot < 0 || dot >= domain.length - 1) return "is not an email address";
  return null;
}

/** Control characters (NUL among them) are not white space to `\s`, but no address has them. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** The normalised form the store keeps: trimmed and lower-cased. */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}
