/**
 * Computed fields (docs/rules.md, "Computed fields"): a custom field whose value is a
 * measure of the contact's events, `{event, where?, window?, measure}`, the same parts
 * as an event condition. A condition on such a field means the event condition with
 * the field condition's operator and value, so it is exact at every instant for the
 * same reasons.
 */
import { z } from "zod";
import { RuleValidationError } from "./errors.ts";
import type { FieldRegistry, FieldType } from "./fields.ts";
import {
  type EventNode,
  EventType,
  type FieldNode,
  Measure,
  measureType,
  PropertyFilter,
  type RuleNode,
  Window,
} from "./schema.ts";
import { printRule } from "./text/print.ts";
import { validateRule } from "./validate.ts";

export const ComputedDefinition = z.strictObject({
  event: EventType,
  where: z.array(PropertyFilter).max(50).optional(),
  window: Window.optional(),
  measure: Measure,
});
export type ComputedDefinition = z.infer<typeof ComputedDefinition>;

/** The field type a definition's measure has: number, date (first_at, last_at) or string (most_frequent). */
export function computedType(def: ComputedDefinition): FieldType {
  return measureType(def.measure.fn);
}

/** The event condition a field condition on a computed field stands for. */
export function computedCondition(def: ComputedDefinition, node: FieldNode): EventNode {
  return {
    type: "event",
    event: def.event,
    ...(def.where !== undefined ? { where: def.where } : {}),
    ...(def.window !== undefined ? { window: def.window } : {}),
    measure: def.measure,
    op: node.op,
    ...(node.value !== undefined ? { value: node.value } : {}),
  };
}

/** The definition in the rule text form, e.g. `sum(order_placed.amount, last 90d)`. */
export function computedText(def: ComputedDefinition): string {
  const text = printRule(computedCondition(def, { type: "field", field: "", op: "is_set" }));
  return text.endsWith(" is set") ? text.slice(0, -" is set".length) : text;
}

/**
 * Checks a definition as an event condition would be (event type, `where` filters,
 * window, measure and its property), and that `type`, the field's declared type, is
 * the measure's. Errors name paths under `root` (`computed.measure.property`);
 * throws RuleValidationError.
 */
export function validateComputed(
  input: unknown,
  ctx: { type: unknown; fields: FieldRegistry; timeZone: string; root?: string; typePath?: string },
): ComputedDefinition {
  const root = ctx.root ?? "computed";
  const parsed = ComputedDefinition.safeParse(input);
  if (!parsed.success) {
    throw new RuleValidationError(
      parsed.error.issues.map((i) => ({
        path: [root, ...i.path].reduce<string>(
          (p, k) => (typeof k === "number" ? `${p}[${k}]` : p === "" ? String(k) : `${p}.${String(k)}`),
          "",
        ),
        message: i.message,
      })),
    );
  }
  const def = parsed.data;
  validateRule(
    { type: "event", ...def, op: "is_set" },
    { fields: ctx.fields, timeZone: ctx.timeZone, segments: new Map(), root },
  );
  const type = computedType(def);
  if (ctx.type !== type) {
    throw new RuleValidationError([
      {
        path: ctx.typePath ?? "type",
        message: `a computed field of measure "${def.measure.fn}" has type "${type}", not ${JSON.stringify(ctx.type)}`,
      },
    ]);
  }
  return def;
}

/** The keys of the fields a rule's field conditions name. */
export function fieldRefs(rule: RuleNode, out: Set<string> = new Set()): Set<string> {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) fieldRefs(c, out);
      break;
    case "not":
      fieldRefs(rule.condition, out);
      break;
    case "field":
      out.add(rule.field);
      break;
    default:
      break;
  }
  return out;
}
