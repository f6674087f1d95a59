import { Alert, Anchor, Badge, Button, Group, Loader, Stack, Table, Text, Title } from "@mantine/core";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../api.ts";
import { ScheduleActions } from "../components/ScheduleActions.tsx";
import { ScheduleRunStateBadge, ScheduleStateBadge } from "../components/ScheduleBadges.tsx";
import { seconds } from "../destinations-api.ts";
import { bytes, FORMAT_LABEL, schedulesApi, targetSummary } from "../schedules-api.ts";
import { when } from "../sources-api.ts";

const took = (ms: number | null) => (ms === null ? "running" : ms < 1000 ? `${ms} ms` : seconds(ms / 1000));

/** One scheduled export: what, when, where, and its runs. */
export function SchedulesDetailPage() {
  const { id } = useParams() as { id: string };
  const nav = useNavigate();
  const s = useQuery({
    queryKey: ["schedule", id],
    queryFn: () => schedulesApi.get(id),
    refetchInterval: 3000,
  });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const runs = useInfiniteQuery({
    queryKey: ["schedule-runs", id],
    queryFn: ({ pageParam }) => schedulesApi.runs(id, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
    refetchInterval: 2000,
  });
  if (s.isLoading) return <Loader aria-label="Loading schedule" />;
  if (s.isError || !s.data)
    return (
      <Alert color="red" role="alert">
        Could not load the schedule: {s.error?.message}
      </Alert>
    );
  const x = s.data;
  const list = runs.data?.pages.flatMap((p) => p.data) ?? [];
  const segmentName = segments.data?.find((g) => g.id === x.segment_id)?.name ?? x.segment_id;
  const headers = x.target.kind === "http" ? Object.keys(x.target.headers) : [];
  return (
    <Stack maw={1200}>
      <Anchor component={Link} to="/schedules" size="sm">
        ← Scheduled exports
      </Anchor>
      <Group justify="space-between" align="flex-start">
        <Group gap="xs">
          <Title order={2}>{x.name}</Title>
          <Badge variant="light">{FORMAT_LABEL[x.format] ?? x.format}</Badge>
          <span data-testid="schedule-state">
            <ScheduleStateBadge state={x.state} />
          </span>
        </Group>
        <ScheduleActions s={x} size="sm" onDeleted={() => nav("/schedules")} />
      </Group>
      <Text size="sm" data-testid="schedule-settings">
        Segment:{" "}
        <Anchor component={Link} to={`/segments/${encodeURIComponent(x.segment_id)}`}>
          {segmentName}
        </Anchor>
        {" · "}
        <b>cron</b> <code>{x.cron}</code> ({x.time_zone}) · <b>next run</b>{" "}
        {x.state === "paused" ? "paused" : when(x.next_run_at)} · <b>target</b>{" "}
        <code>{targetSummary(x.target)}</code>
        {x.target.kind === "s3" && (
          <>
            {" "}
            · <b>access key</b> {x.target.access_key_id}
          </>
        )}
        {headers.length > 0 && (
          <>
            {" "}
            · <b>headers</b> {headers.join(", ")} (values never shown)
          </>
        )}
      </Text>
      <Title order={4}>Runs</Title>
      {runs.isLoading && <Loader aria-label="Loading runs" />}
      {runs.isError && (
        <Alert color="red" role="alert">
          Could not load the runs: {runs.error.message}
        </Alert>
      )}
      {runs.data && list.length === 0 && <Text c="dimmed">No runs yet.</Text>}
      {list.length > 0 && (
        <Table data-testid="schedule-runs-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Scheduled for</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Rows</Table.Th>
              <Table.Th>Bytes</Table.Th>
              <Table.Th>Duration</Table.Th>
              <Table.Th>Location</Table.Th>
              <Table.Th>Error</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.map((r) => (
              <Table.Tr key={r.id} data-run={r.id} data-state={r.state}>
                <Table.Td>{when(r.scheduled_for)}</Table.Td>
                <Table.Td>
                  <ScheduleRunStateBadge state={r.state} />
                </Table.Td>
                <Table.Td data-testid="schedule-run-rows">{r.rows.toLocaleString("en")}</Table.Td>
                <Table.Td title={`${r.bytes} bytes`}>{bytes(r.bytes)}</Table.Td>
                <Table.Td>{took(r.duration_ms)}</Table.Td>
                <Table.Td maw={360}>
                  <Text size="sm" ff="monospace" lineClamp={2} title={r.location ?? ""}>
                    {r.location ?? ""}
                  </Text>
                </Table.Td>
                <Table.Td maw={320}>
                  {r.error && (
                    <Text size="sm" c="red" lineClamp={3} title={r.error}>
                      {r.error}
                    </Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
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
