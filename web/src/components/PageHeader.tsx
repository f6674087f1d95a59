import { Anchor, Box, Group, Stack, Text, Title } from "@mantine/core";
import type { ReactNode } from "react";
import { Link } from "react-router";

/**
 * The top of every page: an optional way back, the title (with badges beside it), one
 * line saying what the page is for, and the page's main actions on the right (below the
 * title on a narrow window).
 */
export function PageHeader({
  title,
  badges,
  description,
  actions,
  back,
}: {
  title: ReactNode;
  badges?: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  back?: { to: string; label: string };
}) {
  return (
    <Stack gap={4} mb="xs">
      {back && (
        <Anchor component={Link} to={back.to} size="sm" w="fit-content">
          ← {back.label}
        </Anchor>
      )}
      <Group justify="space-between" align="flex-start" gap="sm">
        <Box miw={0} style={{ flex: "1 1 320px" }}>
          <Group gap="xs" align="center">
            <Title order={2} style={{ overflowWrap: "anywhere" }}>
              {title}
            </Title>
            {badges}
          </Group>
          {description && (
            <Text c="dimmed" size="sm" mt={4} maw={760}>
              {description}
            </Text>
          )}
        </Box>
        {actions && (
          <Group gap="xs" wrap="wrap">
            {actions}
          </Group>
        )}
      </Group>
    </Stack>
  );
}
