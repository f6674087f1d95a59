/**
 * One Segment message as what Slice writes (docs/ingest.md): who it is about, the profile
 * changes of its traits, the tags of a `group` call, and the events it records with
 * their clock-skew corrected timestamps. Pure: the store and engine are the caller's.
 */
import { isEventType } from "../../rules/event-type.ts";
import type { FieldRegistry } from "../../rules/fields.ts";
import type { JsonObject } from "../../store/types.ts";
import { invalid } from "../errors.ts";
import { instant, issuePath } from "../wire.ts";
import { type MessageType, parseAt, plainMessage, SEGMENT_LIMITS, SegmentMessage } from "./spec.ts";
import { type ComputedKeys, snakeCase, type TraitChanges, traitChanges } from "./traits.ts";

export interface EventDraft {
  /** The messageId (plus a suffix for a derived event): a retried message counts once. */
  id: string | null;
  type: string;
  timestamp: number;
  properties: JsonObject;
}

export interface MappedMessage {
  type: MessageType;
  userId: string | null;
  anonymousId: string | null;
  /** `alias`: the id (an anonymousId or a former userId) now known as `userId`. */
  previousId: string | null;
  traits: TraitChanges | null;
  /** Tags added to the contact (`group` calls). */
  tags: string[];
  events: EventDraft[];
}

export interface MapOptions {
  /** Path of the message in error messages: `batch[3]`, or "" for a single call. */
  root: string;
  receivedAt: number;
  /** The batch's `sentAt` and `context`, which its messages inherit. */
  sentAt?: string | null | undefined;
  context?: Record<string, unknown> | null | undefined;
  registry: FieldRegistry;
  /** The workspace's computed fields: traits named like one are not applied. */
  computed?: ComputedKeys;
  timeZone: string;
}

/** A number, or a string holding one (e-commerce amounts are often sent as strings). */
function amount(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return null;
}

const nonBlank = (s: string | null | undefined): string | null =>
  s === null || s === undefined || s.trim() === "" ? null : s;

/**
 * The event type of a `track` call's name: snake case, as SPEC §4.1 says
 * (`Order Completed` → `order_completed`), checked against SPEC §2's pattern.
 */
export function eventType(name: string, path: string): string {
  const cached = TYPE_CACHE.get(name);
  if (cached !== undefined) return cached;
  const type = snakeCase(name);
  if (type === "")
    throw invalid(path, `${JSON.stringify(name)} gives no event type (letters or digits needed)`);
  if (!isEventType(type))
    throw invalid(path, `${JSON.stringify(name)} gives the event type "${type}", longer than 64 characters`);
  // A source sends a few names over and over; the cache is bounded by forgetting all.
  if (TYPE_CACHE.size >= 10_000) TYPE_CACHE.clear();
  TYPE_CACHE.set(name, type);
  return type;
}

const TYPE_CACHE = new Map<string, string>();

/**
 * The corrected time of a message (https://segment.com/docs/connections/spec/common/#timestamps):
 * with the client's `sentAt`, `timestamp = receivedAt − (sentAt − originalTimestamp)`, so
 * a client clock that is off shifts nothing; without it, the client's timestamp as given;
 * without either, the time of receipt.
 */
export function correctedTimestamp(
  given: string | null | undefined,
  sentAt: string | null | undefined,
  receivedAt: number,
  /** Where the two come from, for error messages (built only for a value that fails). */
  paths: { root: string; timestamp: string; sentAt: string | null },
  tz: string,
): number {
  if (given === null || given === undefined || given.trim() === "") return receivedAt;
  const t = cachedInstant(given, paths.root, paths.timestamp, tz);
  if (sentAt === null || sentAt === undefined || sentAt.trim() === "") return t;
  return (
    receivedAt -
    (cachedInstant(sentAt, paths.sentAt === null ? "" : paths.root, paths.sentAt ?? "sentAt", tz) - t)
  );
}

/** A batch's messages share its sentAt and often their timestamps: the last few are kept. */
const INSTANTS = new Map<string, number>();
let instantsZone = "";
function cachedInstant(s: string, root: string, key: string, tz: string): number {
  if (tz !== instantsZone) {
    INSTANTS.clear();
    instantsZone = tz;
  }
  const hit = INSTANTS.get(s);
  if (hit !== undefined) return hit;
  const t = instant(s, issuePath(root, [key]), tz);
  if (INSTANTS.size >= 64) INSTANTS.clear();
  INSTANTS.set(s, t);
  return t;
}

function derivedEvents(type: string, base: EventDraft): EventDraft[] {
  const p = base.properties;

  // E-commerce spec v2 (https://segment.com/docs/connections/spec/ecommerce/v2/): the
  // built-in types that default segments and templates read.
  if (type === "order_completed") {
    const total = amount(p.total) ?? amount(p.revenue);
    const props: JsonObject = { ...p };
    if (total !== null) props.amount = total;
    return [
      {
        id: base.id === null ? null : `${base.id}:order_placed`,
        type: "order_placed",
        timestamp: base.timestamp,
        properties: props,
      },
    ];
  }
  if (type === "product_added") {
    const price = amount(p.price);
    const quantity = amount(p.quantity) ?? 1;
    const props: JsonObject = { ...p };
    if (price !== null) props.amount = price * quantity;
    return [
      {
        id: base.id === null ? null : `${base.id}:cart_added`,
        type: "cart_added",
        timestamp: base.timestamp,
        properties: props,
      },
    ];
  }
  return [];
}

function plainObject(v: unknown): Record<string, unknown> | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Maps one message; throws a 400 naming the bad part for a message that cannot apply. */
export function mapMessage(raw: unknown, opts: MapOptions): MappedMessage {
  const { root } = opts;
  const m = plainMessage(raw) ?? parseAt(SegmentMessage, raw, root);
  const userId = nonBlank(m.userId);
  const anonymousId = nonBlank(m.anonymousId);
  const previousId = nonBlank(m.previousId);
  if (m.type === "alias") {
    if (previousId === null)
      throw invalid(issuePath(root, ["previousId"]), "an alias call needs the previousId");
    if (userId === null) throw invalid(issuePath(root, ["userId"]), "an alias call needs the userId");
  } else if (userId === null && anonymousId === null) {
    throw invalid(root, "expected a userId or an anonymousId");
  }
  // The batch's context is the default of each message's (merged only when read).
  const context =
    opts.context && m.context ? { ...opts.context, ...m.context } : (m.context ?? opts.context ?? {});
  // A message that went through Segment already has its corrected `timestamp` beside the
  // client's `originalTimestamp`; the correction is made from the client's own clock.
  const original = nonBlank(m.originalTimestamp) !== null;
  const timestamp = correctedTimestamp(
    original ? m.originalTimestamp : m.timestamp,
    m.sentAt ?? opts.sentAt,
    opts.receivedAt,
    {
      root,
      timestamp: original ? "originalTimestamp" : "timestamp",
      sentAt: m.sentAt != null ? "sentAt" : null,
    },
    opts.timeZone,
  );

  // An identify call's traits are the user's; other calls may carry the user's traits in
  // `context.traits` (a group call's own traits are the group's).
  const contextTraits = plainObject(context.traits);
  const userTraits =
    m.type === "identify" ? { ...(contextTraits ?? {}), ...(m.traits ?? {}) } : contextTraits;
  const traits =
    userTraits && (Object.keys(userTraits).length > 0 || m.type === "identify")
      ? traitChanges(
          userTraits,
          m.type === "identify" ? context : null,
          opts.registry,
          opts.timeZone,
          {
            traits: issuePath(root, m.type === "identify" && m.traits ? ["traits"] : ["context", "traits"]),
            message: root,
          },
          opts.computed,
        )
      : null;

  const id = nonBlank(m.messageId);
  const properties = (m.properties ?? {}) as JsonObject;
  const events: EventDraft[] = [];
  const tags: string[] = [];
  switch (m.type) {
    case "track": {
      if (nonBlank(m.event) === null)
        throw invalid(issuePath(root, ["event"]), "a track call needs an event name");
      const type = TYPE_CACHE.get(m.event!) ?? eventType(m.event!, issuePath(root, ["event"]));
      const base: EventDraft = { id, type, timestamp, properties };
      events.push(base, ...derivedEvents(type, base));
      break;
    }
    case "page":
    case "screen": {
      const props: JsonObject = { ...properties };
      if (nonBlank(m.name) !== null) props.name = m.name!;
      if (nonBlank(m.category) !== null) props.category = m.category!;
      const page = plainObject(context.page);
      if (m.type === "page" && props.url === undefined && typeof page?.url === "string") props.url = page.url;
      events.push({
        id,
        type: m.type === "page" ? "page_viewed" : "screen_viewed",
        timestamp,
        properties: props,
      });
      break;
    }
    case "group": {
      const groupId = nonBlank(m.groupId);
      if (groupId === null) throw invalid(issuePath(root, ["groupId"]), "a group call needs the groupId");
      tags.push(`group:${groupId}`);
      break;
    }
    default:
      break;
  }
  return { type: m.type, userId, anonymousId, previousId, traits, tags, events };
}

/** The serialized size of a message, checked against the 32 KB per call of the HTTP API. */
export function checkMessageSize(raw: unknown, root: string): void {
  if (Buffer.byteLength(JSON.stringify(raw) ?? "") > SEGMENT_LIMITS.messageBytes) {
    throw invalid(root, `message exceeds ${SEGMENT_LIMITS.messageBytes / 1024} KB`);
  }
}
