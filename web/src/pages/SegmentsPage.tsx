import { Alert, Anchor, Badge, Button, Group, Table, Text, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../api.ts";
import { EmptyState } from "../components/EmptyState.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { useWorkspaceZone } from "../components/SegmentTime.tsx";
import { SizeSparkline } from "../components/SizeSparkline.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { formatDateTime, formatNumber } from "../format.ts";
import { useLiveSizes } from "../hooks/useLiveSizes.ts";

export function SegmentsPage() {
  const nav = useNavigate();
  const q = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const zone = useWorkspaceZone();
  const [search, setSearch] = useState("");
  useLiveSizes();
  const rows = (q.data ?? []).filter((s) => s.name.toLowerCase().includes(search.trim().toLowerCase()));
  return (
    <>
      <PageHeader
        title="Segments"
        description="Groups of contacts kept up to date by a rule, or made by hand. Sizes move as contacts change."
        actions={<Button onClick={() => nav("/segments/new")}>+ Create segment</Button>}
      />
      <TextInput
        label="Search segments"
        mb="sm"
        maw={300}
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
      />
      {q.isLoading && <TableSkeleton label="Loading segments" />}
      {q.isError && (
        <Alert color="red" role="alert">
          Could not load segments: {q.error.message}
        </Alert>
      )}
      {q.data && rows.length === 0 && (
        <EmptyState
          title={`No segment matches “${search.trim()}”.`}
          action={
            <Button variant="default" onClick={() => setSearch("")}>
              Clear the search
            </Button>
          }
        >
          Search looks at segment names. Or create the segment you were looking for.
        </EmptyState>
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={720}>
          <Table striped highlightOnHover aria-label="Segments">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th ta="right">Size</Table.Th>
                <Table.Th>Last 30 days</Table.Th>
                <Table.Th>Last change</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((s) => (
                <Table.Tr key={s.id} data-segment={s.id}>
                  <Table.Td>
                    <Group gap={6} wrap="nowrap">
                      <Anchor component={Link} to={`/segments/${s.id}`} fw={500}>
                        {s.name}
                      </Anchor>
                      {s.default && (
                        <Badge size="xs" variant="light" color="gray">
                          default
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" tt="capitalize">
                      {s.kind}
                    </Text>
                  </Table.Td>
                  <Table.Td
                    ta="right"
                    data-testid="segment-size"
                    style={{ fontVariantNumeric: "tabular-nums" }}
                  >
                    {formatNumber(s.size)}
                  </Table.Td>
                  <Table.Td>
                    <SizeSparkline segmentId={s.id} size={s.size} />
                  </Table.Td>
                  <Table.Td>
                    {s.updated_at ? (
                      <Text size="sm" component="time" dateTime={s.updated_at} title={s.updated_at}>
                        {formatDateTime(s.updated_at, zone)}
                      </Text>
                    ) : (
                      <Text size="sm" c="dimmed">
                        —
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </>
  );
}
