import { Alert, Button, Group, Loader, Modal, Paper, Stack, Text, TextInput } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ApiError, api, type Rule } from "../api.ts";
import { ContactSample } from "../components/ContactSample.tsx";
import { ContactsSegmentSelect } from "../components/ContactsSegmentSelect.tsx";
import { EditorContext } from "../components/EditorContext.tsx";
import { EmptyState } from "../components/EmptyState.tsx";
import { FilterRow, ruleFor } from "../components/FilterRow.tsx";
import { IssueList } from "../components/IssueList.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { TableSkeleton } from "../components/TableSkeleton.tsx";
import { useDebounced } from "../hooks/useDebounced.ts";

/** The filters as one rule, narrowed by the search text and the segment the list shows. */
function combine(filters: Rule[], search: string, segment: string | null): Rule | null {
  const parts = [...filters];
  const t = search.trim();
  if (t) {
    parts.push({
      type: "or",
      conditions: ["email", "first_name", "last_name", "external_id"].map((field) => ({
        type: "field",
        field,
        op: "contains",
        value: t,
      })),
    });
  }
  if (segment !== null) parts.push({ type: "segment", op: "in", segment });
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0]! : { type: "and", conditions: parts };
}

const PAGE = 25;

const plural = (n: number, one: string, many: string) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

export function ContactsPage() {
  const nav = useNavigate();
  const qc = useQueryClient();
  const fields = useQuery({ queryKey: ["fields"], queryFn: api.fields });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const known = useQuery({
    queryKey: ["known-values"],
    queryFn: async () => {
      const out: Record<string, string[]> = {};
      for (const f of ["country", "tags", "language"]) {
        const a = await api.analytics("all", { breakdown: f, top: 50, days: 1 }).catch(() => null);
        out[f] = (a?.breakdown?.values ?? [])
          .map((v) => v.value)
          .filter((v): v is string => !!v && v !== "(other)")
          .map((v) => (f === "country" ? v.toUpperCase() : v));
      }
      return out;
    },
    staleTime: 300_000,
  });
  // The segment and the search are in the URL, so a reload or a shared link shows the same list.
  const [params, setParams] = useSearchParams();
  const segment = params.get("segment") || null;
  const [search, setSearch] = useState(() => params.get("q") ?? "");
  const q = useDebounced(search.trim(), 300);
  useEffect(() => {
    if ((params.get("q") ?? "") === q) return;
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (q) next.set("q", q);
        else next.delete("q");
        return next;
      },
      { replace: true },
    );
  }, [q, params, setParams]);
  const [filters, setFilters] = useState<Rule[]>([]);
  const [applied, setApplied] = useState<Rule | null>(null);
  const showSegment = (id: string | null) => {
    setParams((p) => {
      const next = new URLSearchParams(p);
      if (id) next.set("segment", id);
      else next.delete("segment");
      return next;
    });
    // Filters being shown narrow the new segment instead.
    setApplied((a) => a && combine(filters, search, id));
  };
  // Pages are of one search in one segment: another starts again at the first.
  const listing = JSON.stringify([segment, q]);
  const [paging, setPaging] = useState<{ of: string; cursors: (string | undefined)[] }>({
    of: listing,
    cursors: [undefined],
  });
  const cursors = paging.of === listing ? paging.cursors : [undefined];
  const setCursors = (f: (c: (string | undefined)[]) => (string | undefined)[]) =>
    setPaging({ of: listing, cursors: f(cursors) });
  const cursor = cursors[cursors.length - 1];
  const list = useQuery({
    queryKey: ["contacts", segment, q, cursor],
    // The search travels with its answer: while the next search loads, the previous
    // answer stays on screen and is labelled with its own search, not the one typed.
    queryFn: async () => ({
      ...(await api.contacts({ cursor, limit: PAGE, q, ...(segment ? { segment } : {}) })),
      q,
    }),
    enabled: applied === null,
    placeholderData: keepPreviousData,
  });
  const filtered = useQuery({
    queryKey: ["contacts-filtered", JSON.stringify(applied)],
    queryFn: () => api.preview(applied!),
    enabled: applied !== null,
  });
  const [saveOpen, setSaveOpen] = useState(false);
  const [name, setName] = useState("");
  const save = useMutation({
    mutationFn: () => api.createSegment({ name, kind: "dynamic", rule: applied! }),
    onSuccess: (s) => {
      void qc.invalidateQueries({ queryKey: ["segments"] });
      nav(`/segments/${s.id}`);
    },
  });
  const apply = (e?: FormEvent) => {
    e?.preventDefault();
    setApplied(combine(filters, search, segment));
  };
  const issues = filtered.error instanceof ApiError ? filtered.error.issues : [];
  return (
    <EditorContext.Provider value={{ fields: fields.data ?? [], segments: segments.data ?? [], issues: [] }}>
      <Stack>
        <PageHeader
          title="Contacts"
          description="Everyone in the workspace, or one segment's members. Filter them, then save the filter as a segment."
          actions={
            <Button component={Link} to="/import" variant="default">
              Import contacts
            </Button>
          }
        />
        <Paper withBorder p="sm">
          <form onSubmit={apply}>
            <Stack gap="xs">
              <Group align="flex-start">
                <TextInput
                  label="Search (email or name)"
                  description="Also an external id; any part of it"
                  w={320}
                  maxLength={200}
                  value={search}
                  onChange={(e) => setSearch(e.currentTarget.value)}
                />
                <ContactsSegmentSelect
                  segments={segments.data ?? []}
                  value={segment}
                  onChange={showSegment}
                />
              </Group>
              <Text fw={600} size="sm">
                Filters
              </Text>
              {filters.length === 0 && (
                <Text c="dimmed" size="sm">
                  No filter: every contact.
                </Text>
              )}
              {filters.map((f, i) => (
                <FilterRow
                  // biome-ignore lint/suspicious/noArrayIndexKey: filters are identified by their place
                  key={i}
                  rule={f}
                  known={known.data ?? {}}
                  onChange={(r) => setFilters((fs) => fs.map((x, j) => (j === i ? r : x)))}
                  onRemove={() => setFilters((fs) => fs.filter((_, j) => j !== i))}
                />
              ))}
              <Group>
                <Button variant="default" onClick={() => setFilters((fs) => [...fs, ruleFor("field")])}>
                  + Add filter
                </Button>
                <Button type="submit">Apply</Button>
                {applied && (
                  <>
                    <Button variant="light" onClick={() => setSaveOpen(true)} disabled={!filtered.data}>
                      Save as segment
                    </Button>
                    <Button
                      variant="subtle"
                      onClick={() => {
                        setFilters([]);
                        setSearch("");
                        setApplied(null);
                      }}
                    >
                      Clear
                    </Button>
                  </>
                )}
              </Group>
            </Stack>
          </form>
        </Paper>
        {applied === null ? (
          <>
            {list.isLoading && <TableSkeleton label="Loading contacts" rows={8} />}
            {list.isError && <Alert color="red">Could not load contacts: {String(list.error)}</Alert>}
            {list.data && (
              <>
                <Text data-testid="contacts-total" fw={600}>
                  {plural(list.data.total, "contact", "contacts")}
                  {list.data.q ? ` matching "${list.data.q}"` : ""}
                  {list.isFetching && list.isPlaceholderData ? "…" : ""}
                </Text>
                <ContactSample
                  contacts={list.data.data}
                  empty={
                    q ? (
                      "No contact matches this search."
                    ) : segment ? (
                      "No contact in this segment."
                    ) : (
                      <EmptyState
                        title="No contacts yet."
                        action={
                          <Button component={Link} to="/import">
                            Import a CSV
                          </Button>
                        }
                      >
                        Import a CSV of contacts, or send them through the API or a connected source.
                      </EmptyState>
                    )
                  }
                />
              </>
            )}
            <Group>
              <Button
                variant="default"
                disabled={cursors.length === 1}
                onClick={() => setCursors((c) => c.slice(0, -1))}
              >
                Previous page
              </Button>
              <Text size="sm">
                Page {cursors.length}
                {list.data
                  ? ` of ${Math.max(1, Math.ceil(list.data.total / PAGE)).toLocaleString("en")}`
                  : ""}
              </Text>
              <Button
                variant="default"
                disabled={!list.data?.next_cursor}
                onClick={() => setCursors((c) => [...c, list.data!.next_cursor!])}
              >
                Next page
              </Button>
            </Group>
          </>
        ) : (
          <>
            {filtered.isLoading && <Loader aria-label="Filtering contacts" />}
            {filtered.isError && (
              <Alert color="red" title="These filters are not valid">
                {issues.length ? <IssueList issues={issues} /> : String(filtered.error)}
              </Alert>
            )}
            {filtered.data && (
              <>
                <Text data-testid="filtered-count">
                  {filtered.data.count.toLocaleString("en")} matching contacts
                  {filtered.data.count > filtered.data.sample.length
                    ? ` (showing ${filtered.data.sample.length}; save as a segment to see them all)`
                    : ""}
                </Text>
                <ContactSample contacts={filtered.data.sample} empty="No contact matches these filters" />
              </>
            )}
          </>
        )}
        <Modal opened={saveOpen} onClose={() => setSaveOpen(false)} title="Save as segment">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              save.mutate();
            }}
          >
            <Stack>
              <TextInput
                label="Segment name"
                required
                value={name}
                onChange={(e) => setName(e.currentTarget.value)}
              />
              {save.error && <Alert color="red">{save.error.message}</Alert>}
              <Group justify="flex-end">
                <Button type="submit" loading={save.isPending} disabled={!name.trim()}>
                  Save
                </Button>
              </Group>
            </Stack>
          </form>
        </Modal>
      </Stack>
    </EditorContext.Provider>
  );
}
