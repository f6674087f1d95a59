import {
  Alert,
  Anchor,
  Badge,
  Button,
  Checkbox,
  Group,
  Paper,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError, api, type FieldType, type Issue } from "../api.ts";
import { PageHeader } from "../components/PageHeader.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import {
  type ComputedDefinition,
  FIELD_TYPES,
  type FieldInfo,
  fieldsApi,
  isFieldType,
  MEASURE_FNS,
  MEASURE_INFO,
  type MeasureFn,
  TYPE_INFO,
} from "../fields-api.ts";
import { when } from "../sources-api.ts";

/** Only the app's own segment pages are offered as the way back. */
const safeBack = (b: string | null): string | null => (b && /^\/segments(\/|\?|$)/.test(b) ? b : null);

/** Declares a custom field; the key and type may come pre-filled from a rule that needs them. */
function NewFieldForm({ onCreated }: { onCreated: (f: FieldInfo) => void }) {
  const qc = useQueryClient();
  const [params] = useSearchParams();
  const [key, setKey] = useState(params.get("key") ?? "");
  const [type, setType] = useState<FieldType>(() => {
    const t = params.get("type");
    return isFieldType(t) ? t : "string";
  });
  const [label, setLabel] = useState("");
  // A computed field: its type is the measure's, so the type picker follows the measure.
  const [computed, setComputed] = useState(false);
  const [fn, setFn] = useState<MeasureFn>("sum");
  const [event, setEvent] = useState("");
  const [property, setProperty] = useState("");
  const [inLast, setInLast] = useState("");
  const definition = (): ComputedDefinition => ({
    event: event.trim(),
    ...(inLast.trim() ? { window: { in_last: inLast.trim() } } : {}),
    measure: MEASURE_INFO[fn].property ? { fn, property: property.trim() } : { fn },
  });
  const create = useMutation({
    mutationFn: () =>
      fieldsApi.create({
        key: key.trim(),
        type: computed ? MEASURE_INFO[fn].type : type,
        ...(label.trim() ? { label: label.trim() } : {}),
        ...(computed ? { computed: definition() } : {}),
      }),
    onSuccess: (f) => {
      onCreated(f);
      setKey("");
      setLabel("");
      void qc.invalidateQueries({ queryKey: ["fields"] });
    },
  });
  const issues: Issue[] = create.error instanceof ApiError ? create.error.issues : [];
  const placed = new Set<Issue>();
  const errorAt = (path: string): string | undefined => {
    const mine = issues.filter((i) => i.path === path);
    for (const i of mine) placed.add(i);
    return mine.length ? mine.map((i) => i.message).join("; ") : undefined;
  };
  const keyError = errorAt("key");
  const typeError = errorAt("type");
  const labelError = errorAt("label");
  const eventError = errorAt("computed.event");
  const propertyError = errorAt("computed.measure.property");
  const windowError = errorAt("computed.window.in_last") ?? errorAt("computed.window");
  const rest = issues.filter((i) => !placed.has(i));
  return (
    <Paper withBorder p="md">
      <Title order={4} mb="xs">
        New custom field
      </Title>
      <Stack>
        <Group align="flex-start">
          <TextInput
            label="Key"
            description="Lower-case letters, digits and _, starting with a letter"
            placeholder="e.g. birthday"
            w={280}
            required
            value={key}
            error={keyError}
            onChange={(e) => setKey(e.currentTarget.value)}
            styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
          />
          <Select
            label="Type"
            description={computed ? "The measure's type" : TYPE_INFO[type].example}
            w={240}
            allowDeselect={false}
            data={FIELD_TYPES.map((t) => ({ value: t, label: `${TYPE_INFO[t].label} (${t})` }))}
            value={computed ? MEASURE_INFO[fn].type : type}
            disabled={computed}
            error={typeError}
            onChange={(v) => isFieldType(v) && setType(v)}
          />
          <TextInput
            label="Label"
            description="Shown in the editor; the key when empty"
            placeholder="e.g. Birthday"
            w={280}
            value={label}
            error={labelError}
            onChange={(e) => setLabel(e.currentTarget.value)}
          />
        </Group>
        <Checkbox
          label="Computed from events (kept current, usable in rules, never written)"
          checked={computed}
          onChange={(e) => setComputed(e.currentTarget.checked)}
        />
        {computed && (
          <Group align="flex-start" data-testid="computed-definition">
            <Select
              label="Measure"
              w={280}
              allowDeselect={false}
              data={MEASURE_FNS.map((m) => ({ value: m, label: `${MEASURE_INFO[m].label} (${m})` }))}
              value={fn}
              onChange={(v) => v && setFn(v as MeasureFn)}
            />
            <TextInput
              label="Event type"
              placeholder="e.g. order_placed"
              w={200}
              required
              value={event}
              error={eventError}
              onChange={(e) => setEvent(e.currentTarget.value)}
              styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
            />
            {MEASURE_INFO[fn].property && (
              <TextInput
                label="Property"
                placeholder="e.g. amount"
                w={180}
                required
                value={property}
                error={propertyError}
                onChange={(e) => setProperty(e.currentTarget.value)}
                styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
              />
            )}
            <TextInput
              label="In the last"
              description="A duration like 90d; empty: all time"
              placeholder="e.g. 90d"
              w={160}
              value={inLast}
              error={windowError}
              onChange={(e) => setInLast(e.currentTarget.value)}
            />
          </Group>
        )}
        <Group>
          <Button onClick={() => create.mutate()} loading={create.isPending} disabled={key.trim() === ""}>
            Declare field
          </Button>
          {create.error && rest.length === 0 && issues.length > 0 && (
            <Text c="red" size="sm" role="alert">
              The field was not declared: see the field marked above.
            </Text>
          )}
        </Group>
        {create.error && (rest.length > 0 || issues.length === 0) && (
          <Alert color="red" role="alert" title="The field was not declared">
            {rest.length > 0
              ? rest.map((i) => <div key={i.path + i.message}>{i.message}</div>)
              : create.error.message}
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}

/** Deletes a computed field; a field a segment uses is refused, with the segments named. */
function DeleteComputed({ field }: { field: FieldInfo }) {
  const qc = useQueryClient();
  const remove = useMutation({
    mutationFn: () => fieldsApi.remove(field.key),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["fields"] }),
  });
  const uses =
    remove.error instanceof ApiError && remove.error.status === 409 ? (remove.error.details.uses ?? []) : [];
  // Segment names for the refusal, read afresh once there is one to show: the segments
  // using the field may be newer than any list read before.
  const segments = useQuery({
    queryKey: ["segments"],
    queryFn: api.segments,
    enabled: uses.length > 0,
    staleTime: 0,
  });
  const segName = (id: string) => segments.data?.find((s) => s.id === id)?.name ?? id;
  return (
    <>
      <Button
        size="compact-xs"
        variant="subtle"
        color="red"
        loading={remove.isPending}
        onClick={() => remove.mutate()}
        aria-label={`Delete ${field.key}`}
      >
        Delete
      </Button>
      {remove.error && uses.length > 0 && (
        <Text c="red" size="xs" role="alert">
          Used by{" "}
          {uses.map((u, i) => (
            <Fragment key={`${u.type}:${u.id}`}>
              {i > 0 && ", "}
              {u.type === "segment" ? (
                <Anchor component={Link} to={`/segments/${encodeURIComponent(u.id)}`} size="xs">
                  {segName(u.id)}
                </Anchor>
              ) : (
                `${u.type} ${u.id}`
              )}
            </Fragment>
          ))}
          : change {uses.length === 1 ? "its rule" : "their rules"} first
        </Text>
      )}
      {remove.error && uses.length === 0 && (
        <Text c="red" size="xs" role="alert">
          {remove.error.message}
        </Text>
      )}
    </>
  );
}

/** The workspace's fields, built-in and custom, and the form to declare one. */
export function FieldsPage() {
  const [params] = useSearchParams();
  const back = safeBack(params.get("back"));
  const fields = useQuery({ queryKey: ["fields", "page"], queryFn: fieldsApi.list });
  const [created, setCreated] = useState<FieldInfo | null>(null);
  const list = [...(fields.data ?? [])].sort(
    (a, b) => Number(a.builtin) - Number(b.builtin) || a.key.localeCompare(b.key),
  );
  const customCount = list.filter((f) => !f.builtin).length;
  return (
    <Stack maw={1100}>
      <PageHeader
        title="Fields"
        description="What a contact carries: the built-in fields, and the custom ones declared here, which rules, filters and imports can then use. A custom field's key and type cannot change once declared."
      />
      <NewFieldForm onCreated={setCreated} />
      {created && (
        <Alert
          color="green"
          title={`Field “${created.key}” declared`}
          data-testid="new-field"
          withCloseButton
          onClose={() => setCreated(null)}
        >
          <Group gap="xs">
            <Text size="sm">
              {created.computed
                ? `Each contact's ${created.key} (${TYPE_INFO[created.type].label.toLowerCase()}) is now computed from its ${created.computed.event} events, kept current; rules and exports can use it.`
                : `Contacts can now carry ${created.key} (${TYPE_INFO[created.type].label.toLowerCase()}).`}
            </Text>
            {back && (
              <Anchor component={Link} to={back} size="sm">
                Back to the segment
              </Anchor>
            )}
          </Group>
        </Alert>
      )}
      {fields.isLoading && <TableSkeleton label="Loading fields" rows={8} />}
      {fields.isError && (
        <Alert color="red" role="alert">
          Could not load the fields: {fields.error.message}
        </Alert>
      )}
      {fields.data && (
        <>
          <Text size="sm" c="dimmed">
            {list.length - customCount} built-in,{" "}
            {customCount === 0 ? "no custom field yet" : `${customCount} custom`}
          </Text>
          <Table data-testid="fields-table" striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Key</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Label</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Declared</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((f) => (
                <Table.Tr key={f.key} data-field={f.key} data-builtin={f.builtin}>
                  <Table.Td>
                    <Text ff="monospace" size="sm">
                      {f.key}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" title={f.type}>
                      {TYPE_INFO[f.type]?.label ?? f.type}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {f.label}
                    {f.computed_text && (
                      <Text size="xs" c="dimmed" ff="monospace" data-testid="computed-text">
                        = {f.computed_text}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={f.builtin ? "gray" : f.computed ? "teal" : "blue"}>
                      {f.builtin ? "built-in" : f.computed ? "computed" : "custom"}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      {f.builtin ? "" : when(f.created_at)}
                      {f.computed && <DeleteComputed field={f} />}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </>
      )}
    </Stack>
  );
}
