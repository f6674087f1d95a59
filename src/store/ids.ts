import { createHash, randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case: sorts as it reads

/**
 * `<prefix>_<10 chars of time><12 random chars>`: ids sort by creation time (to the
 * millisecond), so keyset pages by id come out in creation order, and new rows land at
 * the end of the primary-key index instead of all over it.
 */
export function newId(prefix: string, now: number): string {
  let t = Math.max(0, Math.floor(now));
  const time: string[] = new Array(10);
  for (let i = 9; i >= 0; i--) {
    time[i] = ALPHABET[t % 32];
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(12);
  let rand = "";
  for (let i = 0; i < 12; i++) rand += ALPHABET[bytes[i] & 31];
  return `${prefix}_${time.join("")}${rand}`;
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString("base64url")}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** SPEC §1: emails are stored trimmed and lower-cased; empty counts as not set. */
export function normalizeEmail(email: string | null | undefined): string | null {
  if (email === null || email === undefined) return null;
  const e = email.trim().toLowerCase();
  return e === "" ? null : e;
}
