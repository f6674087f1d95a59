import { Alert, Button, Group, Modal, Stack, Text, VisuallyHidden } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type Schedule, schedulesApi } from "../schedules-api.ts";

/** Pause / resume, run now and delete (after a confirmation) of one schedule. */
export function ScheduleActions({
  s,
  size = "xs",
  onDeleted,
}: {
  s: Schedule;
  size?: "xs" | "sm";
  onDeleted?: () => void;
}) {
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const done = () => {
    void qc.invalidateQueries({ queryKey: ["schedules"] });
    void qc.invalidateQueries({ queryKey: ["schedule", s.id] });
    void qc.invalidateQueries({ queryKey: ["schedule-runs", s.id] });
  };
  const toggle = useMutation({
    mutationFn: () => schedulesApi.setState(s.id, s.state === "paused" ? "active" : "paused"),
    onSuccess: done,
  });
  const run = useMutation({ mutationFn: () => schedulesApi.runNow(s.id), onSuccess: done });
  const del = useMutation({
    mutationFn: () => schedulesApi.delete(s.id),
    onSuccess: () => {
      setConfirm(false);
      void qc.invalidateQueries({ queryKey: ["schedules"] });
      onDeleted?.();
    },
  });
  const error = toggle.error ?? run.error;
  return (
    <Stack gap={4}>
      <Group gap={6} wrap="nowrap">
        <Button
          size={size}
          variant="default"
          loading={toggle.isPending}
          onClick={() => toggle.mutate()}
          aria-label={`${s.state === "paused" ? "Resume" : "Pause"} ${s.name}`}
        >
          {s.state === "paused" ? "Resume" : "Pause"}
        </Button>
        <Button size={size} variant="default" loading={run.isPending} onClick={() => run.mutate()}>
          {/* Named "Run <schedule> now" for a screen reader, while the visible words stay in the name;
              non-breaking spaces, as the button's flex label drops spaces at the edges of its text. */}
          Run&nbsp;<VisuallyHidden>{s.name}&nbsp;</VisuallyHidden>now
        </Button>
        <Button
          size={size}
          color="red"
          variant="light"
          onClick={() => setConfirm(true)}
          aria-label={`Delete ${s.name}`}
        >
          Delete
        </Button>
      </Group>
      {error && (
        <Text size="xs" c="red" role="alert">
          {error.message}
        </Text>
      )}
      <Modal opened={confirm} onClose={() => setConfirm(false)} title={`Delete “${s.name}”?`}>
        <Stack>
          <Text size="sm">
            The schedule and its run history are deleted. Files already written stay where they are.
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
              Delete schedule
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
