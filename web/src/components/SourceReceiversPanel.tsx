import { Alert, Anchor, Group, Stack, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { PROVIDER_INFO, sourcesApi, when } from "../sources-api.ts";
import { EmptyState } from "./EmptyState.tsx";
import { SourceCopyIcon } from "./SourceCopyField.tsx";
import { SourceReceiverForm } from "./SourceReceiverForm.tsx";
import { TableSkeleton } from "./TableSkeleton.tsx";

const n = (x: number) => x.toLocaleString("en");

/** The receivers of sending platforms' webhooks, with their counters, and a form for a new one. */
export function SourceReceiversPanel() {
  const receivers = useQuery({
    queryKey: ["receivers"],
    queryFn: sourcesApi.receivers,
    refetchInterval: 3000,
  });
  const list = receivers.data ?? [];
  return (
    <Stack>
      <Text maw={900}>
        A receiver takes the event webhooks of a sending platform (deliveries, opens, clicks, bounces,
        complaints, unsubscribes), checks their signature, and stores them as events of the contacts they
        name. Counters are since the server started.
      </Text>
      {receivers.isLoading && <TableSkeleton label="Loading receivers" rows={3} />}
      {receivers.isError && (
        <Alert color="red" role="alert">
          Could not load the receivers: {receivers.error.message}
        </Alert>
      )}
      {receivers.data && list.length === 0 && (
        <EmptyState title="No receivers yet.">
          Pick your sending platform in the form below, then paste the URL it gives into the platform's
          webhook settings.
        </EmptyState>
      )}
      {list.length > 0 && (
        <Table.ScrollContainer minWidth={860}>
          <Table data-testid="receivers-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Provider</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>URL</Table.Th>
                <Table.Th>Accepted</Table.Th>
                <Table.Th>Rejected</Table.Th>
                <Table.Th>Signature failures</Table.Th>
                <Table.Th>Last seen</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((r) => (
                <Table.Tr key={r.id} data-receiver={r.id}>
                  <Table.Td>
                    <Text size="sm" fw={500}>
                      {PROVIDER_INFO[r.provider]?.label ?? r.provider}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Anchor component={Link} to={`/sources/receivers/${encodeURIComponent(r.id)}`}>
                      {r.name || r.id}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Text size="sm" ff="monospace" data-testid="receiver-url">
                        {r.url}
                      </Text>
                      <SourceCopyIcon value={r.url} label={`Copy the URL of ${r.name || r.id}`} />
                    </Group>
                  </Table.Td>
                  <Table.Td data-testid="receiver-accepted">{n(r.stats.accepted)}</Table.Td>
                  <Table.Td data-testid="receiver-rejected">{n(r.stats.rejected)}</Table.Td>
                  <Table.Td data-testid="receiver-signature-failures">
                    {r.stats.signature_failures > 0 ? (
                      <Text c="red" fw={700} size="sm">
                        {n(r.stats.signature_failures)}
                      </Text>
                    ) : (
                      "0"
                    )}
                  </Table.Td>
                  <Table.Td>{when(r.stats.last_seen_at)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <SourceReceiverForm />
    </Stack>
  );
}
