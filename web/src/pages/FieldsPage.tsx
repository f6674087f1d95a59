import {
  Alert,
  Anchor,
  Badge,
  Button,
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
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError, type FieldType, type Issue } from "../api.ts";
import { PageHeader } from "../components/PageHeader.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { FIELD_TYPES, type FieldInfo, fieldsApi, isFieldType, TYPE_INFO } from "../fields-api.ts";
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
  const create = useMutation({
    mutationFn: () =>
      fieldsApi.create({ key: key.trim(), type, ...(label.trim() ? { label: label.trim() } : {}) }),
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
            description={TYPE_INFO[type].example}
            w={240}
            allowDeselect={false}
            data={FIELD_TYPES.map((t) => ({ value: t, label: `${TYPE_INFO[t].label} (${t})` }))}
            value={type}
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
              Contacts can now carry {created.key} ({TYPE_INFO[created.type].label.toLowerCase()}).
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
                  <Table.Td>{f.label}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={f.builtin ? "gray" : "blue"}>
                      {f.builtin ? "built-in" : "custom"}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{f.builtin ? "" : when(f.created_at)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </>
      )}
    </Stack>
  );
}
