import { Alert, Anchor, Button, Group, Loader, Modal, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../api.ts";
import { WebhookDeleteModal } from "../components/WebhookDeleteModal.tsx";
import { WebhookDeliveriesTable } from "../components/WebhookDeliveriesTable.tsx";
import { WebhookEvents } from "../components/WebhookEvents.tsx";
import { WebhookSecretPanel } from "../components/WebhookForm.tsx";
import { WebhookTime } from "../components/WebhookTime.tsx";
import { when } from "../sources-api.ts";
import { type RotatedWebhook, type TestOutcome, webhooksApi } from "../webhooks-api.ts";

/** What the test delivery's attempt came to, said at once (it is also in the log below). */
function TestResult({ r, onClose }: { r: TestOutcome; onClose: () => void }) {
  return (
    <Alert
      color={r.ok ? "green" : "red"}
      title={r.ok ? "Test delivery acknowledged" : "Test delivery failed"}
      data-testid="test-result"
      withCloseButton
      onClose={onClose}
    >
      {r.ok
        ? `Your endpoint answered HTTP ${r.status_code} (delivery #${r.delivery.id}).`
        : `${r.error ?? "no answer"} (delivery #${r.delivery.id}). Test deliveries are not retried.`}
    </Alert>
  );
}

/** One webhook: its settings, a test delivery, secret rotation, the delivery log, delete. */
export function WebhooksDetailPage() {
  const { id } = useParams() as { id: string };
  const nav = useNavigate();
  const qc = useQueryClient();
  const w = useQuery({ queryKey: ["webhook", id], queryFn: () => webhooksApi.get(id) });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [deleting, setDeleting] = useState(false);
  const [confirmRotate, setConfirmRotate] = useState(false);
  const [rotated, setRotated] = useState<RotatedWebhook | null>(null);
  const [tested, setTested] = useState<TestOutcome | null>(null);
  const test = useMutation({
    mutationFn: () => webhooksApi.test(id),
    onSuccess: (r) => {
      setTested(r);
      void qc.invalidateQueries({ queryKey: ["webhook-deliveries", id] });
    },
  });
  const rotate = useMutation({
    mutationFn: () => webhooksApi.rotateSecret(id),
    onSuccess: (r) => {
      setConfirmRotate(false);
      setRotated(r);
      const { secret: _, ...rest } = r;
      qc.setQueryData(["webhook", id], rest);
      void qc.invalidateQueries({ queryKey: ["webhooks"] });
    },
  });
  if (w.isLoading) return <Loader aria-label="Loading webhook" />;
  if (w.isError || !w.data)
    return (
      <Stack>
        <Anchor component={Link} to="/webhooks" size="sm">
          ← Webhooks
        </Anchor>
        <Alert color="red" role="alert">
          Could not load the webhook: {w.error?.message}
        </Alert>
      </Stack>
    );
  const x = w.data;
  const segmentName = x.segment_id
    ? (segments.data?.find((s) => s.id === x.segment_id)?.name ?? x.segment_id)
    : null;
  return (
    <Stack maw={1200}>
      <Anchor component={Link} to="/webhooks" size="sm">
        ← Webhooks
      </Anchor>
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        <Stack gap={4} style={{ minWidth: 0 }}>
          <Title order={2} style={{ wordBreak: "break-all" }} ff="monospace" fz="xl">
            {x.url}
          </Title>
          <Group gap="xs" data-testid="webhook-settings">
            <WebhookEvents events={x.events} />
            <Text size="sm">
              {segmentName ? (
                <>
                  for{" "}
                  <Anchor component={Link} to={`/segments/${encodeURIComponent(x.segment_id!)}`}>
                    {segmentName}
                  </Anchor>
                </>
              ) : (
                "for every segment"
              )}
              {" · "}created <WebhookTime iso={x.created_at} />
            </Text>
          </Group>
        </Stack>
        <Group gap="xs" wrap="nowrap">
          <Button variant="default" loading={test.isPending} onClick={() => test.mutate()}>
            Send test delivery
          </Button>
          <Button
            variant="default"
            onClick={() => {
              rotate.reset();
              setConfirmRotate(true);
            }}
          >
            Rotate secret
          </Button>
          <Button color="red" variant="light" onClick={() => setDeleting(true)}>
            Delete webhook
          </Button>
        </Group>
      </Group>
      {x.previous_secret_expires_at && !rotated && (
        <Alert color="yellow" title="Secret rotation under way" data-testid="rotation">
          Deliveries are signed with both the new and the previous secret until{" "}
          {when(x.previous_secret_expires_at)} (<WebhookTime iso={x.previous_secret_expires_at} />
          ), then with the new one only.
        </Alert>
      )}
      {rotated && (
        <WebhookSecretPanel
          title="New signing secret"
          secret={rotated.secret}
          note={`The previous secret stays valid for 24 hours${
            rotated.previous_secret_expires_at ? ` (until ${when(rotated.previous_secret_expires_at)})` : ""
          }: every delivery is signed with both until then, so deploy the new one to your endpoint before.`}
          testId="rotated-secret"
          onDone={() => setRotated(null)}
        />
      )}
      {test.error && (
        <Alert color="red" role="alert" title="The test was not sent">
          {test.error.message}
        </Alert>
      )}
      {tested && <TestResult r={tested} onClose={() => setTested(null)} />}
      <Title order={4}>Deliveries</Title>
      <WebhookDeliveriesTable webhookId={id} />
      <Modal
        opened={confirmRotate}
        onClose={() => setConfirmRotate(false)}
        title="Rotate the signing secret?"
      >
        <Stack>
          <Text size="sm">
            Slice makes a new secret and shows it once. The current one stays valid for 24 hours: until then
            every delivery carries a signature with each, so your endpoint keeps verifying while you deploy
            the new one. Rotating again within the 24 hours drops the oldest secret at once.
          </Text>
          {rotate.error && (
            <Alert color="red" role="alert" title="The secret was not rotated">
              {rotate.error.message}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmRotate(false)}>
              Cancel
            </Button>
            <Button loading={rotate.isPending} onClick={() => rotate.mutate()}>
              Rotate secret
            </Button>
          </Group>
        </Stack>
      </Modal>
      <WebhookDeleteModal
        webhook={deleting ? x : null}
        onClose={() => setDeleting(false)}
        onDeleted={() => nav("/webhooks")}
      />
    </Stack>
  );
}
