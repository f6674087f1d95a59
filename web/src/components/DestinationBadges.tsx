import { Badge } from "@mantine/core";
import { type DestinationState, RUN_STATE_COLOR, type RunState, STATE_INFO } from "../destinations-api.ts";

export function DestinationStateBadge({ state }: { state: DestinationState }) {
  const s = STATE_INFO[state] ?? { label: state, color: "gray" };
  return (
    <Badge color={s.color} variant={state === "failing" ? "filled" : "light"} data-state={state}>
      {s.label}
    </Badge>
  );
}

export function DestinationRunStateBadge({ state }: { state: RunState }) {
  return (
    <Badge color={RUN_STATE_COLOR[state] ?? "gray"} variant="light">
      {state}
    </Badge>
  );
}
