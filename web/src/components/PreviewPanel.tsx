import { Alert, Group, Loader, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import type { ApiError, Preview } from "../api.ts";
import { ContactSample } from "./ContactSample.tsx";

/** The live count and sample of the rule being edited, and the edit diff of a saved segment. */
export function PreviewPanel({
  preview,
  loading,
  error,
  editing,
}: {
  preview: Preview | undefined;
  loading: boolean;
  error: ApiError | null;
  editing: boolean;
}) {
  return (
    <Paper withBorder p="md" aria-live="polite">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={4}>Preview</Title>
          {loading && <Loader size="xs" aria-label="Updating preview" />}
        </Group>
        {error ? (
          <Alert color="red" title="The rule is not valid yet" role="alert">
            {error.issues.length
              ? error.issues.map((i) => <div key={i.path + i.message}>{i.message}</div>)
              : error.message}
          </Alert>
        ) : preview ? (
          <>
            <Group align="baseline" gap="xs">
              <Text size="xl" fw={700} data-testid="preview-count">
                {preview.count.toLocaleString("en")}
              </Text>
              <Text c="dimmed" size="sm">
                matching contacts · {preview.took_ms.toFixed(1)} ms
              </Text>
            </Group>
            {editing && preview.diff && (
              <SimpleGrid cols={1} data-testid="edit-diff">
                <Stack gap={4}>
                  <Text c="green" fw={600} data-testid="diff-entered">
                    +{preview.diff.entered.toLocaleString("en")} would enter
                  </Text>
                  <ContactSample contacts={preview.diff.entered_sample} empty="Nobody enters" />
                </Stack>
                <Stack gap={4}>
                  <Text c="red" fw={600} data-testid="diff-exited">
                    −{preview.diff.exited.toLocaleString("en")} would leave
                  </Text>
                  <ContactSample contacts={preview.diff.exited_sample} empty="Nobody leaves" />
                </Stack>
              </SimpleGrid>
            )}
            <Text fw={600} size="sm">
              Sample
            </Text>
            <ContactSample contacts={preview.sample} empty="No contact matches this rule" />
          </>
        ) : (
          <Text c="dimmed">Computing…</Text>
        )}
      </Stack>
    </Paper>
  );
}
