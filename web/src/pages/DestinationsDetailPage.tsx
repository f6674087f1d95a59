import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Loader,
  Modal,
  SimpleGrid,
  Stack,
  Text,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../api.ts";
import { DestinationStateBadge } from "../components/DestinationBadges.tsx";
import { DestinationDryRun } from "../components/DestinationDryRun.tsx";
import { DestinationRunsTable } from "../components/DestinationRunsTable.tsx";
import { Stat } from "../components/Stat.tsx";
import { type Destination, destinationsApi, KIND_INFO, seconds } from "../destinations-api.ts";
import { when } from "../sources-api.ts";

const n = (x: number) => x.toLocaleString("en");

const configValue = (v: unknown): string =>
  typeof v === "string" ? v : v === true ? "yes" : v === false ? "no" : JSON.stringify(v);

/** Provider figures (Meta's received / matched / invalid), with the match rate when both are known. */
function providerStats(p: Record<string, number> | undefined): [string, string][] {
  if (!p) return [];
  const out: [string, string][] = Object.entries(p).map(([k, v]) => [k, n(v)]);
  const received = p.received;
  const matched = p.matched;
  if (typeof received === "number" && typeof matched === "number" && received > 0) {
    out.push(["match rate", `${Math.round((matched / received) * 1000) / 10}%`]);
  }
  return out;
}

function Status({ d }: { d: Destination }) {
  return (
    <>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Stat label="Pending adds" value={n(d.pending.adds)} testId="stat-pending-adds" />
        <Stat label="Pending removes" value={n(d.pending.removes)} testId="stat-pending-removes" />
        <Stat label="Sync lag" value={seconds(d.sync_lag_s)} testId="stat-sync-lag" />
        <Stat label="Last sync" value={when(d.last_sync_at)} testId="stat-last-sync" />
        <Stat label="Added" value={n(d.counters.added)} testId="stat-added" />
        <Stat label="Removed" value={n(d.counters.removed)} testId="stat-removed" />
        <Stat
          label="Failed"
          value={n(d.counters.failed)}
          testId="stat-failed"
          alert={d.counters.failed > 0}
        />
        <Stat label="Skipped" value={n(d.counters.skipped)} testId="stat-skipped" />
        <Stat label="In the remote audience" value={n(d.remote_size)} testId="stat-remote-size" />
        {providerStats(d.counters.provider).map(([k, v]) => (
          <Stat
            key={k}
            label={`Provider: ${k.replace(/_/g, " ")}`}
            value={v}
            testId={`stat-provider-${k.replace(/\s/g, "-")}`}
          />
        ))}
      </SimpleGrid>
      {d.last_error && (
        <Alert color={d.state === "failing" ? "red" : "orange"} title="Last error" data-testid="last-error">
          {d.last_error}
          {d.next_attempt_at && d.state === "failing" && (
            <Text size="sm" mt={4}>
              Next attempt: {when(d.next_attempt_at)}
            </Text>
          )}
        </Alert>
      )}
    </>
  );
}

/** One destination: status and counters, pause / resume, dry run, runs, delete. */
export function DestinationsDetailPage() {
  const { id } = useParams() as { id: string };
  const nav = useNavigate();
  const qc = useQueryClient();
  const d = useQuery({
    queryKey: ["destination", id],
    queryFn: () => destinationsApi.get(id),
    refetchInterval: 2000,
  });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [confirm, setConfirm] = useState(false);
  const refresh = (x: Destination) => {
    qc.setQueryData(["destination", id], x);
    void qc.invalidateQueries({ queryKey: ["destinations"] });
    void qc.invalidateQueries({ queryKey: ["destination-runs", id] });
  };
  const toggle = useMutation({
    mutationFn: (pause: boolean) => (pause ? destinationsApi.pause(id) : destinationsApi.resume(id)),
    onSuccess: refresh,
  });
  const del = useMutation({
    mutationFn: () => destinationsApi.delete(id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["destinations"] });
      nav("/destinations");
    },
  });
  if (d.isLoading) return <Loader aria-label="Loading destination" />;
  if (d.isError || !d.data)
    return (
      <Alert color="red" role="alert">
        Could not load the destination: {d.error?.message}
      </Alert>
    );
  const x = d.data;
  const paused = x.state === "paused";
  const segmentName = segments.data?.find((s) => s.id === x.segment_id)?.name ?? x.segment_id;
  const settings = Object.entries(x.config ?? {});
  return (
    <Stack maw={1200}>
      <Anchor component={Link} to="/destinations" size="sm">
        ← Destinations
      </Anchor>
      <Group justify="space-between">
        <Group gap="xs">
          <Title order={2}>{x.name}</Title>
          <Badge variant="light">{KIND_INFO[x.kind]?.label ?? x.kind}</Badge>
          <span data-testid="destination-state">
            <DestinationStateBadge state={x.state} />
          </span>
        </Group>
        <Group gap="xs">
          <Button variant="default" loading={toggle.isPending} onClick={() => toggle.mutate(!paused)}>
            {paused ? "Resume" : "Pause"}
          </Button>
          <Button color="red" variant="light" onClick={() => setConfirm(true)}>
            Delete destination
          </Button>
        </Group>
      </Group>
      {toggle.error && (
        <Alert color="red" role="alert">
          {toggle.error.message}
        </Alert>
      )}
      <Text size="sm" data-testid="destination-settings">
        Segment:{" "}
        <Anchor component={Link} to={`/segments/${encodeURIComponent(x.segment_id)}`}>
          {segmentName}
        </Anchor>
        {settings.map(([k, v]) => (
          <span key={k}>
            {" · "}
            <b>{k}</b> {configValue(v)}
          </span>
        ))}
        {" · "}credentials stored encrypted (never shown)
      </Text>
      <Status d={x} />
      <DestinationDryRun destinationId={id} />
      <Title order={4}>Runs</Title>
      <DestinationRunsTable destinationId={id} />
      <Modal opened={confirm} onClose={() => setConfirm(false)} title={`Delete “${x.name}”?`}>
        <Stack>
          <Text size="sm">
            Slice stops syncing this segment to {KIND_INFO[x.kind]?.label ?? x.kind}. The remote audience is
            left as it is: nobody is removed from it. Runs and outcomes are deleted.
          </Text>
          {del.error && (
            <Alert color="red" role="alert">
              {del.error.message}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              Cancel
            </Button>
            <Button color="red" loading={del.isPending} onClick={() => del.mutate()}>
              Delete
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
