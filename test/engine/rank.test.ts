/**
 * Rank conditions and quintile scores on hand-made workspaces: the definitions of
 * docs/rules.md on ties and contacts without events, the moments a contact enters or
 * leaves with no data of its own changing (another contact's order, a contact created
 * or erased, another contact's order leaving the window), explain, and the RFM
 * segment templates.
 */
import { describe, expect, it } from "vitest";
import { Engine, type MembershipChange } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { SEGMENT_TEMPLATES } from "../../src/service/templates.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-06-01T12:00:00.000Z");

const topSpenders = (percent: number, window?: string): RuleNode => ({
  type: "event",
  event: "order_placed",
  ...(window ? { window: { in_last: window } } : {}),
  measure: { fn: "sum", property: "amount" },
  rank: { direction: "top", percent },
});

function workspace(spend: Record<string, number[]>, now = T0) {
  let t = now;
  const eng = new Engine({ clock: { now: () => t }, defaultSegments: false });
  for (const [id, amounts] of Object.entries(spend)) {
    eng.upsertContact({ id });
    amounts.forEach((amount, k) =>
      eng.addEvent({
        type: "order_placed",
        contact_id: id,
        timestamp: now - (k + 1) * DAY,
        properties: { amount },
      }),
    );
  }
  return {
    eng,
    at: (to: number) => {
      t = to;
      return eng.advanceTo(to);
    },
  };
}

const members = (eng: Engine, rule: RuleNode) => eng.evaluate(rule).ids().sort();

describe("rank conditions: the definition", () => {
  it("contacts without orders rank with 0; a tie crossing the mark is left out entirely", () => {
    // 10 contacts: 8 never ordered. Top 10 %: at most 1 contact with ≥ its value.
    const { eng } = workspace({ a: [5], b: [3], c: [], d: [], e: [], f: [], g: [], h: [], i: [], j: [] });
    expect(members(eng, topSpenders(10))).toEqual(["a"]);
    expect(members(eng, topSpenders(20))).toEqual(["a", "b"]);
    // 30 % allows 3 contacts at or above, but the 8 zeros tie: none of them is in.
    expect(members(eng, topSpenders(30))).toEqual(["a", "b"]);
    expect(members(eng, topSpenders(100))).toHaveLength(10);
    // Bottom 50 %: the zeros are 8 of 10 at or below 0, more than 5; at 90 %, the
    // zeros (8 at or below 0) and b (9 at or below 3) are in, a (10) is not.
    const bottom = (percent: number): RuleNode => ({
      type: "event",
      event: "order_placed",
      measure: { fn: "sum", property: "amount" },
      rank: { direction: "bottom", percent },
    });
    expect(members(eng, bottom(50))).toEqual([]);
    expect(members(eng, bottom(90))).toHaveLength(9);
    expect(members(eng, bottom(90))).not.toContain("a");
  });

  it("avg ranks only the contacts with a value; p % of N is rounded down", () => {
    const { eng } = workspace({ a: [10], b: [20], c: [30], d: [], e: [] });
    const avg = (percent: number): RuleNode => ({
      type: "event",
      event: "order_placed",
      measure: { fn: "avg", property: "amount" },
      rank: { direction: "top", percent },
    });
    // N = 3: 33 % of 3 is 0.99, no one; 33.34 % is 1.0002, the best.
    expect(members(eng, avg(33))).toEqual([]);
    expect(members(eng, avg(33.34))).toEqual(["c"]);
    expect(members(eng, avg(100))).toEqual(["a", "b", "c"]);
  });

  it("quintile scores: 1 + floor(5 × below / N) over the contacts who ordered", () => {
    const { eng } = workspace({ a: [1], b: [2], c: [3], d: [4], e: [5], f: [5], z: [] });
    const score = (op: string, value: number): RuleNode => ({
      type: "event",
      event: "order_placed",
      measure: { fn: "sum", property: "amount" },
      score: "quintile",
      op,
      value,
    });
    // N = 6; below: a 0, b 1, c 2, d 3, e and f 4 → scores 1, 1, 2, 3, 4, 4.
    expect(members(eng, score("eq", 1))).toEqual(["a", "b"]);
    expect(members(eng, score("eq", 2))).toEqual(["c"]);
    expect(members(eng, score("eq", 3))).toEqual(["d"]);
    expect(members(eng, score("eq", 4))).toEqual(["e", "f"]);
    expect(members(eng, score("eq", 5))).toEqual([]);
    // z never ordered: no score, so only the negative operators hold for it.
    expect(members(eng, score("neq", 4))).toEqual(["a", "b", "c", "d", "z"]);
  });
});

describe("rank conditions maintained live", () => {
  it("a contact leaves when another out-spends it, and the change names it at that instant", () => {
    const { eng } = workspace({ a: [50], b: [10], c: [], d: [], e: [] });
    eng.defineSegment({ id: "top", rule: topSpenders(20) });
    expect(eng.members("top").ids()).toEqual(["a"]);
    const changes = eng.addEvent({
      type: "order_placed",
      contact_id: "b",
      timestamp: T0 - 1000,
      properties: { amount: 100 },
    });
    const at = T0;
    expect(changes).toEqual(
      expect.arrayContaining<MembershipChange>([
        { segment_id: "top", contact_id: "a", change: "exited", at },
        { segment_id: "top", contact_id: "b", change: "entered", at },
      ]),
    );
    expect(changes).toHaveLength(2);
  });

  it("a new contact raises N, and the next contact enters with no data of its own changing", () => {
    const { eng } = workspace({ a: [50], b: [10], c: [], d: [], e: [], f: [], g: [], h: [], i: [] });
    eng.defineSegment({ id: "top", rule: topSpenders(20) });
    // N = 9: 20 % is 1.8, so 1 contact.
    expect(eng.members("top").ids()).toEqual(["a"]);
    expect(eng.upsertContact({ id: "j" })).toEqual([
      { segment_id: "top", contact_id: "b", change: "entered", at: T0 },
    ]);
    // Erasing a contact takes N back to 9.
    expect(eng.removeContact("j")).toEqual([
      { segment_id: "top", contact_id: "b", change: "exited", at: T0 },
    ]);
  });

  it("another contact's order leaving the window moves the cut at the instant it leaves", () => {
    // a ordered 5 days ago, b 1 day ago; top 20 % of 5 is one contact.
    const { eng, at } = workspace({ a: [], b: [30], c: [], d: [], e: [] });
    eng.addEvent({
      type: "order_placed",
      contact_id: "a",
      timestamp: T0 - 5 * DAY,
      properties: { amount: 100 },
    });
    eng.defineSegment({ id: "top", rule: topSpenders(20, "7d") });
    expect(eng.members("top").ids()).toEqual(["a"]);
    // a's order leaves the 7-day window at T0 + 2 d; b's only at T0 + 6 d.
    const changes = at(T0 + 3 * DAY);
    const leaves = T0 + 2 * DAY;
    expect(changes).toEqual(
      expect.arrayContaining<MembershipChange>([
        { segment_id: "top", contact_id: "a", change: "exited", at: leaves },
        { segment_id: "top", contact_id: "b", change: "entered", at: leaves },
      ]),
    );
    expect(eng.members("top").ids()).toEqual(["b"]);
  });

  it("explain shows the contact's value and the cut", () => {
    const { eng } = workspace({ a: [50], b: [10], c: [], d: [], e: [] });
    expect(eng.explain("b", topSpenders(20))).toMatchObject({
      type: "event",
      result: false,
      measured: 10,
      needed: { op: "gt", value: 10 },
    });
    expect(eng.explain("a", topSpenders(20))).toMatchObject({ result: true, measured: 50 });
    expect(eng.explain("c", topSpenders(100))).toMatchObject({ result: true, needed: { op: "is_set" } });
  });
});

describe("RFM segment templates", () => {
  it("are valid rules and put the best, the lapsed and the new customers where their names say", () => {
    const now = T0;
    let t = now;
    const eng = new Engine({ clock: { now: () => t }, defaultSegments: false });
    const order = (id: string, daysAgo: number, amount: number) =>
      eng.addEvent({
        type: "order_placed",
        contact_id: id,
        timestamp: now - daysAgo * DAY,
        properties: { amount },
      });
    // Ten customers: c0 orders most, most recently and for most; c9 once, long ago, little.
    for (let i = 0; i < 10; i++) {
      const orders = 10 - i;
      for (let k = 0; k < orders; k++) order(`c${i}`, 10 * i + k + 1, 100 - 9 * i);
    }
    // A new customer: one recent small order. A lapsed big spender: many large orders long ago.
    order("new", 0.5, 5);
    for (let k = 0; k < 12; k++) order("gone", 400 + k, 500);
    t = now;
    const rfm = SEGMENT_TEMPLATES.filter((s) => s.id.startsWith("rfm_"));
    expect(rfm.map((s) => s.name)).toEqual([
      "Champions",
      "Loyal",
      "Potential loyalists",
      "New customers",
      "At risk",
      "Can't lose them",
      "Hibernating",
      "Lost",
    ]);
    const of = (id: string) => eng.evaluate(rfm.find((s) => s.id === id)!.rule).ids();
    expect(of("rfm_champions")).toContain("c0");
    expect(of("rfm_champions")).not.toContain("gone");
    expect(of("rfm_cant_lose")).toEqual(["gone"]);
    expect(of("rfm_at_risk")).toContain("gone");
    expect(of("rfm_new_customers")).toEqual(["new"]);
    expect(of("rfm_lost")).toContain("c9");
    for (const s of rfm) expect(() => eng.validate(s.rule)).not.toThrow();
  });
});
