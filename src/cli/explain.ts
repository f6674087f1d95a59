/**
 * `slice explain`: the answer of `GET /v1/contacts/{id}/explain` (SPEC §3.4) as a tree,
 * one line per rule node, ✓ (green) where the node holds and ✗ (red) where it does not,
 * with what was measured for the contact and what the node needs.
 */
import { type Out, paint } from "./output.ts";

/** A node of the explain answer, read loosely: every node has `type` and `result`. */
export interface ExplainWireNode {
  type: string;
  result: boolean;
  conditions?: ExplainWireNode[];
  condition?: ExplainWireNode;
  field?: string;
  op?: string;
  value?: unknown;
  actual?: unknown;
  segment?: string;
  event?: string;
  where?: unknown;
  window?: unknown;
  measure?: { fn: string; property?: string };
  measured?: unknown;
  needed?: { op: string; value?: unknown };
  steps?: unknown;
  within?: string;
  completed_at?: string | null;
  /** Sequences with a step not done: when the contact would enter with no new event. */
  pending_until?: string | null;
}

export interface ExplainAnswer {
  member: boolean;
  rule: ExplainWireNode | null;
  /** A hand override in force: it, not the rule, decides membership. */
  override?: { action: "added" | "removed"; expires_at: string | null };
}

const OPS: Record<string, string> = { gt: ">", gte: "≥", lt: "<", lte: "≤", eq: "=", neq: "≠" };

export function opText(op: string): string {
  return OPS[op] ?? op.replaceAll("_", " ");
}

export function valueText(v: unknown): string {
  if (v === null || v === undefined) return "none";
  if (Array.isArray(v)) return `[${v.map(valueText).join(", ")}]`;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Date operators that read better around their duration. */
const DURATION_OPS: Record<string, (d: string) => string> = {
  in_last: (d) => `in the last ${d}`,
  more_than_ago: (d) => `more than ${d} ago`,
  in_next: (d) => `in the next ${d}`,
  anniversary_in_next: (d) => `anniversary in the next ${d}`,
};

function neededText(op: string, value: unknown): string {
  const duration = DURATION_OPS[op];
  if (duration && typeof value === "string") return duration(value);
  return value === undefined ? opText(op) : `${opText(op)} ${valueText(value)}`;
}

function windowText(w: unknown): string {
  if (!w || typeof w !== "object") return "";
  const o = w as Record<string, unknown>;
  if (typeof o.in_last === "string") return ` in the last ${o.in_last}`;
  if (Array.isArray(o.between_ago)) return ` between ${o.between_ago[0]} and ${o.between_ago[1]} ago`;
  if (o.after !== undefined) return ` after ${String(o.after)}`;
  if (o.before !== undefined) return ` before ${String(o.before)}`;
  if (Array.isArray(o.between)) return ` between ${String(o.between[0])} and ${String(o.between[1])}`;
  if (typeof o.during === "string") return ` during ${o.during.replaceAll("_", " ")}`;
  return ` ${JSON.stringify(w)}`;
}

function whereText(where: unknown): string {
  if (!Array.isArray(where) || where.length === 0) return "";
  const parts = where.map((p) => {
    const f = p as { property?: string; op?: string; value?: unknown };
    return `${f.property ?? "?"} ${neededText(f.op ?? "?", f.value)}`;
  });
  return ` where ${parts.join(" and ")}`;
}

/** The label of a node and, for leaves, what was measured and what is needed. */
export function nodeText(n: ExplainWireNode): string {
  switch (n.type) {
    case "and":
      return "all of";
    case "or":
      return "any of";
    case "not":
      return "not";
    case "field":
      return `${n.field}: measured ${valueText(n.actual)}, needed ${neededText(n.op ?? "?", n.value)}`;
    case "segment":
      return `${n.op === "not_in" ? "not in" : "in"} segment ${n.segment}`;
    case "event": {
      const m = n.measure ?? { fn: "count" };
      const fn = m.property ? `${m.fn}(${m.property})` : m.fn;
      const needed = n.needed ? neededText(n.needed.op, n.needed.value) : "?";
      return `${n.event} ${fn}${whereText(n.where)}${windowText(n.window)}: measured ${valueText(n.measured)}, needed ${needed}`;
    }
    case "sequence": {
      const steps = Array.isArray(n.steps)
        ? n.steps
            .map((s) => {
              const step = s as { event?: string; not?: boolean };
              return `${step.not === true ? "not " : ""}${step.event ?? "?"}`;
            })
            .join(" → ")
        : "?";
      const done = n.completed_at ? `completed at ${n.completed_at}` : "not completed";
      const pending = n.pending_until ? `, pending until ${n.pending_until}` : "";
      return `sequence ${steps} within ${n.within}${windowText(n.window)}: ${done}${pending}`;
    }
    default:
      return JSON.stringify(n);
  }
}

export function explainLines(n: ExplainWireNode, color: boolean, depth = 0): string[] {
  const mark = n.result ? "✓" : "✗";
  const line = `${"  ".repeat(depth)}${paint(color, n.result ? "green" : "red", `${mark} ${nodeText(n)}`)}`;
  const children = n.conditions ?? (n.condition ? [n.condition] : []);
  return [line, ...children.flatMap((c) => explainLines(c, color, depth + 1))];
}

export function printExplain(
  out: Out,
  contactId: string,
  segment: { id: string; name?: string; kind?: string },
  answer: ExplainAnswer,
): void {
  const name = segment.name ? `"${segment.name}" (${segment.id})` : segment.id;
  const verdict = answer.member ? "is in" : "is not in";
  out.line(`${contactId} ${paint(out.color, answer.member ? "green" : "red", verdict)} ${name}`);
  if (answer.rule === null) {
    out.line(`  static segment: membership is set explicitly (API, import or bulk action), not by a rule`);
    return;
  }
  const o = answer.override;
  if (o) {
    const until = o.expires_at ? ` until ${o.expires_at}` : "";
    out.line(`  ${o.action === "added" ? "added" : "removed"} by hand${until}; what the rule alone says:`);
  }
  for (const l of explainLines(answer.rule, out.color, 1)) out.line(l);
}
