/**
 * The values of computed fields, read with the compiled event condition each stands
 * for, so a contact shows exactly the value rules test.
 */
import type { ComputedDefinition } from "../rules/computed.ts";
import { type CompileEnv, compile } from "./compile.ts";
import { expandComputed } from "./computed-origin.ts";
import type { JsonValue } from "./types.ts";

/** Per contact index, every computed field's value at `env.now` (null when missing). */
export function computedValues(
  env: CompileEnv,
  defs: ReadonlyMap<string, ComputedDefinition>,
): (c: number) => Record<string, JsonValue> {
  const nodes = [...defs.keys()].map(
    (key) => [key, compile(expandComputed({ type: "field", field: key, op: "is_set" }, defs), env)] as const,
  );
  return (c) => {
    const out: Record<string, JsonValue> = {};
    for (const [key, node] of nodes) {
      const e = node.explain(c);
      out[key] = e.type === "field" ? (e.actual as JsonValue) : null;
    }
    return out;
  };
}
