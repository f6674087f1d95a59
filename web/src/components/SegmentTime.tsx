import { Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api.ts";
import { inZone } from "../segments-api.ts";

/** The workspace's time zone (the one the API reads instants without an offset in). */
export function useWorkspaceZone(): string | undefined {
  const ws = useQuery({ queryKey: ["workspace"], queryFn: () => api.workspace() });
  return ws.data?.time_zone;
}

/** An instant in the workspace's zone; the exact ISO instant on hover. */
export function SegmentTime({ iso, zone }: { iso: string; zone: string | undefined }) {
  return (
    <Text size="sm" component="time" dateTime={iso} title={iso} style={{ whiteSpace: "nowrap" }}>
      {inZone(iso, zone)}
    </Text>
  );
}
