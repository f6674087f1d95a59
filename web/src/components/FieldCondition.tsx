import { Group, Select } from "@mantine/core";
import type { Rule } from "../api.ts";
import { defaultValue, KNOWN_VALUES, OPS, valueKind } from "../rules.ts";
import { useEditor } from "./EditorContext.tsx";
import { ValueInput } from "./ValueInput.tsx";

type FieldRule = Extract<Rule, { type: "field" }>;

export function FieldCondition({
  rule,
  onChange,
  known,
}: {
  rule: FieldRule;
  onChange: (r: Rule) => void;
  known?: Record<string, string[]>;
}) {
  const { fields } = useEditor();
  const f = fields.find((x) => x.key === rule.field);
  const type = f?.type ?? "string";
  const kind = valueKind(type, rule.op);
  const set = (op: string, field = rule.field) => {
    const t = fields.find((x) => x.key === field)?.type ?? "string";
    const k = valueKind(t, op);
    const v = defaultValue(k);
    const next: FieldRule = { type: "field", field, op };
    if (v !== undefined) next.value = v;
    onChange(next);
  };
  return (
    <Group gap="xs" wrap="wrap" align="flex-start">
      <Select
        aria-label="Field"
        w={180}
        searchable
        allowDeselect={false}
        data={fields.map((x) => ({ value: x.key, label: x.label || x.key }))}
        value={rule.field}
        onChange={(field) => {
          if (!field) return;
          const t = fields.find((x) => x.key === field)?.type ?? "string";
          const keep = OPS[t].some((o) => o[0] === rule.op);
          set(keep ? rule.op : OPS[t][0]![0], field);
        }}
      />
      <Select
        aria-label="Operator"
        w={170}
        allowDeselect={false}
        data={OPS[type].map(([value, label]) => ({ value, label }))}
        value={rule.op}
        onChange={(op) => op && set(op)}
      />
      <ValueInput
        kind={kind}
        value={rule.value}
        known={KNOWN_VALUES[rule.field] ?? known?.[rule.field] ?? []}
        onChange={(value) => onChange({ ...rule, value })}
      />
    </Group>
  );
}
