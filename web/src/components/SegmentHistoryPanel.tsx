import { Alert, Badge, Box, Button, Card, Code, Group, Loader, Modal, Stack, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../api.ts";
import { type DiffLine, diffLines, type SegmentVersion, segmentsApi } from "../segments-api.ts";
import { SegmentTime, useWorkspaceZone } from "./SegmentTime.tsx";

const LINE_STYLE: Record<DiffLine["op"], { sign: string; bg?: string; c?: string }> = {
  same: { sign: " " },
  add: { sign: "+", bg: "var(--mantine-color-green-light)", c: "var(--mantine-color-green-light-color)" },
  del: { sign: "−", bg: "var(--mantine-color-red-light)", c: "var(--mantine-color-red-light-color)" },
};

function RuleDiff({ before, after }: { before: string; after: string }) {
  const lines = diffLines(before, after);
  if (lines.every((l) => l.op === "same"))
    return (
      <Text size="xs" c="dimmed">
        Rule unchanged
      </Text>
    );
  return (
    <Box
      data-testid="version-diff"
      style={{ fontFamily: "var(--mantine-font-family-monospace)", fontSize: 12, whiteSpace: "pre-wrap" }}
    >
      {lines.map((l, k) => {
        const st = LINE_STYLE[l.op];
        return (
          <div
            // biome-ignore lint/suspicious/noArrayIndexKey: a diff is drawn whole, its lines have no identity but their place
            key={`${k}:${l.op}`}
            data-op={l.op}
            style={{ background: st.bg, color: st.c, padding: "0 6px" }}
          >
            {st.sign} {l.text}
          </div>
        );
      })}
    </Box>
  );
}

/**
 * Every saved version, newest first: its rule as text, what changed since the one
 * before, and Restore. A restore quotes the ETag read with the list, so an edit made
 * meanwhile by someone else is refused (412) instead of overwritten.
 */
export function SegmentHistoryPanel({ segmentId, readOnly }: { segmentId: string; readOnly: boolean }) {
  const qc = useQueryClient();
  const zone = useWorkspaceZone();
  const q = useQuery({
    queryKey: ["segment-versions", segmentId],
    queryFn: async () => {
      const [tagged, versions] = await Promise.all([
        segmentsApi.tagged(segmentId),
        segmentsApi.versions(segmentId),
      ]);
      return { etag: tagged.etag, current: tagged.data.version, versions };
    },
  });
  const [pick, setPick] = useState<SegmentVersion | null>(null);
  const [stale, setStale] = useState(false);
  const restore = useMutation({
    mutationFn: (v: SegmentVersion) => segmentsApi.restore(segmentId, v.version, q.data?.etag ?? null),
    onSuccess: () => {
      setPick(null);
      setStale(false);
      void qc.invalidateQueries({ queryKey: ["segment-versions", segmentId] });
      void qc.invalidateQueries({ queryKey: ["segment", segmentId] });
      void qc.invalidateQueries({ queryKey: ["segments"] });
      void qc.invalidateQueries({ queryKey: ["members", segmentId] });
    },
    onError: (e) => {
      if (e instanceof ApiError && e.status === 412) {
        setPick(null);
        setStale(true);
        void qc.invalidateQueries({ queryKey: ["segment-versions", segmentId] });
        void qc.invalidateQueries({ queryKey: ["segment", segmentId] });
      }
    },
  });
  if (q.isLoading) return <Loader aria-label="Loading versions" />;
  if (q.isError || !q.data) return <Alert color="red">Could not load the versions: {String(q.error)}</Alert>;
  const { versions, current } = q.data;
  const restoreError = restore.error && !(restore.error instanceof ApiError && restore.error.status === 412);
  return (
    <Stack maw={900}>
      <Text size="sm" c="dimmed">
        Newest first · times in {zone ?? "…"}
      </Text>
      {stale && (
        <Alert
          color="orange"
          role="alert"
          title="Someone else changed this segment"
          data-testid="restore-stale"
        >
          It was edited after this history was loaded, so nothing was restored. The history below is up to
          date now: check it and restore again if you still want to.
        </Alert>
      )}
      {restoreError && (
        <Alert color="red" role="alert">
          {restore.error.message}
        </Alert>
      )}
      {versions.map((v, k) => {
        const prev = versions[k + 1];
        const renamed = prev && prev.name !== v.name;
        return (
          <Card key={v.version} withBorder padding="sm" data-version={v.version}>
            <Group justify="space-between" align="flex-start" wrap="nowrap">
              <Stack gap={4} style={{ minWidth: 0, flex: 1 }}>
                <Group gap="xs">
                  <Text fw={600}>Version {v.version}</Text>
                  {v.version === current && (
                    <Badge size="sm" variant="light">
                      current
                    </Badge>
                  )}
                  {v.created_at ? (
                    <SegmentTime iso={v.created_at} zone={zone} />
                  ) : (
                    <Text size="sm" c="dimmed">
                      built in
                    </Text>
                  )}
                </Group>
                <Text size="sm">
                  {v.name}
                  {renamed && (
                    <Text span size="sm" c="dimmed">
                      {" "}
                      (was “{prev.name}”)
                    </Text>
                  )}
                  {v.description ? ` · ${v.description}` : ""}
                </Text>
                {v.rule_text !== null && (
                  <Code block data-testid="version-rule">
                    {v.rule_text}
                  </Code>
                )}
                {prev && v.rule_text !== null && (
                  <>
                    <Text size="xs" c="dimmed" mt={4}>
                      Rule changes since version {prev.version}
                    </Text>
                    <RuleDiff before={prev.rule_text ?? ""} after={v.rule_text} />
                  </>
                )}
              </Stack>
              {!readOnly && v.version !== current && (
                <Button size="xs" variant="default" onClick={() => setPick(v)}>
                  Restore
                </Button>
              )}
            </Group>
          </Card>
        );
      })}
      <Modal opened={pick !== null} onClose={() => setPick(null)} title={`Restore version ${pick?.version}?`}>
        <Stack>
          <Text size="sm">
            A new version is saved with version {pick?.version}’s name, description and rule; members follow
            the restored rule. Nothing in the history is lost.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setPick(null)}>
              Cancel
            </Button>
            <Button loading={restore.isPending} onClick={() => pick && restore.mutate(pick)}>
              Restore version {pick?.version}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
