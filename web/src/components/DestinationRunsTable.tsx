import { Alert, Anchor, Button, Loader, Stack, Table, Text } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { destinationsApi, duration, type RunKind } from "../destinations-api.ts";
import { when } from "../sources-api.ts";
import { DestinationRunStateBadge } from "./DestinationBadges.tsx";

const RUN_KIND: Record<RunKind, string> = { full: "full sync", incremental: "changes", dry_run: "dry run" };

/** A destination's runs, newest first, each opening its per-contact outcomes. */
export function DestinationRunsTable({ destinationId }: { destinationId: string }) {
  const runs = useInfiniteQuery({
    queryKey: ["destination-runs", destinationId],
    queryFn: ({ pageParam }) => destinationsApi.runs(destinationId, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
    refetchInterval: 3000,
  });
  const list = runs.data?.pages.flatMap((p) => p.data) ?? [];
  if (runs.isLoading) return <Loader aria-label="Loading runs" />;
  if (runs.isError)
    return (
      <Alert color="red" role="alert">
        Could not load the runs: {runs.error.message}
      </Alert>
    );
  if (list.length === 0) return <Text c="dimmed">No runs yet.</Text>;
  return (
    <Stack gap="xs">
      <Table data-testid="runs-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Kind</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Added</Table.Th>
            <Table.Th>Removed</Table.Th>
            <Table.Th>Failed</Table.Th>
            <Table.Th>Skipped</Table.Th>
            <Table.Th>Started</Table.Th>
            <Table.Th>Duration</Table.Th>
            <Table.Th>Error</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.map((r) => (
            <Table.Tr key={r.id} data-run={r.id} data-kind={r.kind} data-state={r.state}>
              <Table.Td>{RUN_KIND[r.kind] ?? r.kind}</Table.Td>
              <Table.Td>
                <DestinationRunStateBadge state={r.state} />
              </Table.Td>
              <Table.Td data-testid="run-added">{r.added.toLocaleString("en")}</Table.Td>
              <Table.Td data-testid="run-removed">{r.removed.toLocaleString("en")}</Table.Td>
              <Table.Td data-testid="run-failed">
                {r.failed > 0 ? (
                  <Text c="red" fw={700} size="sm">
                    {r.failed.toLocaleString("en")}
                  </Text>
                ) : (
                  "0"
                )}
              </Table.Td>
              <Table.Td data-testid="run-skipped">{r.skipped.toLocaleString("en")}</Table.Td>
              <Table.Td>{when(r.started_at)}</Table.Td>
              <Table.Td>{duration(r.started_at, r.finished_at)}</Table.Td>
              <Table.Td maw={320}>
                {r.error && (
                  <Text size="sm" c="red" lineClamp={2} title={r.error}>
                    {r.error}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                {r.kind !== "dry_run" && (
                  <Anchor
                    component={Link}
                    size="sm"
                    to={`/destinations/${encodeURIComponent(destinationId)}/runs/${encodeURIComponent(r.id)}`}
                  >
                    Outcomes
                  </Anchor>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {runs.hasNextPage && (
        <Button
          variant="default"
          w="fit-content"
          loading={runs.isFetchingNextPage}
          onClick={() => runs.fetchNextPage()}
        >
          Older runs
        </Button>
      )}
    </Stack>
  );
}
