/**
 * The typed client of a segment's history and hand edits: its change log, its versions
 * (with restore guarded by the segment's ETag), bulk actions on its members, and the
 * manual overrides of a dynamic segment.
 */
import {
  call,
  type Explain,
  type Issue,
  type Preview,
  queryString,
  type Rule,
  request,
  type Segment,
} from "./api.ts";

export interface SegmentChange {
  segment_id: string;
  contact_id: string;
  change: "entered" | "exited";
  at: string;
}

export interface SegmentVersion {
  version: number;
  name: string;
  description: string;
  rule: Rule | null;
  rule_text: string | null;
  /** null for a default segment's built-in version. */
  created_at: string | null;
}

export interface Override {
  contact_id: string;
  action: "added" | "removed";
  expires_at: string | null;
}

/** An explain answer that names the hand override deciding membership, if any. */
export interface ExplainAnswer extends Explain {
  override?: { action: "added" | "removed"; expires_at: string | null };
}

/** A preview answers its rule in both forms, JSON and text. */
export interface PreviewBoth extends Preview {
  rule: Rule;
  rule_text: string | null;
}

/** A rule as the API takes it: JSON, or the text form (SPEC §3.1). */
export type RuleInput = { rule: Rule } | { rule_text: string };

/** A syntax error of a rule text: where, and the line with a caret under the place. */
export interface TextErrorAt {
  line: number;
  column: number;
  caret: string;
}

export type BulkAction = { tag_add: string[] } | { tag_remove: string[] } | { copy_to: string };

export type ContactRef = { email: string } | { id: string };

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const at = (id: string) => encodeURIComponent(id);
const qs = queryString;

/** A request that sends extra headers (`If-Match`) and returns the answer's ETag. */
const send = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  request<T>(method, path, body, { headers });

export const segmentsApi = {
  /** The segment with the ETag a guarded write must quote. */
  tagged: (id: string) => send<Segment>("GET", `/v1/segments/${at(id)}`),
  changes: (id: string, o: { cursor?: string; since?: string; limit?: number } = {}) =>
    call<Page<SegmentChange>>("GET", `/v1/segments/${at(id)}/changes${qs({ limit: 50, ...o })}`),
  versions: (id: string) =>
    call<Page<SegmentVersion>>("GET", `/v1/segments/${at(id)}/versions`).then((p) => p.data),
  restore: (id: string, version: number, etag: string | null) =>
    send<Segment>(
      "POST",
      `/v1/segments/${at(id)}/versions/${version}/restore`,
      undefined,
      etag ? { "if-match": etag } : {},
    ).then((r) => r.data),
  action: (id: string, a: BulkAction) =>
    call<{ changed: number }>("POST", `/v1/segments/${at(id)}/actions`, a),
  overrides: (id: string) =>
    call<Page<Override>>("GET", `/v1/segments/${at(id)}/overrides`).then((p) => p.data),
  addMembers: (id: string, contacts: ContactRef[], expires_at?: string) =>
    call<{ added: number }>("POST", `/v1/segments/${at(id)}/members`, {
      contacts,
      ...(expires_at ? { expires_at } : {}),
    }),
  removeMembers: (id: string, contacts: ContactRef[]) =>
    call<{ removed: number }>("DELETE", `/v1/segments/${at(id)}/members`, { contacts }),
  liftOverrides: (id: string, contacts: ContactRef[]) =>
    call<{ lifted: number }>("DELETE", `/v1/segments/${at(id)}/overrides`, { contacts }),
  explain: (contactId: string, segmentId: string) =>
    call<ExplainAnswer>("GET", `/v1/contacts/${at(contactId)}/explain${qs({ segment: segmentId })}`),
  /** Count, sample and (with `segmentId`) the edit's diff of a rule given in either form. */
  preview: (input: RuleInput, segmentId?: string) =>
    call<PreviewBoth>("POST", "/v1/segments/preview", {
      ...input,
      ...(segmentId ? { segment_id: segmentId } : {}),
    }),
  create: (s: { name: string; description: string; kind: "dynamic" | "static" } & Partial<RuleInput>) =>
    call<Segment>("POST", "/v1/segments", s),
  replace: (id: string, s: { name: string; description: string } & Partial<RuleInput>) =>
    call<Segment>("PUT", `/v1/segments/${at(id)}`, s),
};

/** The place of a rule text's syntax error in an API error's details, if it is one. */
export function textErrorAt(details: Record<string, unknown>): TextErrorAt | null {
  const { line, column, caret } = details;
  return typeof line === "number" && typeof column === "number" && typeof caret === "string"
    ? { line, column, caret }
    : null;
}

// ---------------------------------------------------------------- display helpers

/** An instant in the workspace's zone, as a person reads it: "12 Mar 2026, 14:05:09". */
export function inZone(iso: string, timeZone: string | undefined): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  try {
    return d.toLocaleString("en-GB", {
      dateStyle: "medium",
      timeStyle: "medium",
      ...(timeZone ? { timeZone } : {}),
    });
  } catch {
    // A zone the browser does not know: its own zone rather than nothing.
    return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
  }
}

export type DiffLine = { op: "same" | "add" | "del"; text: string };

/**
 * A line diff of `before` → `after` from their longest common subsequence: rule texts
 * are a few lines, so the quadratic table is small.
 */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before === "" ? [] : before.split("\n");
  const b = after === "" ? [] : after.split("\n");
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: "same", text: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: "del", text: a[i++]! });
    else out.push({ op: "add", text: b[j++]! });
  }
  while (i < n) out.push({ op: "del", text: a[i++]! });
  while (j < m) out.push({ op: "add", text: b[j++]! });
  return out;
}

/** Emails in pasted text (lines, commas, semicolons or spaces between them), each once. */
export const emailsIn = (text: string): string[] => [
  ...new Set(
    text
      .split(/[\s,;]+/)
      .map((e) => e.trim())
      .filter((e) => e.includes("@")),
  ),
];

/** Tags typed with commas between them, each once. */
export const tagsIn = (text: string): string[] => [
  ...new Set(
    text
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
  ),
];

/** An issue's message without its path in front: shown beside the field, the path is said. */
export const issueText = (i: Issue): string =>
  i.message.startsWith(`${i.path}: `) ? i.message.slice(i.path.length + 2) : i.message;
