import { Anchor, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { ApiError, api } from "../api.ts";

/**
 * A contact named by its email and linked to its page. Logs carry contact ids only; the
 * contact is read once and cached under the key the contact page uses. An erased
 * contact keeps its id, unlinked.
 */
export function SegmentContactLink({ id }: { id: string }) {
  const c = useQuery({
    queryKey: ["contact", id],
    queryFn: () => api.contact(id),
    staleTime: 60_000,
    retry: (n, e) => !(e instanceof ApiError && e.status === 404) && n < 2,
  });
  if (c.error instanceof ApiError && c.error.status === 404)
    return (
      <Text size="sm" c="dimmed" component="span" title="This contact has been erased">
        {id} (erased)
      </Text>
    );
  return (
    <Anchor component={Link} to={`/contacts/${encodeURIComponent(id)}`} size="sm" data-contact={id}>
      {c.data ? (c.data.email ?? c.data.external_id ?? id) : id}
    </Anchor>
  );
}
