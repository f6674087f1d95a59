import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Group,
  Paper,
  Select,
  Stack,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useState } from "react";
import { Link } from "react-router";
import { ApiError, api, type Issue } from "../api.ts";
import {
  type CreatedWebhook,
  EVENT_LABEL,
  WEBHOOK_EVENTS,
  type WebhookEvent,
  webhooksApi,
} from "../webhooks-api.ts";
import { SourceCopyField } from "./SourceCopyField.tsx";

/** A signing secret answered once (on creation or rotation), with what to do with it. */
export function WebhookSecretPanel({
  title,
  secret,
  note,
  testId,
  children,
  onDone,
}: {
  title: string;
  secret: string;
  note?: string;
  testId: string;
  children?: ReactNode;
  onDone: () => void;
}) {
  return (
    <Alert color="yellow" title={title} data-testid={testId}>
      <Stack gap="xs">
        <Text size="sm" fw={500}>
          Copy the signing secret now: it is shown only this once. Your endpoint verifies Slice's requests
          with it (Standard Webhooks, see the webhook-signature header).
        </Text>
        {note && <Text size="sm">{note}</Text>}
        <SourceCopyField label="Signing secret" value={secret} testId={`${testId}-secret`} />
        <Group>
          {children}
          <Button size="xs" variant="default" onClick={onDone}>
            I have copied it
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}

/** A new subscription: URL, events, an optional segment; server errors beside their field. */
export function WebhookForm() {
  const qc = useQueryClient();
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<WebhookEvent[]>([...WEBHOOK_EVENTS]);
  const [segmentId, setSegmentId] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const create = useMutation({
    mutationFn: () => webhooksApi.create({ url: url.trim(), events, segment_id: segmentId }),
    onSuccess: (w) => {
      setCreated(w);
      setUrl("");
      void qc.invalidateQueries({ queryKey: ["webhooks"] });
    },
  });
  const issues: Issue[] = create.error instanceof ApiError ? create.error.issues : [];
  // Each issue goes beside the field it names (`events[0]` under the events); the others below the button.
  const placed = new Set<Issue>();
  const errorAt = (path: string): string | undefined => {
    const mine = issues.filter((i) => i.path === path || i.path.startsWith(`${path}[`));
    for (const i of mine) placed.add(i);
    return mine.length ? mine.map((i) => i.message).join("; ") : undefined;
  };
  const urlError = errorAt("url");
  const eventsError = errorAt("events");
  const segmentError = errorAt("segment_id");
  const rest = create.error ? issues.filter((i) => !placed.has(i)) : [];
  const missing = [...(url.trim() ? [] : ["URL"]), ...(events.length ? [] : ["an event"])];
  return (
    <Paper withBorder p="md">
      <Title order={4} mb="xs">
        New webhook
      </Title>
      <Stack>
        <TextInput
          label="URL"
          description="Slice POSTs each change here, signed; answer with any 2xx status."
          placeholder="https://example.com/slice/webhook"
          maw={720}
          required
          value={url}
          error={urlError}
          onChange={(e) => setUrl(e.currentTarget.value)}
        />
        <Checkbox.Group
          label="Events"
          value={events}
          error={eventsError}
          onChange={(v) => setEvents(WEBHOOK_EVENTS.filter((e) => v.includes(e)))}
        >
          <Group mt={4}>
            {WEBHOOK_EVENTS.map((e) => (
              <Checkbox key={e} value={e} label={`${EVENT_LABEL[e]} (${e})`} />
            ))}
          </Group>
        </Checkbox.Group>
        <Select
          label="Segment"
          description="Only this segment's changes; leave empty for every segment."
          maw={360}
          searchable
          clearable
          placeholder={segments.isLoading ? "Loading…" : "All segments"}
          data={(segments.data ?? []).map((s) => ({ value: s.id, label: s.name }))}
          value={segmentId}
          error={segmentError}
          onChange={setSegmentId}
        />
        <Group>
          <Button onClick={() => create.mutate()} loading={create.isPending} disabled={missing.length > 0}>
            Create webhook
          </Button>
          {missing.length > 0 && (
            <Text size="sm" c="dimmed">
              Needs: {missing.join(", ")}
            </Text>
          )}
          {create.error && rest.length === 0 && issues.length > 0 && (
            <Text c="red" size="sm" role="alert">
              The webhook was not created: see the field marked above.
            </Text>
          )}
        </Group>
        {create.error && (rest.length > 0 || issues.length === 0) && (
          <Alert color="red" role="alert" title="The webhook was not created">
            {rest.length > 0
              ? rest.map((i) => <div key={i.path + i.message}>{i.message}</div>)
              : create.error.message}
          </Alert>
        )}
        {created && (
          <WebhookSecretPanel
            title={`Webhook to ${created.url} created`}
            secret={created.secret}
            testId="new-webhook"
            onDone={() => setCreated(null)}
          >
            <Anchor component={Link} to={`/webhooks/${encodeURIComponent(created.id)}`} size="sm">
              Open its deliveries
            </Anchor>
          </WebhookSecretPanel>
        )}
      </Stack>
    </Paper>
  );
}
