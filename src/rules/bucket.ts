/**
 * Random buckets (docs/rules.md, "Bucket conditions"): each contact gets, per seed, a
 * number in [0, 100) with two decimals that looks random but is a pure function of
 * the seed and the contact id, so every process, node and restart agrees on it:
 *
 *   k = the first 6 bytes of SHA-256(UTF-8(seed) ‖ 0x00 ‖ UTF-8(contact id)),
 *       read as a big-endian unsigned integer, modulo 10000
 *   bucket = k / 100
 *
 * SHA-256 rather than a fast non-cryptographic hash: it is specified everywhere,
 * spreads ids that differ in one character evenly, and costs about 2 µs per contact,
 * which the engine pays once per seed and contact (src/engine/buckets.ts). The modulo bias of 48 bits
 * onto 10000 values is below 10⁻¹⁰.
 */
import { hash } from "node:crypto";
import { NUMBER_OPS } from "./operators.ts";

/** How many distinct bucket values there are: 0.00 to 99.99. */
export const BUCKET_CODES = 10_000;

/** Operators a bucket condition takes (value: a number from 0 to 100, or `[low, high]`). */
export const BUCKET_OPS = NUMBER_OPS;

/** The bucket as a whole number of hundredths, 0 to 9999. */
export function bucketCode(seed: string, contactId: string): number {
  // One string gives the same bytes (the NUL keeps a surrogate pair from forming across
  // the join), and the one-shot hash costs about half of a createHash chain.
  const digest = hash("sha256", `${seed}\u0000${contactId}`, "buffer");
  return digest.readUIntBE(0, 6) % BUCKET_CODES;
}

/** The bucket of a contact for a seed: a number in [0, 100) with two decimals. */
export function bucketOf(seed: string, contactId: string): number {
  return bucketCode(seed, contactId) / 100;
}
