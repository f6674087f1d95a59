import { Text, Tooltip } from "@mantine/core";
import { when } from "../sources-api.ts";
import { relative } from "../webhooks-api.ts";

/** An instant said relative to now ("3 min ago"), the exact date and time on hover. */
export function WebhookTime({ iso, empty = "—" }: { iso: string | null; empty?: string }) {
  if (!iso)
    return (
      <Text size="sm" c="dimmed" component="span">
        {empty}
      </Text>
    );
  return (
    <Tooltip label={when(iso)} withArrow openDelay={200}>
      <Text size="sm" component="time" dateTime={iso} style={{ whiteSpace: "nowrap" }}>
        {relative(iso)}
      </Text>
    </Tooltip>
  );
}
