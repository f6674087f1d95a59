import { describe, expect, it } from "vitest";
import { MemoryReplayGuard, scopedReplayGuard } from "../../../src/service/receivers/replay-guard.ts";

describe("MemoryReplayGuard", () => {
  it("reports a key seen within its window, and not after it", () => {
    const guard = new MemoryReplayGuard(60_000);
    expect(guard.seen("a", 0)).toBe(false);
    expect(guard.seen("a", 59_999)).toBe(true);
    expect(guard.seen("a", 60_000)).toBe(false);
    expect(guard.seen("a", 60_001)).toBe(true);
  });

  it("drops expired entries and holds at most its size cap, oldest first", () => {
    const guard = new MemoryReplayGuard(1000, 3);
    for (const key of ["a", "b", "c", "d"]) guard.seen(key, 0);
    expect(guard.size).toBe(3);
    expect(guard.seen("a", 1)).toBe(false); // pushed out by "d"
    expect(guard.seen("d", 2)).toBe(true);
    guard.seen("e", 5000);
    expect(guard.size).toBe(1);
  });

  it("lets a forgotten key through again", () => {
    const guard = new MemoryReplayGuard();
    guard.seen("a", 0);
    guard.forget("a");
    expect(guard.seen("a", 1)).toBe(false);
  });

  it("refuses a window or cap that is not positive", () => {
    expect(() => new MemoryReplayGuard(0)).toThrow(RangeError);
    expect(() => new MemoryReplayGuard(1000, 0)).toThrow(RangeError);
  });
});

describe("scopedReplayGuard", () => {
  it("keeps receivers apart on one guard", () => {
    const guard = new MemoryReplayGuard();
    expect(scopedReplayGuard(guard, "rcv_1").seen("ses:msg", 0)).toBe(false);
    expect(scopedReplayGuard(guard, "rcv_2").seen("ses:msg", 0)).toBe(false);
    expect(scopedReplayGuard(guard, "rcv_1").seen("ses:msg", 1)).toBe(true);
  });

  it("releases only what its own request recorded", () => {
    const guard = new MemoryReplayGuard();
    scopedReplayGuard(guard, "r").seen("earlier", 0);
    const view = scopedReplayGuard(guard, "r");
    expect(view.seen("earlier", 1)).toBe(true);
    expect(view.seen("now", 1)).toBe(false);
    view.release();
    const retry = scopedReplayGuard(guard, "r");
    expect(retry.seen("now", 2)).toBe(false);
    expect(retry.seen("earlier", 2)).toBe(true);
  });
});
