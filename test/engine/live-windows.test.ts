/**
 * Live membership of rules whose answer changes with time alone: the engine's timers
 * must report each entry and exit at the exact instant the rule starts or stops
 * holding, with no new data.
 */
import { describe, expect, it } from "vitest";
import { Engine, type MembershipChange } from "../../src/engine/index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function live(tz: string, now: number) {
  let t = now;
  const eng = new Engine({ timeZone: tz, clock: { now: () => t }, defaultSegments: false });
  return {
    eng,
    /** Moves the clock to `to` and returns the changes on the way. */
    to(to: number): MembershipChange[] {
      t = to;
      return eng.advanceTo(to);
    },
  };
}

describe("between_ago in either order, maintained live", () => {
  for (const pair of [
    ["2d", "1d"],
    ["1d", "2d"],
  ]) {
    it(`${JSON.stringify(pair)}: enters at t + 1d, leaves at t + 2d`, () => {
      const t0 = Date.parse("2026-05-10T12:00:00.000Z");
      const { eng, to } = live("UTC", t0);
      eng.upsertContact({ id: "c" });
      eng.addEvent({ type: "email_opened", contact_id: "c", timestamp: t0 });
      eng.defineSegment({
        id: "s",
        rule: { type: "event", event: "email_opened", window: { between_ago: pair } },
      });
      expect(eng.members("s").has("c")).toBe(false);
      expect(to(t0 + DAY - 1)).toEqual([]);
      expect(to(t0 + 3 * DAY)).toEqual([
        { segment_id: "s", contact_id: "c", change: "entered", at: t0 + DAY },
        { segment_id: "s", contact_id: "c", change: "exited", at: t0 + 2 * DAY },
      ]);
    });
  }

  it("the ends swap on a DST day, and the timers follow", () => {
    // 11:30 CET on 28 March in Paris. Next day clocks go forward: "1d" back from
    // 10:30 CEST (09:30Z) is 11:30 CET, 23 hours, while 1410m is 23.5 hours.
    const t = Date.parse("2026-03-28T10:30:00.000Z");
    const { eng, to } = live("Europe/Paris", t);
    eng.upsertContact({ id: "c" });
    eng.addEvent({ type: "email_opened", contact_id: "c", timestamp: t });
    eng.defineSegment({
      id: "s",
      rule: { type: "event", event: "email_opened", window: { between_ago: ["1d", "1410m"] } },
    });
    expect(to(t + 2 * DAY)).toEqual([
      { segment_id: "s", contact_id: "c", change: "entered", at: Date.parse("2026-03-29T09:30:00.000Z") },
      { segment_id: "s", contact_id: "c", change: "exited", at: Date.parse("2026-03-29T10:00:00.000Z") },
    ]);
  });
});
