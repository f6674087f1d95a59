import { Sparkline } from "@mantine/charts";
import { Loader, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api.ts";
import { formatDay } from "./AnalyticsPanel.tsx";

/**
 * A segment's size over the last 30 days. Days before the segment existed whose size
 * is unknown are left out (not drawn as 0), and the line says where it starts.
 */
export function SizeSparkline({ segmentId, size }: { segmentId: string; size: number }) {
  const q = useQuery({
    queryKey: ["analytics", segmentId, "spark"],
    queryFn: () => api.analytics(segmentId, { days: 30 }),
    staleTime: 60_000,
  });
  if (q.isLoading) return <Loader size="xs" aria-label="Loading size history" />;
  if (!q.data) return null;
  const known = q.data.daily.filter((d) => d.size !== null);
  const data = known.map((d) => d.size as number);
  if (data.length) data[data.length - 1] = size;
  const start = known.length < q.data.daily.length ? q.data.history.starts_on : null;
  const since = start ? `, history starts on ${formatDay(start)}` : "";
  return (
    <Stack gap={0} data-testid="size-sparkline">
      <div role="img" aria-label={`Size over 30 days, now ${size}${since}`}>
        <Sparkline
          w={120}
          h={32}
          data={data}
          curveType="linear"
          color="blue"
          fillOpacity={0.3}
          strokeWidth={1.5}
          aria-hidden
        />
      </div>
      {start && (
        <Text size="xs" c="dimmed">
          since {formatDay(start)}
        </Text>
      )}
    </Stack>
  );
}
