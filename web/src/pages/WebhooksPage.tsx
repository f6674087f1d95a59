import { Alert, Anchor, Badge, Button, Stack, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api.ts";
import { EmptyState } from "../components/EmptyState.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { WebhookDeleteModal } from "../components/WebhookDeleteModal.tsx";
import { WebhookEvents } from "../components/WebhookEvents.tsx";
import { WebhookForm } from "../components/WebhookForm.tsx";
import { WebhookTime } from "../components/WebhookTime.tsx";
import { type Webhook, webhooksApi } from "../webhooks-api.ts";

/** Every webhook subscription, the form for a new one, and deleting one. */
export function WebhooksPage() {
  const list = useQuery({ queryKey: ["webhooks"], queryFn: webhooksApi.list });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const segmentName = (id: string) => segments.data?.find((s) => s.id === id)?.name ?? id;
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const rows = list.data ?? [];
  return (
    <Stack maw={1200}>
      <PageHeader
        title="Webhooks"
        description="Your own endpoints told of every segment entry and exit as it happens: a signed POST per change, retried for 24 hours until it is acknowledged."
      />
      {list.isLoading && <TableSkeleton label="Loading webhooks" rows={3} />}
      {list.isError && (
        <Alert color="red" role="alert">
          Could not load the webhooks: {list.error.message}
        </Alert>
      )}
      {list.data && rows.length === 0 && (
        <EmptyState title="No webhooks yet.">
          Add your endpoint's URL in the form below to be told when contacts enter or leave a segment.
        </EmptyState>
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table data-testid="webhooks-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>URL</Table.Th>
                <Table.Th>Events</Table.Th>
                <Table.Th>Segment</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((w) => (
                <Table.Tr key={w.id} data-webhook={w.id}>
                  <Table.Td maw={420} style={{ wordBreak: "break-all" }}>
                    <Anchor
                      component={Link}
                      to={`/webhooks/${encodeURIComponent(w.id)}`}
                      ff="monospace"
                      size="sm"
                    >
                      {w.url}
                    </Anchor>
                    {w.previous_secret_expires_at && (
                      <Badge ml="xs" variant="light" color="yellow" tt="none">
                        secret rotating
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <WebhookEvents events={w.events} />
                  </Table.Td>
                  <Table.Td data-testid="webhook-segment">
                    {w.segment_id ? (
                      <Anchor component={Link} to={`/segments/${encodeURIComponent(w.segment_id)}`} size="sm">
                        {segmentName(w.segment_id)}
                      </Anchor>
                    ) : (
                      <Text size="sm" c="dimmed">
                        All segments
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <WebhookTime iso={w.created_at} />
                  </Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="subtle"
                      color="red"
                      aria-label={`Delete webhook ${w.url}`}
                      onClick={() => setDeleting(w)}
                    >
                      Delete
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <WebhookForm />
      <WebhookDeleteModal webhook={deleting} onClose={() => setDeleting(null)} />
    </Stack>
  );
}
