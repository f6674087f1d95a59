/**
 * Every field operator of every type (SPEC §3.1, §3.2; docs/semantics.md "Values" and
 * "Time") through the Engine's public API: matching, not matching, missing values,
 * case and spaces, date edges to the millisecond, time zones and DST days,
 * anniversaries, and segment conditions.
 *
 * Each answer is computed six ways (contacts and events loaded one by one and in
 * bulk; `matches`, `evaluate`, `explain`) and the six must agree.
 */
import { describe, expect, it } from "vitest";
import { type ContactInput, Engine, type EventInput } from "../../src/engine/index.ts";
import { RuleValidationError } from "../../src/rules/errors.ts";
import type { FieldDef } from "../../src/rules/fields.ts";
import { holdsOnEveryPath } from "./every-path.ts";

const CUSTOM: FieldDef[] = [
  { key: "plan", type: "string" },
  { key: "score", type: "number" },
  { key: "vip", type: "boolean" },
  { key: "birthday", type: "date" },
  { key: "interests", type: "string_list" },
];
const CUSTOM_KEYS = new Set(CUSTOM.map((f) => f.key));

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const t = (iso: string) => Date.parse(iso);

interface Scenario {
  contact?: Omit<ContactInput, "id">;
  events?: Omit<EventInput, "contact_id">[];
  now?: number | string;
  tz?: string;
}

/** Whether `rule` holds for contact "c"; fails the test if the evaluation paths disagree. */
function holds(rule: object, sc: Scenario = {}): boolean {
  const now = typeof sc.now === "string" ? Date.parse(sc.now) : (sc.now ?? NOW);
  const contacts: ContactInput[] = [{ id: "x1", country: "zz" }, { id: "c", ...sc.contact }, { id: "x2" }];
  const events = (sc.events ?? []).flatMap((e) => [
    { ...e, contact_id: "x1" },
    { ...e, contact_id: "c" },
  ]);
  return holdsOnEveryPath({ rule, now, contacts, events, tz: sc.tz, fields: CUSTOM });
}

/** A contact with `field` set to `v` (custom fields go under `fields`). */
function withValue(field: string, v: unknown): Omit<ContactInput, "id"> {
  if (v === undefined) return {};
  return (CUSTOM_KEYS.has(field) ? { fields: { [field]: v } } : { [field]: v }) as Omit<ContactInput, "id">;
}

const cond = (field: string, op: string, value?: unknown) =>
  value === undefined ? { type: "field", field, op } : { type: "field", field, op, value };

type Row = [stored: unknown, op: string, value: unknown, expected: boolean];

function checkRows(field: string, rows: Row[], sc: Omit<Scenario, "contact"> = {}): void {
  for (const [stored, op, value, expected] of rows) {
    const got = holds(cond(field, op, value), { ...sc, contact: withValue(field, stored) });
    expect(got, `${field}=${JSON.stringify(stored)} ${op} ${JSON.stringify(value)}`).toBe(expected);
  }
}

/** Rows for a value that is missing, however it is missing: only the negatives hold. */
function missingRows(stored: unknown, ops: [string, unknown, boolean][]): Row[] {
  return ops.map(([op, value, expected]) => [stored, op, value, expected]);
}

describe("string fields", () => {
  const rows: Row[] = [
    ["London", "eq", "london", true],
    [" LONDON ", "eq", "London", true],
    ["London", "eq", " london ", true],
    ["London", "eq", "Londo", false],
    ["London", "eq", "London!", false],
    ["London", "neq", "paris", true],
    ["London", "neq", "LONDON", false],
    ["London", "in", ["Paris", " LONDON"], true],
    ["London", "in", ["Paris", "Lond"], false],
    ["London", "not_in", ["Paris"], true],
    ["London", "not_in", ["paris", "london "], false],
    ["London", "contains", "OND", true],
    ["London", "contains", "lon", true],
    ["London", "contains", "x", false],
    ["London", "not_contains", "x", true],
    ["London", "not_contains", "ond", false],
    ["London", "starts_with", "LO", true],
    ["London", "starts_with", " lon", true],
    ["London", "starts_with", "on", false],
    ["London", "ends_with", "DON ", true],
    ["London", "ends_with", "lon", false],
    ["London", "is_set", undefined, true],
    ["London", "is_not_set", undefined, false],
    ["ÉCOLE", "eq", "école", true],
    ["Ärzte Straße", "contains", "ärzte str", true],
  ];
  const missing: [string, unknown, boolean][] = [
    ["is_not_set", undefined, true],
    ["neq", "x", true],
    ["not_in", ["x"], true],
    ["not_contains", "x", true],
    ["is_set", undefined, false],
    ["eq", "x", false],
    ["in", ["x"], false],
    ["contains", "x", false],
    ["contains", "", false],
    ["starts_with", "", false],
    ["ends_with", "x", false],
  ];

  for (const field of ["country", "plan"]) {
    it(`${field}: every operator matches and fails, ignoring case and surrounding spaces`, () => {
      checkRows(field, rows);
    });

    it(`${field}: a missing, null, empty or blank value satisfies only the negatives`, () => {
      for (const stored of [undefined, null, "", "   "]) checkRows(field, missingRows(stored, missing));
    });
  }

  it("a value that is only spaces counts as not set for built-ins and custom fields alike", () => {
    expect(holds(cond("city", "is_not_set"), { contact: { city: " \t " } })).toBe(true);
    expect(holds(cond("plan", "is_set"), { contact: { fields: { plan: "  " } } })).toBe(false);
  });
});

describe("number fields", () => {
  const rows: Row[] = [
    [3, "eq", 3, true],
    [3, "eq", 3.0001, false],
    [0, "eq", 0, true],
    [-2.5, "eq", -2.5, true],
    [3, "neq", 4, true],
    [3, "neq", 3, false],
    [3, "gt", 2.999, true],
    [3, "gt", 3, false],
    [3, "gte", 3, true],
    [3, "gte", 3.0001, false],
    [3, "lt", 3, false],
    [3, "lt", 3.0001, true],
    [3, "lte", 3, true],
    [3, "lte", 2.999, false],
    [-1, "lt", 0, true],
    [1, "between", [1, 3], true],
    [3, "between", [1, 3], true],
    [2, "between", [2, 2], true],
    [0.999, "between", [1, 3], false],
    [3.001, "between", [1, 3], false],
    [0, "is_set", undefined, true],
    [0, "is_not_set", undefined, false],
    [0, "lt", 1, true],
  ];

  it("every operator, bounds inclusive where the SPEC says so; 0 is a value", () => {
    checkRows("score", rows);
  });

  it("a missing value satisfies only neq and is_not_set", () => {
    const missing: [string, unknown, boolean][] = [
      ["neq", 1, true],
      ["neq", 0, true],
      ["is_not_set", undefined, true],
      ["is_set", undefined, false],
      ["eq", 0, false],
      ["gt", -1e9, false],
      ["gte", 0, false],
      ["lt", 1e9, false],
      ["lte", 0, false],
      ["between", [-1e9, 1e9], false],
    ];
    for (const stored of [undefined, null]) checkRows("score", missingRows(stored, missing));
  });
});

describe("boolean fields", () => {
  it("eq true/false; false is a set value", () => {
    checkRows("vip", [
      [true, "eq", true, true],
      [true, "eq", false, false],
      [false, "eq", false, true],
      [false, "eq", true, false],
      [false, "is_set", undefined, true],
      [false, "is_not_set", undefined, false],
    ]);
  });

  it("a missing value is neither true nor false", () => {
    for (const stored of [undefined, null]) {
      checkRows(
        "vip",
        missingRows(stored, [
          ["eq", true, false],
          ["eq", false, false],
          ["is_set", undefined, false],
          ["is_not_set", undefined, true],
        ]),
      );
      expect(
        holds({ type: "not", condition: cond("vip", "eq", true) }, { contact: withValue("vip", stored) }),
      ).toBe(true);
    }
  });
});

describe("date fields: relative operators at their edges", () => {
  for (const field of ["created_at", "birthday"]) {
    it(`${field}: in_last D is now − D < t ≤ now`, () => {
      checkRows(field, [
        [NOW - 30 * DAY, "in_last", "30d", false],
        [NOW - 30 * DAY + 1, "in_last", "30d", true],
        [NOW, "in_last", "30d", true],
        [NOW + 1, "in_last", "30d", false],
        [NOW - 2 * HOUR, "in_last", "2h", false],
        [NOW - 2 * HOUR + 1, "in_last", "2h", true],
        // A month back from 10 May 12:00 is 10 April 12:00.
        [t("2026-04-10T12:00:00.000Z"), "in_last", "1mo", false],
        [t("2026-04-10T12:00:00.001Z"), "in_last", "1mo", true],
      ]);
    });

    it(`${field}: more_than_ago D is t ≤ now − D`, () => {
      checkRows(field, [
        [NOW - 30 * DAY, "more_than_ago", "30d", true],
        [NOW - 30 * DAY + 1, "more_than_ago", "30d", false],
        [NOW - 400 * DAY, "more_than_ago", "30d", true],
        [NOW + DAY, "more_than_ago", "30d", false],
        [t("2025-05-10T12:00:00.000Z"), "more_than_ago", "1y", true],
        [t("2025-05-10T12:00:00.001Z"), "more_than_ago", "1y", false],
      ]);
    });

    it(`${field}: in_next D is now ≤ t < now + D`, () => {
      checkRows(field, [
        [NOW, "in_next", "7d", true],
        [NOW - 1, "in_next", "7d", false],
        [NOW + 7 * DAY - 1, "in_next", "7d", true],
        [NOW + 7 * DAY, "in_next", "7d", false],
        [NOW + 15 * MIN - 1, "in_next", "15m", true],
        [NOW + 15 * MIN, "in_next", "15m", false],
      ]);
    });
  }

  it("a missing date satisfies only is_not_set", () => {
    const ops: [string, unknown][] = [
      ["before", "2100-01-01"],
      ["after", "1900-01-01"],
      ["on", "2026-05-10"],
      ["between", ["1900-01-01", "2100-01-01"]],
      ["in_last", "1000w"],
      ["more_than_ago", "1m"],
      ["in_next", "1000w"],
      ["anniversary_in_next", "1y"],
      ["is_set", undefined],
    ];
    for (const stored of [undefined, null]) {
      checkRows(
        "birthday",
        missingRows(stored, [...ops.map(([op, v]): [string, unknown, boolean] => [op, v, false])]),
      );
      checkRows("birthday", [[stored, "is_not_set", undefined, true]]);
    }
  });

  it("relative days are calendar days in the workspace zone (Paris, spring change)", () => {
    // now = 12:00 CEST on 29 March; 1d back is 12:00 CET on 28 March = 11:00Z, 23 hours earlier.
    const paris = { tz: "Europe/Paris", now: "2026-03-29T10:00:00.000Z" };
    checkRows(
      "created_at",
      [
        [t("2026-03-28T11:00:00.000Z"), "in_last", "1d", false],
        [t("2026-03-28T11:00:00.001Z"), "in_last", "1d", true],
        [t("2026-03-28T10:30:00.000Z"), "in_last", "1d", false],
        [t("2026-03-28T10:30:00.000Z"), "in_last", "24h", true],
        [t("2026-03-28T11:00:00.000Z"), "more_than_ago", "1d", true],
        [t("2026-03-28T11:00:00.001Z"), "more_than_ago", "1d", false],
      ],
      paris,
    );
    // The same instants in a UTC workspace: 1d is 24 hours.
    checkRows("created_at", [[t("2026-03-28T10:30:00.000Z"), "in_last", "1d", true]], {
      now: "2026-03-29T10:00:00.000Z",
    });
  });

  it("in_next across the autumn change in New York is 25 hours", () => {
    // now = 12:00 EDT on 31 October (16:00Z); 1d later is 12:00 EST on 1 November (17:00Z).
    const ny = { tz: "America/New_York", now: "2026-10-31T16:00:00.000Z" };
    checkRows(
      "created_at",
      [
        [t("2026-11-01T16:59:59.999Z"), "in_next", "1d", true],
        [t("2026-11-01T17:00:00.000Z"), "in_next", "1d", false],
      ],
      ny,
    );
  });

  it("a month back from 31 March clamps to the end of 28 February", () => {
    const sc = { now: "2026-03-31T10:00:00.000Z" };
    checkRows(
      "created_at",
      [
        [t("2026-02-28T23:59:59.999Z"), "in_last", "1mo", false],
        [t("2026-03-01T00:00:00.000Z"), "in_last", "1mo", true],
        [t("2026-02-28T23:59:59.999Z"), "more_than_ago", "1mo", true],
        [t("2026-03-01T00:00:00.000Z"), "more_than_ago", "1mo", false],
      ],
      sc,
    );
  });

  it("a year forward from 29 February is the end of 28 February", () => {
    checkRows(
      "birthday",
      [
        [t("2025-02-28T23:59:59.998Z"), "in_next", "1y", true],
        [t("2025-02-28T23:59:59.999Z"), "in_next", "1y", false],
      ],
      { now: "2024-02-29T10:00:00.000Z" },
    );
  });
});

describe("date fields: absolute operators", () => {
  it("UTC: before/after/on/between with dates cover whole days, with instants exact points", () => {
    checkRows("created_at", [
      [t("2026-05-09T23:59:59.999Z"), "before", "2026-05-10", true],
      [t("2026-05-10T00:00:00.000Z"), "before", "2026-05-10", false],
      [t("2026-05-10T05:59:59.999Z"), "before", "2026-05-10T06:00:00Z", true],
      [t("2026-05-10T06:00:00.000Z"), "before", "2026-05-10T06:00:00Z", false],
      [t("2026-05-10T23:59:59.999Z"), "after", "2026-05-10", false],
      [t("2026-05-11T00:00:00.000Z"), "after", "2026-05-10", true],
      [t("2026-05-10T06:00:00.000Z"), "after", "2026-05-10T06:00:00Z", false],
      [t("2026-05-10T06:00:00.001Z"), "after", "2026-05-10T06:00:00Z", true],
      [t("2026-05-10T00:00:00.000Z"), "on", "2026-05-10", true],
      [t("2026-05-10T23:59:59.999Z"), "on", "2026-05-10", true],
      [t("2026-05-09T23:59:59.999Z"), "on", "2026-05-10", false],
      [t("2026-05-11T00:00:00.000Z"), "on", "2026-05-10", false],
      [t("2026-05-10T06:00:00.000Z"), "on", "2026-05-10T08:00:00+02:00", true],
      [t("2026-05-10T06:00:00.001Z"), "on", "2026-05-10T06:00:00Z", false],
      [t("2026-05-01T00:00:00.000Z"), "between", ["2026-05-01", "2026-05-10"], true],
      [t("2026-05-10T23:59:59.999Z"), "between", ["2026-05-01", "2026-05-10"], true],
      [t("2026-04-30T23:59:59.999Z"), "between", ["2026-05-01", "2026-05-10"], false],
      [t("2026-05-11T00:00:00.000Z"), "between", ["2026-05-01", "2026-05-10"], false],
      [t("2026-05-01T10:00:00.000Z"), "between", ["2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"], true],
      [t("2026-05-01T11:00:00.000Z"), "between", ["2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"], true],
      [t("2026-05-01T09:59:59.999Z"), "between", ["2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"], false],
      [t("2026-05-01T11:00:00.001Z"), "between", ["2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"], false],
      // An instant start and a date end: up to the end of that day.
      [t("2026-05-01T23:59:59.999Z"), "between", ["2026-05-01T10:00:00Z", "2026-05-01"], true],
      [t("2026-05-01T09:59:59.999Z"), "between", ["2026-05-01T10:00:00Z", "2026-05-01"], false],
    ]);
  });

  it("non-UTC workspace: days are the zone's days", () => {
    // 10 May 2026 in Paris runs from 9 May 22:00Z to 10 May 21:59:59.999Z.
    checkRows(
      "created_at",
      [
        [t("2026-05-09T21:59:59.999Z"), "before", "2026-05-10", true],
        [t("2026-05-09T22:00:00.000Z"), "before", "2026-05-10", false],
        [t("2026-05-10T21:59:59.999Z"), "after", "2026-05-10", false],
        [t("2026-05-10T22:00:00.000Z"), "after", "2026-05-10", true],
        [t("2026-05-09T22:00:00.000Z"), "on", "2026-05-10", true],
        [t("2026-05-10T21:59:59.999Z"), "on", "2026-05-10", true],
        [t("2026-05-10T22:00:00.000Z"), "on", "2026-05-10", false],
        [t("2026-05-10T23:00:00.000Z"), "between", ["2026-05-01", "2026-05-10"], false],
        // An instant with an offset means the same in any zone.
        [t("2026-05-10T05:59:59.999Z"), "before", "2026-05-10T06:00:00Z", true],
        // Without an offset, wall-clock time in the zone: 08:00 in Paris is 06:00Z.
        [t("2026-05-10T05:59:59.999Z"), "before", "2026-05-10T08:00:00", true],
        [t("2026-05-10T06:00:00.000Z"), "before", "2026-05-10T08:00:00", false],
      ],
      { tz: "Europe/Paris" },
    );
  });

  it("DST days are 23 or 25 hours long", () => {
    const paris = { tz: "Europe/Paris" };
    checkRows(
      "created_at",
      [
        // 29 March 2026 (23 h): 28 March 23:00Z to 29 March 21:59:59.999Z.
        [t("2026-03-28T22:59:59.999Z"), "on", "2026-03-29", false],
        [t("2026-03-28T23:00:00.000Z"), "on", "2026-03-29", true],
        [t("2026-03-29T21:59:59.999Z"), "on", "2026-03-29", true],
        [t("2026-03-29T22:00:00.000Z"), "on", "2026-03-29", false],
        [t("2026-03-29T22:00:00.000Z"), "after", "2026-03-29", true],
        // 25 October 2026 (25 h): 24 October 22:00Z to 25 October 22:59:59.999Z.
        [t("2026-10-24T22:00:00.000Z"), "on", "2026-10-25", true],
        [t("2026-10-25T22:59:59.999Z"), "on", "2026-10-25", true],
        [t("2026-10-25T23:00:00.000Z"), "on", "2026-10-25", false],
        [t("2026-10-25T22:59:59.999Z"), "between", ["2026-10-25", "2026-10-25"], true],
        [t("2026-10-24T21:59:59.999Z"), "between", ["2026-10-25", "2026-10-25"], false],
      ],
      paris,
    );
    checkRows(
      "created_at",
      [
        // 1 November 2026 in New York (25 h): 04:00Z to 2 November 04:59:59.999Z.
        [t("2026-11-01T03:59:59.999Z"), "on", "2026-11-01", false],
        [t("2026-11-01T04:00:00.000Z"), "on", "2026-11-01", true],
        [t("2026-11-02T04:59:59.999Z"), "on", "2026-11-01", true],
        [t("2026-11-02T05:00:00.000Z"), "on", "2026-11-01", false],
        [t("2026-11-02T04:59:59.999Z"), "before", "2026-11-02", true],
        [t("2026-11-02T05:00:00.000Z"), "before", "2026-11-02", false],
      ],
      { tz: "America/New_York" },
    );
  });

  it("stored values: a date is the start of its day in the zone, an instant without offset is local", () => {
    const paris = { tz: "Europe/Paris" };
    checkRows(
      "birthday",
      [
        ["2026-05-10", "on", "2026-05-10", true],
        ["2026-05-10", "before", "2026-05-09T22:00:00.001Z", true],
        ["2026-05-10", "before", "2026-05-09T22:00:00.000Z", false],
        ["2026-05-10T10:00:00", "after", "2026-05-10T07:59:59.999Z", true],
        ["2026-05-10T10:00:00", "after", "2026-05-10T08:00:00.000Z", false],
        ["2026-05-10T10:00:00+00:00", "after", "2026-05-10T09:59:59.999Z", true],
        [t("2026-05-09T22:30:00.000Z"), "on", "2026-05-10", true],
      ],
      paris,
    );
    checkRows("birthday", [
      ["2026-05-10", "before", "2026-05-10T00:00:00.001Z", true],
      ["2026-05-10", "before", "2026-05-10T00:00:00.000Z", false],
      [t("2026-05-09T22:30:00.000Z"), "on", "2026-05-10", false],
    ]);
  });
});

describe("date fields: anniversary_in_next", () => {
  const ann = (d: string) => cond("birthday", "anniversary_in_next", d);
  const check = (birthday: unknown, d: string, now: string, tz = "UTC") =>
    holds(ann(d), { contact: { fields: { birthday: birthday as string } }, now, tz });

  it("today counts, even after the day's start; the last day counts if the window reaches into it", () => {
    const now = "2026-05-10T12:00:00.000Z";
    expect(check("1990-05-10", "7d", now)).toBe(true);
    expect(check("1990-05-10T00:00:00Z", "1m", now)).toBe(true);
    expect(check("1990-05-16", "7d", now)).toBe(true);
    // The window ends 17 May 12:00, so 17 May overlaps it.
    expect(check("1990-05-17", "7d", now)).toBe(true);
    expect(check("1990-05-18", "7d", now)).toBe(false);
    expect(check("1990-05-09", "7d", now)).toBe(false);
    expect(check("1990-05-09", "1y", now)).toBe(true);
  });

  it("a window ending exactly at midnight does not reach the next day", () => {
    const now = "2026-05-10T00:00:00.000Z";
    expect(check("1990-05-16", "7d", now)).toBe(true);
    expect(check("1990-05-17", "7d", now)).toBe(false);
    expect(check("1990-05-10", "1m", now)).toBe(true);
    expect(check("1990-05-11", "1d", now)).toBe(false);
  });

  it("29 February falls on 28 February in common years, on 29 February in leap years", () => {
    expect(check("2000-02-29", "1d", "2026-02-28T00:00:00.000Z")).toBe(true);
    expect(check("2000-02-29", "1d", "2026-02-28T23:59:59.999Z")).toBe(true);
    expect(check("2000-02-29", "1d", "2026-03-01T00:00:00.000Z")).toBe(false);
    expect(check("2000-02-29", "2d", "2026-02-27T12:00:00.000Z")).toBe(true);
    expect(check("2000-02-29", "1d", "2028-02-28T00:00:00.000Z")).toBe(false);
    expect(check("2000-02-29", "1d", "2028-02-28T12:00:00.000Z")).toBe(true);
    expect(check("2000-02-29", "1d", "2028-02-29T12:00:00.000Z")).toBe(true);
    expect(check("2001-02-28", "1d", "2028-02-28T00:00:00.000Z")).toBe(true);
    expect(check("2001-03-01", "1d", "2026-02-28T00:00:00.000Z")).toBe(false);
  });

  it("wraps from December into January", () => {
    const now = "2026-12-28T12:00:00.000Z";
    expect(check("1985-01-03", "7d", now)).toBe(true);
    expect(check("1985-01-04", "7d", now)).toBe(true);
    expect(check("1985-01-05", "7d", now)).toBe(false);
    expect(check("1985-12-31", "7d", now)).toBe(true);
    expect(check("1985-12-27", "7d", now)).toBe(false);
    expect(check("1985-12-27", "1y", now)).toBe(true);
  });

  it("reads the month and day in the workspace zone", () => {
    // 22:30Z on 10 May is already 11 May in Paris; the window is 11 May 00:30 to 17 May 00:30 there.
    const now = "2026-05-10T22:30:00.000Z";
    expect(check("1990-05-17", "6d", now, "Europe/Paris")).toBe(true);
    expect(check("1990-05-10", "6d", now, "Europe/Paris")).toBe(false);
    expect(check("1990-05-17", "6d", now, "UTC")).toBe(false);
    expect(check("1990-05-10", "6d", now, "UTC")).toBe(true);
    // A stored instant belongs to the day it falls on in the zone.
    expect(check("1990-05-16T23:30:00Z", "1d", "2026-05-17T06:00:00.000Z", "Europe/Paris")).toBe(true);
    expect(check("1990-05-16T23:30:00Z", "1d", "2026-05-17T06:00:00.000Z", "UTC")).toBe(false);
  });

  it("a window of minutes reaches into tomorrow just before midnight", () => {
    expect(check("1990-05-11", "1m", "2026-05-10T23:59:30.000Z")).toBe(true);
    expect(check("1990-05-11", "1m", "2026-05-10T23:58:59.999Z")).toBe(false);
    expect(check("1990-05-10", "1m", "2026-05-10T23:59:30.000Z")).toBe(true);
  });

  it("works on built-in date fields, and a missing value never has an anniversary", () => {
    expect(
      holds(cond("created_at", "anniversary_in_next", "1w"), { contact: { created_at: "2020-05-12" } }),
    ).toBe(true);
    expect(holds(ann("1y"), { contact: {} })).toBe(false);
    expect(holds({ type: "not", condition: ann("1y") }, { contact: {} })).toBe(true);
  });
});

describe("string_list fields", () => {
  const rows: Row[] = [
    [["VIP ", "Newsletter"], "contains", "vip", true],
    [["VIP ", "Newsletter"], "contains", " NEWSLETTER", true],
    [["VIP ", "Newsletter"], "contains", "vi", false],
    [["VIP ", "Newsletter"], "not_contains", "x", true],
    [["VIP ", "Newsletter"], "not_contains", "Vip", false],
    [["VIP ", "Newsletter"], "contains_any", ["x", "vip"], true],
    [["VIP ", "Newsletter"], "contains_any", ["x", "news"], false],
    [["VIP ", "Newsletter"], "contains_all", ["vip", "NEWSLETTER"], true],
    [["VIP ", "Newsletter"], "contains_all", ["vip", "x"], false],
    [["VIP ", "Newsletter"], "contains_none", ["x", "y"], true],
    [["VIP ", "Newsletter"], "contains_none", ["x", "newsletter"], false],
    [["VIP ", "Newsletter"], "is_empty", undefined, false],
    [["VIP ", "Newsletter"], "is_not_empty", undefined, true],
    [["VIP ", "Newsletter"], "is_set", undefined, true],
    [["VIP ", "Newsletter"], "is_not_set", undefined, false],
    [["a", "A", " a"], "contains_all", ["a"], true],
    [["a", "A", " a"], "contains_none", ["b"], true],
    [["a", ""], "is_not_empty", undefined, true],
  ];

  for (const field of ["tags", "interests"]) {
    it(`${field}: whole elements compared, ignoring case and spaces`, () => {
      checkRows(field, rows);
    });

    it(`${field}: missing, null, [] and lists of blanks are empty`, () => {
      for (const stored of [undefined, null, [], ["", "  "]]) {
        checkRows(
          field,
          missingRows(stored, [
            ["not_contains", "x", true],
            ["contains_none", ["x"], true],
            ["is_empty", undefined, true],
            ["is_not_set", undefined, true],
            ["contains", "x", false],
            ["contains", "", false],
            ["contains_any", ["x"], false],
            ["contains_all", ["x"], false],
            ["is_not_empty", undefined, false],
            ["is_set", undefined, false],
          ]),
        );
      }
    });
  }
});

describe("contacts", () => {
  it("an upsert replaces the whole profile: fields left out become not set", () => {
    const eng = new Engine({ fields: CUSTOM, clock: { now: () => NOW }, defaultSegments: false });
    eng.upsertContact({ id: "c", country: "US", tags: ["a"], fields: { plan: "pro", score: 1 } });
    eng.upsertContact({ id: "c", city: "Paris" });
    for (const f of ["country", "tags", "plan", "score"]) {
      expect(eng.matches("c", eng.validate(cond(f, "is_not_set"))), f).toBe(true);
    }
    expect(eng.matches("c", eng.validate(cond("city", "eq", "paris")))).toBe(true);
    expect(eng.contactCount).toBe(1);
  });

  it("an unknown contact matches nothing, not even a negative rule", () => {
    const eng = new Engine({ fields: CUSTOM, clock: { now: () => NOW }, defaultSegments: false });
    eng.upsertContact({ id: "c" });
    const node = eng.validate({ type: "not", condition: cond("country", "is_set") });
    expect(eng.matches("c", node)).toBe(true);
    expect(eng.matches("nobody", node)).toBe(false);
    expect(eng.evaluate(node).has("nobody")).toBe(false);
    expect(eng.evaluate(node).count).toBe(1);
  });
});

describe("groups", () => {
  it("and, or and not combine their children", () => {
    const us = cond("country", "eq", "US");
    const pro = cond("plan", "eq", "pro");
    const contact = { country: "us", fields: { plan: "free" } };
    expect(holds({ type: "and", conditions: [us, pro] }, { contact })).toBe(false);
    expect(holds({ type: "or", conditions: [us, pro] }, { contact })).toBe(true);
    expect(holds({ type: "and", conditions: [us, { type: "not", condition: pro }] }, { contact })).toBe(true);
    expect(holds({ type: "not", condition: { type: "not", condition: us } }, { contact })).toBe(true);
    expect(holds({ type: "and", conditions: [us] }, { contact })).toBe(true);
    expect(holds({ type: "or", conditions: [pro] }, { contact })).toBe(false);
  });
});

describe("segment conditions", () => {
  function build(): Engine {
    const eng = new Engine({ fields: CUSTOM, clock: { now: () => NOW }, defaultSegments: false });
    eng.upsertContact({ id: "a", country: "US", fields: { plan: "pro" } });
    eng.upsertContact({ id: "b", country: "us ", fields: { plan: "free" } });
    eng.upsertContact({ id: "c", country: "CA", fields: { plan: "Pro" } });
    eng.upsertContact({ id: "d" });
    eng.defineSegment({ id: "us", rule: cond("country", "eq", "US") });
    eng.defineSegment({
      id: "pro_us",
      rule: {
        type: "and",
        conditions: [{ type: "segment", op: "in", segment: "us" }, cond("plan", "eq", "pro")],
      },
    });
    eng.defineSegment({ id: "rest", rule: { type: "segment", op: "not_in", segment: "pro_us" } });
    return eng;
  }
  const ids = (eng: Engine, rule: object) => eng.evaluate(rule).ids().sort();

  it("in and not_in, through a chain of references", () => {
    const eng = build();
    expect(eng.members("us").ids().sort()).toEqual(["a", "b"]);
    expect(eng.members("pro_us").ids().sort()).toEqual(["a"]);
    expect(eng.members("rest").ids().sort()).toEqual(["b", "c", "d"]);
    expect(ids(eng, { type: "segment", op: "in", segment: "rest" })).toEqual(["b", "c", "d"]);
    expect(ids(eng, { type: "segment", op: "not_in", segment: "us" })).toEqual(["c", "d"]);
    for (const id of ["a", "b", "c", "d"]) {
      expect(eng.matches(id, "rest"), id).toBe(id !== "a");
      expect(eng.explain(id, "rest").result, id).toBe(id !== "a");
    }
  });

  it("follows a referenced segment's new rule and its members' new fields", () => {
    const eng = build();
    eng.defineSegment({ id: "us", rule: cond("country", "in", ["CA"]) });
    expect(eng.members("pro_us").ids()).toEqual(["c"]);
    expect(eng.members("rest").ids().sort()).toEqual(["a", "b", "d"]);
    eng.upsertContact({ id: "d", country: "ca", fields: { plan: "PRO " } });
    expect(eng.members("pro_us").ids().sort()).toEqual(["c", "d"]);
    expect(eng.matches("d", { type: "segment", op: "not_in", segment: "pro_us" })).toBe(false);
  });

  it("rejects self references and cycles, keeping the old rule", () => {
    const eng = build();
    const attempt = (id: string, rule: object) => {
      try {
        eng.defineSegment({ id, rule });
      } catch (e) {
        expect(e).toBeInstanceOf(RuleValidationError);
        return (e as RuleValidationError).issues;
      }
      throw new Error("accepted");
    };
    expect(attempt("us", { type: "segment", op: "in", segment: "us" })).toEqual([
      { path: "rule.segment", message: 'segment "us" cannot refer to itself' },
    ]);
    expect(
      attempt("us", {
        type: "or",
        conditions: [cond("country", "eq", "US"), { type: "segment", op: "not_in", segment: "rest" }],
      }),
    ).toEqual([
      {
        path: "rule.conditions[1].segment",
        message: 'reference to "rest" makes a cycle: us → rest → pro_us → us',
      },
    ]);
    expect(attempt("x", { type: "segment", op: "in", segment: "nope" })).toEqual([
      { path: "rule.segment", message: 'unknown segment "nope"' },
    ]);
    expect(eng.members("us").ids().sort()).toEqual(["a", "b"]);
    expect(eng.segment("x")).toBeUndefined();
  });

  it("a segment in use cannot be removed; an unused one can", () => {
    const eng = build();
    expect(() => eng.removeSegment("us")).toThrow();
    expect(() => eng.removeSegment("pro_us")).toThrow();
    eng.removeSegment("rest");
    eng.removeSegment("pro_us");
    eng.removeSegment("us");
    expect(eng.segmentIds()).toEqual([]);
    expect(() => eng.validate({ type: "segment", op: "in", segment: "us" })).toThrow(RuleValidationError);
  });
});
