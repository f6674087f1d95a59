/**
 * A moving window's edge never walks back: where calendar arithmetic alone would move
 * "the last 1d" or "the last 1mo" back in time (a DST gap, a repeated autumn hour, a
 * month that lacks the day), an event that has left the window stays out, and the
 * live engine, its timers and the reference evaluator agree at every minute.
 */
import { describe, expect, it } from "vitest";
import { Engine, type EventInput } from "../../src/engine/index.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { FIELDS } from "../reference/arbitraries.ts";
import { referenceMatches } from "../reference/evaluate.ts";

const MIN = 60_000;

function walk(tz: string, rule: RuleNode, event: string, from: string, until: string): void {
  let now = Date.parse(from);
  const engine = new Engine({ timeZone: tz, clock: { now: () => now }, defaultSegments: false });
  engine.upsertContact({ id: "c" });
  const e: EventInput = { type: "email_opened", contact_id: "c", timestamp: Date.parse(event) };
  engine.addEvent(e);
  engine.defineSegment({ id: "s", rule });
  const reference = () =>
    referenceMatches(rule, { id: "c" }, [e], { now, timeZone: tz, fields: FIELDS, segments: new Map() });
  let exits = 0;
  for (const end = Date.parse(until); now <= end; now += MIN) {
    for (const ch of engine.advanceTo(now)) if (ch.change === "exited") exits++;
    const at = new Date(now).toISOString();
    expect(engine.members("s").has("c"), `engine at ${at}`).toBe(reference());
  }
  expect(exits, "the event leaves the window once").toBe(1);
  expect(engine.members("s").has("c")).toBe(false);
}

const opened = (d: string): RuleNode => ({ type: "event", event: "email_opened", window: { in_last: d } });

describe("moving window edges never walk back", () => {
  it("1d across the spring-forward gap (Paris): the event does not come back", () => {
    // 03:44 CEST on 29 March; a day later the edge passes it, and at 03:00 CEST on
    // 30 March plain arithmetic would put the edge back at 03:00 CEST on 29 March.
    walk(
      "Europe/Paris",
      opened("1d"),
      "2026-03-29T01:44:00Z",
      "2026-03-29T23:00:00Z",
      "2026-03-30T03:00:00Z",
    );
  });

  it("1d across the repeated autumn hour (Paris): the event does not come back", () => {
    // 02:30 CEST on 24 October; on 25 October 02:00–02:59 comes twice.
    walk(
      "Europe/Paris",
      opened("1d"),
      "2026-10-24T00:30:00Z",
      "2026-10-24T23:00:00Z",
      "2026-10-25T03:00:00Z",
    );
  });

  it("1mo across a month end: 29–31 March do not reach back into 28 February", () => {
    walk("UTC", opened("1mo"), "2026-02-28T12:00:00Z", "2026-03-28T11:00:00Z", "2026-04-01T01:00:00Z");
  });
});
