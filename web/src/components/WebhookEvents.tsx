import { Badge, Group } from "@mantine/core";
import type { WebhookEvent } from "../webhooks-api.ts";

const COLOR: Record<WebhookEvent, string> = { "segment.entered": "green", "segment.exited": "orange" };

export function WebhookEvents({ events }: { events: WebhookEvent[] }) {
  return (
    <Group gap={4} wrap="nowrap">
      {events.map((e) => (
        <Badge key={e} variant="light" color={COLOR[e] ?? "gray"} tt="none">
          {e}
        </Badge>
      ))}
    </Group>
  );
}
