import { Badge } from "@mantine/core";
import type { Schedule, ScheduleRun } from "../schedules-api.ts";

export function ScheduleStateBadge({ state }: { state: Schedule["state"] }) {
  return (
    <Badge color={state === "active" ? "green" : "gray"} variant="light" data-state={state}>
      {state}
    </Badge>
  );
}

const RUN_COLOR: Record<ScheduleRun["state"], string> = {
  running: "blue",
  succeeded: "green",
  failed: "red",
};

export function ScheduleRunStateBadge({ state }: { state: ScheduleRun["state"] }) {
  return (
    <Badge color={RUN_COLOR[state] ?? "gray"} variant="light">
      {state}
    </Badge>
  );
}
