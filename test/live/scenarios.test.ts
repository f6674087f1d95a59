import { describe, expect, it } from "vitest";
import { Engine, type MembershipChange } from "../../src/engine/index.ts";

const T0 = Date.parse("2026-11-01T12:00:00Z");
const MIN = 60_000;

function setup() {
  const clock = { t: T0 };
  const engine = new Engine({ clock: { now: () => clock.t }, defaultSegments: false });
  engine.upsertContact({ id: "ana", email: "ana@example.com", status: "subscribed" });
  engine.upsertContact({ id: "bob", email: "bob@example.com", status: "subscribed" });
  const log: MembershipChange[] = [];
  engine.onChange((c) => log.push(c));
  return { clock, engine, log };
}

const opened5m = { type: "event", event: "email_opened", window: { in_last: "5m" }, op: "gte", value: 1 };
const noCart5m = { type: "event", event: "cart_added", window: { in_last: "5m" }, op: "eq", value: 0 };

describe("time-driven membership (Dittofeed-style scenarios)", () => {
  it('"opened in the last 5 minutes" enters on the event and leaves exactly 5 minutes later, with no new event', () => {
    const { clock, engine } = setup();
    engine.defineSegment({ id: "opened", rule: opened5m });
    const t = T0 + 1_234;
    clock.t = t;
    expect(engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: t })).toEqual([
      { segment_id: "opened", contact_id: "ana", change: "entered", at: t },
    ]);
    expect(engine.advanceTo(t + 5 * MIN - 1)).toEqual([]);
    expect(engine.members("opened").ids()).toEqual(["ana"]);
    expect(engine.advanceTo(t + 60 * MIN)).toEqual([
      { segment_id: "opened", contact_id: "ana", change: "exited", at: t + 5 * MIN },
    ]);
    clock.t = t + 60 * MIN;
    expect(engine.members("opened").count).toBe(0);
  });

  it('"did not add to cart in the last 5 minutes" is true, turns false on the event, true again once it ages out', () => {
    const { clock, engine } = setup();
    const created = engine.defineSegment({ id: "no_cart", rule: noCart5m });
    expect(created.map((c) => [c.contact_id, c.change])).toEqual([
      ["ana", "entered"],
      ["bob", "entered"],
    ]);
    clock.t = T0 + MIN;
    expect(engine.addEvent({ type: "cart_added", contact_id: "bob", timestamp: clock.t })).toEqual([
      { segment_id: "no_cart", contact_id: "bob", change: "exited", at: T0 + MIN },
    ]);
    expect(engine.advanceTo(T0 + 10 * MIN)).toEqual([
      {
        segment_id: "no_cart",
        contact_id: "bob",
        change: "entered",
        at: T0 + 6 * MIN,
      },
    ]);
  });

  it("a late event that is already outside the window changes nothing, and a future one enters when its time comes", () => {
    const { clock, engine } = setup();
    engine.defineSegment({ id: "opened", rule: opened5m });
    clock.t = T0 + 10 * MIN;
    expect(engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 })).toEqual([]);
    expect(engine.addEvent({ type: "email_opened", contact_id: "bob", timestamp: T0 + 12 * MIN })).toEqual(
      [],
    );
    expect(engine.advanceTo(T0 + 20 * MIN).map((c) => [c.contact_id, c.change, c.at])).toEqual([
      ["bob", "entered", T0 + 12 * MIN],
      ["bob", "exited", T0 + 17 * MIN],
    ]);
  });

  it("a segment created after the events arrived is correct at once", () => {
    const { clock, engine } = setup();
    engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 - MIN });
    engine.addEvent({ type: "email_opened", contact_id: "bob", timestamp: T0 - 10 * MIN });
    clock.t = T0;
    const changes = engine.defineSegment({ id: "opened", rule: opened5m });
    expect(changes).toEqual([{ segment_id: "opened", contact_id: "ana", change: "entered", at: T0 }]);
    expect(engine.members("opened").ids()).toEqual(["ana"]);
  });

  it("an edited threshold or window re-evaluates and reports who entered and left", () => {
    const { engine } = setup();
    for (const dt of [1, 2, 3])
      engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 - dt * MIN });
    engine.addEvent({ type: "email_opened", contact_id: "bob", timestamp: T0 - 20 * MIN });
    engine.defineSegment({ id: "engaged", rule: { ...opened5m, op: "gte", value: 3 } });
    expect(engine.members("engaged").ids()).toEqual(["ana"]);
    const preview = engine.previewEdit("engaged", {
      ...opened5m,
      window: { in_last: "1h" },
      op: "eq",
      value: 1,
    });
    expect(preview).toEqual({ entered: ["bob"], exited: ["ana"] });
    expect(engine.members("engaged").ids()).toEqual(["ana"]); // a preview saves nothing
    const edited = engine.defineSegment({
      id: "engaged",
      rule: { ...opened5m, window: { in_last: "1h" }, op: "eq", value: 1 },
    });
    expect(edited.map((c) => [c.contact_id, c.change])).toEqual([
      ["bob", "entered"],
      ["ana", "exited"],
    ]);
  });

  it("propagates through segment references, including time-driven exits", () => {
    const { clock, engine } = setup();
    engine.defineSegment({ id: "opened", rule: opened5m });
    engine.defineSegment({
      id: "opened_and_no_cart",
      rule: { type: "and", conditions: [{ type: "segment", op: "in", segment: "opened" }, noCart5m] },
    });
    clock.t = T0;
    const entered = engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 });
    expect(entered.map((c) => c.segment_id)).toEqual(["opened", "opened_and_no_cart"]);
    const exited = engine.advanceTo(T0 + 5 * MIN);
    expect(exited.map((c) => [c.segment_id, c.change, c.at])).toEqual([
      ["opened", "exited", T0 + 5 * MIN],
      ["opened_and_no_cart", "exited", T0 + 5 * MIN],
    ]);
  });
});

describe("static members, overrides and expiry", () => {
  it("a static member with expires_at leaves the segment at that instant", () => {
    const { engine } = setup();
    engine.defineSegment({ id: "vip", kind: "static" });
    expect(engine.addMembers("vip", ["ana"], { expiresAt: T0 + 30 * MIN }).map((c) => c.change)).toEqual([
      "entered",
    ]);
    expect(engine.overrides("vip")).toEqual([
      { contact_id: "ana", action: "added", expires_at: T0 + 30 * MIN },
    ]);
    expect(engine.advanceTo(T0 + 60 * MIN)).toEqual([
      { segment_id: "vip", contact_id: "ana", change: "exited", at: T0 + 30 * MIN },
    ]);
    expect(engine.overrides("vip")).toEqual([]);
  });

  it("manual overrides on a dynamic segment: added stays in, removed stays out, lifted follows the rule", () => {
    const { engine } = setup();
    engine.defineSegment({
      id: "opened",
      rule: { type: "event", event: "email_opened", op: "gte", value: 1 },
    });
    engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 });
    expect(engine.addMembers("opened", ["bob"]).map((c) => [c.contact_id, c.change])).toEqual([
      ["bob", "entered"],
    ]);
    expect(engine.removeMembers("opened", ["ana"]).map((c) => [c.contact_id, c.change])).toEqual([
      ["ana", "exited"],
    ]);
    // The rule still matches ana, the override keeps her out.
    expect(engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 + 1 })).toEqual([]);
    expect(engine.members("opened").ids()).toEqual(["bob"]);
    const lifted = engine.liftOverrides("opened", ["ana", "bob"]);
    expect(lifted.map((c) => [c.contact_id, c.change])).toEqual([
      ["ana", "entered"],
      ["bob", "exited"],
    ]);
  });

  it("deleting a contact emits an exit for every segment it was in", () => {
    const { engine } = setup();
    engine.defineSegment({
      id: "s1",
      rule: { type: "field", field: "status", op: "eq", value: "subscribed" },
    });
    engine.defineSegment({ id: "s2", kind: "static" });
    engine.addMembers("s2", ["ana"]);
    const out = engine.removeContact("ana");
    expect(out.map((c) => [c.segment_id, c.change])).toEqual([
      ["s1", "exited"],
      ["s2", "exited"],
    ]);
    expect(engine.contactIds()).toEqual(["bob"]);
  });

  it("an event id already accepted is not counted twice", () => {
    const { engine } = setup();
    engine.defineSegment({
      id: "two_opens",
      rule: { type: "event", event: "email_opened", op: "gte", value: 2 },
    });
    const e = { id: "evt_1", type: "email_opened", contact_id: "ana", timestamp: T0 };
    const res = engine.addEvents([e, e, { ...e, id: "evt_1" }]);
    expect(res).toMatchObject({ accepted: 1, duplicates: 2, errors: [] });
    expect(engine.members("two_opens").count).toBe(0);
    expect(engine.addEvents([{ ...e, id: "evt_2", timestamp: "not a date" }]).errors).toEqual([
      { index: 0, error: 'event.timestamp: expected an ISO 8601 date or instant, got "not a date"' },
    ]);
  });
});

describe("profile effects of events follow event time (SPEC §2)", () => {
  const bounced = (id: string, t: number, kind: "hard" | "soft") => ({
    type: "email_bounced",
    contact_id: id,
    timestamp: t,
    properties: { bounce_type: kind },
  });
  const status = (engine: Engine, id: string) =>
    engine.explain(id, { type: "field", field: "email_status", op: "is_set" });

  it("a hard bounce sets hard_bounced, which later opens do not undo", () => {
    const { engine } = setup();
    engine.defineSegment({
      id: "hb",
      rule: { type: "field", field: "email_status", op: "eq", value: "hard_bounced" },
    });
    expect(engine.addEvent(bounced("ana", T0 - MIN, "hard")).map((c) => c.change)).toEqual(["entered"]);
    expect(engine.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 })).toEqual([]);
    expect(status(engine, "ana")).toMatchObject({ actual: "hard_bounced" });
    // An explicit write received after the bounce replaces it.
    expect(engine.patchContact({ id: "ana", email_status: "deliverable" }).map((c) => c.change)).toEqual([
      "exited",
    ]);
  });

  it("a soft bounce is cleared by a later open, whatever order they arrive in", () => {
    const inOrder = setup().engine;
    inOrder.addEvent(bounced("ana", T0 - 2 * MIN, "soft"));
    inOrder.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 - MIN });
    const reversed = setup().engine;
    reversed.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 - MIN });
    reversed.addEvent(bounced("ana", T0 - 2 * MIN, "soft"));
    expect(status(inOrder, "ana")).toMatchObject({ actual: "deliverable" });
    expect(status(reversed, "ana")).toMatchObject({ actual: "deliverable" });
    // An open before the bounce does not clear it.
    const earlier = setup().engine;
    earlier.addEvent(bounced("ana", T0 - MIN, "soft"));
    earlier.addEvent({ type: "email_opened", contact_id: "ana", timestamp: T0 - 2 * MIN });
    expect(status(earlier, "ana")).toMatchObject({ actual: "soft_bouncing" });
  });

  it("an unsubscribe older than an explicit write does not apply; a newer one does", () => {
    const { clock, engine } = setup(); // status written explicitly at T0
    engine.defineSegment({
      id: "subs",
      rule: { type: "field", field: "status", op: "eq", value: "subscribed" },
    });
    clock.t = T0 + 10 * MIN;
    expect(engine.addEvent({ type: "email_unsubscribed", contact_id: "ana", timestamp: T0 - MIN })).toEqual(
      [],
    );
    expect(engine.addEvent({ type: "email_unsubscribed", contact_id: "ana", timestamp: T0 + MIN })).toEqual([
      { segment_id: "subs", contact_id: "ana", change: "exited", at: T0 + 10 * MIN },
    ]);
    // A complaint also unsubscribes, and marks the address complained.
    engine.addEvent({ type: "email_complained", contact_id: "bob", timestamp: T0 + MIN });
    expect(engine.members("subs").ids()).toEqual([]);
    expect(status(engine, "bob")).toMatchObject({ actual: "complained" });
  });

  it("defaults given at creation never block an effect", () => {
    const { engine } = setup();
    engine.upsertContact(
      { id: "cat", email: "cat@example.com", status: "non_subscribed" },
      { defaults: ["status"] },
    );
    engine.addEvent({ type: "email_unsubscribed", contact_id: "cat", timestamp: T0 - 365 * 24 * 60 * MIN });
    expect(engine.explain("cat", { type: "field", field: "status", op: "is_set" })).toMatchObject({
      actual: "unsubscribed",
    });
  });
});
