import { Group, NumberInput, Select } from "@mantine/core";

const UNITS = [
  { value: "m", label: "minutes" },
  { value: "h", label: "hours" },
  { value: "d", label: "days" },
  { value: "w", label: "weeks" },
  { value: "mo", label: "months" },
  { value: "y", label: "years" },
];

export function DurationInput({
  value,
  onChange,
  label,
}: {
  value: string;
  onChange: (v: string) => void;
  label: string;
}) {
  const m = /^(\d+)(mo|m|h|d|w|y)$/.exec(value ?? "");
  const n = m ? Number(m[1]) : 30;
  const unit = m ? m[2]! : "d";
  return (
    <Group gap={4} wrap="nowrap">
      <NumberInput
        aria-label={`${label} amount`}
        w={80}
        min={1}
        value={n}
        onChange={(v) => onChange(`${typeof v === "number" ? v : Number(v) || 1}${unit}`)}
      />
      <Select
        aria-label={`${label} unit`}
        w={110}
        data={UNITS}
        value={unit}
        allowDeselect={false}
        onChange={(u) => onChange(`${n}${u ?? "d"}`)}
      />
    </Group>
  );
}
