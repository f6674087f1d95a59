import { Alert, Button, Group, Loader, Table, Text, TextInput } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, type Contact } from "../api.ts";
import { inZone, type Override, segmentsApi } from "../segments-api.ts";
import { useWorkspaceZone } from "./SegmentTime.tsx";

/** "kept until 12 Jan 2027, 10:00:00" for a member kept in by hand until a time, "kept by hand" for good. */
export function keptLabel(o: Override, zone: string | undefined): string {
  return o.expires_at ? `kept until ${inZone(o.expires_at, zone)}` : "kept by hand";
}

/**
 * A segment's members, a page at a time; the search filters the page by email or name.
 * In a dynamic segment, a member kept in by hand says so, and until when.
 */
export function MembersTable({ segmentId }: { segmentId: string }) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [search, setSearch] = useState("");
  const zone = useWorkspaceZone();
  const cursor = cursors[cursors.length - 1];
  const q = useQuery({
    queryKey: ["members", segmentId, cursor],
    queryFn: () => api.members(segmentId, cursor, 50),
    placeholderData: keepPreviousData,
  });
  const seg = useQuery({ queryKey: ["segment", segmentId], queryFn: () => api.segment(segmentId) });
  // A static segment's members are not overrides (the API refuses to list them as such).
  const overrides = useQuery({
    queryKey: ["segment-overrides", segmentId],
    queryFn: () => segmentsApi.overrides(segmentId),
    enabled: seg.data?.kind === "dynamic",
  });
  const kept = new Map(
    (overrides.data ?? []).filter((o) => o.action === "added").map((o) => [o.contact_id, o]),
  );
  const t = search.trim().toLowerCase();
  const rows = (q.data?.data ?? []).filter(
    (c) => !t || [c.email, c.first_name, c.last_name].some((v) => v?.toLowerCase().includes(t)),
  );
  return (
    <>
      <TextInput
        label="Search members"
        w={300}
        mb="sm"
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
      />
      {q.isLoading && <Loader aria-label="Loading members" />}
      {q.isError && <Alert color="red">Could not load members: {String(q.error)}</Alert>}
      {q.data && <MemberRows contacts={rows} kept={kept} zone={zone} />}
      <Group mt="sm">
        <Button
          variant="default"
          disabled={cursors.length === 1}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Previous page
        </Button>
        <Text size="sm">Page {cursors.length}</Text>
        <Button
          variant="default"
          disabled={!q.data?.next_cursor}
          onClick={() => setCursors((c) => [...c, q.data!.next_cursor!])}
        >
          Next page
        </Button>
      </Group>
    </>
  );
}

function MemberRows({
  contacts,
  kept,
  zone,
}: {
  contacts: Contact[];
  kept: Map<string, Override>;
  zone: string | undefined;
}) {
  if (contacts.length === 0)
    return (
      <Text c="dimmed" size="sm">
        No members
      </Text>
    );
  // The column only when someone on the page is kept by hand.
  const byHand = contacts.some((c) => kept.has(c.id));
  return (
    <Table striped highlightOnHover data-testid="members">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Email</Table.Th>
          <Table.Th>Name</Table.Th>
          <Table.Th>Country</Table.Th>
          <Table.Th>Status</Table.Th>
          {byHand && <Table.Th>Membership</Table.Th>}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {contacts.map((c) => {
          const o = kept.get(c.id);
          return (
            <Table.Tr key={c.id} data-member={c.id}>
              <Table.Td>
                <Link to={`/contacts/${c.id}`}>{c.email ?? c.external_id ?? c.id}</Link>
              </Table.Td>
              <Table.Td>{[c.first_name, c.last_name].filter(Boolean).join(" ")}</Table.Td>
              <Table.Td>{c.country}</Table.Td>
              <Table.Td>{c.status}</Table.Td>
              {byHand && (
                <Table.Td data-testid={o ? "kept" : undefined}>
                  {o && (
                    <Text size="sm" title={o.expires_at ?? undefined}>
                      {keptLabel(o, zone)}
                    </Text>
                  )}
                </Table.Td>
              )}
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}
