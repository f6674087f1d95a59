import { Group, Select } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import type { CalendarPeriod, Window } from "../api.ts";
import { CALENDAR_PERIODS, windowKind } from "../rules.ts";
import { DurationInput } from "./DurationInput.tsx";

const KINDS = [
  { value: "all", label: "at any time" },
  { value: "in_last", label: "in the last" },
  { value: "between_ago", label: "between … ago" },
  { value: "after", label: "after" },
  { value: "before", label: "before" },
  { value: "between", label: "between dates" },
  { value: "during", label: "during" },
];

const today = () => new Date().toISOString().slice(0, 10);

export function WindowEditor({
  window,
  onChange,
}: {
  window: Window | undefined;
  onChange: (w: Window | undefined) => void;
}) {
  const kind = windowKind(window);
  const pick = (k: string | null) => {
    switch (k) {
      case "in_last":
        return onChange({ in_last: "30d" });
      case "between_ago":
        return onChange({ between_ago: ["60d", "30d"] });
      case "after":
        return onChange({ after: today() });
      case "before":
        return onChange({ before: today() });
      case "between":
        return onChange({
          between: [new Date(Date.now() - 30 * 86400_000).toISOString().slice(0, 10), today()],
        });
      case "during":
        return onChange({ during: "last_month" });
      default:
        return onChange(undefined);
    }
  };
  const d = (v: string) => v.slice(0, 10);
  return (
    <Group gap={4} wrap="nowrap">
      <Select aria-label="When" w={150} allowDeselect={false} data={KINDS} value={kind} onChange={pick} />
      {window && "in_last" in window && (
        <DurationInput label="Window" value={window.in_last} onChange={(v) => onChange({ in_last: v })} />
      )}
      {window && "between_ago" in window && (
        <>
          <DurationInput
            label="Window from"
            value={window.between_ago[0]}
            onChange={(v) => onChange({ between_ago: [v, window.between_ago[1]] })}
          />
          <span>and</span>
          <DurationInput
            label="Window to"
            value={window.between_ago[1]}
            onChange={(v) => onChange({ between_ago: [window.between_ago[0], v] })}
          />
          <span>ago</span>
        </>
      )}
      {window && "after" in window && (
        <DateInput
          aria-label="Window date"
          w={140}
          valueFormat="YYYY-MM-DD"
          value={d(window.after)}
          onChange={(v) => onChange({ after: v ?? today() })}
        />
      )}
      {window && "before" in window && (
        <DateInput
          aria-label="Window date"
          w={140}
          valueFormat="YYYY-MM-DD"
          value={d(window.before)}
          onChange={(v) => onChange({ before: v ?? today() })}
        />
      )}
      {window && "between" in window && (
        <>
          <DateInput
            aria-label="Window from date"
            w={140}
            valueFormat="YYYY-MM-DD"
            value={d(window.between[0])}
            onChange={(v) => onChange({ between: [v ?? today(), window.between[1]] })}
          />
          <DateInput
            aria-label="Window to date"
            w={140}
            valueFormat="YYYY-MM-DD"
            value={d(window.between[1])}
            onChange={(v) => onChange({ between: [window.between[0], v ?? today()] })}
          />
        </>
      )}
      {window && "during" in window && (
        <Select
          aria-label="Window period"
          w={150}
          allowDeselect={false}
          data={CALENDAR_PERIODS}
          value={window.during}
          onChange={(p) => p && onChange({ during: p as CalendarPeriod })}
        />
      )}
    </Group>
  );
}
