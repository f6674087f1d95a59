import {
  Autocomplete,
  type ComboboxData,
  defaultOptionsFilter,
  Group,
  type OptionsFilter,
  Select,
  Stack,
  Text,
} from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, type Rule } from "../api.ts";
import { defaultValue, KNOWN_EVENTS, MEASURES, OPS, valueKind } from "../rules.ts";
import { ValueInput } from "./ValueInput.tsx";
import { WhereEditor } from "./WhereEditor.tsx";
import { WindowEditor } from "./WindowEditor.tsx";

type EventRule = Extract<Rule, { type: "event" }>;

export type EventTypeInfo = Awaited<ReturnType<typeof api.eventTypes>>[number];

/** The workspace's event types (refetched at most once a minute; none while loading or on error). */
export function useEventTypes(): EventTypeInfo[] {
  const q = useQuery({ queryKey: ["event-types"], queryFn: api.eventTypes, staleTime: 60_000 });
  return q.data ?? [];
}

/** Event names to suggest: the workspace's own first, then the built-in ones it has not sent yet. */
export function eventSuggestions(types: EventTypeInfo[]): ComboboxData {
  const own = types.map((t) => t.type);
  const builtin = KNOWN_EVENTS.filter((e) => !own.includes(e));
  if (own.length === 0) return builtin;
  return [
    { group: "In this workspace", items: own },
    ...(builtin.length ? [{ group: "Built-in", items: builtin }] : []),
  ];
}

/**
 * Mantine's filter (case-insensitive substring), except that a name typed out in full
 * closes the list: nothing is left to suggest, and an open list would cover the inputs
 * below it.
 */
export const suggestionFilter: OptionsFilter = (input) => {
  const q = input.search.trim().toLowerCase();
  const exact = (items: typeof input.options): boolean =>
    items.some((o) => ("group" in o ? exact(o.items) : o.label.toLowerCase() === q));
  if (q !== "" && exact(input.options)) return [];
  return defaultOptionsFilter(input);
};

/**
 * Property names to suggest for an event type (every type's when none is given),
 * optionally only those that held numbers. Free text stays allowed.
 */
export function propertySuggestions(types: EventTypeInfo[], event?: string, numbersOnly = false): string[] {
  const out = new Set<string>();
  for (const t of types) {
    if (event !== undefined && t.type !== event) continue;
    for (const p of t.properties) if (!numbersOnly || p.types.includes("number")) out.add(p.name);
  }
  return [...out].sort();
}

export function EventCondition({ rule, onChange }: { rule: EventRule; onChange: (r: Rule) => void }) {
  const types = useEventTypes();
  const fn = rule.measure?.fn ?? "count";
  const opsList = fn === "first_at" || fn === "last_at" ? "measure_date" : "measure_number";
  const op = rule.op ?? "gte";
  const value = rule.op ? rule.value : 1;
  const setMeasure = (f: string) => {
    const next: EventRule = { ...rule };
    delete next.op;
    delete next.value;
    if (f === "count") delete next.measure;
    else
      next.measure =
        f === "first_at" || f === "last_at"
          ? { fn: f }
          : { fn: f, property: rule.measure?.property ?? "amount" };
    if (f === "first_at" || f === "last_at") {
      next.op = "in_last";
      next.value = "30d";
    } else if (f !== "count") {
      next.op = "gt";
      next.value = 0;
    }
    onChange(next);
  };
  return (
    <Stack gap={6}>
      <Group gap="xs">
        <Text size="sm">did</Text>
        <Autocomplete
          aria-label="Event"
          w={170}
          data={eventSuggestions(types)}
          filter={suggestionFilter}
          value={rule.event}
          onChange={(event) => onChange({ ...rule, event })}
        />
        <WindowEditor
          window={rule.window}
          onChange={(w) => {
            const next = { ...rule };
            if (w) next.window = w;
            else delete next.window;
            onChange(next);
          }}
        />
      </Group>
      <Group gap="xs">
        <Select
          aria-label="Measure"
          w={150}
          allowDeselect={false}
          data={MEASURES.map(([value, label]) => ({ value, label }))}
          value={fn}
          onChange={(f) => f && setMeasure(f)}
        />
        {rule.measure?.property !== undefined && (
          <Autocomplete
            aria-label="Measured property"
            w={130}
            data={propertySuggestions(types, rule.event, true)}
            filter={suggestionFilter}
            value={rule.measure.property}
            onChange={(property) => onChange({ ...rule, measure: { fn, property } })}
          />
        )}
        <Select
          aria-label="Measure operator"
          w={150}
          allowDeselect={false}
          data={OPS[opsList].map(([v, label]) => ({ value: v, label }))}
          value={op}
          onChange={(o) => {
            if (!o) return;
            const v = defaultValue(valueKind(opsList, o));
            const next: EventRule = { ...rule, op: o };
            if (v === undefined) delete next.value;
            else next.value = valueKind(opsList, o) === valueKind(opsList, op) ? value : v;
            onChange(next);
          }}
        />
        <ValueInput
          kind={valueKind(opsList, op)}
          label="Measure value"
          value={value}
          onChange={(v) => onChange({ ...rule, op, value: v })}
        />
      </Group>
      <WhereEditor
        event={rule.event}
        where={rule.where}
        onChange={(w) => {
          const next = { ...rule };
          if (w) next.where = w;
          else delete next.where;
          onChange(next);
        }}
      />
    </Stack>
  );
}
