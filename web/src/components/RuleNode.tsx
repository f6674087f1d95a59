import { ActionIcon, Badge, Group, Menu, Paper, SegmentedControl, Stack } from "@mantine/core";
import { memo } from "react";
import type { Rule } from "../api.ts";
import { type NewKind, newNode } from "../rules.ts";
import { useIssuesAt } from "./EditorContext.tsx";
import { EventCondition } from "./EventCondition.tsx";
import { FieldCondition } from "./FieldCondition.tsx";
import { IssueList } from "./IssueList.tsx";
import { isRankRule, RankCondition } from "./RankCondition.tsx";
import { RuleBucketCondition } from "./RuleBucketCondition.tsx";
import { SegmentCondition } from "./SegmentCondition.tsx";
import { SequenceCondition } from "./SequenceCondition.tsx";

const ADD: [NewKind, string][] = [
  ["field", "Field condition"],
  ["event", "Event condition"],
  ["sequence", "Sequence"],
  ["segment", "Segment membership"],
  ["bucket", "Random bucket"],
  ["rank", "Rank (top / bottom %, quintile)"],
  ["and", "AND group"],
  ["or", "OR group"],
  ["not", "NOT"],
];

function AddMenu({ label, onAdd }: { label: string; onAdd: (r: Rule) => void }) {
  return (
    <Menu position="bottom-start" transitionProps={{ duration: 0 }}>
      <Menu.Target>
        <ActionIcon variant="light" w="auto" px="xs" size="sm" aria-label={label}>
          + Add condition
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        {ADD.map(([k, l]) => (
          <Menu.Item key={k} onClick={() => onAdd(newNode(k))}>
            {l}
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}

/** One node of the rule tree (memoised: the page re-renders on every preview answer). */
export const RuleNode = memo(function RuleNode({
  rule,
  path,
  onChange,
  onRemove,
}: {
  rule: Rule;
  path: string;
  onChange: (r: Rule) => void;
  onRemove?: () => void;
}) {
  const issues = useIssuesAt(path);
  const remove = onRemove && (
    <ActionIcon variant="subtle" color="gray" aria-label="Remove condition" onClick={onRemove}>
      ✕
    </ActionIcon>
  );
  let body: React.ReactNode;
  if (rule.type === "and" || rule.type === "or") {
    body = (
      <Stack gap="xs">
        <Group justify="space-between">
          <SegmentedControl
            size="xs"
            aria-label="Group combines with"
            data={[
              { value: "and", label: "ALL of (AND)" },
              { value: "or", label: "ANY of (OR)" },
            ]}
            value={rule.type}
            onChange={(t) => onChange({ ...rule, type: t as "and" | "or" })}
          />
          <Group gap={4}>
            <ActionIcon
              variant="subtle"
              size="sm"
              w="auto"
              px={4}
              aria-label="Wrap in NOT"
              onClick={() => onChange({ type: "not", condition: rule })}
            >
              NOT
            </ActionIcon>
            {remove}
          </Group>
        </Group>
        {rule.conditions.map((c, i) => (
          <RuleNode
            // biome-ignore lint/suspicious/noArrayIndexKey: a condition's place is its identity in the tree
            key={i}
            rule={c}
            path={`${path}.conditions[${i}]`}
            onChange={(n) =>
              onChange({ ...rule, conditions: rule.conditions.map((x, j) => (j === i ? n : x)) })
            }
            onRemove={
              rule.conditions.length > 1
                ? () => onChange({ ...rule, conditions: rule.conditions.filter((_, j) => j !== i) })
                : undefined
            }
          />
        ))}
        <Group>
          <AddMenu
            label="Add condition"
            onAdd={(n) => onChange({ ...rule, conditions: [...rule.conditions, n] })}
          />
        </Group>
      </Stack>
    );
  } else if (rule.type === "not") {
    body = (
      <Stack gap="xs">
        <Group justify="space-between">
          <Badge color="grape">NOT</Badge>
          <Group gap={4}>
            <ActionIcon
              variant="subtle"
              size="sm"
              w="auto"
              px={4}
              aria-label="Remove NOT"
              onClick={() => onChange(rule.condition)}
            >
              un-NOT
            </ActionIcon>
            {remove}
          </Group>
        </Group>
        <RuleNode
          rule={rule.condition}
          path={`${path}.condition`}
          onChange={(n) => onChange({ ...rule, condition: n })}
        />
      </Stack>
    );
  } else {
    const label = {
      field: "Field",
      event: isRankRule(rule) ? "Rank" : "Event",
      sequence: "Sequence",
      segment: "Segment",
      bucket: "Bucket",
    }[rule.type];
    body = (
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        {/* The condition's inputs wrap (and go under the badge on a phone) so the buttons stay in the box. */}
        <Group gap="xs" align="flex-start" wrap="wrap" style={{ flex: 1, minWidth: 0 }}>
          <Badge variant="light" mt={6} miw={80} style={{ flexShrink: 0 }}>
            {label}
          </Badge>
          <div style={{ flex: "1 1 0" }}>
            {rule.type === "field" && <FieldCondition rule={rule} onChange={onChange} />}
            {rule.type === "event" &&
              (isRankRule(rule) ? (
                <RankCondition rule={rule} onChange={onChange} />
              ) : (
                <EventCondition rule={rule} onChange={onChange} />
              ))}
            {rule.type === "sequence" && <SequenceCondition rule={rule} onChange={onChange} />}
            {rule.type === "segment" && <SegmentCondition rule={rule} onChange={onChange} />}
            {rule.type === "bucket" && <RuleBucketCondition rule={rule} onChange={onChange} />}
          </div>
        </Group>
        <Group gap={4} wrap="nowrap" style={{ flexShrink: 0 }}>
          <ActionIcon
            variant="subtle"
            size="sm"
            w="auto"
            px={4}
            aria-label="Wrap in NOT"
            onClick={() => onChange({ type: "not", condition: rule })}
          >
            NOT
          </ActionIcon>
          <ActionIcon
            variant="subtle"
            size="sm"
            w="auto"
            px={4}
            aria-label="Wrap in group"
            onClick={() => onChange({ type: "and", conditions: [rule] })}
          >
            group
          </ActionIcon>
          {remove}
        </Group>
      </Group>
    );
  }
  return (
    <Paper
      withBorder
      p="xs"
      data-path={path}
      data-node={rule.type}
      style={issues.length ? { borderColor: "var(--mantine-color-red-6)" } : undefined}
      bg={rule.type === "and" || rule.type === "or" || rule.type === "not" ? "gray.0" : undefined}
    >
      {body}
      <IssueList issues={issues} />
    </Paper>
  );
});
