/**
 * The field registry (SPEC §1: custom fields, no shadowing of built-ins) and the
 * default segments (SPEC §3.3), which must be valid rules of the language itself.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SEGMENT_IDS, DEFAULT_SEGMENT_SETTINGS, defaultSegments } from "../../src/rules/defaults.ts";
import { BUILTIN_FIELDS, FieldRegistry } from "../../src/rules/fields.ts";
import { OPS_BY_TYPE } from "../../src/rules/operators.ts";
import type { RuleNode } from "../../src/rules/schema.ts";
import { segmentRefs, validateRule } from "../../src/rules/validate.ts";

describe("FieldRegistry", () => {
  it("knows the built-in fields of SPEC §1 with their types", () => {
    const reg = new FieldRegistry();
    const types = Object.fromEntries(reg.all().map((f) => [f.key, f.type]));
    expect(types).toEqual({
      email: "string",
      external_id: "string",
      phone: "string",
      first_name: "string",
      last_name: "string",
      country: "string",
      region: "string",
      city: "string",
      postal_code: "string",
      timezone: "string",
      language: "string",
      status: "string",
      email_status: "string",
      tags: "string_list",
      created_at: "date",
      subscribed_at: "date",
    });
    expect(reg.custom()).toEqual([]);
    expect(BUILTIN_FIELDS.every((f) => f.builtin)).toBe(true);
  });

  it("adds custom fields of every type", () => {
    const reg = new FieldRegistry([
      { key: "plan", type: "string" },
      { key: "score", type: "number", label: "Score" },
      { key: "vip", type: "boolean" },
      { key: "birthday", type: "date" },
      { key: "interests", type: "string_list" },
    ]);
    expect(reg.get("score")).toEqual({ key: "score", type: "number", label: "Score", builtin: false });
    expect(reg.get("plan")?.label).toBe("plan");
    expect(reg.custom().map((f) => f.key)).toEqual(["plan", "score", "vip", "birthday", "interests"]);
    expect(reg.get("nope")).toBeUndefined();
  });

  it("refuses a custom key that shadows a built-in field", () => {
    for (const f of BUILTIN_FIELDS) {
      expect(() => new FieldRegistry([{ key: f.key, type: f.type }])).toThrow(
        `field key "${f.key}": shadows the built-in field "${f.key}"`,
      );
    }
  });

  it("refuses malformed keys, duplicates and unknown types", () => {
    for (const key of ["Plan", "1plan", "_plan", "plan-x", "plan.x", "", "a".repeat(65), "pl an"]) {
      expect(() => new FieldRegistry([{ key, type: "string" }]), key).toThrow(
        `field key "${key}": expected lower-case letters, digits and "_", starting with a letter (at most 64)`,
      );
    }
    expect(() => new FieldRegistry([{ key: "a".repeat(64), type: "string" }])).not.toThrow();
    expect(
      () =>
        new FieldRegistry([
          { key: "plan", type: "string" },
          { key: "plan", type: "number" },
        ]),
    ).toThrow('field key "plan": already declared');
    expect(() => new FieldRegistry([{ key: "plan", type: "text" as "string" }])).toThrow(
      'field "plan": type must be one of string, number, boolean, date, string_list',
    );
  });

  it("withField returns a new registry and leaves the old one as it was", () => {
    const a = new FieldRegistry([{ key: "plan", type: "string" }]);
    const b = a.withField({ key: "score", type: "number" });
    expect(a.get("score")).toBeUndefined();
    expect(b.get("score")?.type).toBe("number");
    expect(b.get("plan")?.type).toBe("string");
    expect(() => b.withField({ key: "plan", type: "number" })).toThrow('field key "plan": already declared');
    expect(() => a.withField({ key: "tags", type: "string_list" })).toThrow("shadows the built-in field");
  });

  it("rules see custom fields only in the registry that declares them", () => {
    const rule = { type: "field", field: "score", op: "gt", value: 1 };
    const without = new FieldRegistry();
    const withScore = without.withField({ key: "score", type: "number" });
    expect(() => validateRule(rule, { fields: without, timeZone: "UTC", segments: new Map() })).toThrow(
      'rule.field: unknown field "score"',
    );
    expect(() =>
      validateRule(rule, { fields: withScore, timeZone: "UTC", segments: new Map() }),
    ).not.toThrow();
  });

  it("every type has is_set and is_not_set", () => {
    for (const ops of Object.values(OPS_BY_TYPE))
      expect(ops).toEqual(expect.arrayContaining(["is_set", "is_not_set"]));
  });
});

describe("defaultSegments", () => {
  const segmentsMap = (defs: { id: string; rule: RuleNode }[]) =>
    new Map<string, RuleNode | null>(defs.map((d) => [d.id, d.rule]));

  it("are the six segments of SPEC §3.3, in order, with names", () => {
    const defs = defaultSegments();
    expect(defs.map((d) => d.id)).toEqual([...DEFAULT_SEGMENT_IDS]);
    expect(defs.map((d) => d.name)).toEqual([
      "All Contacts",
      "Customers",
      "Subscribed",
      "Inactive",
      "Hard Bounced",
      "Excluded",
    ]);
    for (const d of defs) expect(d.description.length).toBeGreaterThan(0);
  });

  it("all validate against the built-in fields, each as its own segment (no cycles)", () => {
    const defs = defaultSegments();
    const segments = segmentsMap(defs);
    for (const d of defs) {
      const out = validateRule(d.rule, {
        fields: new FieldRegistry(),
        timeZone: "UTC",
        segments,
        selfId: d.id,
      });
      expect(out).toEqual(d.rule);
    }
  });

  it("validate in any workspace zone and with other settings", () => {
    const defs = defaultSegments({ inactiveDays: 30, excludedMinSent: 2 });
    const segments = segmentsMap(defs);
    for (const timeZone of ["Europe/Paris", "America/New_York"]) {
      for (const d of defs) {
        expect(() =>
          validateRule(d.rule, { fields: new FieldRegistry(), timeZone, segments, selfId: d.id }),
        ).not.toThrow();
      }
    }
  });

  it("read their thresholds from the settings", () => {
    expect(DEFAULT_SEGMENT_SETTINGS).toEqual({ inactiveDays: 90, excludedMinSent: 5 });
    const text = JSON.stringify(defaultSegments({ inactiveDays: 45, excludedMinSent: 7 }));
    expect(text).toContain('"45d"');
    expect(text).toContain('"value":7');
    expect(text).not.toContain('"90d"');
  });

  it("only excluded refers to another segment, inactive", () => {
    const refs = Object.fromEntries(defaultSegments().map((d) => [d.id, [...segmentRefs(d.rule)]]));
    expect(refs).toEqual({
      all: [],
      customers: [],
      subscribed: [],
      inactive: [],
      hard_bounced: [],
      excluded: ["inactive"],
    });
  });
});
