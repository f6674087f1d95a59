import {
  ActionIcon,
  Autocomplete,
  Button,
  Group,
  SegmentedControl,
  Stack,
  Text,
  Tooltip,
} from "@mantine/core";
import type { Rule } from "../api.ts";
import { type SequenceStep, stepRemovable, stepToggleBlocked, withNewStep } from "../rules.ts";
import { DurationInput } from "./DurationInput.tsx";
import { eventSuggestions, suggestionFilter, useEventTypes } from "./EventCondition.tsx";
import { WhereEditor } from "./WhereEditor.tsx";
import { WindowEditor } from "./WindowEditor.tsx";

type SequenceRule = Extract<Rule, { type: "sequence" }>;

/** The step with `not` set or left out (never `not: false`, which the API refuses). */
function withNot(step: SequenceStep, not: boolean): SequenceStep {
  const { not: _, ...rest } = step;
  return not ? { ...rest, not: true } : rest;
}

/** "did" or "did not" for a step after the first; disabled, with the reason, where the order forbids it. */
function DidToggle({
  steps,
  i,
  onChange,
}: {
  steps: SequenceStep[];
  i: number;
  onChange: (not: boolean) => void;
}) {
  const blocked = stepToggleBlocked(steps, i);
  const control = (
    <SegmentedControl
      size="xs"
      aria-label={`Step ${i + 1} done`}
      disabled={blocked !== null}
      data={[
        { value: "did", label: "did" },
        { value: "not", label: "did not" },
      ]}
      value={steps[i]?.not ? "not" : "did"}
      onChange={(v) => onChange(v === "not")}
    />
  );
  if (blocked === null) return control;
  return (
    <Tooltip label={blocked} multiline w={260} withArrow>
      <span data-testid={`step-${i + 1}-blocked`} title={blocked}>
        {control}
      </span>
    </Tooltip>
  );
}

export function SequenceCondition({ rule, onChange }: { rule: SequenceRule; onChange: (r: Rule) => void }) {
  const types = useEventTypes();
  const setStep = (i: number, step: SequenceStep) =>
    onChange({ ...rule, steps: rule.steps.map((s, j) => (j === i ? step : s)) });
  const first = rule.steps[0]?.event || "the first step";
  const negatives = rule.steps.filter((s) => s.not).map((s) => s.event || "…");
  const none = [...new Set(negatives)].join(" or ");
  const lastDone = rule.steps.filter((s) => !s.not).at(-1)?.event || first;
  return (
    <Stack gap={6}>
      {rule.steps.map((s, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: steps are identified by their order
        <Stack key={i} gap={2} pl="sm" style={{ borderLeft: "2px solid var(--mantine-color-gray-3)" }}>
          <Group gap="xs">
            <Text size="sm">{i === 0 ? "did" : "then"}</Text>
            {i > 0 && <DidToggle steps={rule.steps} i={i} onChange={(not) => setStep(i, withNot(s, not))} />}
            <Autocomplete
              aria-label={`Step ${i + 1} event`}
              w={170}
              data={eventSuggestions(types)}
              filter={suggestionFilter}
              value={s.event}
              onChange={(event) => setStep(i, { ...s, event })}
            />
            {rule.steps.length > 2 && (
              <ActionIcon
                variant="subtle"
                color="gray"
                aria-label={`Remove step ${i + 1}`}
                disabled={!stepRemovable(rule.steps, i)}
                title={
                  stepRemovable(rule.steps, i)
                    ? undefined
                    : "The sequence must start with a step the contact did"
                }
                onClick={() => onChange({ ...rule, steps: rule.steps.filter((_, j) => j !== i) })}
              >
                ✕
              </ActionIcon>
            )}
          </Group>
          <WhereEditor
            event={s.event}
            where={s.where}
            onChange={(w) => {
              const next: SequenceStep = { event: s.event, ...(w ? { where: w } : {}) };
              setStep(i, withNot(next, s.not === true));
            }}
          />
        </Stack>
      ))}
      <Group gap="xs">
        <Button
          size="compact-xs"
          variant="subtle"
          disabled={rule.steps.length >= 10}
          onClick={() => onChange({ ...rule, steps: withNewStep(rule.steps, { event: "order_placed" }) })}
        >
          + step
        </Button>
        {/* With a step not done, `within` is a deadline counted from the first step, not a span of the steps. */}
        <Text size="sm">{negatives.length > 0 ? "within" : "all within"}</Text>
        <DurationInput
          label="Within"
          value={rule.within}
          onChange={(within) => onChange({ ...rule, within })}
        />
        {negatives.length > 0 && <Text size="sm">of {first}</Text>}
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
      {negatives.length > 0 && (
        <Text size="xs" c="dimmed" data-testid="sequence-deadline">
          The contact enters once {rule.within} has passed since {first} with no {none}{" "}
          {lastDone === first ? "in that time" : `after ${lastDone}`}; one that happens later does not take
          them out.
        </Text>
      )}
    </Stack>
  );
}
