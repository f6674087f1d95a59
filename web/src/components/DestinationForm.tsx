import {
  Alert,
  Anchor,
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
import { useState } from "react";
import { Link } from "react-router";
import { ApiError, api, type Issue } from "../api.ts";
import {
  type ConfigInput,
  type CreatedDestination,
  destinationsApi,
  isChoice,
  KIND_INFO,
  KINDS,
  type Kind,
} from "../destinations-api.ts";
import { SourceCopyField } from "./SourceCopyField.tsx";

/** The inputs of a kind as picked now: the chosen option of each choice, and the plain ones. */
function visibleInputs(kind: Kind, picked: Record<string, string>): ConfigInput[] {
  return KIND_INFO[kind].parts.flatMap((p) => {
    if (!isChoice(p)) return [p];
    const o = p.options.find((x) => x.value === picked[p.choice]) ?? p.options[0]!;
    return o.inputs;
  });
}

/** Form values as the API takes them: empty ones left out, digits as numbers where a number is wanted. */
function configOf(inputs: ConfigInput[], values: Record<string, string | boolean>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const i of inputs) {
    const v = values[i.key];
    if (i.type === "boolean") {
      if (v === true) out[i.key] = true;
      continue;
    }
    const s = typeof v === "string" ? v.trim() : "";
    if (s === "") continue;
    out[i.key] = i.type === "number" && /^\d{1,15}$/.test(s) ? Number(s) : s;
  }
  return out;
}

/** What to keep once an http destination exists: the secret Slice made, shown this once. */
function CreatedPanel({ d, onDone }: { d: CreatedDestination; onDone: () => void }) {
  return (
    <Alert
      color={d.secret ? "yellow" : "green"}
      title={`Destination “${d.name}” created`}
      data-testid="new-destination"
    >
      <Stack gap="xs">
        {d.secret && (
          <>
            <Text size="sm" fw={500}>
              Copy the signing secret now: it is shown only this once. Your endpoint verifies Slice's calls
              with it (Standard Webhooks).
            </Text>
            <SourceCopyField label="Signing secret" value={d.secret} testId="new-destination-secret" />
          </>
        )}
        <Group>
          <Anchor component={Link} to={`/destinations/${encodeURIComponent(d.id)}`} size="sm">
            Open {d.name}
          </Anchor>
          <Button size="xs" variant="default" onClick={onDone}>
            {d.secret ? "I have copied it" : "Done"}
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}

/** A new destination: name, kind, segment, the kind's settings; server errors beside their field. */
export function DestinationForm() {
  const qc = useQueryClient();
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Kind>("http");
  const [segmentId, setSegmentId] = useState<string | null>(null);
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [picked, setPicked] = useState<Record<string, string>>({});
  const [paused, setPaused] = useState(false);
  const [created, setCreated] = useState<CreatedDestination | null>(null);
  const info = KIND_INFO[kind];
  const inputs = visibleInputs(kind, picked);
  const create = useMutation({
    mutationFn: () =>
      destinationsApi.create({
        name: name.trim(),
        kind,
        segment_id: segmentId ?? "",
        config: configOf(inputs, values),
        ...(paused ? { paused: true } : {}),
      }),
    onSuccess: (d) => {
      setCreated(d);
      setName("");
      setValues({});
      setPaused(false);
      void qc.invalidateQueries({ queryKey: ["destinations"] });
    },
  });
  const issues: Issue[] = create.error instanceof ApiError ? create.error.issues : [];
  // Each issue goes beside the field it names; the others (and errors without a path) above the button.
  const placed = new Set<Issue>();
  const errorAt = (path: string): string | undefined => {
    const mine = issues.filter((i) => i.path === path);
    for (const i of mine) placed.add(i);
    return mine.length ? mine.map((i) => i.message).join("; ") : undefined;
  };
  const nameError = errorAt("name");
  const kindError = errorAt("kind");
  const segmentError = errorAt("segment_id");
  const fieldErrors = Object.fromEntries(inputs.map((i) => [i.key, errorAt(`config.${i.key}`)]));
  const rest = create.error ? issues.filter((i) => !placed.has(i)) : [];
  const missing = [
    ...(name.trim() ? [] : ["Name"]),
    ...(segmentId ? [] : ["Segment"]),
    ...inputs.filter((i) => i.required && !String(values[i.key] ?? "").trim()).map((i) => i.label),
  ];
  const set = (key: string, v: string | boolean) => setValues((c) => ({ ...c, [key]: v }));
  const field = (i: ConfigInput) => {
    const key = `${kind}:${i.key}`;
    const common = {
      label: i.label,
      description: i.help,
      placeholder: i.placeholder,
      required: i.required,
      error: fieldErrors[i.key],
      maw: 720,
    };
    if (i.type === "boolean")
      return (
        <Checkbox
          key={key}
          label={i.label}
          description={i.help}
          error={fieldErrors[i.key]}
          checked={values[i.key] === true}
          onChange={(e) => set(i.key, e.currentTarget.checked)}
        />
      );
    const value = typeof values[i.key] === "string" ? (values[i.key] as string) : "";
    return i.type === "secret" ? (
      <PasswordInput
        key={key}
        {...common}
        value={value}
        onChange={(e) => set(i.key, e.currentTarget.value)}
      />
    ) : (
      <TextInput
        key={key}
        {...common}
        inputMode={i.type === "number" ? "numeric" : undefined}
        value={value}
        onChange={(e) => set(i.key, e.currentTarget.value)}
      />
    );
  };
  return (
    <Paper withBorder p="md">
      <Title order={4} mb="xs">
        New destination
      </Title>
      <Stack>
        <Group align="flex-start">
          <TextInput
            label="Name"
            placeholder="e.g. CRM webhook"
            w={300}
            required
            value={name}
            error={nameError}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <Select
            label="Kind"
            w={240}
            allowDeselect={false}
            data={KINDS.map((k) => ({ value: k, label: KIND_INFO[k].label }))}
            value={kind}
            error={kindError}
            onChange={(v) => {
              if (v) setKind(v as Kind);
              create.reset();
            }}
          />
          <Select
            label="Segment"
            w={300}
            required
            searchable
            allowDeselect={false}
            placeholder={segments.isLoading ? "Loading…" : "Pick a segment"}
            data={(segments.data ?? []).map((s) => ({ value: s.id, label: s.name }))}
            value={segmentId}
            error={segmentError}
            onChange={setSegmentId}
          />
        </Group>
        <Text size="sm" c="dimmed">
          {info.about}
        </Text>
        {info.parts.map((p) => {
          if (!isChoice(p)) return field(p);
          const current = picked[p.choice] ?? p.options[0]!.value;
          const option = p.options.find((o) => o.value === current) ?? p.options[0]!;
          return (
            <Stack key={`${kind}:${p.choice}`} gap="xs">
              <div>
                <Text size="sm" fw={500}>
                  {p.label}
                </Text>
                <SegmentedControl
                  aria-label={p.label}
                  data={p.options.map((o) => ({ value: o.value, label: o.label }))}
                  value={current}
                  onChange={(v) => setPicked((c) => ({ ...c, [p.choice]: v }))}
                />
              </div>
              {option.inputs.map(field)}
            </Stack>
          );
        })}
        <Checkbox
          label="Create paused"
          description="Nothing is sent until you resume it, so a dry run can come first."
          checked={paused}
          onChange={(e) => setPaused(e.currentTarget.checked)}
        />
        <Group>
          <Button onClick={() => create.mutate()} loading={create.isPending} disabled={missing.length > 0}>
            Create destination
          </Button>
          {missing.length > 0 && (
            <Text size="sm" c="dimmed">
              Needs: {missing.join(", ")}
            </Text>
          )}
        </Group>
        {create.error && (rest.length > 0 || issues.length === 0) && (
          <Alert color="red" role="alert" title="The destination was not created">
            {rest.length > 0
              ? rest.map((i) => <div key={i.path + i.message}>{i.message}</div>)
              : create.error.message}
          </Alert>
        )}
        {create.error && rest.length === 0 && issues.length > 0 && (
          <Text c="red" size="sm" role="alert">
            The destination was not created: see the field marked above.
          </Text>
        )}
        {created && <CreatedPanel d={created} onDone={() => setCreated(null)} />}
      </Stack>
    </Paper>
  );
}
