/** The references between segments' rules: which segments a rule names, and the cycles they would make. */
import type { RuleNode } from "./schema.ts";

/** The ids of the segments a rule refers to directly. */
export function segmentRefs(rule: RuleNode, out: Set<string> = new Set()): Set<string> {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) segmentRefs(c, out);
      break;
    case "not":
      segmentRefs(rule.condition, out);
      break;
    case "segment":
      out.add(rule.segment);
      break;
    default:
      break;
  }
  return out;
}

/** The cycle `selfId → … → selfId` a reference to `target` would close, or null. */
export function findCycle(
  selfId: string,
  target: string,
  segments: ReadonlyMap<string, RuleNode | null>,
): string[] | null {
  const stack: string[][] = [[target]];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const path = stack.pop()!;
    const id = path[path.length - 1];
    if (id === selfId) return [selfId, ...path];
    if (seen.has(id)) continue;
    seen.add(id);
    const rule = segments.get(id);
    if (!rule) continue;
    for (const ref of segmentRefs(rule)) stack.push([...path, ref]);
  }
  return null;
}
