import { ActionIcon, Autocomplete, Button, Group, Select, Stack } from "@mantine/core";
import type { Where } from "../api.ts";
import { defaultValue, newWhere, OPS, valueKind } from "../rules.ts";
import { propertySuggestions, suggestionFilter, useEventTypes } from "./EventCondition.tsx";
import { ValueInput } from "./ValueInput.tsx";

/**
 * Property filters of an event condition or a sequence step. The property input
 * suggests the names the workspace's events of `event` carry (of every type when no
 * event is given) and takes any other name too.
 */
export function WhereEditor({
  where,
  onChange,
  event,
}: {
  where: Where[] | undefined;
  onChange: (w: Where[] | undefined) => void;
  event?: string;
}) {
  const types = useEventTypes();
  const names = propertySuggestions(types, event);
  const list = where ?? [];
  const set = (i: number, w: Where) => onChange(list.map((x, j) => (j === i ? w : x)));
  return (
    <Stack gap={4}>
      {list.map((w, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: filters have no identity but their place
        <Group key={i} gap="xs" align="flex-start" data-testid="where-filter">
          <Autocomplete
            aria-label="Property"
            placeholder="property (e.g. amount)"
            w={170}
            data={names}
            filter={suggestionFilter}
            value={w.property}
            onChange={(property) => set(i, { ...w, property })}
          />
          <Select
            aria-label="Property operator"
            w={140}
            allowDeselect={false}
            data={OPS.where.map(([value, label]) => ({ value, label }))}
            value={w.op}
            onChange={(op) => {
              if (!op) return;
              const v = defaultValue(valueKind("where", op));
              const next: Where = { property: w.property, op };
              if (v !== undefined) next.value = v;
              set(i, next);
            }}
          />
          <ValueInput
            kind={valueKind("where", w.op)}
            label="Property value"
            value={w.value}
            onChange={(value) => set(i, { ...w, value })}
          />
          <ActionIcon
            variant="subtle"
            color="gray"
            aria-label="Remove property filter"
            onClick={() => {
              const next = list.filter((_, j) => j !== i);
              onChange(next.length ? next : undefined);
            }}
          >
            ✕
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button size="compact-xs" variant="subtle" onClick={() => onChange([...list, newWhere()])}>
          + where property…
        </Button>
      </Group>
    </Stack>
  );
}
