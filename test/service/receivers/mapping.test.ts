import { describe, expect, it } from "vitest";
import { eventTime } from "../../../src/service/receivers/mapping.ts";

describe("eventTime", () => {
  it("reads unix seconds and ISO strings", () => {
    expect(eventTime(1_700_000_000, "timestamp")).toBe(1_700_000_000_000);
    expect(eventTime("2026-01-02T03:04:05Z", "timestamp")).toBe(Date.parse("2026-01-02T03:04:05Z"));
  });

  it("refuses finite times outside the instants Slice keeps, with the path", () => {
    // 1e20 seconds is finite, but logging its delivery threw (a 500 for the whole request).
    expect(() => eventTime(1e20, "[0].timestamp")).toThrow(
      "[0].timestamp: 100000000000000000000 is out of range",
    );
    expect(() => eventTime(-1e15, "timestamp")).toThrow(/out of range/);
    expect(() => eventTime("nope", "timestamp")).toThrow(/is not a time/);
  });
});
