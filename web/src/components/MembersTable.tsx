import { Alert, Button, Group, Loader, Text, TextInput } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api.ts";
import { ContactSample } from "./ContactSample.tsx";

/** A segment's members, a page at a time; the search filters the page by email or name. */
export function MembersTable({ segmentId }: { segmentId: string }) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [search, setSearch] = useState("");
  const cursor = cursors[cursors.length - 1];
  const q = useQuery({
    queryKey: ["members", segmentId, cursor],
    queryFn: () => api.members(segmentId, cursor, 50),
    placeholderData: keepPreviousData,
  });
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
      {q.data && <ContactSample contacts={rows} empty="No members" />}
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
