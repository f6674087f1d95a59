/**
 * Ready-made segment rules (SPEC §4 `GET /v1/segment-templates`): each is a rule in
 * the ordinary language, to copy into a new segment and adjust. Nothing here is
 * evaluated on its own; a segment created from a template is validated like any other.
 *
 * Templates read built-in fields and events only, except `birthday_this_week`, which
 * needs a custom `date` field `birthday`. Custom fields exist only where a workspace
 * declares them, so that template lists it in `requires`: `missingFields` says what a
 * workspace lacks, and a rule that reads an undeclared field is refused when saved
 * (docs/analytics.md, "Segment templates").
 */
import type { FieldDef, FieldRegistry, FieldType } from "../rules/fields.ts";
import type { EventNode, RuleNode } from "../rules/schema.ts";

export interface SegmentTemplate {
  id: string;
  name: string;
  description: string;
  rule: RuleNode;
  /** Custom fields the rule reads, which a workspace must declare before using it. */
  requires?: { key: string; type: FieldType }[];
}

type EventOpts = Omit<EventNode, "type" | "event">;

function ev(event: string, opts: EventOpts = {}): EventNode {
  return { type: "event", event, ...opts };
}

function none(event: string, opts: EventOpts = {}): EventNode {
  return ev(event, { ...opts, op: "eq", value: 0 });
}

function engaged(days: number): SegmentTemplate {
  const window = { in_last: `${days}d` };
  return {
    id: `engaged_${days}d`,
    name: `Engaged (${days} days)`,
    description: `Opened or clicked an email in the last ${days} days.`,
    rule: {
      type: "or",
      conditions: [ev("email_opened", { window }), ev("email_clicked", { window })],
    },
  };
}

const amount = { fn: "sum", property: "amount" } as const;

/** Which score of an RFM group: recency, frequency or monetary (docs/rules.md, "RFM scores"). */
type Rfm = "r" | "f" | "m";
const RFM_MEASURE: Record<Rfm, EventOpts> = {
  r: { measure: { fn: "last_at" } },
  f: {},
  m: { measure: amount },
};

/** The score between `lo` and `hi` (1 to 5; equal ends are `eq`). */
function score(which: Rfm, lo: number, hi: number): EventNode {
  const test =
    lo === hi
      ? { op: "eq", value: lo }
      : hi === 5
        ? { op: "gte", value: lo }
        : lo === 1
          ? { op: "lte", value: hi }
          : { op: "between", value: [lo, hi] };
  return ev("order_placed", { ...RFM_MEASURE[which], score: "quintile", ...test });
}

function rfm(id: string, name: string, description: string, ranges: Partial<Record<Rfm, [number, number]>>) {
  const conditions = (Object.entries(ranges) as [Rfm, [number, number]][]).map(([k, [lo, hi]]) =>
    score(k, lo, hi),
  );
  return { id: `rfm_${id}`, name, description, rule: { type: "and" as const, conditions } };
}

/**
 * The usual named RFM groups (docs/rules.md, "RFM scores"): quintile scores of the
 * latest order, the number of orders and their amounts, over the contacts who ordered.
 */
const RFM_GROUPS: SegmentTemplate[] = [
  rfm(
    "champions",
    "Champions",
    "Ordered recently, often and for the most: recency, frequency and monetary scores 4 or 5.",
    {
      r: [4, 5],
      f: [4, 5],
      m: [4, 5],
    },
  ),
  rfm(
    "loyal",
    "Loyal",
    "Order often and spend well, not always lately: recency 3 to 5, frequency 4 or 5, monetary 3 to 5.",
    {
      r: [3, 5],
      f: [4, 5],
      m: [3, 5],
    },
  ),
  rfm(
    "potential_loyalists",
    "Potential loyalists",
    "Recent customers with a few orders: recency 4 or 5, frequency and monetary 2 or 3.",
    { r: [4, 5], f: [2, 3], m: [2, 3] },
  ),
  rfm("new_customers", "New customers", "Ordered most recently, once or little: recency 5, frequency 1.", {
    r: [5, 5],
    f: [1, 1],
  }),
  rfm(
    "at_risk",
    "At risk",
    "Ordered often and spent well, but not lately: recency 1 or 2, frequency and monetary 3 to 5.",
    {
      r: [1, 2],
      f: [3, 5],
      m: [3, 5],
    },
  ),
  rfm(
    "cant_lose",
    "Can't lose them",
    "Among the best customers once, gone quiet the longest: recency 1, frequency and monetary 4 or 5.",
    {
      r: [1, 1],
      f: [4, 5],
      m: [4, 5],
    },
  ),
  rfm(
    "hibernating",
    "Hibernating",
    "Last ordered a while ago, seldom and for little: recency 2 or 3, frequency and monetary 1 or 2.",
    {
      r: [2, 3],
      f: [1, 2],
      m: [1, 2],
    },
  ),
  rfm("lost", "Lost", "Longest since an order, and few orders: recency 1, frequency 1 or 2.", {
    r: [1, 1],
    f: [1, 2],
  }),
];

/** The templates, in the order they are listed. */
export const SEGMENT_TEMPLATES: readonly SegmentTemplate[] = [
  engaged(30),
  engaged(60),
  engaged(90),
  {
    id: "new_subscribers",
    name: "New subscribers",
    description: "Subscribed in the last 30 days and still subscribed.",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "status", op: "eq", value: "subscribed" },
        { type: "field", field: "subscribed_at", op: "in_last", value: "30d" },
      ],
    },
  },
  {
    id: "never_opened",
    name: "Never opened",
    description: "Sent at least one email and never opened any.",
    rule: { type: "and", conditions: [ev("email_sent"), none("email_opened")] },
  },
  {
    id: "cart_abandoners",
    name: "Cart abandoners",
    description: "Added to cart in the last 7 days and placed no order in the last 7 days.",
    rule: {
      type: "and",
      conditions: [
        ev("cart_added", { window: { in_last: "7d" } }),
        none("order_placed", { window: { in_last: "7d" } }),
      ],
    },
  },
  {
    id: "lapsed_customers",
    name: "Lapsed customers",
    description: "Ordered before, but not in the last 180 days.",
    rule: {
      type: "and",
      conditions: [ev("order_placed"), none("order_placed", { window: { in_last: "180d" } })],
    },
  },
  {
    id: "repeat_buyers",
    name: "Repeat buyers",
    description: "At least 2 orders, ever.",
    rule: ev("order_placed", { op: "gte", value: 2 }),
  },
  {
    id: "top_spenders",
    name: "Top spenders",
    description: "Order amounts in the last 365 days add up to 500 or more.",
    rule: ev("order_placed", { window: { in_last: "365d" }, measure: amount, op: "gte", value: 500 }),
  },
  {
    id: "birthday_this_week",
    name: "Birthday this week",
    description:
      "Birthday (custom date field `birthday`) within the next 7 days, today included. Needs the field declared.",
    rule: { type: "field", field: "birthday", op: "anniversary_in_next", value: "7d" },
    requires: [{ key: "birthday", type: "date" }],
  },
  {
    id: "vip_customers",
    name: "VIP customers",
    description: "Order amounts add up to more than 1000, all time.",
    rule: ev("order_placed", { measure: amount, op: "gt", value: 1000 }),
  },
  {
    id: "recently_active",
    name: "Recently active",
    description: "Viewed a page in the last 7 days.",
    rule: ev("page_viewed", { window: { in_last: "7d" } }),
  },
  {
    id: "unsubscribed_recently",
    name: "Unsubscribed recently",
    description: "Unsubscribed or complained in the last 30 days, and still unsubscribed.",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "status", op: "eq", value: "unsubscribed" },
        {
          type: "or",
          conditions: [
            ev("email_unsubscribed", { window: { in_last: "30d" } }),
            ev("email_complained", { window: { in_last: "30d" } }),
          ],
        },
      ],
    },
  },
  {
    id: "soft_bouncing",
    name: "Soft bouncing",
    description: "Email status is soft_bouncing: a soft bounce not yet followed by an open or click.",
    rule: { type: "field", field: "email_status", op: "eq", value: "soft_bouncing" },
  },
  ...RFM_GROUPS,
];

/** The template with this id, or undefined. */
export function segmentTemplate(id: string): SegmentTemplate | undefined {
  return SEGMENT_TEMPLATES.find((t) => t.id === id);
}

/**
 * The custom fields a template needs that the workspace lacks (not declared, or
 * declared with another type); empty when the template can be used as it is.
 */
export function missingFields(template: SegmentTemplate, fields: FieldRegistry): FieldDef[] {
  return (template.requires ?? []).filter((f) => fields.get(f.key)?.type !== f.type);
}
