import { Group, MultiSelect, NumberInput, Select, TagsInput, TextInput } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import { useState } from "react";
import { CALENDAR_PERIODS, type ValueKind, WEEKDAYS } from "../rules.ts";
import { DurationInput } from "./DurationInput.tsx";
import { EMPTY_DATE, EMPTY_NUMBER, EMPTY_TEXT } from "./PolishValues.ts";

/**
 * A number that may be empty: an emptied input gives `null` (sent as is, so the server
 * refuses it and the editor will not save) rather than a 0 that would always match.
 */
export function NumberValue({
  label,
  value,
  onChange,
  w = 120,
}: {
  label: string;
  value: unknown;
  onChange: (v: number | null) => void;
  w?: number;
}) {
  // What was typed while it is not yet a number ("", "-"), so the input keeps it.
  const [draft, setDraft] = useState("");
  const ok = typeof value === "number" && Number.isFinite(value);
  return (
    <NumberInput
      aria-label={label}
      w={w}
      value={ok ? value : draft}
      error={ok ? undefined : EMPTY_NUMBER}
      onChange={(v) => {
        if (typeof v === "number") onChange(v);
        else {
          setDraft(v);
          onChange(null);
        }
      }}
    />
  );
}

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
          error={value === "" ? EMPTY_TEXT : undefined}
          w={200}
        />
      ) : (
        <TextInput
          aria-label={label}
          w={200}
          value={String(value ?? "")}
          error={value === "" ? EMPTY_TEXT : undefined}
          onChange={(e) => onChange(e.currentTarget.value)}
        />
      );
    case "scalar":
      return <ScalarInput label={label} value={value} onChange={onChange} />;
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
      return <NumberValue label={label} value={value} onChange={onChange} />;
    case "range": {
      const [lo, hi] = Array.isArray(value) ? (value as unknown[]) : [0, 0];
      return (
        <Group gap={4} align="flex-start">
          <NumberValue label={`${label} from`} w={100} value={lo} onChange={(v) => onChange([v, hi])} />
          <span>and</span>
          <NumberValue label={`${label} to`} w={100} value={hi} onChange={(v) => onChange([lo, v])} />
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
          error={value === "" ? EMPTY_DATE : undefined}
          onChange={(v) => onChange(v ?? "")}
        />
      );
    case "dates": {
      const [a, b] = Array.isArray(value) ? (value as string[]) : ["", ""];
      return (
        <Group gap={4} align="flex-start">
          <DateInput
            aria-label={`${label} from`}
            w={140}
            valueFormat="YYYY-MM-DD"
            value={asDate(a)}
            error={a === "" ? EMPTY_DATE : undefined}
            onChange={(v) => onChange([v ?? "", b])}
          />
          <DateInput
            aria-label={`${label} to`}
            w={140}
            valueFormat="YYYY-MM-DD"
            value={asDate(b)}
            error={b === "" ? EMPTY_DATE : undefined}
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

/** How a property filter's value is typed: the user says, nothing is guessed from the text. */
export type ScalarType = "text" | "number" | "boolean";

export function scalarType(v: unknown): ScalarType {
  if (typeof v === "number" || v === null) return "number";
  if (typeof v === "boolean") return "boolean";
  return "text";
}

/** The value `v` becomes when its type is switched to `t` (kept when it reads as one). */
export function asScalarType(v: unknown, t: ScalarType): unknown {
  if (t === "text") return v === null || v === undefined ? "" : String(v);
  if (t === "boolean") return v !== false && v !== "false";
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
}

const SCALAR_TYPES: { value: ScalarType; label: string }[] = [
  { value: "text", label: "text" },
  { value: "number", label: "number" },
  { value: "boolean", label: "yes / no" },
];

/** A property filter's value (a string, a number or a boolean) with its type picked beside it. */
function ScalarInput({
  label,
  value,
  onChange,
}: {
  label: string;
  value: unknown;
  onChange: (v: unknown) => void;
}) {
  const type = scalarType(value);
  return (
    <Group gap={4} align="flex-start" wrap="nowrap">
      <Select
        aria-label="Compare as"
        w={100}
        allowDeselect={false}
        data={SCALAR_TYPES}
        value={type}
        onChange={(t) => t && onChange(asScalarType(value, t as ScalarType))}
      />
      {type === "number" && <NumberValue label={label} w={140} value={value} onChange={onChange} />}
      {type === "boolean" && (
        <Select
          aria-label={label}
          w={100}
          allowDeselect={false}
          data={[
            { value: "true", label: "yes" },
            { value: "false", label: "no" },
          ]}
          value={String(value === true)}
          onChange={(v) => onChange(v === "true")}
        />
      )}
      {type === "text" && (
        <TextInput
          aria-label={label}
          w={160}
          value={String(value ?? "")}
          error={value === "" ? EMPTY_TEXT : undefined}
          onChange={(e) => onChange(e.currentTarget.value)}
        />
      )}
    </Group>
  );
}
