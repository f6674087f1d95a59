/**
 * The hand-written fast path for events (`plainEvent`) must never accept what the zod
 * schema refuses, nor change what it accepts: random event-like values, both ways.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkProperties, EventInput, fastInstant, instant, plainEvent } from "../../src/service/wire.ts";
import { INSTANT_MAX, INSTANT_MIN } from "../../src/store/contact-row.ts";

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

/** What the fast path read before it was written by hand: a pattern, the calendar, Date.parse. */
function patternInstant(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/.exec(
    s,
  );
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return null;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const dim = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  if (d > dim || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) || t < INSTANT_MIN || t > INSTANT_MAX ? null : t;
}

describe("fastInstant", () => {
  const pad = (n: number, w: number) => String(n).padStart(w, "0");
  // Well-formed and nearly well-formed: fields out of range, fractions of 0–4 digits,
  // offsets up to ±29:69, seconds left out; then a character changed, dropped or added.
  const shaped = fc
    .record({
      y: fc.integer({ min: 0, max: 9999 }),
      mo: fc.integer({ min: 0, max: 13 }),
      d: fc.integer({ min: 0, max: 32 }),
      h: fc.integer({ min: 0, max: 25 }),
      mi: fc.integer({ min: 0, max: 61 }),
      sec: fc.option(fc.integer({ min: 0, max: 61 })),
      frac: fc.option(fc.stringMatching(/^[0-9]{0,4}$/)),
      zone: fc.oneof(
        fc.constant("Z"),
        fc.constant(""),
        fc
          .tuple(fc.constantFrom("+", "-"), fc.integer({ min: 0, max: 29 }), fc.integer({ min: 0, max: 69 }))
          .map(([sg, oh, om]) => `${sg}${pad(oh, 2)}:${pad(om, 2)}`),
      ),
    })
    .map(({ y, mo, d, h, mi, sec, frac, zone }) => {
      const secs = sec === null ? "" : `:${pad(sec, 2)}${frac === null ? "" : `.${frac}`}`;
      return `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}${secs}${zone}`;
    });
  const mutated = fc
    .tuple(
      shaped,
      fc.nat(),
      fc.constantFrom("drop", "change", "add"),
      fc.constantFrom(..."09-:.TZ+ zé\u0660"),
    )
    .map(([s, at, how, c]) => {
      const i = at % (s.length + 1);
      if (how === "drop") return s.slice(0, i) + s.slice(i + 1);
      if (how === "change") return s.slice(0, i) + c + s.slice(i + 1);
      return s.slice(0, i) + c + s.slice(i);
    });

  it("reads every string exactly as the pattern and Date.parse did", () => {
    fc.assert(
      fc.property(fc.oneof(shaped, mutated, fc.string()), (s) => {
        expect(fastInstant(s)).toBe(patternInstant(s));
      }),
      { numRuns: 20_000 },
    );
  });

  it("reads the edges of the range and of the calendar", () => {
    for (const s of [
      "0000-01-01T00:00:00.000Z",
      "0000-01-01T00:00+00:01",
      "9999-12-31T23:59:59.999Z",
      "9999-12-31T23:59:59.999-00:01",
      "0099-03-01T00:00Z",
      "1900-02-29T00:00Z",
      "2000-02-29T00:00Z",
      "1969-12-31T23:59:59.9+14:00",
      "2024-02-29T23:59:59.999+05:30",
    ]) {
      expect([s, fastInstant(s)]).toEqual([s, patternInstant(s)]);
    }
  });
});

describe("checkProperties", () => {
  /** What it decides, from the definition: the exact size first, then any bad part. */
  function expected(p: Record<string, unknown>): "size" | "bad" | "ok" {
    if (Buffer.byteLength(JSON.stringify(p)) > 16 * 1024) return "size";
    const bad = (v: unknown): boolean => {
      if (typeof v === "number") return !Number.isFinite(v);
      if (typeof v === "string") return v.includes("\u0000");
      if (typeof v !== "object" || v === null) return false;
      if (Array.isArray(v)) return v.some(bad);
      return Object.entries(v).some(
        ([k, x]) => k.includes("\u0000") || ["__proto__", "constructor", "prototype"].includes(k) || bad(x),
      );
    };
    return bad(p) ? "bad" : "ok";
  }
  function decided(p: Record<string, unknown>): "size" | "bad" | "ok" {
    try {
      checkProperties(p as never, "events[0].properties");
      return "ok";
    } catch (e) {
      return /exceed/.test((e as Error).message) ? "size" : "bad";
    }
  }
  // Strings of units that serialize to 1 to 6 bytes, long enough to cross 16 KiB.
  const unit = fc.constantFrom("a", "é", "😀", '"', "\\", "\u001f", "\u0000", "\u2028");
  const text = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.tuple(unit, fc.integer({ min: 1, max: 17_000 })).map(([u, n]) => u.repeat(n)),
  );
  const leaf = fc.oneof(
    text,
    fc.double(),
    fc.integer(),
    fc.constantFrom(Number.POSITIVE_INFINITY, Number.NaN, -1.2345678901234567e-308, null, true, false),
  );
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("v"), { maxLength: 4 }), tie("o")),
    o: fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("constructor", "a\u0000")),
      tie("v"),
      {
        maxKeys: 4,
      },
    ),
  }));

  it("decides as the exact size and a full walk decide, big or small, plain or not", () => {
    fc.assert(
      fc.property(value.o, (p) => {
        expect(decided(p as Record<string, unknown>)).toBe(expected(p as Record<string, unknown>));
      }),
      { numRuns: 3_000 },
    );
  });

  it("counts a string of escapes at the bytes it serializes to", () => {
    // 2,730 control characters serialize to 16,380 bytes plus the key's: just under and over.
    expect(decided({ k: "\u001f".repeat(2_728) })).toBe("ok");
    expect(decided({ k: "\u001f".repeat(2_731) })).toBe("size");
    expect(decided({ k: "😀".repeat(4_090) })).toBe("ok");
    expect(decided({ k: "😀".repeat(4_096) })).toBe("size");
  });
});
