import { Autocomplete, Group, NumberInput, Select, Stack, Text } from "@mantine/core";
import type { Rule } from "../api.ts";
import { MEASURES } from "../rules.ts";
import { eventSuggestions, propertySuggestions, suggestionFilter, useEventTypes } from "./EventCondition.tsx";
import { WindowEditor } from "./WindowEditor.tsx";

/**
 * An event condition compared with the rest of the workspace (docs/rules.md, "Rank
 * conditions", "Quintile scores"): `rank` for the top or bottom percent, or a quintile
 * `score` compared with a number from 1 to 5.
 */
export type RankRule = Extract<Rule, { type: "event" }> & {
  rank?: { direction: "top" | "bottom"; percent: number };
  score?: "quintile";
};

export function isRankRule(rule: Rule): rule is RankRule {
  return rule.type === "event" && ("rank" in rule || "score" in rule);
}

/** The measures a rank reads: every one but most_frequent, which is not a number. */
const RANKED = MEASURES.filter(([fn]) => fn !== "most_frequent");

const SCORE_OPS: [string, string][] = [
  ["gte", "at least"],
  ["lte", "at most"],
  ["eq", "exactly"],
];

export function RankCondition({ rule, onChange }: { rule: RankRule; onChange: (r: Rule) => void }) {
  const types = useEventTypes();
  const fn = rule.measure?.fn ?? "count";
  const mode = rule.rank?.direction ?? "quintile";
  const setMode = (m: string) => {
    const next: RankRule = { ...rule };
    delete next.op;
    delete next.value;
    delete next.rank;
    delete next.score;
    if (m === "quintile") {
      next.score = "quintile";
      next.op = "gte";
      next.value = 4;
    } else next.rank = { direction: m as "top" | "bottom", percent: rule.rank?.percent ?? 10 };
    onChange(next);
  };
  const setMeasure = (f: string) => {
    const next: RankRule = { ...rule };
    if (f === "count") delete next.measure;
    else
      next.measure =
        f === "first_at" || f === "last_at"
          ? { fn: f }
          : { fn: f, property: rule.measure?.property ?? "amount" };
    onChange(next);
  };
  return (
    <Stack gap={6}>
      <Group gap="xs">
        <Select
          aria-label="Rank"
          w={170}
          allowDeselect={false}
          data={[
            { value: "top", label: "in the top" },
            { value: "bottom", label: "in the bottom" },
            { value: "quintile", label: "quintile score (1–5)" },
          ]}
          value={mode}
          onChange={(m) => m && setMode(m)}
        />
        {rule.rank && (
          <NumberInput
            aria-label="Percent"
            w={100}
            min={0.01}
            max={100}
            decimalScale={2}
            suffix=" %"
            value={rule.rank.percent}
            error={rule.rank.percent > 0 && rule.rank.percent <= 100 ? undefined : "above 0, at most 100"}
            onChange={(v) => {
              if (typeof v !== "number" || !rule.rank) return;
              const next: RankRule = { ...rule, rank: { ...rule.rank, percent: v } };
              onChange(next);
            }}
          />
        )}
        {rule.score && (
          <>
            <Select
              aria-label="Score operator"
              w={110}
              allowDeselect={false}
              data={SCORE_OPS.map(([value, label]) => ({ value, label }))}
              value={rule.op ?? "gte"}
              onChange={(o) => o && onChange({ ...rule, op: o })}
            />
            <NumberInput
              aria-label="Score"
              w={70}
              min={1}
              max={5}
              allowDecimal={false}
              value={typeof rule.value === "number" ? rule.value : 4}
              onChange={(v) => typeof v === "number" && onChange({ ...rule, value: v })}
            />
          </>
        )}
        <Text size="sm">by</Text>
      </Group>
      <Group gap="xs">
        <Select
          aria-label="Ranked measure"
          w={150}
          allowDeselect={false}
          data={RANKED.map(([value, label]) => ({ value, label }))}
          value={fn}
          onChange={(f) => f && setMeasure(f)}
        />
        {rule.measure?.property !== undefined && (
          <Autocomplete
            aria-label="Ranked property"
            w={130}
            data={propertySuggestions(types, rule.event, true)}
            filter={suggestionFilter}
            value={rule.measure.property}
            onChange={(property) => onChange({ ...rule, measure: { fn, property } })}
          />
        )}
        <Autocomplete
          aria-label="Ranked event"
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
      <Text size="xs" c="dimmed">
        Compared with every contact of the workspace: membership can change when other contacts' data do.
      </Text>
    </Stack>
  );
}
