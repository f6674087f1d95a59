/**
 * The rule language of SPEC §3.1, one schema per node kind. The TypeScript types are
 * inferred from these schemas so the shape is written down exactly once. These
 * schemas check structure only; what depends on the workspace (field types, which
 * operators fit them, segment references) is checked by `validate.ts`.
 */

import { z } from "zod";
import { MEASURE_FNS, type MeasureFn } from "../contract/measures.ts";
import { CALENDAR_PERIODS } from "./calendar.ts";
import { EVENT_TYPE, EVENT_TYPE_EXPECTED } from "./event-type.ts";
import { ALL_OPS } from "./operators.ts";

export const DURATION_RE = /^([1-9][0-9]{0,5})(mo|m|h|d|w|y)$/;

export const DurationString = z
  .string({ error: 'expected a duration like "30d" (units m, h, d, w, mo, y)' })
  .regex(DURATION_RE, { error: 'expected a duration like "30d" (units m, h, d, w, mo, y)' });

export const OpName = z.enum(ALL_OPS as [string, ...string[]], {
  error: (iss) => `unknown operator ${JSON.stringify(iss.input)}`,
});

/** A property filter inside an event or sequence step (`where`). */
export const PropertyFilter = z.strictObject({
  property: z.string().min(1, { error: "expected a property name" }).max(200),
  op: OpName,
  value: z.unknown().optional(),
});
export type PropertyFilter = z.infer<typeof PropertyFilter>;

export const EventType = z
  .string({ error: "expected an event type" })
  .regex(EVENT_TYPE, { error: EVENT_TYPE_EXPECTED });

const Instant = z.string({ error: "expected an ISO 8601 date or instant" });

export const Window = z.union(
  [
    z.strictObject({ in_last: DurationString }),
    z.strictObject({ between_ago: z.tuple([DurationString, DurationString]) }),
    z.strictObject({ after: Instant }),
    z.strictObject({ before: Instant }),
    z.strictObject({ between: z.tuple([Instant, Instant]) }),
    z.strictObject({
      during: z.enum(CALENDAR_PERIODS, {
        error: `expected a calendar period: ${CALENDAR_PERIODS.join(", ")}`,
      }),
    }),
  ],
  { error: "expected one of {in_last}, {between_ago}, {after}, {before}, {between}, {during}" },
);
export type Window = z.infer<typeof Window>;

export { MEASURE_FNS, type MeasureFn };

/** What a measure's value is, so which operators fit it (docs/rules.md, Measures). */
export function measureType(fn: MeasureFn): "number" | "date" | "string" {
  return fn === "first_at" || fn === "last_at" ? "date" : fn === "most_frequent" ? "string" : "number";
}

export const Measure = z.strictObject({
  fn: z.enum(MEASURE_FNS, { error: `expected one of ${MEASURE_FNS.join(", ")}` }),
  property: z.string().min(1).max(200).optional(),
});
export type Measure = z.infer<typeof Measure>;

export const FieldNode = z.strictObject({
  type: z.literal("field"),
  field: z.string({ error: "expected a field key" }).min(1),
  op: OpName,
  value: z.unknown().optional(),
});
export type FieldNode = z.infer<typeof FieldNode>;

export const SegmentNode = z.strictObject({
  type: z.literal("segment"),
  op: z.enum(["in", "not_in"], { error: 'expected "in" or "not_in"' }),
  segment: z.string({ error: "expected a segment id" }).min(1),
});
export type SegmentNode = z.infer<typeof SegmentNode>;

export const RANK_DIRECTIONS = ["top", "bottom"] as const;

/**
 * "In the top (bottom) `percent` % of the workspace by the measure" instead of a
 * comparison with a value (docs/rules.md, "Rank conditions"); the node then has no
 * `op` or `value`.
 */
export const RankSpec = z.strictObject({
  direction: z.enum(RANK_DIRECTIONS, { error: 'expected "top" or "bottom"' }),
  percent: z.number({ error: "expected a percentage: a number above 0 and at most 100" }),
});
export type RankSpec = z.infer<typeof RankSpec>;

/** Scores an event node's `op` and `value` may compare instead of the measure (docs/rules.md, "Quintile scores"). */
export const SCORES = ["quintile"] as const;

export const EventNode = z.strictObject({
  type: z.literal("event"),
  event: EventType,
  where: z.array(PropertyFilter).max(50).optional(),
  window: Window.optional(),
  measure: Measure.optional(),
  rank: RankSpec.optional(),
  score: z.enum(SCORES, { error: 'expected "quintile"' }).optional(),
  op: OpName.optional(),
  value: z.unknown().optional(),
});
export type EventNode = z.infer<typeof EventNode>;

export const BUCKET_SEED_MAX = 200;

export const BucketSeed = z
  .string({ error: "expected a seed: a non-empty string" })
  .min(1, { error: "expected a seed: a non-empty string" })
  .max(BUCKET_SEED_MAX, { error: `a seed is at most ${BUCKET_SEED_MAX} characters` })
  // The hash reads the seed up to a NUL byte, so that seed and contact id cannot run into each other.
  .refine((s) => !s.includes("\u0000"), { error: "a seed cannot contain the NUL character" });

/** A deterministic bucket of the contact in [0, 100) (bucket.ts), compared with a number. */
export const BucketNode = z.strictObject({
  type: z.literal("bucket"),
  seed: BucketSeed,
  op: OpName,
  value: z.unknown().optional(),
});
export type BucketNode = z.infer<typeof BucketNode>;

/**
 * A step of a sequence. `not: true` makes it negative: the contact did NOT do it after
 * the steps before, up to the deadline (the first step's instant plus `within`).
 */
export const SequenceStep = z.strictObject({
  event: EventType,
  where: z.array(PropertyFilter).max(50).optional(),
  not: z.literal(true, { error: 'expected true (a step the contact did leaves "not" out)' }).optional(),
});
export type SequenceStep = z.infer<typeof SequenceStep>;

export const SequenceNode = z.strictObject({
  type: z.literal("sequence"),
  steps: z.array(SequenceStep).min(2, { error: "a sequence needs at least 2 steps" }).max(10),
  within: DurationString,
  window: Window.optional(),
});
export type SequenceNode = z.infer<typeof SequenceNode>;

export interface AndNode {
  type: "and";
  conditions: RuleNode[];
}
export interface OrNode {
  type: "or";
  conditions: RuleNode[];
}
export interface NotNode {
  type: "not";
  condition: RuleNode;
}
export type RuleNode =
  | AndNode
  | OrNode
  | NotNode
  | FieldNode
  | SegmentNode
  | EventNode
  | SequenceNode
  | BucketNode;

export const AndNodeSchema: z.ZodType<AndNode> = z.strictObject({
  type: z.literal("and"),
  get conditions() {
    return z.array(RuleSchema).min(1, { error: "a group needs at least one condition" });
  },
});
export const OrNodeSchema: z.ZodType<OrNode> = z.strictObject({
  type: z.literal("or"),
  get conditions() {
    return z.array(RuleSchema).min(1, { error: "a group needs at least one condition" });
  },
});
export const NotNodeSchema: z.ZodType<NotNode> = z.strictObject({
  type: z.literal("not"),
  get condition() {
    return RuleSchema;
  },
});

export const NODE_TYPES = ["and", "or", "not", "field", "segment", "event", "sequence", "bucket"] as const;

export const RuleSchema: z.ZodType<RuleNode> = z.lazy(() =>
  z.discriminatedUnion(
    "type",
    [
      AndNodeSchema as z.ZodType<AndNode> & z.ZodObject,
      OrNodeSchema as z.ZodType<OrNode> & z.ZodObject,
      NotNodeSchema as z.ZodType<NotNode> & z.ZodObject,
      FieldNode,
      SegmentNode,
      EventNode,
      SequenceNode,
      BucketNode,
    ],
    { error: `expected a node with "type" one of ${NODE_TYPES.join(", ")}` },
  ),
);
