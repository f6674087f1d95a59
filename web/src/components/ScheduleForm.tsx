import {
  Alert,
  Button,
  Checkbox,
  Group,
  Paper,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ChangeEvent, useState } from "react";
import { ApiError, api, type Issue } from "../api.ts";
import { FORMAT_LABEL, FORMATS, type Format, schedulesApi, type TargetInput } from "../schedules-api.ts";

type TargetKind = "s3" | "http";

const S3_FIELDS = [
  { key: "bucket", label: "Bucket", required: true, placeholder: "my-exports" },
  {
    key: "key",
    label: "Object key",
    required: true,
    placeholder: "slice/{segment_id}/{date}-{time}.csv",
    help: "Placeholders: {date} {time} {segment_id} {schedule_id}, in the workspace's time zone.",
  },
  { key: "region", label: "Region (optional)", placeholder: "eu-west-1" },
  {
    key: "endpoint",
    label: "Endpoint (optional)",
    placeholder: "https://s3.example.com",
    help: "For S3-compatible services (MinIO, R2…); leave empty for Amazon S3.",
  },
  {
    key: "access_key_id",
    label: "Access key id",
    required: true,
    help: "A key allowed to write to the bucket; both keys are stored encrypted, the secret never shown again.",
  },
  { key: "secret_access_key", label: "Secret access key", required: true, secret: true },
] as const;

/** A new scheduled export: segment, format, cron in the workspace's zone, and where it goes. */
export function ScheduleForm() {
  const qc = useQueryClient();
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const ws = useQuery({ queryKey: ["workspace"], queryFn: () => api.workspace() });
  const [name, setName] = useState("");
  const [segmentId, setSegmentId] = useState<string | null>(null);
  const [format, setFormat] = useState<Format>("csv");
  const [cron, setCron] = useState("0 2 * * *");
  const [kind, setKind] = useState<TargetKind>("s3");
  const [s3, setS3] = useState<Record<string, string>>({});
  const [pathStyle, setPathStyle] = useState(false);
  const [url, setUrl] = useState("");
  const [headerName, setHeaderName] = useState("");
  const [headerValue, setHeaderValue] = useState("");
  const target = (): TargetInput => {
    if (kind === "http") {
      const h = headerName.trim();
      return { kind: "http", url: url.trim(), ...(h ? { headers: { [h]: headerValue } } : {}) };
    }
    const t: Record<string, string | boolean> = { kind: "s3" };
    for (const f of S3_FIELDS) {
      const v = (s3[f.key] ?? "").trim();
      if (v) t[f.key] = v;
    }
    if (pathStyle) t.force_path_style = true;
    return t as TargetInput;
  };
  const create = useMutation({
    mutationFn: () =>
      schedulesApi.create({
        ...(name.trim() ? { name: name.trim() } : {}),
        segment_id: segmentId ?? "",
        format,
        cron: cron.trim(),
        target: target(),
      }),
    onSuccess: () => {
      setName("");
      setS3({});
      setUrl("");
      setHeaderName("");
      setHeaderValue("");
      void qc.invalidateQueries({ queryKey: ["schedules"] });
    },
  });
  const issues: Issue[] = create.error instanceof ApiError ? create.error.issues : [];
  const placed = new Set<Issue>();
  const errorAt = (...paths: string[]): string | undefined => {
    const mine = issues.filter((i) => paths.some((p) => i.path === p || i.path.startsWith(`${p}.`)));
    for (const i of mine) placed.add(i);
    return mine.length ? mine.map((i) => i.message).join("; ") : undefined;
  };
  const errors = {
    name: errorAt("name"),
    segment: errorAt("segment_id"),
    format: errorAt("format", "columns", "exclude_suppressed"),
    cron: errorAt("cron"),
    url: errorAt("target.url"),
    headers: errorAt("target.headers"),
    s3: Object.fromEntries(S3_FIELDS.map((f) => [f.key, errorAt(`target.${f.key}`)])),
    pathStyle: errorAt("target.force_path_style"),
  };
  const rest = issues.filter((i) => !placed.has(i));
  const missing = [
    ...(segmentId ? [] : ["Segment"]),
    ...(cron.trim() ? [] : ["Cron"]),
    ...(kind === "http"
      ? url.trim()
        ? []
        : ["URL"]
      : S3_FIELDS.filter((f) => "required" in f && f.required && !(s3[f.key] ?? "").trim()).map(
          (f) => f.label,
        )),
  ];
  return (
    <Paper withBorder p="md">
      <Title order={4} mb="xs">
        New scheduled export
      </Title>
      <Stack>
        <Group align="flex-start">
          <TextInput
            label="Name (optional)"
            placeholder="e.g. Nightly VIP export"
            w={300}
            value={name}
            error={errors.name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <Select
            label="Segment"
            w={280}
            required
            searchable
            allowDeselect={false}
            placeholder={segments.isLoading ? "Loading…" : "Pick a segment"}
            data={(segments.data ?? []).map((s) => ({ value: s.id, label: s.name }))}
            value={segmentId}
            error={errors.segment}
            onChange={setSegmentId}
          />
          <Select
            label="Format"
            w={260}
            allowDeselect={false}
            data={FORMATS.map((f) => ({ value: f, label: FORMAT_LABEL[f] }))}
            value={format}
            error={errors.format}
            onChange={(v) => v && setFormat(v as Format)}
          />
        </Group>
        <TextInput
          label="Cron"
          required
          w={300}
          ff="monospace"
          value={cron}
          error={errors.cron}
          description={`Five fields (minute hour day month weekday), in the workspace's time zone: ${ws.data?.time_zone ?? "…"}.`}
          data-testid="schedule-cron"
          onChange={(e) => setCron(e.currentTarget.value)}
        />
        <div>
          <Text size="sm" fw={500}>
            Target
          </Text>
          <SegmentedControl
            aria-label="Target"
            data-testid="schedule-target-kind"
            data={[
              { value: "s3", label: "S3 bucket" },
              { value: "http", label: "HTTPS URL (PUT)" },
            ]}
            value={kind}
            onChange={(v) => setKind(v as TargetKind)}
          />
        </div>
        {kind === "s3" ? (
          <>
            {S3_FIELDS.map((f) => {
              const props = {
                label: f.label,
                placeholder: "placeholder" in f ? f.placeholder : undefined,
                description: "help" in f ? f.help : undefined,
                required: "required" in f ? f.required : false,
                error: errors.s3[f.key],
                maw: 720,
                value: s3[f.key] ?? "",
                onChange: (e: ChangeEvent<HTMLInputElement>) => {
                  const v = e.currentTarget.value;
                  setS3((c) => ({ ...c, [f.key]: v }));
                },
              };
              return "secret" in f ? (
                <PasswordInput key={f.key} {...props} />
              ) : (
                <TextInput key={f.key} {...props} />
              );
            })}
            <Checkbox
              label="Path-style addressing"
              description="Some S3-compatible services need it (bucket in the path, not the host name)."
              checked={pathStyle}
              error={errors.pathStyle}
              onChange={(e) => setPathStyle(e.currentTarget.checked)}
            />
          </>
        ) : (
          <>
            <TextInput
              label="URL"
              required
              maw={720}
              placeholder="https://example.com/upload/{segment_id}-{date}.csv"
              description="Slice PUTs the file here. Placeholders: {date} {time} {segment_id} {schedule_id}."
              value={url}
              error={errors.url}
              onChange={(e) => setUrl(e.currentTarget.value)}
            />
            <Group align="flex-start">
              <TextInput
                label="Header (optional)"
                placeholder="Authorization"
                w={240}
                value={headerName}
                error={errors.headers}
                onChange={(e) => setHeaderName(e.currentTarget.value)}
              />
              <PasswordInput
                label="Header value"
                description="Stored encrypted, never shown again."
                w={420}
                value={headerValue}
                onChange={(e) => setHeaderValue(e.currentTarget.value)}
              />
            </Group>
          </>
        )}
        <Group>
          <Button onClick={() => create.mutate()} loading={create.isPending} disabled={missing.length > 0}>
            Create schedule
          </Button>
          {missing.length > 0 && (
            <Text size="sm" c="dimmed">
              Needs: {missing.join(", ")}
            </Text>
          )}
        </Group>
        {create.error && (rest.length > 0 || issues.length === 0) && (
          <Alert color="red" role="alert" title="The schedule was not created">
            {rest.length > 0
              ? rest.map((i) => <div key={i.path + i.message}>{i.message}</div>)
              : create.error.message}
          </Alert>
        )}
        {create.isSuccess && (
          <Alert color="green" title="Schedule created" data-testid="new-schedule">
            {create.data.name}: next run{" "}
            {create.data.next_run_at ? new Date(create.data.next_run_at).toLocaleString("en-GB") : "never"}.
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}
