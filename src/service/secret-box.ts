/**
 * Credentials at rest (destinations, scheduled exports): AES-256-GCM under a key taken
 * from `SLICE_SECRET_KEY`, so a copy of the database alone does not give away the API
 * keys it holds. The stored form is `v1.<iv>.<tag>.<ciphertext>` in base64url; the
 * authentication tag makes a tampered or wrongly keyed value fail to open rather than
 * decrypt to garbage.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** `SLICE_SECRET_KEY` is needed and missing, or does not open what is stored. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyError";
  }
}

export const MIN_SECRET_KEY_LENGTH = 16;

export class SecretBox {
  private readonly key: Buffer;

  /** Any string of at least 16 characters; it is hashed to the 256-bit key. */
  constructor(secretKey: string) {
    if (secretKey.length < MIN_SECRET_KEY_LENGTH) {
      throw new SecretKeyError(`SLICE_SECRET_KEY must be at least ${MIN_SECRET_KEY_LENGTH} characters`);
    }
    this.key = createHash("sha256").update(`slice-secret-box:${secretKey}`, "utf8").digest();
  }

  seal(plain: Record<string, string>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(plain), "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ["v1", iv.toString("base64url"), tag.toString("base64url"), data.toString("base64url")].join(".");
  }

  open(sealed: string): Record<string, string> {
    const parts = sealed.split(".");
    if (parts.length !== 4 || parts[0] !== "v1")
      throw new SecretKeyError("stored credentials are not in a known form");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(parts[1], "base64url"));
      decipher.setAuthTag(Buffer.from(parts[2], "base64url"));
      const text = Buffer.concat([
        decipher.update(Buffer.from(parts[3], "base64url")),
        decipher.final(),
      ]).toString("utf8");
      return JSON.parse(text) as Record<string, string>;
    } catch {
      throw new SecretKeyError("stored credentials do not open with this SLICE_SECRET_KEY (was it changed?)");
    }
  }
}

/** The box of `SLICE_SECRET_KEY`, or one that refuses with a clear message when it is unset. */
export function secretBoxOf(secretKey: string | undefined): SecretBox | null {
  return secretKey ? new SecretBox(secretKey) : null;
}
