/**
 * Segment templates (SPEC §4 `GET /v1/segment-templates`): every template is a valid
 * rule against the built-in fields (plus a `birthday` date for the one that needs it),
 * and representative ones select the expected contacts on a small dataset.
 */
import { describe, expect, it } from "vitest";
import { type ContactInput, Engine, type EventInput } from "../../src/engine/index.ts";
import { defaultSegments } from "../../src/rules/defaults.ts";
import { FieldRegistry } from "../../src/rules/fields.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { validateRule } from "../../src/rules/validate.ts";
import { missingFields, SEGMENT_TEMPLATES, segmentTemplate } from "../../src/service/templates.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const ago = (days: number) => NOW - days * DAY;

const segments = new Map<string, RuleNode | null>(defaultSegments().map((s) => [s.id, s.rule]));
const builtin = new FieldRegistry();
const withBirthday = builtin.withField({ key: "birthday", type: "date" });

describe("segment templates", () => {
  it("have unique ids and the listed ones", () => {
    const ids = SEGMENT_TEMPLATES.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of [
      "engaged_30d",
      "engaged_60d",
      "engaged_90d",
      "new_subscribers",
      "never_opened",
      "cart_abandoners",
      "lapsed_customers",
      "repeat_buyers",
      "top_spenders",
      "birthday_this_week",
      "vip_customers",
      "recently_active",
      "unsubscribed_recently",
      "soft_bouncing",
    ]) {
      expect(segmentTemplate(id)?.id).toBe(id);
    }
    for (const t of SEGMENT_TEMPLATES) {
      expect(t.name).not.toBe("");
      expect(t.description).not.toBe("");
    }
  });

  it.each(SEGMENT_TEMPLATES.map((t) => [t.id, t] as const))("%s validates", (_id, t) => {
    const fields = t.requires ? withBirthday : builtin;
    for (const tz of ["UTC", "Europe/Paris"]) {
      expect(validateRule(t.rule, { fields, timeZone: tz, segments })).toEqual(t.rule);
    }
    // Templates needing no custom field validate against the built-ins alone.
    if (!t.requires)
      expect(() => validateRule(t.rule, { fields: builtin, timeZone: "UTC", segments })).not.toThrow();
  });

  it("names the custom fields a workspace lacks", () => {
    const birthday = segmentTemplate("birthday_this_week")!;
    expect(missingFields(birthday, builtin)).toEqual([{ key: "birthday", type: "date" }]);
    expect(missingFields(birthday, builtin.withField({ key: "birthday", type: "string" }))).toHaveLength(1);
    expect(missingFields(birthday, withBirthday)).toEqual([]);
    expect(() => validateRule(birthday.rule, { fields: builtin, timeZone: "UTC", segments })).toThrow(
      /unknown field "birthday"/,
    );
    expect(missingFields(segmentTemplate("engaged_30d")!, builtin)).toEqual([]);
  });
});

describe("segment templates on a dataset", () => {
  const contacts: ContactInput[] = [
    { id: "opener", status: "subscribed", subscribed_at: ago(400), fields: { birthday: "1990-05-12" } },
    { id: "clicker45", status: "subscribed", subscribed_at: ago(10) },
    { id: "silent", status: "subscribed", subscribed_at: ago(40), fields: { birthday: "1985-05-20" } },
    { id: "cart", status: "non_subscribed" },
    { id: "cart_bought", status: "non_subscribed" },
    { id: "old_buyer", status: "unsubscribed" },
    { id: "big", status: "subscribed", fields: { birthday: "2000-05-10" } },
    { id: "bouncy", status: "subscribed", email_status: "deliverable" },
    { id: "leaver", status: "subscribed", subscribed_at: ago(5) },
  ];
  const ev = (contact_id: string, type: string, daysAgo: number, properties?: EventInput["properties"]) => ({
    contact_id,
    type,
    timestamp: ago(daysAgo),
    ...(properties ? { properties } : {}),
  });
  const events: EventInput[] = [
    ev("opener", "email_sent", 3),
    ev("opener", "email_opened", 2),
    ev("clicker45", "email_sent", 50),
    ev("clicker45", "email_clicked", 45),
    ev("silent", "email_sent", 20),
    ev("silent", "email_sent", 10),
    ev("cart", "cart_added", 2),
    ev("cart", "page_viewed", 1),
    ev("cart_bought", "cart_added", 3),
    ev("cart_bought", "order_placed", 2, { amount: 40 }),
    ev("old_buyer", "order_placed", 400, { amount: 300 }),
    ev("old_buyer", "order_placed", 200, { amount: 300 }),
    ev("big", "order_placed", 100, { amount: 450 }),
    ev("big", "order_placed", 500, { amount: 700 }),
    ev("big", "order_placed", 20, { amount: 60 }),
    ev("bouncy", "email_bounced", 4, { bounce_type: "soft" }),
    ev("leaver", "email_unsubscribed", 3),
  ];

  function members(id: string): string[] {
    const eng = new Engine({
      clock: { now: () => NOW },
      fields: [{ key: "birthday", type: "date" }],
    });
    // Profiles written long ago, so the events' effects (unsubscribe, soft bounce) apply (SPEC §2).
    for (const c of contacts) eng.upsertContact(c, { receivedAt: ago(1000) });
    eng.addEvents(events);
    return eng.evaluate(segmentTemplate(id)!.rule).ids().sort();
  }

  it.each([
    ["engaged_30d", ["opener"]],
    ["engaged_60d", ["clicker45", "opener"]],
    ["engaged_90d", ["clicker45", "opener"]],
    ["new_subscribers", ["clicker45"]],
    ["never_opened", ["clicker45", "silent"]],
    ["cart_abandoners", ["cart"]],
    ["lapsed_customers", ["old_buyer"]],
    ["repeat_buyers", ["big", "old_buyer"]],
    ["top_spenders", ["big"]],
    ["vip_customers", ["big"]],
    ["recently_active", ["cart"]],
    ["unsubscribed_recently", ["leaver"]],
    ["soft_bouncing", ["bouncy"]],
    ["birthday_this_week", ["big", "opener"]],
  ])("%s selects the expected contacts", (id, expected) => {
    expect(members(id)).toEqual(expected);
  });
});
