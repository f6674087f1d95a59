/**
 * The JSON answers of the core routes (`routes.ts`: workspaces, keys, contacts, events,
 * fields, segments), as the client receives them. They are the `response` of each
 * route's document: the OpenAPI document shows them, and with `checkResponses` every
 * answer is checked against them, so they are strict (an undocumented key fails) and
 * name exact value sets where the set is fixed.
 */
import { z } from "zod";
import type { ExplainNode } from "../../engine/types.ts";
import { ComputedDefinition } from "../../rules/computed.ts";
import { FIELD_TYPES } from "../../rules/fields.ts";
import { Measure, OpName, PropertyFilter, RuleSchema, SequenceStep, Window } from "../../rules/schema.ts";
import { WireContactSchema, WireContactValue, WireContactWithSegments } from "../../service/wire-contact.ts";
import { KEY_ROLES } from "../../store/types.ts";
import { Count, Instant, pageOf } from "./common.ts";

// ---------------------------------------------------------------- workspaces and keys

export const WorkspaceAnswer = z.strictObject({
  id: z.string(),
  name: z.string(),
  time_zone: z.string().meta({ description: "IANA time zone" }),
  settings: z.record(z.string(), z.json()),
  created_at: Instant,
});

export const WorkspaceCreated = z.strictObject({
  workspace: WorkspaceAnswer,
  api_key: z.string().meta({ description: "The new workspace's first key (read_write); shown once" }),
});

export const KeyAnswer = z.strictObject({
  id: z.string(),
  workspace_id: z.string(),
  name: z.string(),
  prefix: z.string().meta({ description: "The first characters of the secret" }),
  role: z.enum(KEY_ROLES),
  admin: z.boolean(),
  created_at: Instant,
});

export const KeyCreated = KeyAnswer.extend({
  key: z.string().meta({ description: "The secret; shown once" }),
});

export const KeysPage = pageOf(KeyAnswer);

// ---------------------------------------------------------------- contacts and events

export { WireContactSchema as ContactAnswer, WireContactWithSegments as ContactWithSegments };

export const ContactsPage = pageOf(WireContactSchema).extend({
  total: Count.optional().meta({
    description: "Contacts matching the whole filter (segment, q), not only this page; absent on a lookup",
  }),
});

/** Per-item answer of a batch (contacts or events): the items refused, by index. */
export const BatchAnswer = z.strictObject({
  accepted: Count,
  duplicates: Count.meta({ description: "Items merged into an earlier one, or events already received" }),
  errors: z.array(z.strictObject({ index: Count, error: z.string() })),
});

export const EventAnswer = z.strictObject({
  id: z.string().nullable().meta({ description: "The client's id of the event, if given" }),
  type: z.string(),
  contact_id: z.string(),
  timestamp: Instant,
  properties: z.record(z.string(), z.json()),
  received_at: Instant,
});

export const EventsPage = pageOf(EventAnswer);

// ---------------------------------------------------------------- fields

export const FieldAnswer = z.strictObject({
  key: z.string(),
  type: z.enum(FIELD_TYPES),
  label: z.string(),
  builtin: z.boolean(),
  created_at: Instant.nullable().meta({ description: "null for a built-in field" }),
  computed: ComputedDefinition.nullable().meta({
    description: "A computed field's definition (docs/rules.md, Computed fields); null for a stored field",
  }),
  computed_text: z.string().nullable().meta({
    description:
      "The definition in the rule text form, e.g. `sum(order_placed.amount)`; null for a stored field",
  }),
});

export const FieldsPage = pageOf(FieldAnswer);

// ---------------------------------------------------------------- segments

export const SegmentAnswer = z.strictObject({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  kind: z.enum(["dynamic", "static"]),
  rule: RuleSchema.nullable().meta({ description: "null for a static segment" }),
  rule_text: z.string().nullable().meta({ description: "The rule's text form; null for a static segment" }),
  default: z.boolean(),
  version: z.int().min(1),
  size: Count,
  created_at: Instant.nullable().meta({ description: "null for a default segment" }),
  updated_at: Instant.nullable(),
});

export const SegmentsPage = pageOf(SegmentAnswer);

export const SegmentVersionAnswer = z.strictObject({
  version: z.int().min(1),
  name: z.string(),
  description: z.string(),
  rule: RuleSchema.nullable(),
  rule_text: z.string().nullable(),
  created_at: Instant.nullable().meta({ description: "null for a default segment's built-in version" }),
});

export const SegmentVersionsPage = pageOf(SegmentVersionAnswer);

export const SegmentTemplatesPage = pageOf(
  z.strictObject({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    rule: RuleSchema,
    requires: z
      .array(z.strictObject({ key: z.string(), type: z.enum(FIELD_TYPES) }))
      .optional()
      .meta({ description: "Custom fields the rule reads, to declare before using it" }),
  }),
);

export const PreviewAnswer = z.strictObject({
  count: Count,
  sample: z.array(WireContactSchema).max(10),
  took_ms: z.number().min(0),
  rule: RuleSchema.meta({ description: "The rule previewed (with `rule_text`: the text read)" }),
  rule_text: z.string().nullable().meta({ description: "The rule's text form" }),
  diff: z
    .strictObject({
      entered: Count,
      exited: Count,
      entered_sample: z.array(WireContactSchema).max(10),
      exited_sample: z.array(WireContactSchema).max(10),
    })
    .optional()
    .meta({ description: "With `segment_id`: who would enter and exit if the rule were saved" }),
});

/** A member at a past instant (`?at=`) erased since: nothing but its id is left. */
const ErasedMember = z.strictObject({ id: z.string() });

export const MembersPage = pageOf(z.union([WireContactSchema, ErasedMember]));

export const MembersAdded = z.strictObject({ added: Count });
export const MembersRemoved = z.strictObject({ removed: Count });
export const OverridesLifted = z.strictObject({ lifted: Count });
export const ActionAnswer = z.strictObject({
  changed: Count.meta({ description: "Contacts whose tags changed, or copied to the segment" }),
});

export const OverridesPage = pageOf(
  z.strictObject({
    contact_id: z.string(),
    action: z.enum(["added", "removed"]),
    expires_at: Instant.nullable(),
  }),
);

export const ChangesPage = pageOf(
  z.strictObject({
    segment_id: z.string(),
    contact_id: z.string(),
    change: z.enum(["entered", "exited"]),
    at: Instant,
  }),
);

export const UsesPage = pageOf(
  z.strictObject({
    type: z.enum(["segment", "webhook", "destination", "export_schedule"]),
    id: z.string(),
  }),
);

// ---------------------------------------------------------------- explain

const AndOr = (type: "and" | "or") =>
  z.strictObject({
    type: z.literal(type),
    result: z.boolean(),
    get conditions() {
      return z.array(ExplainNodeSchema);
    },
  });

/** The rule's tree with each node's result for the contact (engine `ExplainNode`). */
export const ExplainNodeSchema: z.ZodType<ExplainNode> = z.lazy(() =>
  z.discriminatedUnion("type", [
    AndOr("and"),
    AndOr("or"),
    z.strictObject({
      type: z.literal("not"),
      result: z.boolean(),
      get condition() {
        return ExplainNodeSchema;
      },
    }),
    z.strictObject({
      type: z.literal("field"),
      field: z.string(),
      op: OpName,
      value: z.unknown().optional(),
      result: z.boolean(),
      actual: WireContactValue.meta({ description: "The contact's value, as rules read it" }),
      computed: ComputedDefinition.optional().meta({
        description: "On a computed field: its definition (`actual` is its value)",
      }),
    }),
    z.strictObject({
      type: z.literal("segment"),
      op: z.enum(["in", "not_in"]),
      segment: z.string(),
      result: z.boolean(),
    }),
    z.strictObject({
      type: z.literal("event"),
      event: z.string(),
      where: z.array(PropertyFilter).optional(),
      window: Window.optional(),
      measure: Measure,
      result: z.boolean(),
      measured: z.union([z.number(), z.string(), z.null()]),
      needed: z.strictObject({ op: OpName, value: z.unknown().optional() }),
    }),
    z.strictObject({
      type: z.literal("sequence"),
      steps: z.array(SequenceStep),
      within: z.string(),
      window: Window.optional(),
      result: z.boolean(),
      completed_at: Instant.nullable(),
      pending_until: Instant.nullable()
        .optional()
        .meta({ description: "With a negative step: when the contact would enter with no new event" }),
    }),
    z.strictObject({
      type: z.literal("bucket"),
      seed: z.string(),
      op: OpName,
      value: z.unknown().optional(),
      result: z.boolean(),
      actual: z.number().min(0).max(100).meta({ description: "The contact's bucket for the seed" }),
    }),
  ]),
);

export const ExplainAnswer = z.strictObject({
  member: z.boolean(),
  rule: ExplainNodeSchema.nullable().meta({
    description: "null for a static segment; with an override, what the rule alone says",
  }),
  override: z
    .strictObject({
      action: z.enum(["added", "removed"]),
      expires_at: Instant.nullable().meta({ description: "null: until lifted" }),
    })
    .optional()
    .meta({ description: "A hand override in force: membership is its, whatever the rule says" }),
});

// ---------------------------------------------------------------- analytics

export const AnalyticsAnswer = z.strictObject({
  size: Count,
  share: z.number().min(0).max(1).meta({ description: "Share of all contacts" }),
  total_contacts: Count,
  daily: z.array(
    z.strictObject({
      date: z.iso.date().meta({ description: "A calendar day in the workspace time zone" }),
      size: Count.nullable().meta({
        description:
          "Members at the day's end; null before the segment existed when its rule cannot be recomputed",
      }),
      entered: Count.nullable(),
      exited: Count.nullable(),
    }),
  ),
  history: z.strictObject({
    logged_since: z.iso
      .date()
      .nullable()
      .meta({ description: "The segment's creation day: from it on, daily comes from the change log" }),
    before: z.enum(["none", "rule", "unknown"]).meta({
      description:
        "The days before logged_since: none in the range, recomputed from the rule, or unknown (size null)",
    }),
    starts_on: z.iso.date().nullable().meta({ description: "The first day with a size" }),
    reason: z.string().nullable().meta({ description: "Why some days are unknown" }),
  }),
  breakdown: z
    .strictObject({
      field: z.string(),
      values: z.array(
        z.strictObject({
          value: z
            .string()
            .nullable()
            .meta({ description: 'As rules see it; null: no value; "(other)": the rest' }),
          label: z.string().nullable().meta({ description: "As the members' profiles spell it most often" }),
          count: Count,
        }),
      ),
    })
    .optional(),
  engagement: z.strictObject({
    window_days: z.literal(30),
    opens: Count,
    clicks: Count,
    orders: Count,
    revenue_by_currency: z
      .array(
        z.strictObject({
          currency: z.string().nullable().meta({ description: "null: orders without a currency" }),
          amount: z.number(),
          orders: Count,
        }),
      )
      .meta({
        description: "Order amounts summed per currency, largest first; never added across currencies",
      }),
    contacts_opened: Count,
    contacts_clicked: Count,
    contacts_ordered: Count,
  }),
  overlap: z
    .strictObject({
      segment_id: z.string(),
      size: Count,
      both: Count,
      share_of_this: z.number().min(0).max(1),
      share_of_other: z.number().min(0).max(1),
    })
    .optional(),
});

// ---------------------------------------------------------------- query parameters

/**
 * An instant as `instant()` reads it: any ISO 8601 form (Luxon's), so no narrower JSON
 * Schema `format` (`date-time` would refuse a date or a local time, which are taken).
 */
export const InstantQuery = z
  .string()
  .min(1)
  .max(100)
  .meta({
    description: "An ISO 8601 instant or date; one without an offset is read in the workspace time zone",
    examples: ["2024-05-01T12:00:00Z", "2024-05-01"],
  });
