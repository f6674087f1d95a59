import { Group, MultiSelect, NumberInput, Select, TagsInput, TextInput } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import { CALENDAR_PERIODS, type ValueKind, WEEKDAYS } from "../rules.ts";
import { DurationInput } from "./DurationInput.tsx";

/** The input that fits an operator's value: text, numbers, a date picker, a duration, a multi-select. */
export function ValueInput({
  kind,
  value,
  onChange,
  known = [],
  label = "Value",
}: {
  kind: ValueKind;
  value: unknown;
  onChange: (v: unknown) => void;
  known?: string[];
  label?: string;
}) {
  const asDate = (v: unknown) => (typeof v === "string" && v ? v.slice(0, 10) : null);
  switch (kind) {
    case "none":
      return null;
    case "string":
      return known.length ? (
        <Select
          aria-label={label}
          searchable
          data={known}
          value={typeof value === "string" && value ? value : null}
          onChange={(v) => onChange(v ?? "")}
          w={200}
        />
      ) : (
        <TextInput
          aria-label={label}
          w={200}
          value={String(value ?? "")}
          onChange={(e) => onChange(e.currentTarget.value)}
        />
      );
    case "scalar":
      return (
        <TextInput
          aria-label={label}
          w={180}
          value={String(value ?? "")}
          onChange={(e) => {
            const t = e.currentTarget.value;
            onChange(t.trim() !== "" && !Number.isNaN(Number(t)) ? Number(t) : t);
          }}
        />
      );
    case "strings":
      return (
        <TagsInput
          aria-label={label}
          w={280}
          data={known}
          value={Array.isArray(value) ? value.map(String) : []}
          onChange={onChange}
          placeholder="Type and press Enter"
        />
      );
    case "number":
      return (
        <NumberInput
          aria-label={label}
          w={120}
          value={typeof value === "number" ? value : 0}
          onChange={(v) => onChange(typeof v === "number" ? v : Number(v) || 0)}
        />
      );
    case "range": {
      const [lo, hi] = Array.isArray(value) ? (value as number[]) : [0, 0];
      return (
        <Group gap={4}>
          <NumberInput
            aria-label={`${label} from`}
            w={100}
            value={lo}
            onChange={(v) => onChange([Number(v) || 0, hi])}
          />
          <span>and</span>
          <NumberInput
            aria-label={`${label} to`}
            w={100}
            value={hi}
            onChange={(v) => onChange([lo, Number(v) || 0])}
          />
        </Group>
      );
    }
    case "boolean":
      return (
        <Select
          aria-label={label}
          w={100}
          data={["true", "false"]}
          value={String(value === true)}
          allowDeselect={false}
          onChange={(v) => onChange(v === "true")}
        />
      );
    case "date":
      return (
        <DateInput
          aria-label={label}
          w={150}
          valueFormat="YYYY-MM-DD"
          value={asDate(value)}
          onChange={(v) => onChange(v ?? "")}
        />
      );
    case "dates": {
      const [a, b] = Array.isArray(value) ? (value as string[]) : ["", ""];
      return (
        <Group gap={4}>
          <DateInput
            aria-label={`${label} from`}
            w={140}
            valueFormat="YYYY-MM-DD"
            value={asDate(a)}
            onChange={(v) => onChange([v ?? "", b])}
          />
          <DateInput
            aria-label={`${label} to`}
            w={140}
            valueFormat="YYYY-MM-DD"
            value={asDate(b)}
            onChange={(v) => onChange([a, v ?? ""])}
          />
        </Group>
      );
    }
    case "duration":
      return <DurationInput label={label} value={String(value ?? "30d")} onChange={onChange} />;
    case "period":
      return (
        <Select
          aria-label={label}
          w={150}
          allowDeselect={false}
          data={CALENDAR_PERIODS}
          value={typeof value === "string" ? value : null}
          onChange={(v) => v && onChange(v)}
        />
      );
    case "weekdays":
      return (
        <MultiSelect
          aria-label={label}
          w={280}
          data={WEEKDAYS}
          value={Array.isArray(value) ? value.map(String) : []}
          onChange={onChange}
          placeholder="Pick days"
        />
      );
  }
}
