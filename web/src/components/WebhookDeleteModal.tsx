import { Alert, Button, Group, Modal, Stack, Text } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type Webhook, webhooksApi } from "../webhooks-api.ts";

/** Asks before unsubscribing: the subscription and its delivery log go. */
export function WebhookDeleteModal({
  webhook,
  onClose,
  onDeleted,
}: {
  webhook: Webhook | null;
  onClose: () => void;
  onDeleted?: () => void;
}) {
  const qc = useQueryClient();
  const del = useMutation({
    mutationFn: (id: string) => webhooksApi.delete(id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["webhooks"] });
      onClose();
      onDeleted?.();
    },
  });
  return (
    <Modal
      opened={webhook !== null}
      onClose={() => {
        del.reset();
        onClose();
      }}
      title="Delete this webhook?"
    >
      <Stack>
        <Text size="sm">
          Slice stops sending changes to <b style={{ wordBreak: "break-all" }}>{webhook?.url}</b>. Its
          delivery log is deleted too, and deliveries still pending are not sent. This cannot be undone.
        </Text>
        {del.error && (
          <Alert color="red" role="alert" title="The webhook was not deleted">
            {del.error.message}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color="red" loading={del.isPending} onClick={() => webhook && del.mutate(webhook.id)}>
            Delete webhook
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
