import { Badge, Group, Paper, Stack, Text } from "@mantine/core";
import type { ExplainNode } from "../api.ts";

const show = (v: unknown) =>
  v === null || v === undefined ? "missing" : typeof v === "string" ? v : JSON.stringify(v);

function describe(n: ExplainNode): string {
  switch (n.type) {
    case "and":
      return "ALL of";
    case "or":
      return "ANY of";
    case "not":
      return "NOT";
    case "field":
      return `${n.field} ${n.op}${n.value !== undefined ? ` ${show(n.value)}` : ""} — value: ${show(n.actual)}`;
    case "segment":
      return `${n.op === "in" ? "in" : "not in"} segment ${n.segment}`;
    case "event": {
      const m = n.measure as { fn: string; property?: string } | undefined;
      const needed = n.needed as { op: string; value?: unknown } | undefined;
      return `${n.event}: ${m?.fn ?? "count"}${m?.property ? ` of ${m.property}` : ""} = ${show(n.measured)}, needed ${needed?.op ?? ""} ${show(needed?.value)}`;
    }
    case "sequence":
      return `sequence ${(n.steps as { event: string }[]).map((s) => s.event).join(" → ")} within ${n.within} — completed: ${show(n.completed_at)}`;
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
