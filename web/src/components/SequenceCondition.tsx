import { ActionIcon, Autocomplete, Button, Group, Stack, Text } from "@mantine/core";
import type { Rule } from "../api.ts";
import { KNOWN_EVENTS } from "../rules.ts";
import { DurationInput } from "./DurationInput.tsx";
import { WhereEditor } from "./WhereEditor.tsx";
import { WindowEditor } from "./WindowEditor.tsx";

type SequenceRule = Extract<Rule, { type: "sequence" }>;

export function SequenceCondition({ rule, onChange }: { rule: SequenceRule; onChange: (r: Rule) => void }) {
  const setStep = (i: number, step: SequenceRule["steps"][number]) =>
    onChange({ ...rule, steps: rule.steps.map((s, j) => (j === i ? step : s)) });
  return (
    <Stack gap={6}>
      {rule.steps.map((s, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: steps are identified by their order
        <Stack key={i} gap={2} pl="sm" style={{ borderLeft: "2px solid var(--mantine-color-gray-3)" }}>
          <Group gap="xs">
            <Text size="sm">{i === 0 ? "did" : "then"}</Text>
            <Autocomplete
              aria-label={`Step ${i + 1} event`}
              w={170}
              data={KNOWN_EVENTS}
              value={s.event}
              onChange={(event) => setStep(i, { ...s, event })}
            />
            {rule.steps.length > 2 && (
              <ActionIcon
                variant="subtle"
                color="gray"
                aria-label={`Remove step ${i + 1}`}
                onClick={() => onChange({ ...rule, steps: rule.steps.filter((_, j) => j !== i) })}
              >
                ✕
              </ActionIcon>
            )}
          </Group>
          <WhereEditor
            where={s.where}
            onChange={(w) => {
              const next = { event: s.event, ...(w ? { where: w } : {}) };
              setStep(i, next);
            }}
          />
        </Stack>
      ))}
      <Group gap="xs">
        <Button
          size="compact-xs"
          variant="subtle"
          disabled={rule.steps.length >= 10}
          onClick={() => onChange({ ...rule, steps: [...rule.steps, { event: "order_placed" }] })}
        >
          + step
        </Button>
        <Text size="sm">all within</Text>
        <DurationInput
          label="Within"
          value={rule.within}
          onChange={(within) => onChange({ ...rule, within })}
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
    </Stack>
  );
}
