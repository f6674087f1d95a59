import {
  Alert,
  Badge,
  Button,
  Group,
  Modal,
  Paper,
  Radio,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type ApiKey, type CreatedKey, ROLE_HELP, ROLES, sourcesApi, when } from "../sources-api.ts";
import { EmptyState } from "./EmptyState.tsx";
import { SourceCopyField } from "./SourceCopyField.tsx";
import { TableSkeleton } from "./TableSkeleton.tsx";

const ROLE_COLOR: Record<ApiKey["role"], string> = {
  admin: "grape",
  read_write: "blue",
  read_only: "gray",
  ingest: "teal",
};

export function RoleBadge({ role }: { role: ApiKey["role"] }) {
  return (
    <Badge variant="light" color={ROLE_COLOR[role] ?? "gray"} title={ROLE_HELP[role]?.help}>
      {role}
    </Badge>
  );
}

/** The workspace's API keys: list, create with a role (secret shown once), revoke. */
export function SourceKeysPanel({ onCreated }: { onCreated?: (k: CreatedKey) => void }) {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: ["keys"], queryFn: sourcesApi.keys });
  const [name, setName] = useState("");
  const [role, setRole] = useState<(typeof ROLES)[number]>("read_write");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const create = useMutation({
    mutationFn: () => sourcesApi.createKey({ ...(name.trim() ? { name: name.trim() } : {}), role }),
    onSuccess: (k) => {
      setCreated(k);
      setName("");
      onCreated?.(k);
      void qc.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => sourcesApi.revokeKey(id),
    onSuccess: () => {
      setRevoking(null);
      void qc.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const list = keys.data ?? [];
  return (
    <Stack>
      <Paper withBorder p="md">
        <Title order={4} mb="xs">
          New API key
        </Title>
        <Stack>
          <TextInput
            label="Key name"
            placeholder="e.g. Website backend"
            maw={360}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <Radio.Group label="Role" value={role} onChange={(v) => setRole(v as (typeof ROLES)[number])}>
            <Stack gap="xs" mt="xs">
              {ROLES.map((r) => (
                <Radio
                  key={r}
                  value={r}
                  label={`${ROLE_HELP[r].label} (${r})`}
                  description={ROLE_HELP[r].help}
                />
              ))}
            </Stack>
          </Radio.Group>
          <Group>
            <Button onClick={() => create.mutate()} loading={create.isPending}>
              Create key
            </Button>
          </Group>
          {create.error && (
            <Alert color="red" role="alert" title="The key was not created">
              {create.error.message}
            </Alert>
          )}
          {created && (
            <Alert
              color="yellow"
              title={`Key “${created.name}” (${created.role}) created`}
              data-testid="new-key"
            >
              <Stack gap="xs">
                <Text size="sm">Copy it now: its secret is shown only this once.</Text>
                <SourceCopyField label="Secret" value={created.key} testId="new-key-secret" />
                <Group>
                  <Button size="xs" variant="default" onClick={() => setCreated(null)}>
                    I have copied it
                  </Button>
                </Group>
              </Stack>
            </Alert>
          )}
        </Stack>
      </Paper>
      {keys.isLoading && <TableSkeleton label="Loading keys" rows={3} />}
      {keys.isError && (
        <Alert color="red" role="alert">
          Could not load the keys: {keys.error.message}
        </Alert>
      )}
      {keys.data && list.length === 0 && (
        <EmptyState title="No API keys yet.">
          Create one above for each app or SDK that sends data.
        </EmptyState>
      )}
      {list.length > 0 && (
        <Table.ScrollContainer minWidth={640}>
          <Table data-testid="keys-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Prefix</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((k) => (
                <Table.Tr key={k.id} data-key={k.id}>
                  <Table.Td>{k.name || <Text c="dimmed">(no name)</Text>}</Table.Td>
                  <Table.Td>
                    <Text ff="monospace" size="sm">
                      {k.prefix}…
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <RoleBadge role={k.role} />
                  </Table.Td>
                  <Table.Td>{when(k.created_at)}</Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="subtle"
                      color="red"
                      aria-label={`Revoke ${k.name || k.prefix}`}
                      onClick={() => {
                        revoke.reset();
                        setRevoking(k);
                      }}
                    >
                      Revoke
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        title={`Revoke “${revoking?.name || revoking?.prefix}”?`}
      >
        <Stack>
          <Text size="sm">
            Anything still using this key ({revoking?.prefix}…) is refused from now on. This cannot be undone.
          </Text>
          {revoke.error && (
            <Alert color="red" role="alert" title="The key was not revoked">
              {revoke.error.message}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button
              color="red"
              loading={revoke.isPending}
              onClick={() => revoking && revoke.mutate(revoking.id)}
            >
              Revoke key
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
