import { describe, expect, it } from "vitest";
import { isoInstant } from "../../src/service/iso-instant.ts";

describe("isoInstant", () => {
  it("writes what Date#toISOString writes", () => {
    const edges = [
      0,
      1,
      999,
      59_999,
      60_000,
      86_399_999,
      86_400_000,
      Date.parse("2000-02-29T23:59:59.999Z"),
      Date.parse("2100-03-01T00:00:00Z"),
      253_402_300_799_999,
      -1,
      -62_167_219_200_000,
      253_402_300_800_000,
      1.5,
      1_780_315_200_000.25,
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const samples = [...edges];
    for (let i = 0; i < 20_000; i++) samples.push(Math.floor(random() * 253_402_300_800_000));
    // Runs at one instant and at nearby ones, as changes come.
    for (let i = 0; i < 2_000; i++) samples.push(1_780_315_200_000 + Math.floor(i / 3) * 7_919);
    for (const ms of samples) expect(isoInstant(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("throws as toISOString does outside the date range", () => {
    expect(() => isoInstant(Number.NaN)).toThrow(RangeError);
    expect(() => isoInstant(8.64e15 + 1)).toThrow(RangeError);
  });
});
