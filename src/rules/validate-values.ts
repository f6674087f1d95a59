/**
 * The value half of rule validation: a condition's value against its operator and type,
 * durations, dates and windows, and event property filters (whose type comes from the
 * value itself). validate.ts walks the rule and calls these; every problem is recorded
 * with its path, not thrown.
 */
import { CALENDAR_PERIODS, isCalendarPeriod, WEEKDAYS } from "./calendar.ts";
import { formatPath, type PathPart, type RuleIssue } from "./errors.ts";
import type { FieldType } from "./fields.ts";
import { DATE_OPS, isNoValueOp, type Op } from "./operators.ts";
import type { PropertyFilter, Window } from "./schema.ts";
import { parseDuration, parseTimeValue, shift } from "./time.ts";

export class ValueChecker {
  constructor(
    /** Workspace time zone (IANA), for dates without one. */
    private readonly timeZone: string,
    private readonly root: string,
    private readonly issues: RuleIssue[],
  ) {}

  protected fail(path: PathPart[], message: string): void {
    this.issues.push({ path: formatPath(this.root, path), message });
  }

  protected value(type: FieldType, op: Op, value: unknown, vpath: PathPart[]): void {
    if (isNoValueOp(op)) {
      if (value !== undefined) this.fail(vpath, `"${op}" takes no value`);
      return;
    }
    if (value === undefined) {
      this.fail(vpath, `"${op}" needs a value`);
      return;
    }
    switch (type) {
      case "string":
        if (op === "in" || op === "not_in") this.stringArray(value, vpath);
        else if (typeof value !== "string") this.fail(vpath, "expected a string");
        return;
      case "number":
        if (op === "between") this.numberPair(value, vpath);
        else if (typeof value !== "number" || !Number.isFinite(value)) this.fail(vpath, "expected a number");
        return;
      case "boolean":
        if (typeof value !== "boolean") this.fail(vpath, "expected true or false");
        return;
      case "date":
        this.dateValue(op, value, vpath);
        return;
      case "string_list":
        if (op === "contains" || op === "not_contains") {
          if (typeof value !== "string") this.fail(vpath, "expected a string");
        } else this.stringArray(value, vpath);
        return;
    }
  }

  private stringArray(value: unknown, vpath: PathPart[]): void {
    if (!Array.isArray(value) || value.length === 0) {
      this.fail(vpath, "expected a non-empty array of strings");
      return;
    }
    value.forEach((x, i) => {
      if (typeof x !== "string") this.fail([...vpath, i], "expected a string");
    });
  }

  private numberPair(value: unknown, vpath: PathPart[]): void {
    if (
      !Array.isArray(value) ||
      value.length !== 2 ||
      !value.every((x) => typeof x === "number" && Number.isFinite(x))
    ) {
      this.fail(vpath, "expected [low, high], two numbers");
      return;
    }
    if (value[0] > value[1]) this.fail(vpath, "low must not be greater than high");
  }

  protected duration(value: unknown, vpath: PathPart[]): boolean {
    if (typeof value !== "string") {
      this.fail(vpath, 'expected a duration like "30d" (units m, h, d, w, mo, y)');
      return false;
    }
    try {
      parseDuration(value);
      return true;
    } catch (e) {
      this.fail(vpath, (e as Error).message);
      return false;
    }
  }

  private time(value: unknown, vpath: PathPart[]): { start: number; end: number } | null {
    if (typeof value !== "string") {
      this.fail(vpath, "expected an ISO 8601 date or instant");
      return null;
    }
    try {
      return parseTimeValue(value, this.timeZone);
    } catch (e) {
      this.fail(vpath, (e as Error).message);
      return null;
    }
  }

  private dateValue(op: Op, value: unknown, vpath: PathPart[]): void {
    switch (op) {
      case "before":
      case "after":
      case "on":
        this.time(value, vpath);
        return;
      case "between": {
        if (!Array.isArray(value) || value.length !== 2) {
          this.fail(vpath, "expected [from, to], two dates or instants");
          return;
        }
        const a = this.time(value[0], [...vpath, 0]);
        const b = this.time(value[1], [...vpath, 1]);
        if (a && b && a.start > b.end) this.fail(vpath, "from must not be after to");
        return;
      }
      case "during":
      case "anniversary_during":
        if (!isCalendarPeriod(value))
          this.fail(vpath, `expected a calendar period: ${CALENDAR_PERIODS.join(", ")}`);
        return;
      case "weekday_in":
        if (
          !Array.isArray(value) ||
          value.length === 0 ||
          !value.every((d) => (WEEKDAYS as readonly unknown[]).includes(d))
        ) {
          this.fail(vpath, `expected a non-empty array of days: ${WEEKDAYS.join(", ")}`);
        }
        return;
      default:
        this.duration(value, vpath);
    }
  }

  protected window(w: Window, wpath: PathPart[]): void {
    if ("in_last" in w) this.duration(w.in_last, [...wpath, "in_last"]);
    else if ("between_ago" in w) {
      const ok1 = this.duration(w.between_ago[0], [...wpath, "between_ago", 0]);
      const ok2 = this.duration(w.between_ago[1], [...wpath, "between_ago", 1]);
      if (ok1 && ok2) {
        // Either order is accepted; durations of the same length make a window that is
        // always empty, which is a mistake. Compared at a fixed instant in UTC:
        // calendar units have no single length.
        const ref = Date.UTC(2000, 0, 31);
        const a = shift(ref, parseDuration(w.between_ago[0]), -1, "UTC");
        const b = shift(ref, parseDuration(w.between_ago[1]), -1, "UTC");
        if (a === b) this.fail([...wpath, "between_ago"], "the two durations must differ in length");
      }
    } else if ("after" in w) this.time(w.after, [...wpath, "after"]);
    else if ("before" in w) this.time(w.before, [...wpath, "before"]);
    else if ("during" in w) return;
    else {
      const a = this.time(w.between[0], [...wpath, "between", 0]);
      const b = this.time(w.between[1], [...wpath, "between", 1]);
      if (a && b && a.start > b.end) this.fail([...wpath, "between"], "from must not be after to");
    }
  }

  protected where(filters: PropertyFilter[] | undefined, path: PathPart[]): void {
    filters?.forEach((f, i) => this.propertyFilter(f, [...path, "where", i]));
  }

  /** Property filters are typed by the property's JSON value, so the value's shape picks the type. */
  private propertyFilter(f: PropertyFilter, fpath: PathPart[]): void {
    const op = f.op as Op;
    const vpath = [...fpath, "value"];
    if (op === "is_empty" || op === "is_not_empty") {
      this.fail([...fpath, "op"], `"${op}" does not apply to event properties (use is_set or is_not_set)`);
      return;
    }
    if (isNoValueOp(op)) {
      if (f.value !== undefined) this.fail(vpath, `"${op}" takes no value`);
      return;
    }
    if (f.value === undefined) {
      this.fail(vpath, `"${op}" needs a value`);
      return;
    }
    const v = f.value;
    switch (op) {
      case "eq":
      case "neq":
        if (
          !(typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)))
        ) {
          this.fail(vpath, "expected a string, number or boolean");
        }
        return;
      case "in":
      case "not_in":
        if (
          !Array.isArray(v) ||
          v.length === 0 ||
          !v.every((x) => typeof x === "string" || (typeof x === "number" && Number.isFinite(x)))
        ) {
          this.fail(vpath, "expected a non-empty array of strings or numbers");
        }
        return;
      case "contains":
      case "not_contains":
      case "starts_with":
      case "ends_with":
        if (typeof v !== "string") this.fail(vpath, "expected a string");
        return;
      case "gt":
      case "gte":
      case "lt":
      case "lte":
        if (typeof v !== "number" || !Number.isFinite(v)) this.fail(vpath, "expected a number");
        return;
      case "between":
        if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number"))
          this.numberPair(v, vpath);
        else this.dateValue("between", v, vpath);
        return;
      case "contains_any":
      case "contains_all":
      case "contains_none":
        this.stringArray(v, vpath);
        return;
      default:
        if ((DATE_OPS as readonly string[]).includes(op)) {
          this.dateValue(op, v, vpath);
          return;
        }
        this.fail([...fpath, "op"], `"${op}" does not apply to event properties`);
    }
  }
}
