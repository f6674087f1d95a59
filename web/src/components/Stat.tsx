import { Paper, Text } from "@mantine/core";

/** One labelled figure in a bordered box (receiver counters, destination status, dry runs). */
export function Stat({
  label,
  value,
  testId,
  alert,
}: {
  label: string;
  value: string;
  testId: string;
  alert?: boolean;
}) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="lg" c={alert ? "red" : undefined} data-testid={testId}>
        {value}
      </Text>
    </Paper>
  );
}
