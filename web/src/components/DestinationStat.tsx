import { Paper, Text } from "@mantine/core";

/** One figure of a destination, as the receiver page shows its counters. */
export function DestinationStat({
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
