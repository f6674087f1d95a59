import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Group,
  Loader,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../api.ts";
import { emailsIn, issueText, segmentsApi } from "../segments-api.ts";
import { SegmentContactLink } from "./SegmentContactLink.tsx";
import { SegmentTime, useWorkspaceZone } from "./SegmentTime.tsx";

type Op = "add" | "remove";

/**
 * Hand edits of a dynamic segment: contacts kept in (or out) whatever the rule says,
 * for good or until a time, listed with a way to lift them.
 */
export function SegmentOverridesPanel({ segmentId }: { segmentId: string }) {
  const qc = useQueryClient();
  const zone = useWorkspaceZone();
  const [text, setText] = useState("");
  const [until, setUntil] = useState("");
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [sent, setSent] = useState<string[]>([]);
  const list = useQuery({
    queryKey: ["segment-overrides", segmentId],
    queryFn: () => segmentsApi.overrides(segmentId),
  });
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["segment-overrides", segmentId] });
    void qc.invalidateQueries({ queryKey: ["members", segmentId] });
    void qc.invalidateQueries({ queryKey: ["segment", segmentId] });
    void qc.invalidateQueries({ queryKey: ["segments"] });
  };
  const edit = useMutation({
    mutationFn: async ({ op, emails }: { op: Op; emails: string[] }) => {
      setSent(emails);
      const refs = emails.map((email) => ({ email }));
      // Without an offset the API reads the time in the workspace's zone, the zone shown here.
      const n =
        op === "add"
          ? (await segmentsApi.addMembers(segmentId, refs, until || undefined)).added
          : (await segmentsApi.removeMembers(segmentId, refs)).removed;
      return `${n.toLocaleString("en")} ${n === 1 ? "contact" : "contacts"} kept ${op === "add" ? "in" : "out"}`;
    },
    onSuccess: () => {
      setText("");
      setUntil("");
      refresh();
    },
  });
  const lift = useMutation({
    mutationFn: (ids: string[]) =>
      segmentsApi.liftOverrides(
        segmentId,
        ids.map((id) => ({ id })),
      ),
    onSuccess: () => {
      setPicked(new Set());
      refresh();
    },
  });
  const emails = emailsIn(text);
  const err = edit.error instanceof ApiError ? edit.error : null;
  // `contacts[2]` is the third email sent: name it, since the text may hold more than one.
  const emailsError =
    err?.issues
      .filter((i) => i.path.startsWith("contacts"))
      .map((i) => {
        const k = /^contacts\[(\d+)\]/.exec(i.path)?.[1];
        const email = k !== undefined ? sent[Number(k)] : undefined;
        const text = issueText(i);
        return email && !text.includes(email) ? `${email}: ${text}` : text;
      })
      .join("; ") || undefined;
  const untilError =
    err?.issues
      .filter((i) => i.path.startsWith("expires_at"))
      .map(issueText)
      .join("; ") || undefined;
  const general = edit.error && !emailsError && !untilError ? edit.error.message : null;
  const rows = list.data ?? [];
  const toggle = (id: string) =>
    setPicked((p) => {
      const n = new Set(p);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  return (
    <Stack maw={760}>
      <Title order={4}>Keep contacts in or out by hand</Title>
      <Text size="sm" c="dimmed">
        An override wins over the rule until it expires or is lifted.
      </Text>
      <Textarea
        label="Emails (one per line, or separated by commas)"
        autosize
        minRows={3}
        value={text}
        onChange={(e) => {
          setText(e.currentTarget.value);
          edit.reset();
        }}
        error={emailsError}
      />
      <TextInput
        type="datetime-local"
        label="Keep in until (optional)"
        description={`Workspace time (${zone ?? "…"}); empty keeps them in until lifted`}
        w={320}
        value={until}
        onChange={(e) => {
          setUntil(e.currentTarget.value);
          edit.reset();
        }}
        error={untilError}
      />
      <Group>
        <Button
          disabled={emails.length === 0}
          loading={edit.isPending && edit.variables?.op === "add"}
          onClick={() => edit.mutate({ op: "add", emails })}
        >
          Keep in segment
        </Button>
        <Button
          color="red"
          variant="light"
          disabled={emails.length === 0}
          loading={edit.isPending && edit.variables?.op === "remove"}
          onClick={() => edit.mutate({ op: "remove", emails })}
        >
          Keep out of segment
        </Button>
      </Group>
      {general && (
        <Alert color="red" role="alert">
          {general}
        </Alert>
      )}
      {edit.data && (
        <Alert color="green" role="status" data-testid="override-result">
          {edit.data}
        </Alert>
      )}
      <Group justify="space-between" mt="md">
        <Title order={4}>Overrides</Title>
        <Button
          size="xs"
          variant="default"
          disabled={picked.size === 0}
          loading={lift.isPending}
          onClick={() => lift.mutate([...picked])}
        >
          Lift selected{picked.size ? ` (${picked.size})` : ""}
        </Button>
      </Group>
      {lift.error && <Alert color="red">{lift.error.message}</Alert>}
      {list.isLoading && <Loader aria-label="Loading overrides" />}
      {list.isError && <Alert color="red">Could not load the overrides: {String(list.error)}</Alert>}
      {list.data && rows.length === 0 && <Text c="dimmed">No overrides: the rule alone decides.</Text>}
      {rows.length > 0 && (
        <Table data-testid="segment-overrides">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={40} />
              <Table.Th>Contact</Table.Th>
              <Table.Th>Override</Table.Th>
              <Table.Th>Expires</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((o) => (
              <Table.Tr key={o.contact_id} data-override={o.contact_id}>
                <Table.Td>
                  <Checkbox
                    aria-label={`Select override of ${o.contact_id}`}
                    checked={picked.has(o.contact_id)}
                    onChange={() => toggle(o.contact_id)}
                  />
                </Table.Td>
                <Table.Td>
                  <SegmentContactLink id={o.contact_id} />
                </Table.Td>
                <Table.Td>
                  <Badge variant="light" color={o.action === "added" ? "green" : "red"}>
                    {o.action === "added" ? "kept in" : "kept out"}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  {o.expires_at ? (
                    <Group gap={4} wrap="nowrap">
                      <Text size="sm">kept until</Text>
                      <SegmentTime iso={o.expires_at} zone={zone} />
                    </Group>
                  ) : (
                    <Text size="sm" c="dimmed">
                      until lifted
                    </Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
