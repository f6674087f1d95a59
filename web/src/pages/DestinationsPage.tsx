import { Alert, Anchor, Stack, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../api.ts";
import { DestinationStateBadge } from "../components/DestinationBadges.tsx";
import { DestinationForm } from "../components/DestinationForm.tsx";
import { EmptyState } from "../components/EmptyState.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { destinationsApi, KIND_INFO, seconds } from "../destinations-api.ts";
import { formatNumber } from "../format.ts";
import { when } from "../sources-api.ts";

const n = formatNumber;

/** Every destination with its sync status, and the form for a new one. */
export function DestinationsPage() {
  const list = useQuery({ queryKey: ["destinations"], queryFn: destinationsApi.list, refetchInterval: 3000 });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const segmentName = (id: string) => segments.data?.find((s) => s.id === id)?.name ?? id;
  const rows = list.data ?? [];
  return (
    <Stack>
      <PageHeader
        title="Destinations"
        description="Segments kept in sync with a provider's audience: members are added as they enter and removed as they leave."
      />
      {list.isLoading && <TableSkeleton label="Loading destinations" rows={3} />}
      {list.isError && (
        <Alert color="red" role="alert">
          Could not load the destinations: {list.error.message}
        </Alert>
      )}
      {list.data && rows.length === 0 && (
        <EmptyState title="No destinations yet.">
          Pick a segment and a provider (Mailchimp, Brevo, Kit, Meta, Google or your own HTTP endpoint) in the
          form below; create it paused to see a dry run first.
        </EmptyState>
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={960}>
          <Table data-testid="destinations-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Segment</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Pending adds</Table.Th>
                <Table.Th>Pending removes</Table.Th>
                <Table.Th>Sync lag</Table.Th>
                <Table.Th>Last sync</Table.Th>
                <Table.Th>Last error</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((d) => (
                <Table.Tr key={d.id} data-destination={d.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/destinations/${encodeURIComponent(d.id)}`}>
                      {d.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{KIND_INFO[d.kind]?.label ?? d.kind}</Table.Td>
                  <Table.Td>
                    <Anchor component={Link} to={`/segments/${encodeURIComponent(d.segment_id)}`} size="sm">
                      {segmentName(d.segment_id)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td data-testid="destination-state">
                    <DestinationStateBadge state={d.state} />
                  </Table.Td>
                  <Table.Td data-testid="destination-pending-adds">{n(d.pending.adds)}</Table.Td>
                  <Table.Td data-testid="destination-pending-removes">{n(d.pending.removes)}</Table.Td>
                  <Table.Td>{seconds(d.sync_lag_s)}</Table.Td>
                  <Table.Td>{when(d.last_sync_at)}</Table.Td>
                  <Table.Td maw={320}>
                    {d.last_error ? (
                      <Text size="sm" c="red" lineClamp={2} title={d.last_error}>
                        {d.last_error}
                      </Text>
                    ) : (
                      ""
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <DestinationForm />
    </Stack>
  );
}
