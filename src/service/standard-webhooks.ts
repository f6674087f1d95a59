/**
 * Signing per the Standard Webhooks specification (standardwebhooks.com, spec v1.0.0),
 * so that receivers can verify Slice's calls with any of its libraries:
 *
 * - a secret is `whsec_` + the base64 of 24 to 64 random bytes; the HMAC key is the
 *   decoded bytes, not the text;
 * - the signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the timestamp in
 *   integer Unix seconds;
 * - `webhook-signature` is `v1,<base64 HMAC-SHA256>`, several of them space-separated
 *   when more than one secret is live (a rotation: receivers accept any that matches).
 */
import { createHmac, randomBytes } from "node:crypto";

export const SECRET_PREFIX = "whsec_";
export const SECRET_MIN_BYTES = 24;
export const SECRET_MAX_BYTES = 64;
const NEW_SECRET_BYTES = 32;

export interface StandardHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** A fresh `whsec_` secret of 32 random bytes. */
export function newStandardSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(NEW_SECRET_BYTES).toString("base64")}`;
}

/**
 * The HMAC key of a `whsec_` secret, or null when it is not one. The base64 must be the
 * canonical padded form: the reference libraries decode strictly, so anything looser
 * would sign with a key the receiver cannot reproduce.
 */
export function standardSecretKey(secret: string): Buffer | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  const key = Buffer.from(b64, "base64");
  if (key.toString("base64") !== b64) return null;
  if (key.length < SECRET_MIN_BYTES || key.length > SECRET_MAX_BYTES) return null;
  return key;
}

export function isStandardSecret(secret: string): boolean {
  return standardSecretKey(secret) !== null;
}

/**
 * How the reference JavaScript library (`standardwebhooks`, `new Webhook(secret, opts)`)
 * keys its HMAC, for secrets Slice did not make:
 *
 * - `whsec_` + canonical base64 (any length): the decoded bytes, its default;
 * - any other string: the library's `{ format: "raw" }` keying, one byte per character
 *   (`Uint8Array.from(secret, c => c.charCodeAt(0))`, reproduced as is so that even
 *   non-ASCII secrets match it).
 */
export function webhookSigningKey(secret: string): { key: Buffer; format: "whsec" | "raw" } {
  if (secret.startsWith(SECRET_PREFIX)) {
    const b64 = secret.slice(SECRET_PREFIX.length);
    if (b64.length > 0 && b64.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
      const key = Buffer.from(b64, "base64");
      if (key.length > 0 && key.toString("base64") === b64) return { key, format: "whsec" };
    }
  }
  return { key: Buffer.from(Uint8Array.from(secret, (c) => c.charCodeAt(0))), format: "raw" };
}

/** `v1,<base64 HMAC-SHA256>` of `${msgId}.${timestampSeconds}.${body}` with a ready key. */
export function signWithKey(key: Uint8Array, msgId: string, timestampSeconds: number, body: string): string {
  checkMessageId(msgId);
  const mac = createHmac("sha256", key).update(`${msgId}.${Math.floor(timestampSeconds)}.`, "utf8");
  return `v1,${mac.update(body, "utf8").digest("base64")}`;
}

function checkMessageId(msgId: string): void {
  // A `.` in the id would let one (id, timestamp, body) triple pass for another.
  if (msgId === "" || /[.\s]/.test(msgId)) {
    throw new Error("webhook-id must be non-empty, without '.' or whitespace");
  }
}

/** One `v1,<base64>` signature of `${msgId}.${timestampSeconds}.${body}`. */
export function standardSignature(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string,
): string {
  const key = standardSecretKey(secret);
  if (key === null) throw new Error("not a Standard Webhooks secret (whsec_ + base64 of 24–64 bytes)");
  return signWithKey(key, msgId, timestampSeconds, body);
}

/**
 * The three headers of a signed call. Given several secrets (the new one and those
 * being retired), the signature header carries one signature per secret.
 */
export function standardHeaders(
  secret: string | readonly string[],
  msgId: string,
  timestampSeconds: number,
  body: string,
): StandardHeaders {
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (secrets.length === 0) throw new Error("at least one secret is needed to sign");
  if (!Number.isFinite(timestampSeconds) || timestampSeconds < 0) {
    throw new Error("webhook-timestamp must be a non-negative number of seconds");
  }
  const ts = Math.floor(timestampSeconds);
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(ts),
    "webhook-signature": secrets.map((s) => standardSignature(s, msgId, ts, body)).join(" "),
  };
}
