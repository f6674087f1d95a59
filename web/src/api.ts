/**
 * The typed client of the Slice API (SPEC §4). The API key lives in localStorage; every
 * call sends it as a Bearer token. Errors come back as `ApiError` with the server's
 * code, message and, for invalid input, the paths of the bad parts.
 */

import type { FieldType, WireBuiltins } from "../../src/contract/fields.ts";

const KEY_STORAGE = "slice.apiKey";

export function getKey(): string | null {
  return localStorage.getItem(KEY_STORAGE);
}
export function setKey(key: string | null): void {
  if (key === null) localStorage.removeItem(KEY_STORAGE);
  else localStorage.setItem(KEY_STORAGE, key);
}

export interface Issue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path?: string; issues?: Issue[]; uses?: Use[] } = {},
  ) {
    super(message);
  }
  /** Every problem with its path (one when the server named only one). */
  get issues(): Issue[] {
    if (this.details.issues?.length) return this.details.issues;
    return this.details.path !== undefined ? [{ path: this.details.path, message: this.message }] : [];
  }
}

export type { FieldType };
export interface Field {
  key: string;
  type: FieldType;
  label: string;
  builtin: boolean;
}

export interface Where {
  property: string;
  op: string;
  value?: unknown;
}
/** A calendar period of now, read in the workspace time zone (docs/rules.md, "Calendar conditions"). */
export type CalendarPeriod =
  | "today"
  | "yesterday"
  | "tomorrow"
  | `${"this" | "last" | "next"}_${"week" | "month" | "quarter" | "year"}`;
export type Window =
  | { in_last: string }
  | { between_ago: [string, string] }
  | { after: string }
  | { before: string }
  | { between: [string, string] }
  | { during: CalendarPeriod };
export interface Measure {
  fn: string;
  property?: string;
}
export type Rule =
  | { type: "and" | "or"; conditions: Rule[] }
  | { type: "not"; condition: Rule }
  | { type: "field"; field: string; op: string; value?: unknown }
  | { type: "segment"; op: "in" | "not_in"; segment: string }
  | {
      type: "event";
      event: string;
      where?: Where[];
      window?: Window;
      measure?: Measure;
      op?: string;
      value?: unknown;
    }
  | {
      type: "sequence";
      /** `not: true`: the contact did not do it before the deadline (docs/rules.md, "Negative steps"). */
      steps: { event: string; where?: Where[]; not?: true }[];
      within: string;
      window?: Window;
    }
  | { type: "bucket"; seed: string; op: string; value?: unknown };

export interface Segment {
  id: string;
  name: string;
  description: string;
  kind: "dynamic" | "static";
  rule: Rule | null;
  default: boolean;
  version: number;
  size: number;
  created_at: string | null;
  updated_at: string | null;
}

/**
 * A contact as the API answers it: the built-in fields come from the server's table
 * (src/contract/fields.ts, types only), so the two cannot drift apart.
 */
export interface Contact extends WireBuiltins {
  id: string;
  fields: Record<string, unknown>;
  segments?: string[];
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** A list of contacts with `total`, the number matching its search and segment. */
export interface ContactsPage extends Page<Contact> {
  total: number;
}

export interface Preview {
  count: number;
  sample: Contact[];
  took_ms: number;
  diff?: { entered: number; exited: number; entered_sample: Contact[]; exited_sample: Contact[] };
}

export interface Analytics {
  size: number;
  share: number;
  total_contacts: number;
  /** Sizes are null on days before the segment existed that its rule cannot recompute. */
  daily: { date: string; size: number | null; entered: number | null; exited: number | null }[];
  history: {
    logged_since: string | null;
    before: "none" | "rule" | "unknown";
    starts_on: string | null;
    reason: string | null;
  };
  engagement?: {
    window_days: number;
    opens: number;
    clicks: number;
    orders: number;
    revenue_by_currency: { currency: string | null; amount: number; orders: number }[];
    contacts_opened: number;
    contacts_clicked: number;
    contacts_ordered: number;
  };
  breakdown?: { field: string; values: { value: string | null; label: string | null; count: number }[] };
  overlap?: {
    segment_id: string;
    size: number;
    both: number;
    share_of_this: number;
    share_of_other: number;
  };
}

export interface Use {
  type: string;
  id: string;
}

export interface ExplainNode {
  type: string;
  result: boolean;
  [k: string]: unknown;
}
export interface Explain {
  member: boolean;
  rule: ExplainNode | null;
}

export interface ContactEvent {
  id: string | null;
  type: string;
  timestamp: string;
  properties: Record<string, unknown>;
}

export interface ImportJob {
  id: string;
  status: "pending" | "running" | "done" | "failed";
  kind: string;
  total: number | null;
  processed: number;
  accepted: number;
  rejected: number;
  errors: { row: number; error: string }[];
  errors_dropped: number;
  failure: string | null;
}

export interface Workspace {
  id: string;
  name: string;
  time_zone: string;
}

export interface Change {
  segment_id: string;
  contact_id: string;
  change: "entered" | "exited";
  at: string;
}

/** One API request: JSON (or a CSV upload) in, the answer's JSON out, `ApiError` on failure. */
/**
 * One API request: the parsed answer and its ETag, or an ApiError with the server's code,
 * message and details. `headers` adds request headers (e.g. `If-Match`).
 */
export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  opts: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<{ data: T; etag: string | null }> {
  const headers: Record<string, string> = { ...opts.headers };
  const key = opts.key === undefined ? getKey() : opts.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: BodyInit | undefined;
  if (body instanceof Blob || typeof body === "string") {
    payload = body;
    headers["content-type"] = "text/csv";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code: string; message: string; details?: ApiError["details"] } } | null)
      ?.error;
    throw new ApiError(res.status, e?.code ?? "error", e?.message ?? `HTTP ${res.status}`, e?.details ?? {});
  }
  return { data: parsed as T, etag: res.headers.get("etag") };
}

export async function call<T>(method: string, path: string, body?: unknown, key = getKey()): Promise<T> {
  return (await request<T>(method, path, body, { key })).data;
}

/** `?a=1&b=2` of the params given (empty and undefined ones left out), or "". */
export const queryString = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") s.set(k, String(v));
  const t = s.toString();
  return t ? `?${t}` : "";
};

export const api = {
  workspace: (key?: string) => call<Workspace>("GET", "/v1/workspace", undefined, key ?? getKey()),
  fields: () => call<Page<Field>>("GET", "/v1/fields").then((p) => p.data),
  segments: () => call<Page<Segment>>("GET", "/v1/segments").then((p) => p.data),
  segment: (id: string) => call<Segment>("GET", `/v1/segments/${encodeURIComponent(id)}`),
  createSegment: (s: { name: string; description?: string; kind: string; rule?: Rule }) =>
    call<Segment>("POST", "/v1/segments", s),
  replaceSegment: (id: string, s: { name: string; description?: string; rule?: Rule }) =>
    call<Segment>("PUT", `/v1/segments/${encodeURIComponent(id)}`, s),
  deleteSegment: (id: string) => call<null>("DELETE", `/v1/segments/${encodeURIComponent(id)}`),
  preview: (rule: Rule, segmentId?: string) =>
    call<Preview>("POST", "/v1/segments/preview", { rule, ...(segmentId ? { segment_id: segmentId } : {}) }),
  templates: () =>
    call<Page<{ id: string; name: string; description: string; rule: Rule }>>(
      "GET",
      "/v1/segment-templates",
    ).then((p) => p.data),
  members: (id: string, cursor?: string, limit = 25) =>
    call<Page<Contact>>(
      "GET",
      `/v1/segments/${encodeURIComponent(id)}/contacts${queryString({ cursor, limit })}`,
    ),
  addMembers: (id: string, contacts: { email?: string; id?: string }[], expires_at?: string) =>
    call<unknown>("POST", `/v1/segments/${encodeURIComponent(id)}/members`, {
      contacts,
      ...(expires_at ? { expires_at } : {}),
    }),
  removeMembers: (id: string, contacts: { email?: string; id?: string }[]) =>
    call<unknown>("DELETE", `/v1/segments/${encodeURIComponent(id)}/members`, { contacts }),
  uses: (id: string) =>
    call<Page<Use>>("GET", `/v1/segments/${encodeURIComponent(id)}/uses`).then((p) => p.data),
  analytics: (id: string, o: { days?: number; breakdown?: string; overlap?: string; top?: number } = {}) =>
    call<Analytics>("GET", `/v1/segments/${encodeURIComponent(id)}/analytics${queryString(o)}`),
  contacts: (o: { cursor?: string; limit?: number; q?: string; segment?: string } = {}) =>
    call<ContactsPage>("GET", `/v1/contacts${queryString({ limit: 25, ...o })}`),
  contact: (id: string) => call<Contact>("GET", `/v1/contacts/${encodeURIComponent(id)}`),
  contactEvents: (id: string, cursor?: string) =>
    call<Page<ContactEvent>>(
      "GET",
      `/v1/contacts/${encodeURIComponent(id)}/events${queryString({ cursor, limit: 50 })}`,
    ),
  explain: (contactId: string, segmentId: string) =>
    call<Explain>(
      "GET",
      `/v1/contacts/${encodeURIComponent(contactId)}/explain${queryString({ segment: segmentId })}`,
    ),
  startImport: (file: Blob, mapping: Record<string, string | null>, segmentId?: string) =>
    call<ImportJob>(
      "POST",
      `/v1/imports${queryString({ mapping: JSON.stringify(mapping), segment_id: segmentId })}`,
      file,
    ),
  importJob: (id: string) => call<ImportJob>("GET", `/v1/imports/${encodeURIComponent(id)}`),
  /** The workspace's event types with their property paths and value types (`GET /v1/event-types`). */
  eventTypes: () =>
    call<{
      data: { type: string; count: number; properties: { name: string; types: string[] }[] }[];
    }>("GET", "/v1/event-types").then((p) => p.data),
  /** A CSV of contacts with its options; `date_format` says how the file writes dates (docs/imports.md). */
  importContacts: (
    file: Blob,
    o: { mapping: Record<string, string | null>; segment_id?: string; date_format?: string },
  ) =>
    call<ImportJob>(
      "POST",
      `/v1/imports${queryString({ mapping: JSON.stringify(o.mapping), segment_id: o.segment_id, date_format: o.date_format })}`,
      file,
    ),
};

/** Downloads an export with the key (a plain link cannot send the Authorization header). */
export async function downloadExport(segmentId: string, format: string): Promise<void> {
  const res = await fetch(`/v1/segments/${encodeURIComponent(segmentId)}/export?format=${format}`, {
    headers: { authorization: `Bearer ${getKey() ?? ""}` },
  });
  if (!res.ok) throw new ApiError(res.status, "error", `export failed: HTTP ${res.status}`);
  const blob = await res.blob();
  const name =
    /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ??
    `${segmentId}.${format === "ndjson" ? "ndjson" : "csv"}`;
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * The live stream of membership changes (`GET /v1/stream`), read with fetch so the key
 * can go in a header. Reconnects after a drop; the returned function stops it.
 */
export function subscribeChanges(onChange: (c: Change) => void): () => void {
  const ctl = new AbortController();
  let stopped = false;
  const run = async () => {
    while (!stopped) {
      try {
        const res = await fetch("/v1/stream", {
          headers: { authorization: `Bearer ${getKey() ?? ""}` },
          signal: ctl.signal,
        });
        if (!res.ok || !res.body) throw new Error(`stream: HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i = buf.indexOf("\n\n");
          while (i >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            for (const line of block.split("\n")) {
              if (line.startsWith("data: ")) {
                try {
                  onChange(JSON.parse(line.slice(6)) as Change);
                } catch {
                  // a malformed line is skipped
                }
              }
            }
            i = buf.indexOf("\n\n");
          }
        }
      } catch {
        if (stopped) return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    ctl.abort();
  };
}
