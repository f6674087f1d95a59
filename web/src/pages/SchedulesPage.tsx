import { Alert, Anchor, Stack, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../api.ts";
import { EmptyState } from "../components/EmptyState.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { ScheduleActions } from "../components/ScheduleActions.tsx";
import { ScheduleStateBadge } from "../components/ScheduleBadges.tsx";
import { ScheduleForm } from "../components/ScheduleForm.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { FORMAT_LABEL, schedulesApi, targetSummary } from "../schedules-api.ts";
import { when } from "../sources-api.ts";

/** Scheduled exports of segments to a bucket or a URL, and the form for a new one. */
export function SchedulesPage() {
  const list = useQuery({ queryKey: ["schedules"], queryFn: schedulesApi.list, refetchInterval: 3000 });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const segmentName = (id: string) => segments.data?.find((s) => s.id === id)?.name ?? id;
  const rows = list.data ?? [];
  return (
    <Stack>
      <PageHeader
        title="Scheduled exports"
        description="A segment's members written as a file on a schedule, to S3 or an HTTPS URL."
      />
      {list.isLoading && <TableSkeleton label="Loading schedules" rows={3} />}
      {list.isError && (
        <Alert color="red" role="alert">
          Could not load the schedules: {list.error.message}
        </Alert>
      )}
      {list.data && rows.length === 0 && (
        <EmptyState title="No scheduled exports yet.">
          Choose a segment, a format and when to run in the form below; each run writes the members to your
          bucket or URL.
        </EmptyState>
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={1000}>
          <Table data-testid="schedules-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Segment</Table.Th>
                <Table.Th>Format</Table.Th>
                <Table.Th>Cron</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Next run</Table.Th>
                <Table.Th>Last run</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((s) => (
                <Table.Tr key={s.id} data-schedule={s.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/schedules/${encodeURIComponent(s.id)}`}>
                      {s.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{segmentName(s.segment_id)}</Table.Td>
                  <Table.Td>{FORMAT_LABEL[s.format] ?? s.format}</Table.Td>
                  {/* A cron expression reads as one word: it never breaks at its spaces. */}
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    <Text size="sm" ff="monospace">
                      {s.cron}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {s.time_zone}
                    </Text>
                  </Table.Td>
                  <Table.Td maw={320}>
                    <Text size="sm" ff="monospace" lineClamp={2} title={targetSummary(s.target)}>
                      {targetSummary(s.target)}
                    </Text>
                  </Table.Td>
                  <Table.Td data-testid="schedule-state">
                    {/* A badge clips its label and would let a crowded table squeeze it to "A…". */}
                    <div style={{ minWidth: "max-content" }}>
                      <ScheduleStateBadge state={s.state} />
                    </div>
                  </Table.Td>
                  <Table.Td>{s.state === "paused" ? "paused" : when(s.next_run_at)}</Table.Td>
                  <Table.Td>{when(s.last_run_at)}</Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    <ScheduleActions s={s} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <ScheduleForm />
    </Stack>
  );
}
