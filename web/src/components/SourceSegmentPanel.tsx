import { Alert, Anchor, Loader, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { sourcesApi, when } from "../sources-api.ts";
import { SourceSnippet } from "./SourceCopyField.tsx";

const PLACEHOLDER = "<ingest key>";

function Counter({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="lg" data-testid={testId}>
        {value}
      </Text>
    </Paper>
  );
}

/**
 * "Point your SDK at Slice": the Segment and RudderStack node SDKs send unchanged to
 * `/segment/v1/…` (SPEC §4.1) with an ingest key as their write key; the snippets use
 * this page's origin, and the key just created when there is one.
 */
export function SourceSegmentPanel({
  ingestKey,
  onShowKeys,
}: {
  ingestKey?: string;
  onShowKeys: () => void;
}) {
  const origin = window.location.origin;
  const key = ingestKey ?? PLACEHOLDER;
  const sources = useQuery({ queryKey: ["sources"], queryFn: sourcesApi.sources, refetchInterval: 3000 });
  const segment = sources.data?.find((s) => s.type === "segment");
  const segmentSnippet = `import { Analytics } from '@segment/analytics-node'

const analytics = new Analytics({ writeKey: '${key}', host: '${origin}', path: '/segment/v1/batch' })

analytics.identify({ userId: 'u_123', traits: { email: 'ana@example.com', first_name: 'Ana' } })
analytics.track({ userId: 'u_123', event: 'Order Completed', properties: { amount: 42 } })`;
  const rudderSnippet = `import RudderAnalytics from '@rudderstack/rudder-sdk-node'

const client = new RudderAnalytics('${key}', { dataPlaneUrl: '${origin}/segment' })

client.identify({ userId: 'u_123', traits: { email: 'ana@example.com' } })
client.track({ userId: 'u_123', event: 'Order Completed', properties: { amount: 42 } })`;
  const curlSnippet = `curl -u '${key}:' ${origin}/segment/v1/track \\
  -H 'content-type: application/json' \\
  -d '{"userId":"u_123","event":"Order Completed","properties":{"amount":42}}'`;
  return (
    <Stack maw={960}>
      <Text>
        Point your SDK at Slice: apps already sending to Segment or RudderStack send to Slice by changing one
        setting. Use an <b>ingest</b> key as the write key: it can send contacts and events, and read nothing.{" "}
        <code>userId</code> becomes the contact's external id, <code>traits.email</code> its email, and a
        track call's event name an event type in snake case (<code>Order Completed</code> →{" "}
        <code>order_completed</code>).
      </Text>
      {!ingestKey && (
        <Text size="sm">
          Create an ingest key under{" "}
          <Anchor component="button" onClick={onShowKeys}>
            API keys
          </Anchor>
          , then put it where the snippets say <code>{PLACEHOLDER}</code>.
        </Text>
      )}
      {ingestKey && (
        <Alert color="yellow">
          The snippets below hold the ingest key you just created: copy them now, its secret is not shown
          again.
        </Alert>
      )}
      <Title order={4}>Segment (@segment/analytics-node)</Title>
      <SourceSnippet code={segmentSnippet} label="Copy the Segment snippet" />
      <Title order={4}>RudderStack (@rudderstack/rudder-sdk-node)</Title>
      <SourceSnippet code={rudderSnippet} label="Copy the RudderStack snippet" />
      <Title order={4}>Any HTTP client</Title>
      <SourceSnippet code={curlSnippet} label="Copy the curl example" />
      <Title order={4}>Received since the server started</Title>
      {sources.isLoading && <Loader aria-label="Loading counters" />}
      {sources.isError && (
        <Alert color="red" role="alert">
          Could not load the counters: {sources.error.message}
        </Alert>
      )}
      {sources.data && (
        <SimpleGrid cols={3} data-testid="segment-counters">
          <Counter
            label="Events accepted"
            value={(segment?.accepted ?? 0).toLocaleString("en")}
            testId="segment-accepted"
          />
          <Counter
            label="Rejected"
            value={(segment?.rejected ?? 0).toLocaleString("en")}
            testId="segment-rejected"
          />
          <Counter label="Last seen" value={when(segment?.last_seen_at ?? null)} testId="segment-last-seen" />
        </SimpleGrid>
      )}
      {segment?.last_error && (
        <Alert color="orange" title="Last refusal">
          {segment.last_error}
        </Alert>
      )}
    </Stack>
  );
}
