import { Alert, Group, Loader, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import type { ApiError, Preview } from "../api.ts";
import { ContactSample } from "./ContactSample.tsx";

/**
 * The live count and sample of the rule being edited, and the edit diff of a saved segment.
 * Each contact is listed once: "would enter" and "would leave" list up to 10 of those the
 * edit moves, and the sample below lists the other matching contacts of the server's
 * sample (when editing, those already in the segment that stay).
 */
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
  const diff = editing ? preview?.diff : undefined;
  // The sample and the entering list are both the first matches in the same order, so
  // an entering contact in the sample is one of those listed as entering.
  const entering = new Set(diff?.entered_sample.map((c) => c.id));
  const others = (preview?.sample ?? []).filter((c) => !entering.has(c.id));
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
            {diff && (
              <SimpleGrid cols={1} data-testid="edit-diff">
                <Stack gap={4} data-testid="diff-entered-list">
                  <Text c="green" fw={600} data-testid="diff-entered">
                    +{diff.entered.toLocaleString("en")} would enter
                  </Text>
                  <ContactSample contacts={diff.entered_sample} empty="Nobody enters" />
                </Stack>
                <Stack gap={4} data-testid="diff-exited-list">
                  <Text c="red" fw={600} data-testid="diff-exited">
                    −{diff.exited.toLocaleString("en")} would leave
                  </Text>
                  <ContactSample contacts={diff.exited_sample} empty="Nobody leaves" />
                </Stack>
              </SimpleGrid>
            )}
            <Stack gap={4} data-testid="preview-sample">
              <Text fw={600} size="sm">
                {diff ? "Already members, still matching" : "Sample"}
              </Text>
              <ContactSample
                contacts={others}
                empty={
                  preview.count === 0
                    ? "No contact matches this rule"
                    : "Every sampled match is listed as entering above"
                }
              />
            </Stack>
          </>
        ) : (
          <Text c="dimmed">Computing…</Text>
        )}
      </Stack>
    </Paper>
  );
}
