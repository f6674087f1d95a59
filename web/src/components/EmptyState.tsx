import { Paper, Stack, Text } from "@mantine/core";
import type { ReactNode } from "react";

/** A list with nothing in it: what is missing, and what to do next (a sentence, a button). */
export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <Paper withBorder p="xl" data-testid="empty-state" style={{ borderStyle: "dashed" }}>
      <Stack gap="xs" align="center" ta="center">
        <Text fw={600}>{title}</Text>
        {children && (
          <Text c="dimmed" size="sm" maw={520}>
            {children}
          </Text>
        )}
        {action}
      </Stack>
    </Paper>
  );
}
