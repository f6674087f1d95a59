import {
  Alert,
  Button,
  Grid,
  Group,
  Loader,
  Radio,
  Select,
  Stack,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Title,
} from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { ApiError, api, type FieldType, type Rule } from "../api.ts";
import { DeclareFieldContext, inferFieldType } from "../components/DeclareField.tsx";
import { EditorContext } from "../components/EditorContext.tsx";
import { emptyDurations } from "../components/EmptyDurations.ts";
import { emptyValues } from "../components/PolishValues.ts";
import { PreviewPanel } from "../components/PreviewPanel.tsx";
import { RuleNode } from "../components/RuleNode.tsx";
import { RuleTextEditor } from "../components/RuleTextEditor.tsx";
import { useDebounced } from "../hooks/useDebounced.ts";
import { type RuleInput, segmentsApi } from "../segments-api.ts";

const START: Rule = {
  type: "and",
  conditions: [{ type: "field", field: "status", op: "eq", value: "subscribed" }],
};

/** Rules from elsewhere (the contacts page's filters) arrive in the URL. */
function initialRule(): Rule {
  const r = new URLSearchParams(window.location.search).get("rule");
  if (r) {
    try {
      return JSON.parse(r) as Rule;
    } catch {
      // fall through
    }
  }
  return START;
}

/** What `GET /v1/segment-templates` adds to a template: the custom fields its rule reads. */
interface TemplateNeeds {
  requires?: { key: string; type: FieldType }[];
}

export function SegmentEditorPage() {
  const { id } = useParams();
  const nav = useNavigate();
  const qc = useQueryClient();
  const existing = useQuery({ queryKey: ["segment", id], queryFn: () => api.segment(id!), enabled: !!id });
  const fields = useQuery({ queryKey: ["fields"], queryFn: api.fields });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const templates = useQuery({ queryKey: ["templates"], queryFn: api.templates });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [kind, setKind] = useState<"dynamic" | "static">("dynamic");
  const [rule, setRule] = useState<Rule>(initialRule);
  const [loaded, setLoaded] = useState(!id);
  // The custom fields the last picked template reads, with their types.
  const [requires, setRequires] = useState<{ key: string; type: FieldType }[]>([]);
  const [picked, setPicked] = useState<string | null>(null);
  // The rule is edited with the visual builder or as text; the text is read by the server.
  const [mode, setMode] = useState<"visual" | "text">("visual");
  const [text, setText] = useState("");
  // The text last sent to be read: typing sends it 300 ms after the last key.
  const [readText, setReadText] = useState("");
  const [switching, setSwitching] = useState<string | null>(null);
  useEffect(() => {
    if (existing.data && !loaded) {
      setName(existing.data.name);
      setDescription(existing.data.description);
      setKind(existing.data.kind);
      if (existing.data.rule) setRule(existing.data.rule);
      setLoaded(true);
    }
  }, [existing.data, loaded]);
  // A single change (a pick in a list) is previewed at once, typing 100 ms after the last key.
  const debounced = useDebounced(rule, 100);
  useEffect(() => {
    if (mode !== "text" || text === readText) return;
    const t = setTimeout(() => setReadText(text), 300);
    return () => clearTimeout(t);
  }, [mode, text, readText]);
  const dynamic = kind === "dynamic";
  const previewInput: RuleInput = mode === "text" ? { rule_text: readText } : { rule: debounced };
  const previewQuery = (input: RuleInput) => ({
    queryKey: ["preview", JSON.stringify(input), id ?? ""],
    queryFn: () => segmentsApi.preview(input, id),
  });
  const preview = useQuery({
    ...previewQuery(previewInput),
    enabled: dynamic && loaded,
    placeholderData: keepPreviousData,
    staleTime: 0,
  });
  // The text read: the visual builder shows its rule when switched back to.
  const parsed = mode === "text" && !preview.isPlaceholderData ? preview.data?.rule : undefined;
  useEffect(() => {
    if (parsed) setRule((r) => (JSON.stringify(r) === JSON.stringify(parsed) ? r : parsed));
  }, [parsed]);
  /** The other form of the rule, from the server (a preview answers both); cached when just previewed. */
  const switchTo = async (to: string | null) => {
    if ((to !== "visual" && to !== "text") || to === mode) return;
    setSwitching(null);
    const input: RuleInput = to === "text" ? { rule } : { rule_text: text };
    try {
      const p = await qc.fetchQuery({ ...previewQuery(input), staleTime: Number.POSITIVE_INFINITY });
      if (to === "text") {
        if (p.rule_text === null) throw new Error("this rule has no text form");
        setText(p.rule_text);
        setReadText(p.rule_text);
      } else setRule(p.rule);
      setMode(to);
    } catch (e) {
      setSwitching(
        to === "text"
          ? `The rule is not valid yet, fix it before editing it as text: ${(e as Error).message}`
          : `The text does not read as a rule yet, fix it before going back: ${(e as Error).message}`,
      );
    }
  };
  const save = useMutation({
    mutationFn: () => {
      // From the text tab the text itself is sent: the server reads it as it previewed it.
      const body: Partial<RuleInput> = dynamic ? (mode === "text" ? { rule_text: text } : { rule }) : {};
      return id
        ? segmentsApi.replace(id, { name, description, ...body })
        : segmentsApi.create({ name, description, kind, ...body });
    },
    onSuccess: (s) => {
      void qc.invalidateQueries({ queryKey: ["segments"] });
      void qc.invalidateQueries({ queryKey: ["segment", s.id] });
      nav(`/segments/${s.id}`);
    },
  });
  const previewError = preview.error instanceof ApiError ? preview.error : null;
  const saveError = save.error instanceof ApiError ? save.error : null;
  const issues = (saveError ?? previewError)?.issues ?? [];
  const issuesKey = JSON.stringify(issues);
  // biome-ignore lint/correctness/useExhaustiveDependencies: issues are compared by content
  const ctx = useMemo(
    () => ({
      fields: fields.data ?? [],
      segments: segments.data ?? [],
      issues,
      ...(id ? { selfId: id } : {}),
    }),
    [fields.data, segments.data, issuesKey, id],
  );
  const declare = {
    typeOf: (key: string) => requires.find((r) => r.key === key)?.type ?? inferFieldType(rule, key),
    // A new segment's rule travels in the URL, so coming back restores it.
    back: id
      ? `/segments/${encodeURIComponent(id)}/edit`
      : `/segments/new?rule=${encodeURIComponent(JSON.stringify(rule))}`,
  };
  const empty = dynamic && mode === "visual" ? emptyValues(rule).length + emptyDurations(rule).length : 0;
  const textError = mode === "text" ? (saveError ?? previewError) : null;
  const tplDescription = new Map((templates.data ?? []).map((t) => [t.id, t.description]));
  const pickedDescription = picked ? tplDescription.get(picked) : undefined;
  if (id && existing.isLoading) return <Loader aria-label="Loading segment" />;
  if (id && existing.isError)
    return <Alert color="red">Could not load the segment: {String(existing.error)}</Alert>;
  if (fields.isLoading || segments.isLoading) return <Loader aria-label="Loading fields" />;
  return (
    <EditorContext.Provider value={ctx}>
      <Stack>
        <Group justify="space-between">
          <Title order={2}>{id ? `Edit segment` : "Create segment"}</Title>
          <Group>
            {empty > 0 && (
              <Text size="sm" c="red" data-testid="empty-values">
                {empty === 1 ? "1 value is empty" : `${empty} values are empty`}: fill{" "}
                {empty === 1 ? "it" : "them"} in to save
              </Text>
            )}
            <Button variant="default" onClick={() => nav(id ? `/segments/${id}` : "/segments")}>
              Cancel
            </Button>
            <Button
              onClick={() => save.mutate()}
              loading={save.isPending}
              disabled={name.trim() === "" || empty > 0}
            >
              Save segment
            </Button>
          </Group>
        </Group>
        {save.error && (
          <Alert color="red" role="alert" title="Not saved">
            {save.error.message}
          </Alert>
        )}
        <Grid>
          <Grid.Col span={{ base: 12, lg: 7 }}>
            <Stack>
              <TextInput
                label="Name"
                required
                value={name}
                onChange={(e) => setName(e.currentTarget.value)}
              />
              <Textarea
                label="Description"
                autosize
                value={description}
                onChange={(e) => setDescription(e.currentTarget.value)}
              />
              {!id && (
                <Radio.Group label="Kind" value={kind} onChange={(v) => setKind(v as "dynamic" | "static")}>
                  <Group mt={4}>
                    <Radio value="dynamic" label="Dynamic (kept up to date by a rule)" />
                    <Radio value="static" label="Static (contacts added by hand or import)" />
                  </Group>
                </Radio.Group>
              )}
              {dynamic && (
                <>
                  <Group justify="space-between" align="flex-end">
                    <Title order={4}>Rule</Title>
                    <Select
                      aria-label="Start from a template"
                      placeholder="Start from a template…"
                      w={280}
                      data={(templates.data ?? []).map((t) => ({ value: t.id, label: t.name }))}
                      value={null}
                      maxDropdownHeight={400}
                      comboboxProps={{ width: 380, position: "bottom-end" }}
                      renderOption={({ option }) => (
                        <div>
                          <Text size="sm">{option.label}</Text>
                          {/* Hidden from the option's name, which stays the template's; the picked one's is read below. */}
                          <Text size="xs" c="dimmed" aria-hidden data-testid="template-description">
                            {tplDescription.get(option.value)}
                          </Text>
                        </div>
                      )}
                      onChange={(t) => {
                        const tpl = templates.data?.find((x) => x.id === t);
                        if (tpl) {
                          setPicked(tpl.id);
                          setMode("visual");
                          setRule(tpl.rule);
                          setRequires((tpl as TemplateNeeds).requires ?? []);
                          if (!name) setName(tpl.name);
                        }
                      }}
                    />
                  </Group>
                  {pickedDescription && (
                    <Text size="sm" c="dimmed" data-testid="picked-template">
                      {pickedDescription}
                    </Text>
                  )}
                  <Tabs value={mode} onChange={(t) => void switchTo(t)} keepMounted={false}>
                    <Tabs.List>
                      <Tabs.Tab value="visual">Visual</Tabs.Tab>
                      <Tabs.Tab value="text">Text</Tabs.Tab>
                    </Tabs.List>
                    {switching && (
                      <Alert color="red" mt="xs" role="alert" data-testid="switch-error">
                        {switching}
                      </Alert>
                    )}
                    <Tabs.Panel value="visual" pt="sm">
                      <DeclareFieldContext.Provider value={declare}>
                        <div data-testid="rule-editor">
                          <RuleNode rule={rule} path="rule" onChange={setRule} />
                        </div>
                      </DeclareFieldContext.Provider>
                    </Tabs.Panel>
                    <Tabs.Panel value="text" pt="sm">
                      <RuleTextEditor
                        value={text}
                        onChange={(t) => {
                          setText(t);
                          setSwitching(null);
                          save.reset();
                        }}
                        error={textError}
                      />
                    </Tabs.Panel>
                  </Tabs>
                </>
              )}
            </Stack>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 5 }}>
            {dynamic ? (
              <PreviewPanel
                preview={preview.data}
                loading={preview.isFetching}
                error={
                  previewError ?? (preview.error ? new ApiError(0, "error", String(preview.error)) : null)
                }
                editing={!!id}
              />
            ) : (
              <Alert title="Static segment">
                A static segment has no rule: add contacts on its page (pick, paste emails or upload a CSV).
              </Alert>
            )}
          </Grid.Col>
        </Grid>
      </Stack>
    </EditorContext.Provider>
  );
}
