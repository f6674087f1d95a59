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
  Table,
  Text,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { SourceCopyField } from "../components/SourceCopyField.tsx";
import { Stat } from "../components/Stat.tsx";
import { type Outcome, PROVIDER_INFO, sourcesApi, when } from "../sources-api.ts";

const OUTCOME: Record<Outcome, { label: string; color: string }> = {
  accepted: { label: "accepted", color: "green" },
  rejected: { label: "rejected", color: "orange" },
  signature_failed: { label: "signature failed", color: "red" },
};

const configValue = (v: unknown): string =>
  v === true
    ? "configured"
    : v === false || v === null || v === undefined
      ? "not set"
      : typeof v === "string"
        ? v
        : JSON.stringify(v);

/** One receiver: where the provider posts, its counters, its recent deliveries, delete. */
export function SourcesReceiverPage() {
  const { id } = useParams() as { id: string };
  const nav = useNavigate();
  const qc = useQueryClient();
  const r = useQuery({
    queryKey: ["receiver", id],
    queryFn: () => sourcesApi.receiver(id),
    refetchInterval: 3000,
  });
  const [confirm, setConfirm] = useState(false);
  const del = useMutation({
    mutationFn: () => sourcesApi.deleteReceiver(id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["receivers"] });
      void qc.invalidateQueries({ queryKey: ["sources"] });
      nav("/sources?tab=receivers");
    },
  });
  if (r.isLoading) return <Loader aria-label="Loading receiver" />;
  if (r.isError || !r.data)
    return (
      <Alert color="red" role="alert">
        Could not load the receiver: {r.error?.message}
      </Alert>
    );
  const x = r.data;
  const info = PROVIDER_INFO[x.provider];
  const settings = [
    ...Object.entries(x.config ?? {}).map(([k, v]): [string, string] => [k, configValue(v)]),
    ...(x.secrets_set ?? []).map((k): [string, string] => [k, "set (never shown)"]),
  ];
  // Deliveries have no id: one is made of what they hold, numbered when two are alike.
  const seen = new Map<string, number>();
  const keyOf = (d: (typeof x.recent)[number]) => {
    const k = `${d.at}|${d.outcome}|${d.events}|${d.detail ?? ""}`;
    const c = (seen.get(k) ?? 0) + 1;
    seen.set(k, c);
    return `${k}#${c}`;
  };
  return (
    <Stack maw={1100}>
      <Anchor component={Link} to="/sources?tab=receivers" size="sm">
        ← Receivers
      </Anchor>
      <Group justify="space-between">
        <Group gap="xs">
          <Title order={2}>{x.name || x.id}</Title>
          <Badge variant="light">{info?.label ?? x.provider}</Badge>
        </Group>
        <Button color="red" variant="light" onClick={() => setConfirm(true)}>
          Delete receiver
        </Button>
      </Group>
      <SourceCopyField label="URL" value={x.url} description={info?.setup} testId="receiver-url" />
      {settings.length > 0 && (
        <Text size="sm" data-testid="receiver-settings">
          Settings:{" "}
          {settings.map(([k, v], i) => (
            <span key={k}>
              {i > 0 && " · "}
              <b>{k}</b> {v}
            </span>
          ))}
        </Text>
      )}
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Stat label="Events accepted" value={x.stats.accepted.toLocaleString("en")} testId="stat-accepted" />
        <Stat label="Rejected" value={x.stats.rejected.toLocaleString("en")} testId="stat-rejected" />
        <Stat
          label="Signature failures"
          value={x.stats.signature_failures.toLocaleString("en")}
          testId="stat-signature-failures"
          alert={x.stats.signature_failures > 0}
        />
        <Stat label="Last seen" value={when(x.stats.last_seen_at)} testId="stat-last-seen" />
      </SimpleGrid>
      {x.stats.last_error && (
        <Alert color="orange" title="Last error">
          {x.stats.last_error}
        </Alert>
      )}
      <Title order={4}>Recent deliveries</Title>
      <Text size="sm" c="dimmed">
        The last 20 since the server started, newest first.
      </Text>
      {x.recent.length === 0 ? (
        <Text c="dimmed">Nothing received yet.</Text>
      ) : (
        <Table data-testid="recent-deliveries">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>At</Table.Th>
              <Table.Th>Outcome</Table.Th>
              <Table.Th>Events</Table.Th>
              <Table.Th>Detail</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {x.recent.map((d) => {
              const o = OUTCOME[d.outcome] ?? { label: d.outcome, color: "gray" };
              return (
                <Table.Tr
                  key={keyOf(d)}
                  data-outcome={d.outcome}
                  bg={d.outcome === "signature_failed" ? "var(--mantine-color-red-light)" : undefined}
                >
                  <Table.Td>{when(d.at)}</Table.Td>
                  <Table.Td>
                    <Badge color={o.color} variant={d.outcome === "signature_failed" ? "filled" : "light"}>
                      {o.label}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{d.events}</Table.Td>
                  <Table.Td>{d.detail ?? ""}</Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
      <Modal opened={confirm} onClose={() => setConfirm(false)} title={`Delete “${x.name || x.id}”?`}>
        <Stack>
          <Text size="sm">
            {info?.label ?? x.provider} posts to this URL will be refused from now on. Events already received
            stay.
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
