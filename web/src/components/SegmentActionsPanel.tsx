import { Alert, Button, Group, Modal, SegmentedControl, Select, Stack, TagsInput, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, api, type Segment } from "../api.ts";
import { type BulkAction, issueText, segmentsApi, tagsIn } from "../segments-api.ts";

type Kind = "tag_add" | "tag_remove" | "copy_to";

const KINDS: { value: Kind; label: string }[] = [
  { value: "tag_add", label: "Add tags" },
  { value: "tag_remove", label: "Remove tags" },
  { value: "copy_to", label: "Copy to a static segment" },
];

/** The field a server error names: `tag_add[1]` is the tags input, `copy_to` the picker. */
const fieldOf = (path: string): "tags" | "target" | null =>
  /^tag_(add|remove)\b/.test(path) ? "tags" : path.startsWith("copy_to") ? "target" : null;

/**
 * One action on everyone in the segment now: add or remove tags, or copy them into a
 * static segment. Confirmed with the member count first; the answer says how many
 * contacts actually changed (those already tagged, or already in the target, do not).
 */
export function SegmentActionsPanel({ segment }: { segment: Segment }) {
  const qc = useQueryClient();
  const [kind, setKind] = useState<Kind>("tag_add");
  const [picked, setPicked] = useState<string[]>([]);
  // A tag typed but not yet confirmed with Enter counts too: the button would look dead otherwise.
  const [typing, setTyping] = useState("");
  const tags = tagsIn([...picked, typing].join(","));
  const [target, setTarget] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const statics = (segments.data ?? []).filter(
    (s) => s.kind === "static" && !s.default && s.id !== segment.id,
  );
  const act = useMutation({
    mutationFn: (a: BulkAction) => segmentsApi.action(segment.id, a),
    onSettled: () => setConfirm(false),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["members"] });
      void qc.invalidateQueries({ queryKey: ["segments"] });
      void qc.invalidateQueries({ queryKey: ["segment"] });
      void qc.invalidateQueries({ queryKey: ["contact"] });
    },
  });
  const action: BulkAction | null =
    kind === "copy_to"
      ? target
        ? { copy_to: target }
        : null
      : tags.length > 0
        ? kind === "tag_add"
          ? { tag_add: tags }
          : { tag_remove: tags }
        : null;
  const err = act.error instanceof ApiError ? act.error : null;
  const errorAt = (f: "tags" | "target") =>
    err?.issues
      .filter((i) => fieldOf(i.path) === f)
      .map(issueText)
      .join("; ") || undefined;
  const general =
    act.error && (!err || err.issues.every((i) => fieldOf(i.path) === null)) ? act.error.message : null;
  const members = `${segment.size.toLocaleString("en")} ${segment.size === 1 ? "member" : "members"}`;
  const targetName = statics.find((s) => s.id === target)?.name ?? target;
  const what =
    kind === "copy_to"
      ? `Copy the ${members} of “${segment.name}” into “${targetName}”?`
      : `${kind === "tag_add" ? "Add" : "Remove"} ${tags.length === 1 ? "the tag" : "the tags"} ${tags
          .map((t) => `“${t}”`)
          .join(", ")} ${kind === "tag_add" ? "to" : "from"} the ${members} of “${segment.name}”?`;
  const reset = () => act.reset();
  return (
    <Stack maw={560}>
      <Text size="sm">
        Applies to the contacts in the segment now; contacts who enter later are not touched.
      </Text>
      <SegmentedControl
        aria-label="Action"
        data={KINDS}
        value={kind}
        onChange={(v) => {
          setKind(v as Kind);
          reset();
        }}
      />
      {kind === "copy_to" ? (
        <Select
          label="Static segment"
          placeholder={statics.length ? "Pick a static segment" : "No static segment yet"}
          data={statics.map((s) => ({ value: s.id, label: s.name }))}
          value={target}
          onChange={(v) => {
            setTarget(v);
            reset();
          }}
          searchable
          error={errorAt("target")}
        />
      ) : (
        <TagsInput
          label="Tags"
          description="Enter or a comma after each tag"
          value={picked}
          onChange={(v) => {
            setPicked(v);
            reset();
          }}
          searchValue={typing}
          onSearchChange={setTyping}
          error={errorAt("tags")}
        />
      )}
      <Group>
        <Button disabled={action === null} onClick={() => setConfirm(true)}>
          {KINDS.find((k) => k.value === kind)!.label}…
        </Button>
      </Group>
      {general && (
        <Alert color="red" role="alert">
          {general}
        </Alert>
      )}
      {act.data && (
        <Alert color="green" role="status" data-testid="action-result">
          {act.data.changed.toLocaleString("en")} {act.data.changed === 1 ? "contact" : "contacts"} changed
        </Alert>
      )}
      <Modal opened={confirm} onClose={() => setConfirm(false)} title="Apply to every member?">
        <Stack>
          <Text size="sm" style={{ overflowWrap: "anywhere" }}>
            {what}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              Cancel
            </Button>
            <Button loading={act.isPending} onClick={() => action && act.mutate(action)}>
              Apply to {members}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
