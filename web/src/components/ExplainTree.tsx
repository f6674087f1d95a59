import { Badge, Group, Paper, Stack, Text } from "@mantine/core";
import type { ExplainNode, Window } from "../api.ts";
import { OPS, periodLabel, type SequenceStep, WEEKDAYS } from "../rules.ts";
import { type ExplainAnswer, inZone } from "../segments-api.ts";
import { useWorkspaceZone } from "./SegmentTime.tsx";

const show = (v: unknown) =>
  v === null || v === undefined ? "missing" : typeof v === "string" ? v : JSON.stringify(v);

const opLabel = (list: keyof typeof OPS, op: unknown) =>
  OPS[list].find((o) => o[0] === op)?.[1] ?? String(op);

/** The calendar forms read as words ("anniversary during this month", "weekday in Monday, Friday"). */
function calendarTest(op: unknown, value: unknown): string | null {
  if (op === "during" || op === "anniversary_during") return `${opLabel("date", op)} ${periodLabel(value)}`;
  if (op === "weekday_in" && Array.isArray(value)) {
    const days = value.map((d) => WEEKDAYS.find((w) => w.value === d)?.label ?? String(d));
    return `weekday in ${days.join(", ")}`;
  }
  return null;
}

function describeWindow(w: Window | undefined): string {
  if (!w) return "";
  if ("during" in w) return `, during ${periodLabel(w.during)}`;
  if ("in_last" in w) return `, in the last ${w.in_last}`;
  if ("between_ago" in w) return `, between ${w.between_ago[0]} and ${w.between_ago[1]} ago`;
  if ("after" in w) return `, after ${w.after}`;
  if ("before" in w) return `, before ${w.before}`;
  return `, between ${w.between[0]} and ${w.between[1]}`;
}

/** Comparisons read as their signs, as `slice explain` prints them. */
const SIGNS: Record<string, string> = { eq: "=", neq: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤" };

/** Date operators that read better around their duration. */
const AROUND: Record<string, (d: string) => string> = {
  in_last: (d) => `in the last ${d}`,
  more_than_ago: (d) => `more than ${d} ago`,
  in_next: (d) => `in the next ${d}`,
  anniversary_in_next: (d) => `anniversary in the next ${d}`,
};

/** An operator and its value in words or signs: "≥ 50", "in the last 30d", "is set". */
function needed(op: string | undefined, value: unknown): string {
  if (op === undefined) return show(value);
  if ((op === "between" || op === "between_ago") && Array.isArray(value))
    return `between ${show(value[0])} and ${show(value[1])}${op === "between_ago" ? " ago" : ""}`;
  const around = AROUND[op];
  if (around && typeof value === "string") return around(value);
  const calendar = calendarTest(op, value);
  if (calendar) return calendar;
  const word = SIGNS[op] ?? op.replaceAll("_", " ");
  return value === undefined ? word : `${word} ${show(value)}`;
}

function describeWhere(where: unknown): string {
  if (!Array.isArray(where) || where.length === 0) return "";
  const parts = (where as { property: string; op: string; value?: unknown }[]).map(
    (w) => `${w.property} ${needed(w.op, w.value)}`,
  );
  return ` where ${parts.join(" and ")}`;
}

/**
 * "cart_added → not order_placed within 1h": with a step not done, when the contact
 * entered, or when it would enter with no new event.
 */
function describeSequence(n: ExplainNode, zone: string | undefined): string {
  const steps = (Array.isArray(n.steps) ? n.steps : []) as SequenceStep[];
  const path = steps.map((s) => (s.not ? `not ${s.event}` : s.event)).join(" → ");
  const head = `sequence ${path} within ${n.within}${describeWindow(n.window as Window | undefined)}`;
  const negatives = steps.filter((s) => s.not).map((s) => s.event);
  if (negatives.length === 0) return `${head} — completed: ${show(n.completed_at)}`;
  if (typeof n.completed_at === "string") return `${head} — holds since ${inZone(n.completed_at, zone)}`;
  if (typeof n.pending_until === "string")
    return `${head} — would enter at ${inZone(n.pending_until, zone)} unless ${negatives.join(" or ")} happens`;
  return `${head} — no run pending`;
}

function describe(n: ExplainNode, zone: string | undefined): string {
  switch (n.type) {
    case "and":
      return "ALL of";
    case "or":
      return "ANY of";
    case "not":
      return "NOT";
    case "field":
      return `${n.field} ${needed(n.op as string | undefined, n.value)} — value: ${show(n.actual)}`;
    case "segment":
      return `${n.op === "in" ? "in" : "not in"} segment ${n.segment}`;
    case "event": {
      const m = n.measure as { fn: string; property?: string } | undefined;
      const need = n.needed as { op: string; value?: unknown } | undefined;
      return `${n.event}${describeWhere(n.where)}: ${m?.fn ?? "count"}${m?.property ? ` of ${m.property}` : ""} = ${show(n.measured)}, needed ${needed(need?.op, need?.value)}${describeWindow(n.window as Window | undefined)}`;
    }
    case "bucket": {
      const test = needed(n.op as string | undefined, n.value);
      return `random bucket of "${String(n.seed)}" ${test} — bucket: ${show(n.actual)}`;
    }
    case "sequence":
      return describeSequence(n, zone);
    default:
      return n.type;
  }
}

/** "Added by hand until 12 Jan 2027, 10:00:00", in the workspace's zone. */
export function overrideReason(o: NonNullable<ExplainAnswer["override"]>, zone: string | undefined): string {
  const how = o.action === "added" ? "Added by hand" : "Removed by hand";
  return o.expires_at ? `${how} until ${inZone(o.expires_at, zone)}` : how;
}

/**
 * Why a contact is in or out: the verdict, and when a hand override decides it, the
 * override as the reason, the rule's tree below it as what the rule alone says.
 */
export function ExplainView({ explain }: { explain: ExplainAnswer }) {
  const zone = useWorkspaceZone();
  const o = explain.override;
  return (
    <Stack mt="sm" gap="xs" data-testid="explain">
      <Text fw={600} c={explain.member ? "green" : "red"} data-testid="explain-member">
        {explain.member ? "In the segment" : "Not in the segment"}
      </Text>
      {o && (
        <Text size="sm" data-testid="explain-override">
          {overrideReason(o, zone)}
        </Text>
      )}
      {explain.rule ? (
        <>
          {o && (
            <Text size="sm" c="dimmed" data-testid="explain-rule-alone">
              The rule alone {explain.rule.result ? "holds" : "does not hold"}:
            </Text>
          )}
          <ExplainBranch node={explain.rule} zone={zone} />
        </>
      ) : (
        <Text size="sm" c="dimmed">
          A static segment: membership is set by hand.
        </Text>
      )}
    </Stack>
  );
}

/** A rule with each node's result for one contact: green holds, red does not, with the measured value. */
export function ExplainTree({ node }: { node: ExplainNode }) {
  return <ExplainBranch node={node} zone={useWorkspaceZone()} />;
}

/** Instants read in the workspace's zone, the one rule texts are read in. */
function ExplainBranch({ node, zone }: { node: ExplainNode; zone: string | undefined }) {
  const children =
    (node.conditions as ExplainNode[] | undefined) ?? (node.condition ? [node.condition as ExplainNode] : []);
  return (
    <Paper
      withBorder
      p={6}
      data-testid="explain-node"
      data-result={String(node.result)}
      style={{ borderLeft: `4px solid var(--mantine-color-${node.result ? "green" : "red"}-6)` }}
    >
      <Group gap="xs" wrap="nowrap">
        <Badge color={node.result ? "green" : "red"} size="sm" w={60}>
          {node.result ? "true" : "false"}
        </Badge>
        <Text size="sm">{describe(node, zone)}</Text>
      </Group>
      {children.length > 0 && (
        <Stack gap={4} mt={4} pl="md">
          {children.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: explain nodes are identified by their place
            <ExplainBranch key={i} node={c} zone={zone} />
          ))}
        </Stack>
      )}
    </Paper>
  );
}
