import { createHash, randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case: sorts as it reads

let lastTime = -1;
let counter = 0;

function base32(n: number, width: number): string {
  const out: string[] = new Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = ALPHABET[n % 32];
    n = Math.floor(n / 32);
  }
  return out.join("");
}

/**
 * `<prefix>_<10 chars of time><4 chars of counter><8 random chars>`: ids sort by
 * creation time, and within one millisecond of this process by creation order, so
 * keyset pages by id come out in creation order and new rows land at the end of the
 * primary-key index instead of all over it. The random part keeps ids of different
 * processes apart.
 */
export function newId(prefix: string, now: number): string {
  const t = Math.max(0, Math.floor(now));
  if (t === lastTime) counter++;
  else {
    lastTime = t;
    counter = 0;
  }
  const bytes = randomBytes(8);
  let rand = "";
  for (let i = 0; i < 8; i++) rand += ALPHABET[bytes[i] & 31];
  return `${prefix}_${base32(t, 10)}${base32(counter % 1_048_576, 4)}${rand}`;
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
