import { Alert, Button, Code, Group, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { destinationsApi } from "../destinations-api.ts";
import { Stat } from "./Stat.tsx";

/** A body sent as text is shown parsed when it is JSON, so it is indented like the others. */
function readable(body: unknown): unknown {
  if (typeof body !== "string") return body;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** What the next sync would send, sending nothing: counts and the first requests (credentials redacted). */
export function DestinationDryRun({ destinationId }: { destinationId: string }) {
  const qc = useQueryClient();
  const dry = useMutation({
    mutationFn: () => destinationsApi.dryRun(destinationId),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["destination-runs", destinationId] }),
  });
  return (
    <Paper withBorder p="md">
      <Group justify="space-between" mb="xs">
        <Title order={4}>Dry run</Title>
        <Button variant="default" loading={dry.isPending} onClick={() => dry.mutate()}>
          Dry run
        </Button>
      </Group>
      <Text size="sm" c="dimmed">
        What the next sync would send, without sending anything.
      </Text>
      {dry.error && (
        <Alert color="red" role="alert" mt="sm" title="The dry run failed">
          {dry.error.message}
        </Alert>
      )}
      {dry.data && (
        <Stack mt="sm" data-testid="dry-run">
          <SimpleGrid cols={{ base: 2, sm: 4 }}>
            <Stat
              label="Would add"
              value={dry.data.would_add.toLocaleString("en")}
              testId="dry-run-would-add"
            />
            <Stat
              label="Would remove"
              value={dry.data.would_remove.toLocaleString("en")}
              testId="dry-run-would-remove"
            />
          </SimpleGrid>
          {dry.data.requests.length === 0 ? (
            <Text c="dimmed" size="sm">
              No request would be sent.
            </Text>
          ) : (
            <>
              <Text size="sm">
                The first{" "}
                {dry.data.requests.length === 1 ? "request" : `${dry.data.requests.length} requests`}, as the
                provider would get {dry.data.requests.length === 1 ? "it" : "them"}:
              </Text>
              {dry.data.requests.map((r, i) => (
                // Planned requests have no id and never change once shown.
                // biome-ignore lint/suspicious/noArrayIndexKey: the list is fixed for this answer
                <Stack key={i} gap={4}>
                  <Text size="sm" ff="monospace" fw={500}>
                    {r.method} {r.url} ({r.rows.toLocaleString("en")} {r.rows === 1 ? "contact" : "contacts"})
                  </Text>
                  <Code block data-testid="dry-run-request" mah={360} style={{ overflow: "auto" }}>
                    {JSON.stringify({ headers: r.headers, body: readable(r.body) }, null, 2)}
                  </Code>
                </Stack>
              ))}
            </>
          )}
        </Stack>
      )}
    </Paper>
  );
}
