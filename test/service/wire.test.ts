/**
 * The hand-written fast path for events (`plainEvent`) must never accept what the zod
 * schema refuses, nor change what it accepts: random event-like values, both ways.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventInput, instant, plainEvent } from "../../src/service/wire.ts";

const key = fc.constantFrom("id", "type", "contact", "timestamp", "properties", "extra");
const value = fc.oneof(
  fc.constantFrom("email_opened", "order_placed", "Bad Type", "", "x".repeat(70), "a.b:c-d_1"),
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.constant([]),
  fc.dictionary(fc.constantFrom("id", "email", "external_id", "nope"), fc.oneof(fc.string(), fc.integer()), {
    maxKeys: 3,
  }),
  fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
);

describe("plainEvent", () => {
  it("accepts only what EventInput accepts, and returns the same fields", () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 6 }), (o) => {
        const fast = plainEvent(o);
        const z = EventInput.safeParse(o);
        if (fast !== null) {
          expect(z.success).toBe(true);
          expect(JSON.parse(JSON.stringify(fast))).toEqual(JSON.parse(JSON.stringify(z.data)));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("takes the common shapes", () => {
    expect(plainEvent({ type: "email_opened", contact: { id: "c1" } })).not.toBeNull();
    expect(
      plainEvent({ id: "e1", type: "order_placed", contact: { email: "a@b.c" }, properties: { amount: 3 } }),
    ).not.toBeNull();
    expect(plainEvent({ type: "email_opened", contact: { id: "c1", email: "a@b.c" } })).toBeNull();
  });
});

describe("instant", () => {
  it("reads offsets exactly and refuses days not in the calendar", () => {
    expect(instant("2024-02-29T23:59:59.999+05:30", "t", "UTC")).toBe(Date.parse("2024-02-29T18:29:59.999Z"));
    expect(() => instant("2026-02-29T00:00:00Z", "t", "UTC")).toThrow(/t:/);
    expect(() => instant("2026-04-31T00:00:00Z", "t", "UTC")).toThrow(/t:/);
    // Without an offset the workspace zone applies (the general path).
    expect(instant("2026-07-01T12:00:00", "t", "Europe/Paris")).toBe(Date.parse("2026-07-01T10:00:00Z"));
  });
});
