import { Alert, Badge, Button, Loader, Stack, Table, Text } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { DELIVERY_STATUS_COLOR, type WebhookDelivery, webhooksApi } from "../webhooks-api.ts";
import { WebhookTime } from "./WebhookTime.tsx";

/** What a delivery carries: a change, the test event, or another delivery's payload again. */
function what(d: WebhookDelivery): string {
  if (d.redelivery_of !== null) return `redelivery of #${d.redelivery_of}`;
  return d.change_seq === null ? "test event" : "segment change";
}

/** The outcome of the last attempt: the status code answered, or why there was none. */
function lastOutcome(d: WebhookDelivery) {
  if (d.attempts === 0)
    return (
      <Text size="sm" c="dimmed">
        not sent yet
      </Text>
    );
  if (d.last_error)
    return (
      <Text size="sm" c="red" lineClamp={2} title={d.last_error}>
        {d.last_error}
      </Text>
    );
  return <Text size="sm">{d.last_status_code !== null ? `HTTP ${d.last_status_code}` : "—"}</Text>;
}

/** A webhook's deliveries, newest first, each redeliverable. */
export function WebhookDeliveriesTable({ webhookId }: { webhookId: string }) {
  const qc = useQueryClient();
  const deliveries = useInfiniteQuery({
    queryKey: ["webhook-deliveries", webhookId],
    queryFn: ({ pageParam }) => webhooksApi.deliveries(webhookId, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
    refetchInterval: 2000,
  });
  const redeliver = useMutation({
    mutationFn: (id: number) => webhooksApi.redeliver(webhookId, id),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["webhook-deliveries", webhookId] }),
  });
  const list = deliveries.data?.pages.flatMap((p) => p.data) ?? [];
  if (deliveries.isLoading) return <Loader aria-label="Loading deliveries" />;
  if (deliveries.isError)
    return (
      <Alert color="red" role="alert">
        Could not load the deliveries: {deliveries.error.message}
      </Alert>
    );
  if (list.length === 0)
    return <Text c="dimmed">No deliveries yet: they appear here as contacts enter and leave segments.</Text>;
  return (
    <Stack gap="xs">
      {redeliver.error && (
        <Alert color="red" role="alert" title="Not redelivered">
          {redeliver.error.message}
        </Alert>
      )}
      <Table data-testid="deliveries-table" verticalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Delivery</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Attempts</Table.Th>
            <Table.Th>Last response</Table.Th>
            <Table.Th>Queued</Table.Th>
            <Table.Th>Delivered / next attempt</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.map((d) => (
            <Table.Tr key={d.id} data-delivery={d.id} data-status={d.status}>
              <Table.Td>
                <Text size="sm" ff="monospace" span>
                  #{d.id}
                </Text>{" "}
                <Text size="sm" c="dimmed" span>
                  {what(d)}
                </Text>
              </Table.Td>
              <Table.Td data-testid="delivery-status">
                <Badge variant="light" color={DELIVERY_STATUS_COLOR[d.status] ?? "gray"}>
                  {d.status}
                </Badge>
              </Table.Td>
              <Table.Td data-testid="delivery-attempts">{d.attempts}</Table.Td>
              <Table.Td maw={320}>{lastOutcome(d)}</Table.Td>
              <Table.Td>
                <WebhookTime iso={d.created_at} />
              </Table.Td>
              <Table.Td>
                {d.status === "delivered" ? (
                  <WebhookTime iso={d.delivered_at} />
                ) : d.status === "pending" ? (
                  <WebhookTime iso={d.next_attempt_at} empty="sending" />
                ) : (
                  <Text size="sm" c="red">
                    {d.change_seq === null && d.redelivery_of === null ? "not retried" : "given up"}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <Button
                  size="xs"
                  variant="subtle"
                  aria-label={`Redeliver #${d.id}`}
                  loading={redeliver.isPending && redeliver.variables === d.id}
                  onClick={() => redeliver.mutate(d.id)}
                >
                  Redeliver
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {deliveries.hasNextPage && (
        <Button
          variant="default"
          w="fit-content"
          loading={deliveries.isFetchingNextPage}
          onClick={() => deliveries.fetchNextPage()}
        >
          Older deliveries
        </Button>
      )}
    </Stack>
  );
}
