/**
 * Segment-compatible ingest (SPEC §4.1, docs/ingest.md): a batch of Segment messages
 * applied to one workspace. Each message is checked and mapped on its own (a bad one is
 * a per-message error, the rest apply); then the profile part of the batch (traits,
 * anonymous ids, aliases, groups) is one write, and all of its events go to
 * `WorkspaceService.ingest` as one array — a batch of `track` calls by userId is one
 * grouped event write, with unknown users created there.
 */
import { ApiError, invalid } from "../errors.ts";
import { LIMITS } from "../wire.ts";
import type { WorkspaceService } from "../workspace.ts";
import { applyProfiles, type ProfileMessage } from "./identities.ts";
import { checkMessageSize, type MappedMessage, mapMessage } from "./map.ts";
import { type MessageType, parseAt, SegmentBatch } from "./spec.ts";

export interface SegmentResult {
  success: true;
  /** Events newly stored (an `Order Completed` stores two: itself and `order_placed`). */
  accepted: number;
  /** Events whose id (messageId) was stored before: retried messages. */
  duplicates: number;
  /** Messages that did not apply, by their index in the batch. */
  errors: { index: number; error: string }[];
  /** Traits that were not applied (the rest of their message was). */
  warnings: { index: number; warning: string }[];
}

interface Options {
  receivedAt: number;
  sentAt?: string | null | undefined;
  context?: Record<string, unknown> | null | undefined;
  /** Path of message `i` in error messages. */
  root: (i: number) => string;
}

const needsProfile = (m: MappedMessage) =>
  m.type === "identify" ||
  m.type === "alias" ||
  m.anonymousId !== null ||
  m.tags.length > 0 ||
  (m.traits !== null && (Object.keys(m.traits.changes).length > 0 || m.traits.warnings.length > 0));

/** A message whose only profile part is the tie of its anonymousId to its userId. */
const linkOnly = (m: MappedMessage) =>
  m.userId !== null &&
  m.anonymousId !== null &&
  m.type !== "identify" &&
  m.type !== "alias" &&
  m.traits === null &&
  m.tags.length === 0;

/**
 * Leaves out the messages whose anonymousId is already tied to their userId's contact:
 * a site or app sends both ids on every call once the user is known, and a batch of
 * those needs no profile write, only its events (by userId). Read outside any write, so
 * only a tie already stored counts; anything else takes the profile write.
 */
async function withoutSettledLinks(ws: WorkspaceService, msgs: ProfileMessage[]): Promise<ProfileMessage[]> {
  const links = msgs.filter((p) => linkOnly(p.m));
  if (links.length === 0) return msgs;
  const owners = await ws.live.store.workspace(ws.id).identities.find(links.map((p) => p.m.anonymousId!));
  const settled = new Set<ProfileMessage>();
  links.forEach((p, k) => {
    const owner = owners[k];
    if (owner != null && owner === ws.live.contactIdBy({ external_id: p.m.userId! })) settled.add(p);
  });
  return settled.size === 0 ? msgs : msgs.filter((p) => !settled.has(p));
}

async function apply(ws: WorkspaceService, raw: unknown[], opts: Options): Promise<SegmentResult> {
  const errors: SegmentResult["errors"] = [];
  const mapped: { index: number; root: string; m: MappedMessage }[] = [];
  const registry = ws.registry;
  const timeZone = ws.timeZone;
  raw.forEach((item, index) => {
    const root = opts.root(index);
    try {
      checkMessageSize(item, root);
      const m = mapMessage(item, {
        root,
        receivedAt: opts.receivedAt,
        sentAt: opts.sentAt,
        context: opts.context,
        registry,
        computed: ws.engine.computedFields(),
        timeZone,
      });
      mapped.push({ index, root, m });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      errors.push({ index, error: e.message });
    }
  });

  const profiles: ProfileMessage[] = await withoutSettledLinks(
    ws,
    mapped.filter((p) => needsProfile(p.m)),
  );
  const contactOf = new Map<number, string | null>();
  let warnings: SegmentResult["warnings"] = [];
  if (profiles.length > 0) {
    const out = await applyProfiles(ws, profiles);
    profiles.forEach((p, k) => {
      contactOf.set(p.index, out.contactIds[k]!);
    });
    errors.push(...out.errors);
    warnings = out.warnings;
  }

  const events: unknown[] = [];
  const owner: number[] = [];
  for (const { index, m } of mapped) {
    if (m.events.length === 0) continue;
    const resolved = contactOf.get(index);
    if (resolved === null) continue; // its profile part failed: already an error
    const contact = resolved !== undefined ? { id: resolved } : { external_id: m.userId! };
    for (const e of m.events) {
      const timestamp = new Date(e.timestamp).toISOString();
      events.push(
        e.id !== null
          ? { id: e.id, type: e.type, contact, timestamp, properties: e.properties }
          : { type: e.type, contact, timestamp, properties: e.properties },
      );
      owner.push(index);
    }
  }
  let accepted = 0;
  let duplicates = 0;
  const failed = new Set<number>();
  for (let start = 0; start < events.length; start += LIMITS.batchItems) {
    const r = await ws.ingest(events.slice(start, start + LIMITS.batchItems));
    accepted += r.accepted;
    duplicates += r.duplicates;
    for (const e of r.errors) {
      const index = owner[start + e.index]!;
      if (failed.has(index)) continue; // a derived event fails with its message's
      failed.add(index);
      const rest = e.error.replace(/^\[\d+\]/, "");
      const root = opts.root(index);
      errors.push({ index, error: root === "" ? rest.replace(/^\./, "") : `${root}${rest}` });
    }
  }
  errors.sort((a, b) => a.index - b.index);
  warnings.sort((a, b) => a.index - b.index);
  return { success: true, accepted, duplicates, errors, warnings };
}

/** `POST /segment/v1/batch`: `{ batch: [message, …], context?, sentAt? }`. */
export async function ingestSegmentBatch(
  ws: WorkspaceService,
  body: unknown,
  receivedAt: number,
): Promise<SegmentResult> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("", 'expected a JSON object with a "batch" array of messages');
  }
  const b = parseAt(SegmentBatch, body, "");
  return apply(ws, b.batch, {
    receivedAt,
    sentAt: b.sentAt,
    context: b.context,
    root: (i) => `batch[${i}]`,
  });
}

/**
 * `POST /segment/v1/<type>`: one message, its type given by the path. A message that
 * does not apply answers 400 (a batch answers per message).
 */
export async function ingestSegmentCall(
  ws: WorkspaceService,
  type: MessageType,
  body: unknown,
  receivedAt: number,
): Promise<SegmentResult> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("", `expected a JSON object: one ${type} call`);
  }
  const r = await apply(ws, [{ ...body, type }], { receivedAt, root: () => "" });
  const first = r.errors[0];
  if (first) throw new ApiError("invalid_request", first.error, { path: first.error.split(":")[0] ?? "" });
  return r;
}
