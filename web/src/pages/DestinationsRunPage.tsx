import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Loader,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { DestinationRunStateBadge } from "../components/DestinationBadges.tsx";
import { Stat } from "../components/Stat.tsx";
import { destinationsApi, duration, type OutcomeStatus } from "../destinations-api.ts";
import { when } from "../sources-api.ts";

const STATUS_COLOR: Record<OutcomeStatus, string> = { ok: "green", failed: "red", skipped: "gray" };
const FILTERS = ["all", "failed", "skipped", "ok"] as const;
type Filter = (typeof FILTERS)[number];

/** One run of a destination: its counts and every contact it sent, failed or skipped. */
export function DestinationsRunPage() {
  const { id, run } = useParams() as { id: string; run: string };
  const [params, setParams] = useSearchParams();
  const raw = params.get("status");
  const filter: Filter = FILTERS.includes(raw as Filter) ? (raw as Filter) : "all";
  const d = useQuery({ queryKey: ["destination", id], queryFn: () => destinationsApi.get(id) });
  const r = useQuery({
    queryKey: ["destination-run", id, run],
    queryFn: () => destinationsApi.run(id, run),
    refetchInterval: (q) => (q.state.data?.state === "running" ? 2000 : false),
  });
  const outcomes = useInfiniteQuery({
    queryKey: ["destination-outcomes", id, run, filter],
    queryFn: ({ pageParam }) =>
      destinationsApi.outcomes(id, run, {
        ...(pageParam ? { cursor: pageParam } : {}),
        ...(filter !== "all" ? { status: filter } : {}),
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
  });
  const back = `/destinations/${encodeURIComponent(id)}`;
  if (r.isLoading) return <Loader aria-label="Loading run" />;
  if (r.isError || !r.data)
    return (
      <Alert color="red" role="alert">
        Could not load the run: {r.error?.message}
      </Alert>
    );
  const x = r.data;
  const list = outcomes.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <Stack maw={1100}>
      <Anchor component={Link} to={back} size="sm">
        ← {d.data?.name ?? "Destination"}
      </Anchor>
      <Group gap="xs">
        <Title order={2}>
          Run {x.kind === "full" ? "(full sync)" : x.kind === "dry_run" ? "(dry run)" : ""}
        </Title>
        <DestinationRunStateBadge state={x.state} />
      </Group>
      <Text size="sm" c="dimmed">
        Started {when(x.started_at)} · {duration(x.started_at, x.finished_at)}
      </Text>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Stat label="Added" value={x.added.toLocaleString("en")} testId="run-stat-added" />
        <Stat label="Removed" value={x.removed.toLocaleString("en")} testId="run-stat-removed" />
        <Stat
          label="Failed"
          value={x.failed.toLocaleString("en")}
          testId="run-stat-failed"
          alert={x.failed > 0}
        />
        <Stat label="Skipped" value={x.skipped.toLocaleString("en")} testId="run-stat-skipped" />
      </SimpleGrid>
      {x.error && (
        <Alert color="red" title="Error">
          {x.error}
        </Alert>
      )}
      <Group justify="space-between">
        <Title order={4}>Contacts</Title>
        <SegmentedControl
          aria-label="Show outcomes"
          data-testid="outcome-filter"
          data={FILTERS.map((f) => ({ value: f, label: f === "ok" ? "sent" : f }))}
          value={filter}
          onChange={(v) => setParams(v === "all" ? {} : { status: v }, { replace: true })}
        />
      </Group>
      {outcomes.isLoading && <Loader aria-label="Loading outcomes" />}
      {outcomes.isError && (
        <Alert color="red" role="alert">
          Could not load the outcomes: {outcomes.error.message}
        </Alert>
      )}
      {outcomes.data && list.length === 0 && (
        <Text c="dimmed">
          {filter === "all" ? "This run sent nobody." : `No ${filter} contacts in this run.`}
        </Text>
      )}
      {list.length > 0 && (
        <Table data-testid="outcomes-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Contact</Table.Th>
              <Table.Th>Operation</Table.Th>
              <Table.Th>Outcome</Table.Th>
              <Table.Th>Provider error</Table.Th>
              <Table.Th>At</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.map((o) => (
              <Table.Tr key={`${o.contact_id}:${o.op}`} data-status={o.status}>
                <Table.Td>
                  <Anchor
                    component={Link}
                    to={`/contacts/${encodeURIComponent(o.contact_id)}`}
                    ff="monospace"
                  >
                    {o.contact_id}
                  </Anchor>
                </Table.Td>
                <Table.Td>{o.op}</Table.Td>
                <Table.Td>
                  <Badge color={STATUS_COLOR[o.status] ?? "gray"} variant="light">
                    {o.status === "ok" ? "sent" : o.status}
                  </Badge>
                </Table.Td>
                <Table.Td>{o.error ?? ""}</Table.Td>
                <Table.Td>{when(o.at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {outcomes.hasNextPage && (
        <Button
          variant="default"
          w="fit-content"
          loading={outcomes.isFetchingNextPage}
          onClick={() => outcomes.fetchNextPage()}
        >
          More contacts
        </Button>
      )}
    </Stack>
  );
}
