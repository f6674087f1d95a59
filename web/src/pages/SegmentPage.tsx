import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  List,
  Loader,
  Modal,
  Stack,
  Tabs,
  Text,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, api, downloadExport } from "../api.ts";
import { AnalyticsPanel } from "../components/AnalyticsPanel.tsx";
import { EmptyState } from "../components/EmptyState.tsx";
import { MembersTable } from "../components/MembersTable.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { SegmentActionsPanel } from "../components/SegmentActionsPanel.tsx";
import { SegmentChangesPanel } from "../components/SegmentChangesPanel.tsx";
import { SegmentHistoryPanel } from "../components/SegmentHistoryPanel.tsx";
import { SegmentOverridesPanel } from "../components/SegmentOverridesPanel.tsx";
import { StaticMembersPanel } from "../components/StaticMembersPanel.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { formatCount } from "../format.ts";

const FORMATS = [
  ["csv", "CSV"],
  ["meta", "Meta (Custom Audience)"],
  ["google", "Google (Customer Match)"],
  ["ndjson", "NDJSON"],
] as const;

export function SegmentPage() {
  const { id } = useParams() as { id: string };
  const nav = useNavigate();
  const qc = useQueryClient();
  const seg = useQuery({ queryKey: ["segment", id], queryFn: () => api.segment(id) });
  const uses = useQuery({ queryKey: ["uses", id], queryFn: () => api.uses(id) });
  const [confirm, setConfirm] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const del = useMutation({
    mutationFn: () => api.deleteSegment(id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["segments"] });
      nav("/segments");
    },
  });
  if (seg.isLoading) return <TableSkeleton label="Loading segment" rows={8} />;
  if (seg.isError || !seg.data)
    return <Alert color="red">Could not load the segment: {String(seg.error)}</Alert>;
  const s = seg.data;
  const delError = del.error instanceof ApiError ? del.error : null;
  return (
    <Stack>
      <PageHeader
        back={{ to: "/segments", label: "Segments" }}
        title={s.name}
        badges={
          <>
            <Badge variant="light">{s.kind}</Badge>
            {s.default && <Badge color="gray">default</Badge>}
          </>
        }
        description={`${formatCount(s.size, "member")}${s.description ? ` · ${s.description}` : ""}`}
        actions={
          !s.default && (
            <>
              <Button variant="default" onClick={() => nav(`/segments/${id}/edit`)}>
                Edit
              </Button>
              <Button
                color="red"
                variant="light"
                onClick={() => {
                  // A new look at the segment: uses removed since the last refusal may let it go now.
                  del.reset();
                  setConfirm(true);
                }}
              >
                Delete
              </Button>
            </>
          )
        }
      />
      <Tabs defaultValue="members" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="members">Members</Tabs.Tab>
          <Tabs.Tab value="analytics">Analytics</Tabs.Tab>
          <Tabs.Tab value="export">Export</Tabs.Tab>
          <Tabs.Tab value="uses">Uses</Tabs.Tab>
          <Tabs.Tab value="changes">Changes</Tabs.Tab>
          <Tabs.Tab value="history">History</Tabs.Tab>
          <Tabs.Tab value="actions">Bulk actions</Tabs.Tab>
          {s.kind === "static" && <Tabs.Tab value="manage">Add / remove contacts</Tabs.Tab>}
          {s.kind === "dynamic" && !s.default && <Tabs.Tab value="overrides">Overrides</Tabs.Tab>}
          {s.rule && <Tabs.Tab value="rule">Rule</Tabs.Tab>}
        </Tabs.List>
        <Tabs.Panel value="members" pt="md">
          <MembersTable segmentId={id} />
        </Tabs.Panel>
        <Tabs.Panel value="analytics" pt="md">
          <AnalyticsPanel segmentId={id} />
        </Tabs.Panel>
        <Tabs.Panel value="export" pt="md">
          <Stack maw={500}>
            <Text size="sm">Unsubscribed, hard-bounced and complained contacts are left out of exports.</Text>
            <Group>
              {FORMATS.map(([f, label]) => (
                <Button
                  key={f}
                  variant="default"
                  onClick={() => {
                    setExportError(null);
                    downloadExport(id, f).catch((e: Error) => setExportError(e.message));
                  }}
                >
                  Download {label}
                </Button>
              ))}
            </Group>
            {exportError && <Alert color="red">{exportError}</Alert>}
          </Stack>
        </Tabs.Panel>
        <Tabs.Panel value="uses" pt="md">
          {uses.isLoading && <Loader aria-label="Loading uses" />}
          {uses.isError && <Alert color="red">{String(uses.error)}</Alert>}
          {uses.data && uses.data.length === 0 && (
            <EmptyState title="Nothing refers to this segment.">
              Other segments, destinations, scheduled exports and webhooks that use it will be listed here.
            </EmptyState>
          )}
          {uses.data && uses.data.length > 0 && (
            <List>
              {uses.data.map((u) => (
                <List.Item key={`${u.type}:${u.id}`}>
                  {u.type === "segment" ? (
                    <Anchor component={Link} to={`/segments/${u.id}`}>
                      segment {u.id}
                    </Anchor>
                  ) : (
                    `${u.type} ${u.id}`
                  )}
                </List.Item>
              ))}
            </List>
          )}
        </Tabs.Panel>
        <Tabs.Panel value="changes" pt="md">
          <SegmentChangesPanel segmentId={id} />
        </Tabs.Panel>
        <Tabs.Panel value="history" pt="md">
          <SegmentHistoryPanel segmentId={id} readOnly={s.default} />
        </Tabs.Panel>
        <Tabs.Panel value="actions" pt="md">
          <SegmentActionsPanel segment={s} />
        </Tabs.Panel>
        {s.kind === "dynamic" && !s.default && (
          <Tabs.Panel value="overrides" pt="md">
            <SegmentOverridesPanel segmentId={id} />
          </Tabs.Panel>
        )}
        {s.kind === "static" && (
          <Tabs.Panel value="manage" pt="md">
            <StaticMembersPanel segmentId={id} />
          </Tabs.Panel>
        )}
        {s.rule && (
          <Tabs.Panel value="rule" pt="md">
            <Code block style={{ overflowX: "auto" }}>
              {JSON.stringify(s.rule, null, 2)}
            </Code>
          </Tabs.Panel>
        )}
      </Tabs>
      <Modal opened={confirm} onClose={() => setConfirm(false)} title={`Delete “${s.name}”?`}>
        <Stack>
          <Text size="sm">The segment is deleted; its contacts are not.</Text>
          {delError?.status === 409 && (
            <Alert color="red" role="alert" title="This segment is in use">
              Remove these uses first, then open this dialog again:
              <List data-testid="delete-uses">
                {(delError.details.uses ?? []).map((u) => (
                  <List.Item key={`${u.type}:${u.id}`}>
                    {u.type === "segment" ? (
                      <Link to={`/segments/${encodeURIComponent(u.id)}`} onClick={() => setConfirm(false)}>
                        segment {u.id}
                      </Link>
                    ) : (
                      `${u.type} ${u.id}`
                    )}
                  </List.Item>
                ))}
              </List>
            </Alert>
          )}
          {del.error && delError?.status !== 409 && <Alert color="red">{del.error.message}</Alert>}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              Cancel
            </Button>
            <Button
              color="red"
              loading={del.isPending}
              disabled={delError?.status === 409}
              onClick={() => del.mutate()}
            >
              Delete segment
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
