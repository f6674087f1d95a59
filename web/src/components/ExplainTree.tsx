import { Badge, Group, Paper, Stack, Text } from "@mantine/core";
import type { ExplainNode, Window } from "../api.ts";
import { OPS, periodLabel, WEEKDAYS } from "../rules.ts";

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

function needed(op: string | undefined, value: unknown): string {
  if (op === "between" && Array.isArray(value)) return `between ${show(value[0])} and ${show(value[1])}`;
  return calendarTest(op, value) ?? `${op ?? ""} ${show(value)}`;
}

function describe(n: ExplainNode): string {
  switch (n.type) {
    case "and":
      return "ALL of";
    case "or":
      return "ANY of";
    case "not":
      return "NOT";
    case "field": {
      const test =
        calendarTest(n.op, n.value) ?? `${n.op}${n.value !== undefined ? ` ${show(n.value)}` : ""}`;
      return `${n.field} ${test} — value: ${show(n.actual)}`;
    }
    case "segment":
      return `${n.op === "in" ? "in" : "not in"} segment ${n.segment}`;
    case "event": {
      const m = n.measure as { fn: string; property?: string } | undefined;
      const need = n.needed as { op: string; value?: unknown } | undefined;
      return `${n.event}: ${m?.fn ?? "count"}${m?.property ? ` of ${m.property}` : ""} = ${show(n.measured)}, needed ${needed(need?.op, need?.value)}${describeWindow(n.window as Window | undefined)}`;
    }
    case "bucket": {
      const test = needed(opLabel("bucket", n.op), n.value);
      return `random bucket of "${String(n.seed)}" ${test} — bucket: ${show(n.actual)}`;
    }
    case "sequence":
      return `sequence ${(n.steps as { event: string }[]).map((s) => s.event).join(" → ")} within ${n.within}${describeWindow(n.window as Window | undefined)} — completed: ${show(n.completed_at)}`;
    default:
      return n.type;
  }
}

/** A rule with each node's result for one contact: green holds, red does not, with the measured value. */
export function ExplainTree({ node }: { node: ExplainNode }) {
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
        <Text size="sm">{describe(node)}</Text>
      </Group>
      {children.length > 0 && (
        <Stack gap={4} mt={4} pl="md">
          {children.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: explain nodes are identified by their place
            <ExplainTree key={i} node={c} />
          ))}
        </Stack>
      )}
    </Paper>
  );
}
