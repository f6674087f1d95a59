/**
 * Conditions on computed fields, compiled as the event conditions they stand for. A
 * rule is expanded once, when a segment is defined or a query compiled: every field
 * node on a computed field becomes its event node, so what the rule reads (the event
 * type), whether it moves with time and its timers are those of the event condition.
 * The event node remembers the field node it came from, for explain.
 */
import { type ComputedDefinition, computedCondition } from "../rules/computed.ts";
import type { EventNode, FieldNode, RuleNode } from "../rules/schema.ts";

interface Origin {
  node: FieldNode;
  definition: ComputedDefinition;
}

const origins = new WeakMap<EventNode, Origin>();

/** The field condition an event node was expanded from, if it was. */
export function computedOrigin(n: EventNode): Origin | undefined {
  return origins.get(n);
}

/** The rule with its conditions on computed fields expanded; the same object when it has none. */
export function expandComputed(rule: RuleNode, defs: ReadonlyMap<string, ComputedDefinition>): RuleNode {
  if (defs.size === 0) return rule;
  switch (rule.type) {
    case "and":
    case "or": {
      const conditions = rule.conditions.map((c) => expandComputed(c, defs));
      return conditions.every((c, i) => c === rule.conditions[i]) ? rule : { type: rule.type, conditions };
    }
    case "not": {
      const condition = expandComputed(rule.condition, defs);
      return condition === rule.condition ? rule : { type: "not", condition };
    }
    case "field": {
      const definition = defs.get(rule.field);
      if (definition === undefined) return rule;
      const e = computedCondition(definition, rule);
      origins.set(e, { node: rule, definition });
      return e;
    }
    default:
      return rule;
  }
}
