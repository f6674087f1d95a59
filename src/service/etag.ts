/**
 * Entity tags and `If-Match` (RFC 9110 §8.8.3, §13.1.1) for segments and contacts, so
 * that two clients editing one resource cannot silently overwrite each other: a write
 * with a stale tag is refused with 412 `precondition_failed`.
 *
 * Every check runs inside the write's own `live.write` commit, which the workspace
 * serialises, so no other write can land between the check and the write.
 */
import { createHash } from "node:crypto";
import { clampedInstant } from "../store/contact-row.ts";
import { ApiError, type ErrorCode, invalid, notFound } from "./errors.ts";
import { ContactInput, contactChanges, parse } from "./wire.ts";
import type { WireContact } from "./wire-contact.ts";
import type { WorkspaceService } from "./workspace.ts";

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

// ---------------------------------------------------------------- conditional contact writes
// `PATCH` and `DELETE` of a contact with `If-Match`: the same steps as
// WorkspaceService.patchContact / deleteContact, with the check inside the commit.
// Without `If-Match` the routes call those methods unchanged. Keep the two in step (or
// give those methods an `ifMatch` option and drop these).

export async function patchContactIfMatch(
  ws: WorkspaceService,
  id: string,
  body: unknown,
  ifMatch: IfMatch,
): Promise<WireContact> {
  const input = parse(ContactInput, body);
  if (input.id !== undefined && input.id !== id) throw invalid("id", "cannot change a contact's id");
  const ch = contactChanges(input, ws.registry, ws.timeZone);
  const { result } = await ws.live.write(
    async (tx) => {
      const now = ws.now();
      const prev = await tx.getContact(ws.id, id);
      if (!prev) throw notFound("contact", id);
      requireMatch(ifMatch, contactTag(ws.wireContact(prev)));
      const [rec] = await tx.putContacts(ws.id, [ws.contactWrite(prev, ch, now)]);
      // As patchContact: a created_at stored out of range before writes were checked is
      // answered repaired, as reads answer it, not as a 500 after the commit.
      rec!.created_at = clampedInstant(rec!.created_at);
      return { rec: rec!, now };
    },
    ({ rec, now }) => ws.applyContactWrite(rec, ch, false, now),
  );
  return ws.wireContact(result.rec, true);
}

export async function deleteContactIfMatch(
  ws: WorkspaceService,
  id: string,
  ifMatch: IfMatch,
): Promise<void> {
  await ws.live.write(
    async (tx) => {
      const prev = await tx.getContact(ws.id, id);
      if (!prev) throw notFound("contact", id);
      requireMatch(ifMatch, contactTag(ws.wireContact(prev)));
      await tx.deleteContact(ws.id, id);
    },
    () => ws.engine.removeContact(id),
  );
}
