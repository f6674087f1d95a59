import { ActionIcon, Autocomplete, Group, Select, TagsInput } from "@mantine/core";
import type { Rule } from "../api.ts";
import { DurationInput } from "./DurationInput.tsx";
import { eventSuggestions, suggestionFilter, useEventTypes } from "./EventCondition.tsx";
import { FieldCondition } from "./FieldCondition.tsx";
import { SegmentCondition } from "./SegmentCondition.tsx";

export type Category = "field" | "tag" | "event" | "segment";

export function categoryOf(r: Rule): Category {
  if (r.type === "field") return r.field === "tags" ? "tag" : "field";
  if (r.type === "event" || (r.type === "not" && r.condition.type === "event")) return "event";
  return "segment";
}

export function ruleFor(c: Category): Rule {
  switch (c) {
    case "field":
      return { type: "field", field: "country", op: "eq", value: "" };
    case "tag":
      return { type: "field", field: "tags", op: "contains_any", value: [] };
    case "event":
      return { type: "event", event: "email_opened", window: { in_last: "30d" } };
    case "segment":
      return { type: "segment", op: "in", segment: "subscribed" };
  }
}

/** One filter of the contacts page: Category → Conditional → Value, as a rule node. */
export function FilterRow({
  rule,
  onChange,
  onRemove,
  known,
}: {
  rule: Rule;
  onChange: (r: Rule) => void;
  onRemove: () => void;
  known: Record<string, string[]>;
}) {
  const cat = categoryOf(rule);
  const types = useEventTypes();
  let body: React.ReactNode = null;
  if (cat === "field" && rule.type === "field") {
    body = <FieldCondition rule={rule} onChange={onChange} known={known} />;
  } else if (cat === "tag" && rule.type === "field") {
    body = (
      <>
        <Select
          aria-label="Operator"
          w={190}
          allowDeselect={false}
          data={[
            { value: "contains_any", label: "has any of the tags" },
            { value: "contains_all", label: "has all of the tags" },
            { value: "contains_none", label: "has none of the tags" },
          ]}
          value={rule.op}
          onChange={(op) => op && onChange({ ...rule, op })}
        />
        <TagsInput
          aria-label="Tags"
          w={260}
          data={known.tags ?? []}
          value={Array.isArray(rule.value) ? (rule.value as string[]) : []}
          onChange={(value) => onChange({ ...rule, value })}
        />
      </>
    );
  } else if (cat === "event") {
    const ev = rule.type === "not" ? rule.condition : rule;
    const negated = rule.type === "not";
    if (ev.type === "event") {
      const win = ev.window && "in_last" in ev.window ? ev.window.in_last : "30d";
      const make = (event: string, neg: boolean, d: string): Rule => {
        const e: Rule = { type: "event", event, window: { in_last: d } };
        return neg ? { type: "not", condition: e } : e;
      };
      body = (
        <>
          <Select
            aria-label="Operator"
            w={150}
            allowDeselect={false}
            data={[
              { value: "did", label: "has done" },
              { value: "not", label: "has not done" },
            ]}
            value={negated ? "not" : "did"}
            onChange={(v) => onChange(make(ev.event, v === "not", win))}
          />
          <Autocomplete
            aria-label="Event"
            w={170}
            data={eventSuggestions(types)}
            filter={suggestionFilter}
            value={ev.event}
            onChange={(e) => onChange(make(e, negated, win))}
          />
          <span>in the last</span>
          <DurationInput label="Window" value={win} onChange={(d) => onChange(make(ev.event, negated, d))} />
        </>
      );
    }
  } else if (rule.type === "segment") {
    body = <SegmentCondition rule={rule} onChange={onChange} />;
  }
  return (
    <Group gap="xs" align="flex-start" data-testid="filter-row">
      <Select
        aria-label="Category"
        w={120}
        allowDeselect={false}
        data={[
          { value: "field", label: "Field" },
          { value: "tag", label: "Tag" },
          { value: "event", label: "Event" },
          { value: "segment", label: "Segment" },
        ]}
        value={cat}
        onChange={(c) => c && onChange(ruleFor(c as Category))}
      />
      {body}
      <ActionIcon variant="subtle" color="gray" aria-label="Remove filter" onClick={onRemove}>
        ✕
      </ActionIcon>
    </Group>
  );
}
