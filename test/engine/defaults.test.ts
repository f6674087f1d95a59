/**
 * The six default segments of SPEC §3.3 on hand-made contacts, at the edges of their
 * thresholds, with the default settings and with others.
 */
import { describe, expect, it } from "vitest";
import { type ContactInput, Engine } from "../../src/engine/index.ts";
import { DEFAULT_SEGMENT_IDS } from "../../src/rules/defaults.ts";
import { RuleValidationError } from "../../src/rules/errors.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const ago = (ms: number) => NOW - ms;

type Setup = (eng: Engine) => void;

/** Contacts named after what they exercise; events added with them. */
const PEOPLE: Record<string, { contact?: Omit<ContactInput, "id">; events?: [string, number][] }> = {
  blank: {},
  buyer: { events: [["order_placed", ago(400 * DAY)]] },
  granted: { events: [["offer_granted", ago(DAY)]] },
  future_buyer: { events: [["order_placed", NOW + DAY]] },
  viewer: {
    events: [
      ["page_viewed", ago(DAY)],
      ["cart_added", ago(DAY)],
    ],
  },
  sub: { contact: { status: " Subscribed ", subscribed_at: ago(10 * DAY) } },
  unsub: { contact: { status: "unsubscribed", subscribed_at: ago(400 * DAY) } },
  non_sub: { contact: { status: "non_subscribed", created_at: ago(400 * DAY) } },
  old_sub: { contact: { status: "subscribed", subscribed_at: ago(91 * DAY) } },
  edge_sub: { contact: { status: "subscribed", subscribed_at: ago(90 * DAY) } },
  edge_sub_minus: { contact: { status: "subscribed", subscribed_at: ago(90 * DAY) + 1 } },
  opened_recently: {
    contact: { status: "subscribed", subscribed_at: ago(200 * DAY) },
    events: [["email_opened", ago(89 * DAY)]],
  },
  opened_at_edge: {
    contact: { status: "subscribed", subscribed_at: ago(200 * DAY) },
    events: [["email_opened", ago(90 * DAY)]],
  },
  clicked_recently: {
    contact: { status: "subscribed", subscribed_at: ago(200 * DAY) },
    events: [["email_clicked", ago(DAY)]],
  },
  created_long_ago: { contact: { status: "subscribed", created_at: ago(100 * DAY) } },
  created_recently: { contact: { status: "subscribed", created_at: ago(89 * DAY) } },
  no_dates: { contact: { status: "subscribed" } },
  resubscribed: {
    contact: { status: "subscribed", subscribed_at: ago(10 * DAY), created_at: ago(400 * DAY) },
  },
  hard: { contact: { email_status: "Hard_Bounced" } },
  inactive_soft: {
    contact: { status: "subscribed", subscribed_at: ago(100 * DAY), email_status: "soft_bouncing" },
  },
  inactive_5sent: {
    contact: { status: "subscribed", subscribed_at: ago(100 * DAY) },
    events: [1, 2, 3, 4, 5].map((k): [string, number] => ["email_sent", ago(k * 10 * DAY)]),
  },
  inactive_4sent: {
    contact: { status: "subscribed", subscribed_at: ago(100 * DAY) },
    events: [1, 2, 3, 4].map((k): [string, number] => ["email_sent", ago(k * 10 * DAY)]),
  },
  inactive_5sent_clicked: {
    contact: { status: "subscribed", subscribed_at: ago(300 * DAY) },
    events: [
      ...[1, 2, 3, 4, 5].map((k): [string, number] => ["email_sent", ago(k * 10 * DAY)]),
      ["email_clicked", ago(200 * DAY)],
    ],
  },
  inactive_5sent_opened_long_ago: {
    contact: { status: "subscribed", subscribed_at: ago(300 * DAY) },
    events: [
      ...[1, 2, 3, 4, 5].map((k): [string, number] => ["email_sent", ago(k * 10 * DAY)]),
      ["email_opened", ago(200 * DAY)],
    ],
  },
  active_soft: {
    contact: { status: "subscribed", subscribed_at: ago(100 * DAY), email_status: "soft_bouncing" },
    events: [["email_opened", ago(DAY)]],
  },
  unsub_soft: {
    contact: { status: "unsubscribed", subscribed_at: ago(100 * DAY), email_status: "soft_bouncing" },
  },
};

function build(
  opts: { settings?: { inactiveDays: number; excludedMinSent: number }; extra?: Setup } = {},
): Engine {
  const eng = new Engine({
    clock: { now: () => NOW },
    ...(opts.settings ? { defaultSegments: opts.settings } : {}),
  });
  for (const [id, p] of Object.entries(PEOPLE)) {
    eng.upsertContact({ id, ...p.contact });
    for (const [type, timestamp] of p.events ?? []) eng.addEvent({ type, contact_id: id, timestamp });
  }
  opts.extra?.(eng);
  return eng;
}

/** Members of a segment; fails if members, matches and explain disagree. */
function members(eng: Engine, id: string, at?: number): string[] {
  const m = eng.members(id, at);
  const ids = m.ids().sort();
  for (const c of eng.contactIds()) {
    expect(eng.matches(c, id, at), `${id} ${c} matches`).toBe(m.has(c));
    expect(eng.explain(c, id, at).result, `${id} ${c} explain`).toBe(m.has(c));
  }
  expect(m.count).toBe(ids.length);
  return ids;
}

describe("default segments", () => {
  it("exist in every engine unless turned off, and are read-only", () => {
    const eng = build();
    expect(eng.segmentIds()).toEqual([...DEFAULT_SEGMENT_IDS]);
    expect(() =>
      eng.defineSegment({ id: "inactive", rule: { type: "field", field: "country", op: "is_set" } }),
    ).toThrow(RuleValidationError);
    expect(() => eng.removeSegment("all")).toThrow();
    expect(() => eng.removeSegment("inactive")).toThrow();
    expect(new Engine({ clock: { now: () => NOW }, defaultSegments: false }).segmentIds()).toEqual([]);
  });

  it("all: every contact, whatever it holds, including one created by an event", () => {
    const eng = build({
      extra: (e) => e.addEvent({ type: "page_viewed", contact_id: "ghost", timestamp: NOW }),
    });
    const all = members(eng, "all");
    expect(all).toEqual([...Object.keys(PEOPLE), "ghost"].sort());
    expect(all).toHaveLength(eng.contactCount);
  });

  it("customers: at least one order_placed or offer_granted, ever", () => {
    expect(members(build(), "customers")).toEqual(["buyer", "future_buyer", "granted"]);
  });

  it("subscribed: status is subscribed, ignoring case and spaces", () => {
    const subscribed = members(build(), "subscribed");
    expect(subscribed).toContain("sub");
    expect(subscribed).not.toContain("unsub");
    expect(subscribed).not.toContain("non_sub");
    expect(subscribed).not.toContain("blank");
    expect(subscribed).toEqual(
      Object.entries(PEOPLE)
        .filter(([, p]) => p.contact?.status?.trim().toLowerCase() === "subscribed")
        .map(([id]) => id)
        .sort(),
    );
  });

  it("inactive: subscribed more than 90 days (or created then, when subscribed_at is missing), no open in 90 days", () => {
    expect(members(build(), "inactive")).toEqual(
      [
        "old_sub",
        "edge_sub",
        "opened_at_edge",
        "clicked_recently",
        "created_long_ago",
        "inactive_soft",
        "inactive_5sent",
        "inactive_4sent",
        "inactive_5sent_clicked",
        "inactive_5sent_opened_long_ago",
      ].sort(),
    );
  });

  it("hard_bounced: email_status is hard_bounced", () => {
    expect(members(build(), "hard_bounced")).toEqual(["hard"]);
  });

  it("excluded: inactive and soft bouncing, or never opened nor clicked though sent at least 5", () => {
    expect(members(build(), "excluded")).toEqual(["inactive_5sent", "inactive_soft"]);
  });

  it("follow time: a subscriber becomes inactive when 90 days pass without an open", () => {
    const eng = build({
      extra: (e) => {
        e.upsertContact({ id: "drifting", status: "subscribed", subscribed_at: ago(200 * DAY) });
        e.addEvent({ type: "email_opened", contact_id: "drifting", timestamp: ago(80 * DAY) });
      },
    });
    expect(members(eng, "inactive")).not.toContain("drifting");
    expect(members(eng, "inactive", NOW + 10 * DAY - 1)).not.toContain("drifting");
    expect(members(eng, "inactive", NOW + 10 * DAY)).toContain("drifting");
    // A new open brings it back.
    eng.addEvent({ type: "email_opened", contact_id: "drifting", timestamp: NOW + 10 * DAY });
    expect(members(eng, "inactive", NOW + 10 * DAY)).not.toContain("drifting");
  });

  it("read their thresholds from the settings", () => {
    const eng = build({
      settings: { inactiveDays: 30, excludedMinSent: 2 },
      extra: (e) => {
        e.upsertContact({ id: "month", status: "subscribed", subscribed_at: ago(31 * DAY) });
        e.upsertContact({ id: "month_2sent", status: "subscribed", subscribed_at: ago(31 * DAY) });
        e.addEvent({ type: "email_sent", contact_id: "month_2sent", timestamp: ago(5 * DAY) });
        e.addEvent({ type: "email_sent", contact_id: "month_2sent", timestamp: ago(4 * DAY) });
      },
    });
    const inactive = members(eng, "inactive");
    expect(inactive).toContain("month");
    expect(inactive).not.toContain("sub");
    // 89 days ago is now more than 30: no longer recent.
    expect(inactive).toContain("opened_recently");
    const excluded = members(eng, "excluded");
    expect(excluded).toContain("month_2sent");
    expect(excluded).not.toContain("month");
    expect(excluded).toContain("inactive_4sent");
  });

  it("can be referred to by other segments", () => {
    const eng = build();
    eng.defineSegment({
      id: "lapsed_customers",
      rule: {
        type: "and",
        conditions: [
          { type: "segment", op: "in", segment: "customers" },
          { type: "segment", op: "not_in", segment: "hard_bounced" },
          { type: "event", event: "order_placed", window: { in_last: "365d" }, op: "eq", value: 0 },
        ],
      },
    });
    // An order after now is not "in the last 365 days".
    expect(members(eng, "lapsed_customers")).toEqual(["buyer", "future_buyer", "granted"]);
    expect(() => eng.removeSegment("lapsed_customers")).not.toThrow();
  });
});

describe("timerCount", () => {
  it("counts the pending time-driven re-evaluations and drops them once due", () => {
    let now = NOW;
    const eng = new Engine({ clock: { now: () => now }, defaultSegments: false });
    expect(eng.timerCount).toBe(0);
    eng.defineSegment({
      id: "opened_30d",
      rule: { type: "event", event: "email_opened", window: { in_last: "30d" } },
    });
    eng.upsertContact({ id: "c1" });
    eng.addEvent({ type: "email_opened", contact_id: "c1", timestamp: ago(DAY) });
    expect(eng.timerCount).toBeGreaterThan(0);
    now = NOW + 31 * DAY;
    eng.advanceTo(now);
    expect(eng.matches("c1", "opened_30d")).toBe(false);
    expect(eng.timerCount).toBe(0);
  });
});
