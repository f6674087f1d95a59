/**
 * Entity tags and `If-Match` (RFC 9110 §8.8.3, §13.1.1) for segments and contacts, so
 * that two clients editing one resource cannot silently overwrite each other: a write
 * with a stale tag is refused with 412 `precondition_failed`.
 *
 * Every check runs inside the write's own `live.write` commit, which the workspace
 * serialises, so no other write can land between the check and the write.
 */
import { createHash } from "node:crypto";
import { ApiError, type ErrorCode, invalid } from "./errors.ts";
import type { WireContact } from "./wire-contact.ts";

/** `*` (any current representation) or the listed tags. */
export type IfMatch = { any: true } | { any: false; tags: string[] };

/**
 * 412 with the current tag in `details.etag`. `errors.ts` has no 412 code yet, so the
 * code and status are set here.
 */
export class PreconditionFailed extends ApiError {
  override readonly status = 412;
  override readonly code = "precondition_failed" as ErrorCode;
  constructor(current: string) {
    super("conflict", `If-Match: the resource has changed; its current ETag is ${current}`, {
      path: "headers.if-match",
      etag: current,
    });
  }
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * A contact's tag: a digest of its representation (without `segments`, which moves with
 * rules and time, not with edits), so any change a client could see, including the
 * effective status, makes the tag stale.
 */
export function contactTag(c: WireContact & { segments?: unknown }): string {
  const { segments: _, ...rest } = c;
  const digest = createHash("sha256")
    .update(JSON.stringify(canonical(rest)))
    .digest("base64url");
  return `"${digest.slice(0, 27)}"`;
}

/** A segment's tag: its version, which every edit increments (size moves on its own). */
export function segmentTag(version: number): string {
  return `"v${version}"`;
}

const TAG = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/y;

/** The `If-Match` header; null when absent. A malformed one is a 400. */
export function parseIfMatch(header: string | string[] | undefined): IfMatch | null {
  if (header === undefined) return null;
  const raw = Array.isArray(header) ? header.join(",") : header;
  if (raw.trim() === "*") return { any: true };
  const tags: string[] = [];
  TAG.lastIndex = 0;
  while (TAG.lastIndex < raw.length) {
    const at = TAG.lastIndex;
    const m = TAG.exec(raw);
    if (!m || TAG.lastIndex === at) {
      throw invalid("headers.if-match", 'expected "*" or a comma-separated list of quoted entity tags');
    }
    // A weak tag never matches: If-Match compares strongly (RFC 9110 §13.1.1).
    if (!m[1]) tags.push(`"${m[2]}"`);
  }
  if (tags.length === 0 && raw.trim() === "") {
    throw invalid("headers.if-match", 'expected "*" or a comma-separated list of quoted entity tags');
  }
  return { any: false, tags };
}

/** Throws 412 unless `ifMatch` (when given) matches the current tag. */
export function requireMatch(ifMatch: IfMatch | null | undefined, current: string): void {
  if (!ifMatch || ifMatch.any) return;
  if (!ifMatch.tags.includes(current)) throw new PreconditionFailed(current);
}
