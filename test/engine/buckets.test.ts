/**
 * Bucket conditions in the engine: the same answer on every evaluation path and in
 * every engine that holds the same ids (a restart, another node, another load
 * order), complementary splits that partition the contacts, explain, and live
 * membership of contacts as they come and go.
 */
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/index.ts";
import { bucketOf } from "../../src/rules/bucket.ts";
import type { RuleNode } from "../../src/rules/schema.ts";

const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const IDS = Array.from({ length: 3000 }, (_, i) => `contact-${i}`);

const bucket = (op: string, value: unknown, seed = "holdout-1"): RuleNode =>
  ({ type: "bucket", seed, op, value }) as RuleNode;

function engineWith(ids: string[], bulk: boolean): Engine {
  const eng = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
  if (bulk) eng.loadContacts(ids.map((id) => ({ id })));
  else for (const id of ids) eng.upsertContact({ id });
  return eng;
}

function members(eng: Engine, rule: RuleNode): Set<string> {
  const all = eng.evaluate(rule);
  const out = new Set(eng.contactIds().filter((id) => all.has(id)));
  expect(all.count).toBe(out.size);
  return out;
}

describe("bucket conditions", () => {
  it("hold exactly for the contacts whose bucket passes, on every path", () => {
    const eng = engineWith(IDS, false);
    for (const rule of [
      bucket("lt", 10),
      bucket("gte", 90),
      bucket("between", [10, 19.99]),
      bucket("neq", bucketOf("holdout-1", "contact-7")),
    ]) {
      const got = members(eng, rule);
      for (const id of IDS.slice(0, 300)) {
        const b = bucketOf("holdout-1", id);
        const want =
          rule.type === "bucket" && rule.op === "lt"
            ? b < 10
            : rule.type === "bucket" && rule.op === "gte"
              ? b >= 90
              : rule.type === "bucket" && rule.op === "between"
                ? b >= 10 && b <= 19.99
                : b !== bucketOf("holdout-1", "contact-7");
        expect(got.has(id), `${id} (${b})`).toBe(want);
        expect(eng.matches(id, rule)).toBe(want);
        expect(eng.explain(id, rule).result).toBe(want);
      }
    }
  });

  it("includes the ends: lte and between hold at a contact's exact bucket, lt does not", () => {
    const eng = engineWith(IDS, true);
    const b = bucketOf("holdout-1", "contact-1");
    expect(eng.matches("contact-1", bucket("lte", b))).toBe(true);
    expect(eng.matches("contact-1", bucket("lt", b))).toBe(false);
    expect(eng.matches("contact-1", bucket("between", [b, b]))).toBe(true);
    expect(eng.matches("contact-1", bucket("eq", b))).toBe(true);
    expect(eng.matches("contact-1", bucket("gt", b))).toBe(false);
  });

  it("agree between engines with the same ids in another order, loaded another way", () => {
    const a = engineWith(IDS, false);
    const b = engineWith([...IDS].reverse(), true);
    for (const rule of [bucket("lt", 10), bucket("between", [33.33, 66.66], "ab-2026")]) {
      expect([...members(a, rule)].sort()).toEqual([...members(b, rule)].sort());
    }
  });

  it("complementary splits partition the contacts, near their shares", () => {
    const eng = engineWith(IDS, true);
    const seed = "ab-2026";
    const parts = [
      members(eng, bucket("lt", 20, seed)),
      members(eng, { type: "and", conditions: [bucket("gte", 20, seed), bucket("lt", 60, seed)] }),
      members(eng, bucket("between", [60, 99.99], seed)),
    ];
    const seen = new Set<string>();
    for (const p of parts) {
      for (const id of p) {
        expect(seen.has(id), `${id} in two parts`).toBe(false);
        seen.add(id);
      }
    }
    expect(seen.size).toBe(IDS.length);
    const shares = parts.map((p) => p.size / IDS.length);
    expect(shares[0]).toBeGreaterThan(0.17);
    expect(shares[0]).toBeLessThan(0.23);
    expect(shares[1]).toBeGreaterThan(0.36);
    expect(shares[1]).toBeLessThan(0.44);
    // A holdout and its complement through not.
    const holdout = members(eng, bucket("lt", 10));
    const rest = members(eng, { type: "not", condition: bucket("lt", 10) });
    expect(holdout.size + rest.size).toBe(IDS.length);
    for (const id of holdout) expect(rest.has(id)).toBe(false);
  });

  it("explain gives the contact's bucket as actual", () => {
    const eng = engineWith(["c_1"], false);
    expect(eng.explain("c_1", bucket("lt", 10))).toEqual({
      type: "bucket",
      seed: "holdout-1",
      op: "lt",
      value: 10,
      result: true,
      actual: 9.73,
    });
  });

  it("a segment takes in new contacts as they are written, needs no timers, and forgets deleted ones", () => {
    const eng = new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
    eng.defineSegment({ id: "holdout", rule: bucket("lt", 10) });
    const inside = IDS.filter((id) => bucketOf("holdout-1", id) < 10).slice(0, 3);
    const outside = IDS.filter((id) => bucketOf("holdout-1", id) >= 10).slice(0, 3);
    for (const id of inside) {
      expect(eng.upsertContact({ id })).toEqual([
        { segment_id: "holdout", contact_id: id, change: "entered", at: NOW },
      ]);
    }
    for (const id of outside) expect(eng.upsertContact({ id })).toEqual([]);
    // A contact first seen through an event is placed too.
    const viaEvent = IDS.filter((id) => bucketOf("holdout-1", id) < 10)[5];
    expect(eng.addEvent({ type: "email_opened", contact_id: viaEvent, timestamp: NOW })).toEqual([
      { segment_id: "holdout", contact_id: viaEvent, change: "entered", at: NOW },
    ]);
    // Profile writes do not move anyone.
    expect(eng.upsertContact({ id: inside[0], country: "FR" })).toEqual([]);
    expect(eng.timerCount).toBe(0);
    expect(eng.members("holdout").count).toBe(4);
    expect(eng.removeContact(inside[1])).toEqual([
      { segment_id: "holdout", contact_id: inside[1], change: "exited", at: NOW },
    ]);
    expect(eng.members("holdout").count).toBe(3);
  });
});
