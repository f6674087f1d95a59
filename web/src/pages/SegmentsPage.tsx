import { Alert, Badge, Button, Group, Loader, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../api.ts";
import { SizeSparkline } from "../components/SizeSparkline.tsx";
import { useLiveSizes } from "../hooks/useLiveSizes.ts";

export function SegmentsPage() {
  const nav = useNavigate();
  const q = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [search, setSearch] = useState("");
  useLiveSizes();
  const rows = (q.data ?? []).filter((s) => s.name.toLowerCase().includes(search.trim().toLowerCase()));
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Segments</Title>
        <Button onClick={() => nav("/segments/new")}>+ Create segment</Button>
      </Group>
      <TextInput
        label="Search segments"
        mb="sm"
        w={300}
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
      />
      {q.isLoading && <Loader aria-label="Loading segments" />}
      {q.isError && <Alert color="red">Could not load segments: {String(q.error)}</Alert>}
      {q.data && rows.length === 0 && <Text c="dimmed">No segment matches.</Text>}
      {rows.length > 0 && (
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
                  <Link to={`/segments/${s.id}`}>{s.name}</Link>{" "}
                  {s.default && (
                    <Badge size="xs" variant="light" color="gray">
                      default
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{s.kind}</Table.Td>
                <Table.Td ta="right" data-testid="segment-size">
                  {s.size.toLocaleString("en")}
                </Table.Td>
                <Table.Td>
                  <SizeSparkline segmentId={s.id} size={s.size} />
                </Table.Td>
                <Table.Td>{s.updated_at ? new Date(s.updated_at).toLocaleString() : "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}
