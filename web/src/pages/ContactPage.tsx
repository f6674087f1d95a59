import {
  Alert,
  Badge,
  Button,
  Code,
  Grid,
  Group,
  Loader,
  Paper,
  Select,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { BUILTIN_CONTACT_FIELDS } from "../../../src/contract/fields.ts";
import { api, type Contact } from "../api.ts";
import { ExplainView } from "../components/ExplainTree.tsx";
import { profileLabel, valueLabel } from "../components/LabelProfile.ts";
import { SegmentTime, useWorkspaceZone } from "../components/SegmentTime.tsx";
import { segmentsApi } from "../segments-api.ts";

/** The built-in fields shown as the profile (tags have their own row), in wire order. */
const PROFILE: (keyof Contact)[] = BUILTIN_CONTACT_FIELDS.filter((f) => f.wire !== "list").map((f) => f.key);
const TIMES: ReadonlySet<keyof Contact> = new Set(
  BUILTIN_CONTACT_FIELDS.filter((f) => f.wire === "instant").map((f) => f.key),
);

/** With computed fields, a contact carries their values now (docs/rules.md, Computed fields). */
type ContactWithComputed = Contact & { computed?: Record<string, string | number | null> };

export function ContactPage() {
  const { id } = useParams() as { id: string };
  const c = useQuery({ queryKey: ["contact", id], queryFn: () => api.contact(id) });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const fields = useQuery({ queryKey: ["fields"], queryFn: api.fields });
  const zone = useWorkspaceZone();
  const events = useInfiniteQuery({
    queryKey: ["events", id],
    queryFn: ({ pageParam }) => api.contactEvents(id, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
  });
  const [why, setWhy] = useState<string | null>(null);
  const explain = useQuery({
    queryKey: ["explain", id, why],
    queryFn: () => segmentsApi.explain(id, why!),
    enabled: !!why,
  });
  if (c.isLoading) return <Loader aria-label="Loading contact" />;
  if (c.isError || !c.data) return <Alert color="red">Could not load the contact: {String(c.error)}</Alert>;
  const ct = c.data;
  const fieldLabel = (key: string) => fields.data?.find((f) => f.key === key)?.label || key;
  const fieldType = (key: string) => fields.data?.find((f) => f.key === key)?.type;
  const segName = (sid: string) => segments.data?.find((s) => s.id === sid)?.name ?? sid;
  const evs = events.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <Stack>
      <Title order={2}>{[ct.first_name, ct.last_name].filter(Boolean).join(" ") || ct.email || ct.id}</Title>
      <Grid>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Paper withBorder p="md">
            <Title order={4} mb="xs">
              Profile
            </Title>
            <Table>
              <Table.Tbody>
                {PROFILE.map((k) => {
                  const v = ct[k];
                  return (
                    <Table.Tr key={k} data-key={k}>
                      <Table.Th>{profileLabel(k)}</Table.Th>
                      <Table.Td>
                        {typeof v === "string" && v !== "" && TIMES.has(k) ? (
                          <SegmentTime iso={v} zone={zone} />
                        ) : typeof v === "string" && v !== "" ? (
                          valueLabel(k, v)
                        ) : (
                          "—"
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
                <Table.Tr>
                  <Table.Th>{profileLabel("tags")}</Table.Th>
                  <Table.Td>
                    {ct.tags.length
                      ? ct.tags.map((t) => (
                          <Badge key={t} mr={4} variant="light">
                            {t}
                          </Badge>
                        ))
                      : "—"}
                  </Table.Td>
                </Table.Tr>
                {Object.entries(ct.fields).map(([k, v]) => (
                  <Table.Tr key={k} data-key={k}>
                    <Table.Th>
                      <span>{fieldLabel(k)}</span>
                      {fieldLabel(k) !== k && (
                        <Text size="xs" c="dimmed" fw={400}>
                          {k}
                        </Text>
                      )}
                    </Table.Th>
                    <Table.Td style={{ overflowWrap: "anywhere" }}>
                      {typeof v === "string" ? v : JSON.stringify(v)}
                    </Table.Td>
                  </Table.Tr>
                ))}
                {Object.entries((ct as ContactWithComputed).computed ?? {}).map(([k, v]) => (
                  <Table.Tr key={`computed.${k}`} data-computed={k}>
                    <Table.Th>
                      <span>{fieldLabel(k)}</span>{" "}
                      <Badge size="xs" variant="light" color="teal">
                        computed
                      </Badge>
                      {fieldLabel(k) !== k && (
                        <Text size="xs" c="dimmed" fw={400}>
                          {k}
                        </Text>
                      )}
                    </Table.Th>
                    <Table.Td>
                      {v === null ? (
                        "—"
                      ) : typeof v === "string" && fieldType(k) === "date" ? (
                        <SegmentTime iso={v} zone={zone} />
                      ) : (
                        String(v)
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Stack>
            <Paper withBorder p="md">
              <Title order={4} mb="xs">
                Segments
              </Title>
              {(ct.segments ?? []).length === 0 ? (
                <Text c="dimmed">In no segment.</Text>
              ) : (
                <Group gap={6} data-testid="contact-segments">
                  {(ct.segments ?? []).map((s) => (
                    <Badge key={s} component={Link} to={`/segments/${s}`} style={{ cursor: "pointer" }}>
                      {segName(s)}
                    </Badge>
                  ))}
                </Group>
              )}
              <Group mt="md" align="flex-end">
                <Select
                  label="Why is this contact in or out of…"
                  w={300}
                  searchable
                  data={(segments.data ?? []).map((s) => ({ value: s.id, label: s.name }))}
                  value={why}
                  onChange={setWhy}
                />
              </Group>
              {explain.isLoading && <Loader size="sm" aria-label="Loading explanation" />}
              {explain.isError && <Alert color="red">{String(explain.error)}</Alert>}
              {explain.data && <ExplainView explain={explain.data} />}
            </Paper>
            <Paper withBorder p="md">
              <Title order={4} mb="xs">
                Events
              </Title>
              {events.isLoading && <Loader size="sm" aria-label="Loading events" />}
              {events.isError && <Alert color="red">{String(events.error)}</Alert>}
              {events.data && evs.length === 0 && <Text c="dimmed">No events.</Text>}
              {evs.length > 0 && (
                <Table data-testid="timeline">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>When</Table.Th>
                      <Table.Th>Event</Table.Th>
                      <Table.Th>Properties</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {evs.map((e, i) => (
                      <Table.Tr key={e.id ?? i}>
                        <Table.Td>
                          <SegmentTime iso={e.timestamp} zone={zone} />
                        </Table.Td>
                        <Table.Td>{e.type}</Table.Td>
                        <Table.Td>
                          {/* Long JSON has no spaces: it breaks anywhere rather than widen the page. */}
                          <Code style={{ overflowWrap: "anywhere" }}>{JSON.stringify(e.properties)}</Code>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
              {events.hasNextPage && (
                <Button
                  mt="sm"
                  variant="default"
                  loading={events.isFetchingNextPage}
                  onClick={() => events.fetchNextPage()}
                >
                  Older events
                </Button>
              )}
            </Paper>
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
