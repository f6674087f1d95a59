/**
 * The Segment spec's messages as Slice accepts them (https://segment.com/docs/connections/spec/):
 * `identify`, `track`, `page`, `screen`, `group`, `alias`, alone or in a `batch`, with the
 * common fields (https://segment.com/docs/connections/spec/common/). The schemas are loose:
 * SDKs add fields of their own (`_metadata`, `channel`, `integrations`), which are ignored.
 * Limits are the HTTP Tracking API's: 32 KB per call, 500 KB per batch
 * (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/).
 */
import { z } from "zod";
import { invalid } from "../errors.ts";
import { issuePath } from "../wire.ts";

export const SEGMENT_LIMITS = {
  /** One call (a message of a batch, or a single call's body). */
  messageBytes: 32 * 1024,
  /** One batch request, after decompression. */
  batchBytes: 500 * 1024,
  /** A messageId is an event id (≤ 200 characters), and a derived event appends a suffix to it. */
  messageIdChars: 180,
} as const;

export const MESSAGE_TYPES = ["identify", "track", "page", "screen", "group", "alias"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Ids are strings in the spec; SDKs have long sent numbers too (RudderStack's coerces them). */
const Id = z
  .union([z.string(), z.number()], { error: "expected a string" })
  .transform((v) => String(v).trim())
  .nullable()
  .optional();

const Obj = z.record(z.string(), z.unknown(), { error: "expected an object" }).nullable().optional();
const Text = z.string({ error: "expected a string" }).nullable().optional();

export const SegmentMessage = z.looseObject({
  type: z.enum(MESSAGE_TYPES, { error: `expected one of ${MESSAGE_TYPES.join(", ")}` }),
  messageId: z
    .union([z.string(), z.number()], { error: "expected a string" })
    .transform((v) => String(v).trim())
    .refine((v) => v.length <= SEGMENT_LIMITS.messageIdChars, {
      error: `expected at most ${SEGMENT_LIMITS.messageIdChars} characters`,
    })
    .nullable()
    .optional(),
  userId: Id,
  anonymousId: Id,
  previousId: Id,
  groupId: Id,
  event: Text,
  name: Text,
  category: Text,
  timestamp: Text,
  originalTimestamp: Text,
  sentAt: Text,
  context: Obj,
  traits: Obj,
  properties: Obj,
});
export type SegmentMessage = z.infer<typeof SegmentMessage>;

const TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);
const ID_KEYS = ["userId", "anonymousId", "previousId", "groupId", "messageId"] as const;
const TEXT_KEYS = ["event", "name", "category", "timestamp", "originalTimestamp", "sentAt"] as const;
const OBJECT_KEYS = ["context", "traits", "properties"] as const;

/**
 * The common message checked by hand (a batch of a thousand is checked message by
 * message, and zod's general machinery costs microseconds each); anything unusual — or
 * wrong — goes through `SegmentMessage` itself, so the answer and its errors are zod's.
 */
export function plainMessage(v: unknown): SegmentMessage | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.type !== "string" || !TYPES.has(o.type)) return null;
  for (const k of ID_KEYS) {
    const x = o[k];
    // zod trims ids and turns numbers into strings: those take its way.
    if (x !== undefined && x !== null && (typeof x !== "string" || x.trim() !== x)) return null;
  }
  if (typeof o.messageId === "string" && o.messageId.length > SEGMENT_LIMITS.messageIdChars) return null;
  for (const k of TEXT_KEYS) {
    const x = o[k];
    if (x !== undefined && x !== null && typeof x !== "string") return null;
  }
  for (const k of OBJECT_KEYS) {
    const x = o[k];
    if (x !== undefined && x !== null && (typeof x !== "object" || Array.isArray(x))) return null;
  }
  return o as SegmentMessage;
}

export const SegmentBatch = z.looseObject({
  batch: z.array(z.unknown(), { error: "expected an array of messages" }),
  context: Obj,
  sentAt: Text,
});
export type SegmentBatch = z.infer<typeof SegmentBatch>;

/** Parses with `schema` or throws a 400 naming the first bad part under `root`. */
export function parseAt<T>(schema: z.ZodType<T>, input: unknown, root: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  return invalidAt(issuePath(root, issue.path), issue.message);
}

function invalidAt(path: string, message: string): never {
  throw invalid(path, message);
}
