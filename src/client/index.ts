/**
 * A typed client of Slice's HTTP API (SPEC §4), for other programs: `import { SliceClient }
 * from "slice/client"`. It uses the platform's `fetch` only (Node ≥ 20, browsers, workers),
 * so it pulls none of the server's code in at run time; the types are the server's own.
 *
 *   const slice = new SliceClient({ url: "http://127.0.0.1:8080", key: process.env.SLICE_API_KEY });
 *   await slice.contacts.upsert({ email: "ana@example.com", country: "FR" });
 *   await slice.events.send([{ type: "email_opened", contact: { email: "ana@example.com" } }]);
 *
 * An answer other than 2xx throws a `SliceApiError` carrying the SPEC §4 error body.
 */
import type { ExplainNode } from "../engine/types.ts";
import type { RuleNode } from "../rules/schema.ts";
import type { ContactInput, ContactRef, EventInput } from "../service/wire.ts";
import type { WireContact } from "../service/wire-contact.ts";
import type { BatchResult, WireSegment } from "../service/workspace.ts";
import type { KeyRole, Page } from "../store/types.ts";

export type {
  BatchResult,
  ContactInput,
  ContactRef,
  EventInput,
  ExplainNode,
  Page,
  RuleNode,
  WireContact,
  WireSegment,
};

/** A contact as read back: `segments` (ids) comes with single-contact reads. */
export type Contact = WireContact & { segments?: string[] };

export interface NewSegment {
  name: string;
  description?: string;
  /** Default `dynamic`; a static segment has no rule. */
  kind?: "dynamic" | "static";
  rule?: RuleNode;
}

export interface Preview {
  count: number;
  sample: Contact[];
  took_ms: number;
  /** With `segment_id`: who would enter and leave if the segment took this rule. */
  diff?: { entered: number; exited: number; entered_sample: Contact[]; exited_sample: Contact[] };
}

export interface Explanation {
  member: boolean;
  rule: ExplainNode | null;
}

export interface ApiKeyInfo {
  id: string;
  workspace_id: string;
  name: string;
  prefix: string;
  role: KeyRole;
  admin: boolean;
  created_at: string;
}

/** A new key: `key` is its secret, shown this once. */
export type CreatedKey = ApiKeyInfo & { key: string };

export interface ListOptions {
  cursor?: string;
  limit?: number;
}

export interface SliceClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key (`Authorization: Bearer …`). */
  key?: string;
  /** Another fetch (tests, proxies); default the global one. */
  fetch?: typeof fetch;
}

/** A non-2xx answer: `code` and `message` from the SPEC §4 error body when there is one. */
export class SliceApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "SliceApiError";
  }
}

type Query = Record<string, string | number | undefined>;

export class SliceClient {
  readonly url: string;
  private readonly key: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(opts: SliceClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new TypeError(`SliceClient: url: not a URL: ${JSON.stringify(opts.url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(`SliceClient: url: expected http:// or https://, got ${JSON.stringify(opts.url)}`);
    }
    this.url = parsed.toString().replace(/\/+$/, "");
    this.key = opts.key;
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Any route: JSON in, JSON out (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown, query: Query = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.fetch(`${this.url}${path}${qs.size > 0 ? `?${qs}` : ""}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw errorOf(res, text);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  readonly contacts = {
    /** Creates or updates the contact named by `id`, `email` or `external_id`. */
    upsert: (contact: ContactInput): Promise<Contact> => this.request("POST", "/v1/contacts", contact),
    get: (id: string): Promise<Contact> => this.request("GET", `/v1/contacts/${enc(id)}`),
    /** `q`: text found in the email, first or last name, or external id; `total` counts every match. */
    list: (
      opts: ListOptions & { segment?: string; q?: string } = {},
    ): Promise<Page<Contact> & { total?: number }> =>
      this.request("GET", "/v1/contacts", undefined, { ...opts }),
    explain: (contactId: string, segmentId: string): Promise<Explanation> =>
      this.request("GET", `/v1/contacts/${enc(contactId)}/explain`, undefined, { segment: segmentId }),
  };

  readonly events = {
    /** One event or up to 10,000; per-item errors come back in `errors`. */
    send: (events: EventInput | EventInput[]): Promise<BatchResult> =>
      this.request("POST", "/v1/events", events),
  };

  readonly segments = {
    list: (): Promise<Page<WireSegment>> => this.request("GET", "/v1/segments"),
    create: (segment: NewSegment): Promise<WireSegment> => this.request("POST", "/v1/segments", segment),
    get: (id: string): Promise<WireSegment> => this.request("GET", `/v1/segments/${enc(id)}`),
    /** Count and sample of a rule, nothing saved; with `segmentId`, the edit's diff. */
    preview: (rule: RuleNode, segmentId?: string): Promise<Preview> =>
      this.request("POST", "/v1/segments/preview", {
        rule,
        ...(segmentId !== undefined ? { segment_id: segmentId } : {}),
      }),
    /** Members now, or at a past instant (`at`, ISO 8601). */
    members: (id: string, opts: ListOptions & { at?: string } = {}): Promise<Page<Contact>> =>
      this.request("GET", `/v1/segments/${enc(id)}/contacts`, undefined, { ...opts }),
  };

  readonly keys = {
    create: (opts: { name?: string; role?: Exclude<KeyRole, "admin"> } = {}): Promise<CreatedKey> =>
      this.request("POST", "/v1/keys", opts),
    list: (): Promise<Page<ApiKeyInfo>> => this.request("GET", "/v1/keys"),
    revoke: (id: string): Promise<void> => this.request("DELETE", `/v1/keys/${enc(id)}`),
  };

  /** Why a contact is in or out of a segment (SPEC §3.4). */
  explain(contactId: string, segmentId: string): Promise<Explanation> {
    return this.contacts.explain(contactId, segmentId);
  }
}

const enc = encodeURIComponent;

function errorOf(res: Response, text: string): SliceApiError {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> };
    };
    const e = body?.error;
    if (e && typeof e.message === "string") {
      return new SliceApiError(
        res.status,
        typeof e.code === "string" ? e.code : "error",
        e.message,
        e.details,
      );
    }
  } catch {
    // not JSON: described below
  }
  const snippet = text.trim().slice(0, 200);
  return new SliceApiError(
    res.status,
    "http_error",
    `HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ""}`,
  );
}
