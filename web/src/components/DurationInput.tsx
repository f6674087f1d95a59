import { Group, NumberInput, Select } from "@mantine/core";
import { EMPTY_NUMBER } from "./PolishValues.ts";

const UNITS = [
  { value: "m", label: "minutes" },
  { value: "h", label: "hours" },
  { value: "d", label: "days" },
  { value: "w", label: "weeks" },
  { value: "mo", label: "months" },
  { value: "y", label: "years" },
];

const DURATION = /^(\d*)(mo|m|h|d|w|y)$/;

/**
 * A duration left without its amount: the unit alone ("d"). The rule keeps it so the
 * input stays empty (the server refuses it, the editor will not save) rather than a
 * stand-in amount that would change what the rule means.
 */
export const isEmptyDuration = (v: unknown): boolean => typeof v === "string" && /^(mo|m|h|d|w|y)$/.test(v);

export function DurationInput({
  value,
  onChange,
  label,
}: {
  value: string;
  onChange: (v: string) => void;
  label: string;
}) {
  const m = DURATION.exec(value ?? "");
  const n = m ? m[1]! : "30";
  const unit = m ? m[2]! : "d";
  return (
    <Group gap={4} wrap="nowrap" align="flex-start">
      <NumberInput
        aria-label={`${label} amount`}
        w={80}
        min={1}
        allowDecimal={false}
        allowNegative={false}
        value={n === "" ? "" : Number(n)}
        error={n === "" ? EMPTY_NUMBER : undefined}
        onChange={(v) => onChange(`${typeof v === "number" ? v : v.replace(/\D/g, "")}${unit}`)}
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
