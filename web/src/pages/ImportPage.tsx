import {
  Alert,
  Button,
  FileInput,
  Group,
  Loader,
  Paper,
  Progress,
  Select,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { BUILTIN_CONTACT_FIELDS } from "../../../src/contract/fields.ts";
import { api, type ImportJob } from "../api.ts";

/**
 * Header spellings suggested for a built-in field: the server's default mapping
 * (src/contract/fields.ts), and `mobile`, which only the page suggests, since the user
 * confirms the mapping before the import starts.
 */
const ALIASES: Record<string, string> = {
  ...Object.fromEntries(
    BUILTIN_CONTACT_FIELDS.flatMap((f) =>
      ("importAliases" in f ? f.importAliases : []).map((alias) => [alias, f.key]),
    ),
  ),
  mobile: "phone",
};

/** The header row of a CSV (quoted cells allowed). */
function headerOf(text: string): string[] {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((h) => h.trim()).filter((h) => h !== "");
}

const IGNORE = "__ignore";

/** `column "Birthday": expected …` split into the column(s) and the reason; no column: the whole text. */
function splitError(error: string): { column: string; reason: string } {
  const m = /^columns? ("(?:[^"\\]|\\.)*"(?:(?:, | and )"(?:[^"\\]|\\.)*")*): ([\s\S]*)$/.exec(error);
  if (!m) return { column: "", reason: error };
  const names = [...m[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => JSON.parse(`"${x[1]}"`) as string);
  return { column: names.join(", "), reason: m[2]! };
}

const DATE_FORMATS = [
  { value: "ISO", label: "YYYY-MM-DD (1990-12-13)" },
  { value: "DD/MM/YYYY", label: "DD/MM/YYYY (13/12/1990)" },
  { value: "MM/DD/YYYY", label: "MM/DD/YYYY (12/13/1990)" },
];

export function ImportPage() {
  const fields = useQuery({ queryKey: ["fields"], queryFn: api.fields });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [file, setFile] = useState<File | null>(null);
  const [headers, setHeaders] = useState<string[]>([]);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [segmentId, setSegmentId] = useState<string | null>(null);
  const [dateFormat, setDateFormat] = useState("ISO");
  const [jobId, setJobId] = useState<string | null>(null);
  const [startError, setStartError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  /** The file's columns were guessed before the workspace's fields had loaded. */
  const [guessedBlind, setGuessedBlind] = useState(false);
  const keys = new Set((fields.data ?? []).map((f) => f.key));
  const guess = (h: string) => {
    const n = h
      .trim()
      .toLowerCase()
      .replace(/[\s-]+/g, "_");
    if (keys.has(n)) return n;
    return ALIASES[n] && keys.has(ALIASES[n]!) ? ALIASES[n]! : IGNORE;
  };
  const job = useQuery({
    queryKey: ["import", jobId],
    queryFn: () => api.importJob(jobId!),
    enabled: !!jobId,
    refetchInterval: (q) => {
      const s = (q.state.data as ImportJob | undefined)?.status;
      return s === "done" || s === "failed" ? false : 300;
    },
  });
  const pick = async (f: File | null) => {
    setFile(f);
    setJobId(null);
    setStartError(null);
    if (!f) return setHeaders([]);
    const h = headerOf(await f.slice(0, 64 * 1024).text());
    setHeaders(h);
    setMapping(Object.fromEntries(h.map((x) => [x, guess(x)])));
    setGuessedBlind(!fields.data);
  };
  // A file dropped before the fields arrived had nothing to match its columns against:
  // guess again those still ignored, once the fields are here.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `guess` reads `fields.data`, listed
  useEffect(() => {
    if (!guessedBlind || !fields.data) return;
    setGuessedBlind(false);
    setMapping((m) => Object.fromEntries(headers.map((h) => [h, m[h] === IGNORE ? guess(h) : m[h]!])));
  }, [guessedBlind, fields.data, headers]);
  const start = async () => {
    if (!file) return;
    setStarting(true);
    setStartError(null);
    try {
      const m = Object.fromEntries(
        headers.map((h) => [h, mapping[h] === IGNORE ? null : (mapping[h] ?? null)]),
      );
      const j = await api.importContacts(file, {
        mapping: m,
        ...(segmentId ? { segment_id: segmentId } : {}),
        ...(dateFormat !== "ISO" ? { date_format: dateFormat } : {}),
      });
      setJobId(j.id);
    } catch (e) {
      setStartError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };
  const j = job.data;
  const pct = j?.total ? Math.round((100 * j.processed) / j.total) : j?.status === "done" ? 100 : 0;
  const targets = [
    { value: IGNORE, label: "(ignore)" },
    { value: "tags", label: "Tags" },
    ...(fields.data ?? [])
      .filter((f) => f.key !== "tags")
      .map((f) => ({ value: f.key, label: f.label || f.key })),
  ];
  return (
    <Stack maw={900}>
      <Title order={2}>Import contacts</Title>
      <FileInput label="CSV file" accept=".csv,text/csv" value={file} onChange={pick} clearable />
      {fields.isLoading && <Loader size="sm" aria-label="Loading fields" />}
      {headers.length > 0 && (
        <Paper withBorder p="md">
          <Title order={4} mb="xs">
            Map columns to fields
          </Title>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Column</Table.Th>
                <Table.Th>Field</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {headers.map((h) => (
                <Table.Tr key={h}>
                  <Table.Td>{h}</Table.Td>
                  <Table.Td>
                    <Select
                      aria-label={`Field for column ${h}`}
                      searchable
                      allowDeselect={false}
                      data={targets}
                      value={mapping[h] ?? IGNORE}
                      onChange={(v) => setMapping((m) => ({ ...m, [h]: v ?? IGNORE }))}
                    />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Group mt="md" align="flex-end">
            <Select
              label="Dates in the file"
              description="How the file writes dates (created, subscribed, date fields)"
              w={240}
              allowDeselect={false}
              data={DATE_FORMATS}
              value={dateFormat}
              onChange={(v) => v && setDateFormat(v)}
            />
            <Select
              label="Also add them to a static segment (optional)"
              w={320}
              clearable
              data={(segments.data ?? [])
                .filter((s) => s.kind === "static" && !s.default)
                .map((s) => ({ value: s.id, label: s.name }))}
              value={segmentId}
              onChange={setSegmentId}
            />
            <Button
              onClick={start}
              loading={starting}
              disabled={!!jobId && !!j && j.status !== "done" && j.status !== "failed"}
            >
              Start import
            </Button>
          </Group>
        </Paper>
      )}
      {startError && (
        <Alert color="red" role="alert" title="The import did not start">
          {startError}
        </Alert>
      )}
      {j && (
        <Paper withBorder p="md" data-testid="import-job">
          <Stack gap="xs">
            <Group justify="space-between">
              <Text fw={600}>Import {j.status}</Text>
              <Text size="sm" data-testid="import-counts">
                {j.processed} processed · {j.accepted} imported · {j.rejected} rejected
              </Text>
            </Group>
            <Progress
              value={pct}
              animated={j.status === "running" || j.status === "pending"}
              aria-label="Import progress"
            />
            {j.failure && <Alert color="red">{j.failure}</Alert>}
            {j.errors.length > 0 && (
              <>
                <Text fw={600} size="sm">
                  Rejected rows
                </Text>
                <Table data-testid="import-errors">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Row</Table.Th>
                      <Table.Th>Column</Table.Th>
                      <Table.Th>Reason</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {j.errors.map((e) => {
                      const { column, reason } = splitError(e.error);
                      return (
                        <Table.Tr key={`${e.row}:${e.error}`}>
                          <Table.Td>{e.row}</Table.Td>
                          <Table.Td>{column || "—"}</Table.Td>
                          <Table.Td>{reason}</Table.Td>
                        </Table.Tr>
                      );
                    })}
                  </Table.Tbody>
                </Table>
                {j.errors_dropped > 0 && <Text size="sm">…and {j.errors_dropped} more</Text>}
              </>
            )}
          </Stack>
        </Paper>
      )}
    </Stack>
  );
}
