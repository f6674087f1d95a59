import { Group, Select } from "@mantine/core";
import type { Rule } from "../api.ts";
import { useEditor } from "./EditorContext.tsx";

type SegmentRule = Extract<Rule, { type: "segment" }>;

export function SegmentCondition({ rule, onChange }: { rule: SegmentRule; onChange: (r: Rule) => void }) {
  const { segments, selfId } = useEditor();
  return (
    <Group gap="xs">
      <Select
        aria-label="Membership"
        w={140}
        allowDeselect={false}
        data={[
          { value: "in", label: "is in" },
          { value: "not_in", label: "is not in" },
        ]}
        value={rule.op}
        onChange={(op) => op && onChange({ ...rule, op: op as SegmentRule["op"] })}
      />
      <Select
        aria-label="Segment"
        w={260}
        searchable
        allowDeselect={false}
        data={segments.filter((s) => s.id !== selfId).map((s) => ({ value: s.id, label: s.name }))}
        value={rule.segment}
        onChange={(segment) => segment && onChange({ ...rule, segment })}
      />
    </Group>
  );
}
