import { Sparkline } from "@mantine/charts";
import { Loader } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api.ts";

/** A segment's size over the last 30 days. */
export function SizeSparkline({ segmentId, size }: { segmentId: string; size: number }) {
  const q = useQuery({
    queryKey: ["analytics", segmentId, "spark"],
    queryFn: () => api.analytics(segmentId, { days: 30 }),
    staleTime: 60_000,
  });
  if (q.isLoading) return <Loader size="xs" aria-label="Loading size history" />;
  if (!q.data) return null;
  const data = q.data.daily.map((d) => d.size);
  if (data.length) data[data.length - 1] = size;
  return (
    <Sparkline
      w={120}
      h={32}
      data={data}
      curveType="linear"
      color="blue"
      fillOpacity={0.3}
      strokeWidth={1.5}
      aria-label={`Size over 30 days, now ${size}`}
    />
  );
}
