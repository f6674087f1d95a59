/**
 * Random buckets (docs/rules.md, "Bucket conditions"): a pure function of seed and
 * contact id, pinned to fixed values so that it can never drift between versions,
 * processes or nodes; spread evenly over [0, 100); validated and written in text.
 */
import { describe, expect, it } from "vitest";
import { BUCKET_CODES, bucketCode, bucketOf } from "../../src/rules/bucket.ts";
import { RuleValidationError } from "../../src/rules/errors.ts";
import { FieldRegistry } from "../../src/rules/fields.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { parseRuleText, printRule } from "../../src/rules/text/index.ts";
import { validateRule } from "../../src/rules/validate.ts";
import { referenceBucket } from "../reference/evaluate.ts";

describe("bucketOf", () => {
  it("gives the same values forever (checked against sha256sum by hand)", () => {
    // printf 'holdout-1\0c_1' | sha256sum → e80d3a3950ff…; 0xe80d3a3950ff mod 10000 = 973.
    expect(bucketOf("holdout-1", "c_1")).toBe(9.73);
    expect(bucketOf("holdout-1", "c_2")).toBe(33.04);
    expect(bucketOf("holdout-1", "ann@example.com")).toBe(32.72);
    expect(bucketOf("ab-test-2026", "c_1")).toBe(57.43);
    expect(bucketOf("é", "ü")).toBe(61.05);
    expect(bucketOf("holdout-1", "")).toBe(48.02);
    expect(bucketCode("holdout-1", "c_1")).toBe(973);
  });

  it("is case-sensitive in seed and id, and the seed ends at the separator", () => {
    expect(bucketOf("Holdout-1", "c_1")).not.toBe(bucketOf("holdout-1", "c_1"));
    expect(bucketOf("holdout-1", "C_1")).not.toBe(bucketOf("holdout-1", "c_1"));
    // "ab" + "c" and "a" + "bc" hash different bytes.
    expect(bucketCode("ab", "c")).not.toBe(bucketCode("a", "bc"));
  });

  it("agrees with the reference's own reading of the definition", () => {
    for (let i = 0; i < 2000; i++) {
      const id = `id-${i}-${"é".repeat(i % 3)}`;
      expect(bucketOf(`seed${i % 7}`, id)).toBe(referenceBucket(`seed${i % 7}`, id));
    }
  });

  it("has two decimals and stays in [0, 100)", () => {
    for (let i = 0; i < 5000; i++) {
      const b = bucketOf("s", `c${i}`);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(100);
      expect(Math.round(b * 100) / 100).toBe(b);
    }
  });

  it("is uniform: chi-square over 100 bins of 100,000 ids is below the 0.999 critical value", () => {
    // 99 degrees of freedom: P(χ² > 148.2) ≈ 0.001. The ids are fixed, so the outcome is too.
    for (const seed of ["holdout-1", "ab-test-2026"]) {
      const bins = new Array<number>(100).fill(0);
      const n = 100_000;
      for (let i = 0; i < n; i++) bins[Math.floor(bucketCode(seed, `contact-${i}`) / 100)]++;
      const expected = n / 100;
      const chi2 = bins.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
      expect(chi2).toBeLessThan(148.2);
      // And not suspiciously perfect, which a counter rather than a hash would give.
      expect(chi2).toBeGreaterThan(60);
    }
  });

  it("uses all 10000 values", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200_000 && seen.size < BUCKET_CODES; i++) seen.add(bucketCode("s", `c${i}`));
    expect(seen.size).toBe(BUCKET_CODES);
  });

  it("gives independent splits for different seeds", () => {
    const n = 40_000;
    let both = 0;
    for (let i = 0; i < n; i++) {
      if (bucketOf("holdout-1", `u${i}`) < 50 && bucketOf("ab-test-2026", `u${i}`) < 50) both++;
    }
    // A quarter, give or take a few standard deviations (σ ≈ 0.22%).
    expect(both / n).toBeGreaterThan(0.24);
    expect(both / n).toBeLessThan(0.26);
  });
});

const ctx = () => ({ fields: new FieldRegistry([]), timeZone: "UTC", segments: new Map() });
const bucket = (extra: object): unknown => ({
  type: "bucket",
  seed: "holdout-1",
  op: "lt",
  value: 10,
  ...extra,
});

function issue(rule: unknown): { path: string; message: string } {
  try {
    validateRule(rule, ctx());
  } catch (e) {
    if (e instanceof RuleValidationError) return e.issues[0];
    throw e;
  }
  throw new Error("expected the rule to be refused");
}

describe("bucket conditions: validation", () => {
  it("accepts the numeric operators with values from 0 to 100", () => {
    for (const [op, value] of [
      ["lt", 10],
      ["gte", 0],
      ["lte", 100],
      ["eq", 12.34],
      ["neq", 50],
      ["gt", 99.99],
      ["between", [10, 19.99]],
      ["between", [50, 50]],
    ] as const) {
      expect(() => validateRule(bucket({ op, value }), ctx())).not.toThrow();
    }
  });

  it("names the bad part", () => {
    expect(issue(bucket({ op: "contains" }))).toEqual({
      path: "rule.op",
      message: '"contains" does not apply to a bucket (use eq, neq, gt, gte, lt, lte, between)',
    });
    expect(issue(bucket({ op: "is_set", value: undefined })).path).toBe("rule.op");
    expect(issue(bucket({ value: undefined }))).toEqual({
      path: "rule.value",
      message: '"lt" needs a value',
    });
    expect(issue(bucket({ value: 101 }))).toEqual({
      path: "rule.value",
      message: "expected a number from 0 to 100",
    });
    expect(issue(bucket({ value: "10" })).message).toBe("expected a number from 0 to 100");
    expect(issue(bucket({ value: -1 })).message).toBe("expected a number from 0 to 100");
    expect(issue(bucket({ op: "between", value: [60, 40] }))).toEqual({
      path: "rule.value",
      message: "low must not be greater than high",
    });
    expect(issue(bucket({ op: "between", value: [0, 101] }))).toEqual({
      path: "rule.value",
      message: "expected [low, high], two numbers from 0 to 100",
    });
    expect(issue(bucket({ seed: "" }))).toEqual({
      path: "rule.seed",
      message: "expected a seed: a non-empty string",
    });
    expect(issue(bucket({ seed: 5 })).path).toBe("rule.seed");
    expect(issue(bucket({ seed: "a\u0000b" })).message).toBe("a seed cannot contain the NUL character");
    expect(issue(bucket({ seed: "x".repeat(201) })).message).toBe("a seed is at most 200 characters");
    expect(issue(bucket({ extra: 1 })).path).toBe("rule");
    expect(issue({ type: "and", conditions: [bucket({}), bucket({ value: 200 })] }).path).toBe(
      "rule.conditions[1].value",
    );
  });
});

describe("bucket conditions: text form", () => {
  const cases: [string, RuleNode][] = [
    ['bucket("holdout-1") < 10', { type: "bucket", seed: "holdout-1", op: "lt", value: 10 }],
    ["bucket(ab_test) >= 50", { type: "bucket", seed: "ab_test", op: "gte", value: 50 }],
    [
      'bucket("a b") between 10 and 19.99',
      { type: "bucket", seed: "a b", op: "between", value: [10, 19.99] },
    ],
    [
      'not (bucket("and") = 5)',
      { type: "not", condition: { type: "bucket", seed: "and", op: "eq", value: 5 } },
    ],
  ];
  for (const [text, rule] of cases) {
    it(`${text} reads and prints`, () => {
      expect(parseRuleText(text)).toStrictEqual(rule);
      expect(printRule(rule)).toBe(text);
    });
  }

  it("reads the JSON operator names and a quoted word seed", () => {
    expect(parseRuleText('bucket("ab") lt 10 and country = "FR"')).toStrictEqual({
      type: "and",
      conditions: [
        { type: "bucket", seed: "ab", op: "lt", value: 10 },
        { type: "field", field: "country", op: "eq", value: "FR" },
      ],
    });
  });

  it("still reads a field named bucket", () => {
    expect(parseRuleText("bucket = 3")).toStrictEqual({ type: "field", field: "bucket", op: "eq", value: 3 });
  });

  it("explains what is missing", () => {
    const fail = (text: string) => {
      try {
        parseRuleText(text);
      } catch (e) {
        return (e as Error).message;
      }
      return "read";
    };
    expect(fail('bucket("x")')).toContain("expected an operator: bucket(…) is compared with a number");
    expect(fail('bucket("") < 3')).toContain("expected a seed: a non-empty string");
    expect(fail("bucket() < 3")).toContain("a seed");
  });
});
