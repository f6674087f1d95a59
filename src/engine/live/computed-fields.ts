/**
 * The fields rules may test: declared custom fields and computed fields (docs/rules.md).
 * Contacts hold values of the stored ones only; a condition on a computed field is
 * expanded into its event condition before a rule compiles, so segments reading it
 * depend on that event type like any other.
 */
import type { ComputedDefinition } from "../../rules/computed.ts";
import { type FieldDef, FieldRegistry } from "../../rules/fields.ts";
import type { RuleNode } from "../../rules/schema.ts";
import { expandComputed } from "../computed-origin.ts";

export class FieldBook {
  /** Every field rules may test, computed ones included. */
  registry: FieldRegistry;
  /** The fields contacts hold values of: the registry without the computed fields. */
  stored: FieldRegistry;
  /** Computed fields by key: rules are compiled with conditions on them expanded. */
  readonly computed = new Map<string, ComputedDefinition>();

  constructor(fields: FieldDef[]) {
    this.registry = new FieldRegistry(fields);
    this.stored = this.registry;
  }

  /** Declares a custom field; returns the stored fields for the contact table. */
  define(def: FieldDef): FieldRegistry {
    this.registry = this.registry.withField(def);
    this.stored = this.stored.withField(def);
    return this.stored;
  }

  defineComputed(def: FieldDef, computed: ComputedDefinition): void {
    this.registry = this.registry.withField(def);
    this.computed.set(def.key, computed);
  }

  /** Removes a computed field, given the segments whose rules name it (refused when any). */
  removeComputed(key: string, uses: string[]): void {
    if (!this.computed.has(key)) throw new Error(`"${key}" is not a computed field`);
    if (uses.length > 0) throw new Error(`field "${key}" is used by ${uses.map((u) => `"${u}"`).join(", ")}`);
    this.computed.delete(key);
    this.registry = new FieldRegistry(this.registry.custom().filter((f) => f.key !== key));
  }

  /** A rule as compiled: conditions on computed fields expanded to their event conditions. */
  expand(rule: RuleNode): RuleNode {
    return expandComputed(rule, this.computed);
  }
}
