import { Alert, Badge, Button, Group, Loader, Select, Stack, Table, Text } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { segmentsApi } from "../segments-api.ts";
import { SegmentContactLink } from "./SegmentContactLink.tsx";
import { SegmentTime, useWorkspaceZone } from "./SegmentTime.tsx";

const SINCE = [
  ["all", "From the start"],
  ["1", "Last 24 hours"],
  ["7", "Last 7 days"],
  ["30", "Last 30 days"],
] as const;

/**
 * Who entered and left the segment, oldest first as the log is kept; "Load more" reads
 * on towards the newest, and a shorter span starts the log closer to now.
 */
export function SegmentChangesPanel({ segmentId }: { segmentId: string }) {
  const zone = useWorkspaceZone();
  const [span, setSpan] = useState<string>("all");
  // Fixed when the span is picked, so the query key (and its pages) stay put.
  const [since, setSince] = useState<string | undefined>(undefined);
  const q = useInfiniteQuery({
    queryKey: ["segment-changes", segmentId, since],
    queryFn: ({ pageParam }) =>
      segmentsApi.changes(segmentId, {
        ...(pageParam ? { cursor: pageParam } : {}),
        ...(since ? { since } : {}),
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = q.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <Stack maw={760}>
      <Group justify="space-between" align="flex-end">
        <Select
          label="Changes"
          w={220}
          allowDeselect={false}
          data={SINCE.map(([value, label]) => ({ value, label }))}
          value={span}
          onChange={(v) => {
            const next = v ?? "all";
            setSpan(next);
            setSince(
              next === "all" ? undefined : new Date(Date.now() - Number(next) * 86_400_000).toISOString(),
            );
          }}
        />
        <Text size="sm" c="dimmed">
          Oldest first · times in {zone ?? "…"}
        </Text>
      </Group>
      {q.isLoading && <Loader aria-label="Loading changes" />}
      {q.isError && <Alert color="red">Could not load the changes: {String(q.error)}</Alert>}
      {q.data && rows.length === 0 && <Text c="dimmed">No one has entered or left in this span.</Text>}
      {rows.length > 0 && (
        <Table striped data-testid="segment-changes">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Contact</Table.Th>
              <Table.Th>Change</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((c, k) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: log rows have no id, and the log is only appended to
              <Table.Tr key={`${k}:${c.contact_id}`} data-change={c.change}>
                <Table.Td>
                  <SegmentTime iso={c.at} zone={zone} />
                </Table.Td>
                <Table.Td>
                  <SegmentContactLink id={c.contact_id} />
                </Table.Td>
                <Table.Td>
                  <Badge variant="light" color={c.change === "entered" ? "green" : "gray"}>
                    {c.change === "entered" ? "entered" : "left"}
                  </Badge>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {q.data && (
        <Group>
          {q.hasNextPage ? (
            <Button variant="default" loading={q.isFetchingNextPage} onClick={() => void q.fetchNextPage()}>
              Load more
            </Button>
          ) : (
            rows.length > 0 && (
              <Text size="sm" c="dimmed" data-testid="changes-end">
                {rows.length.toLocaleString("en")} changes · up to date
              </Text>
            )
          )}
        </Group>
      )}
    </Stack>
  );
}
