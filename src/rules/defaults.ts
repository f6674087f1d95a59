import type { RuleNode } from "./schema.ts";

/** Workspace settings that the default segments read (SPEC §3.3). */
export interface DefaultSegmentSettings {
  /** Days without opens (and since subscribing) that make a subscriber inactive. */
  inactiveDays: number;
  /** Sends without any open or click that make an inactive subscriber high-risk. */
  excludedMinSent: number;
}

export const DEFAULT_SEGMENT_SETTINGS: DefaultSegmentSettings = { inactiveDays: 90, excludedMinSent: 5 };

export interface SegmentDef {
  id: string;
  name: string;
  description: string;
  rule: RuleNode;
}

export const DEFAULT_SEGMENT_IDS = [
  "all",
  "customers",
  "subscribed",
  "inactive",
  "hard_bounced",
  "excluded",
] as const;

/** The read-only default segments of SPEC §3.3, written in the rule language itself. */
export function defaultSegments(settings: DefaultSegmentSettings = DEFAULT_SEGMENT_SETTINGS): SegmentDef[] {
  const days = `${settings.inactiveDays}d`;
  return [
    {
      id: "all",
      name: "All Contacts",
      description: "Every contact.",
      // The language has no "true" node; this tautology says "every contact".
      rule: {
        type: "or",
        conditions: [
          { type: "field", field: "created_at", op: "is_set" },
          { type: "field", field: "created_at", op: "is_not_set" },
        ],
      },
    },
    {
      id: "customers",
      name: "Customers",
      description: "At least one order_placed or offer_granted, ever.",
      rule: {
        type: "or",
        conditions: [
          { type: "event", event: "order_placed", op: "gte", value: 1 },
          { type: "event", event: "offer_granted", op: "gte", value: 1 },
        ],
      },
    },
    {
      id: "subscribed",
      name: "Subscribed",
      description: "Status is subscribed.",
      rule: { type: "field", field: "status", op: "eq", value: "subscribed" },
    },
    {
      id: "inactive",
      name: "Inactive",
      description: `Subscribed for more than ${settings.inactiveDays} days and no email opened in the last ${settings.inactiveDays} days.`,
      rule: {
        type: "and",
        conditions: [
          { type: "field", field: "status", op: "eq", value: "subscribed" },
          {
            type: "or",
            conditions: [
              { type: "field", field: "subscribed_at", op: "more_than_ago", value: days },
              {
                type: "and",
                conditions: [
                  { type: "field", field: "subscribed_at", op: "is_not_set" },
                  { type: "field", field: "created_at", op: "more_than_ago", value: days },
                ],
              },
            ],
          },
          { type: "event", event: "email_opened", window: { in_last: days }, op: "eq", value: 0 },
        ],
      },
    },
    {
      id: "hard_bounced",
      name: "Hard Bounced",
      description: "Email status is hard_bounced.",
      rule: { type: "field", field: "email_status", op: "eq", value: "hard_bounced" },
    },
    {
      id: "excluded",
      name: "Excluded",
      description: `Inactive and high-risk: soft bouncing, or never opened nor clicked though sent at least ${settings.excludedMinSent} emails.`,
      rule: {
        type: "and",
        conditions: [
          { type: "segment", op: "in", segment: "inactive" },
          {
            type: "or",
            conditions: [
              { type: "field", field: "email_status", op: "eq", value: "soft_bouncing" },
              {
                type: "and",
                conditions: [
                  { type: "event", event: "email_opened", op: "eq", value: 0 },
                  { type: "event", event: "email_clicked", op: "eq", value: 0 },
                  { type: "event", event: "email_sent", op: "gte", value: settings.excludedMinSent },
                ],
              },
            ],
          },
        ],
      },
    },
  ];
}
