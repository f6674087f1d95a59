/**
 * The official Mailchimp SDK (@mailchimp/mailchimp_marketing) as the connector uses it.
 *
 * The package's default export is one shared ApiClient whose `setConfig` is global, so
 * two destinations with different keys would race on it: each call builds its own
 * client from `src/ApiClient.js` instead, whose `basePath` is a plain property (that is
 * how `api_url` points it at a proxy or a stand-in). The SDK throws superagent errors
 * carrying `status` and `response.headers`, so calls are retried through `withRetry`
 * with the same policy as `ctx.http`, and what still fails becomes a ProviderError.
 * @types/mailchimp__mailchimp_marketing covers neither that constructor nor the segment
 * calls, hence the narrow interfaces below.
 */
import { createRequire } from "node:module";
import { ProviderError, type RetryPolicy, retryAfterMs, type Verdict, withRetry } from "./http-call.ts";

export interface BatchMember {
  email_address: string;
  status: MemberStatus;
  merge_fields?: Record<string, string>;
}

export type MemberStatus = "subscribed" | "unsubscribed" | "cleaned" | "pending" | "transactional";

export interface BatchSubscribeBody {
  members: BatchMember[];
  update_existing: boolean;
}

export interface SegmentMembersBody {
  members_to_add?: string[];
  members_to_remove?: string[];
}

interface ListsApi {
  batchListMembers(listId: string, body: BatchSubscribeBody, opts: Record<string, unknown>): Promise<unknown>;
  listSegments(listId: string, opts: Record<string, unknown>): Promise<unknown>;
  createSegment(listId: string, body: { name: string; static_segment: string[] }): Promise<unknown>;
  batchSegmentMembers(body: SegmentMembersBody, listId: string, segmentId: string): Promise<unknown>;
  getSegment(listId: string, segmentId: string, opts: Record<string, unknown>): Promise<unknown>;
}

interface ApiClient {
  basePath: string;
  timeout: number;
  setConfig(config: { apiKey: string }): void;
  lists: ListsApi;
}

const require = createRequire(import.meta.url);
let apiClientCtor: (new () => ApiClient) | null = null;

/**
 * The SDK's client class, loaded with the first Mailchimp destination that calls: loading
 * it (superagent and the generated API) takes most of a second, which every server start
 * and every process that never syncs to Mailchimp would pay.
 */
function ApiClientCtor(): new () => ApiClient {
  apiClientCtor ??= require("@mailchimp/mailchimp_marketing/src/ApiClient.js") as new () => ApiClient;
  return apiClientCtor;
}

/** The SDK's error for an answer that is not 2xx (superagent's), or a transport error. */
interface SdkError {
  status?: unknown;
  code?: unknown;
  timeout?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, unknown>; body?: unknown; text?: unknown };
}

function asSdkError(e: unknown): SdkError {
  return typeof e === "object" && e !== null ? (e as SdkError) : {};
}

function classify(e: unknown): Verdict {
  const err = asSdkError(e);
  if (typeof err.status === "number") {
    const s = err.status;
    if (s === 429 || s === 408 || s >= 500) {
      // Mailchimp's 429 (more than 10 simultaneous connections per key) carries no
      // Retry-After as far as its documentation shows; honour one if it ever appears.
      const ra = err.response?.headers?.["retry-after"];
      return { retry: true, afterMs: retryAfterMs(typeof ra === "string" ? ra : null) };
    }
    return { retry: false };
  }
  // No HTTP answer: refused/reset connection or superagent's timeout (code ECONNABORTED).
  if (typeof err.code === "string" || err.timeout !== undefined) return { retry: true, afterMs: null };
  return { retry: false };
}

function bodyOf(err: SdkError): unknown {
  const r = err.response;
  if (!r) return null;
  if (
    r.body !== undefined &&
    r.body !== null &&
    !(typeof r.body === "object" && Object.keys(r.body).length === 0)
  ) {
    return r.body;
  }
  return typeof r.text === "string" ? r.text : null;
}

/** The RFC 7807 `detail` (or `title`) of a Mailchimp error body. */
export function problemText(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return typeof body === "string" && body ? body : null;
  const b = body as Record<string, unknown>;
  const parts = [b.title, b.detail].filter((x): x is string => typeof x === "string" && x !== "");
  const fieldErrors = Array.isArray(b.errors)
    ? b.errors
        .map((x) => (typeof x === "object" && x !== null ? (x as Record<string, unknown>) : {}))
        .map((x) => `${String(x.field ?? "")}: ${String(x.message ?? "")}`)
    : [];
  const text = [...parts, ...fieldErrors].join(" — ");
  return text || null;
}

function toProviderError(e: unknown, what: string): unknown {
  if (e instanceof ProviderError) return e;
  const err = asSdkError(e);
  if (typeof err.status === "number") {
    const body = bodyOf(err);
    const text = problemText(body) ?? String(err.message ?? "");
    const retryable = classify(e).retry;
    return new ProviderError(`${what}: HTTP ${err.status}: ${text}`, err.status, retryable, body);
  }
  if (typeof err.code === "string" || err.timeout !== undefined) {
    return new ProviderError(
      `${what} failed (${String(err.code ?? "timeout")}): ${String(err.message)}`,
      null,
      true,
    );
  }
  return e;
}

/** One destination's Mailchimp calls: its key, its base URL, retries per `policy`. */
export class MailchimpApi {
  private readonly client: ApiClient;

  constructor(
    baseUrl: string,
    apiKey: string,
    private readonly policy: RetryPolicy,
  ) {
    this.client = new (ApiClientCtor())();
    this.client.basePath = baseUrl.replace(/\/+$/, "");
    // No `server` in the config: the SDK would replace the first "server" in the URL with it.
    this.client.setConfig({ apiKey });
    this.client.timeout = policy.timeoutMs;
  }

  private call<T>(what: string, fn: (lists: ListsApi) => Promise<T>): Promise<T> {
    return withRetry(() => fn(this.client.lists), classify, this.policy).catch((e: unknown) => {
      throw toProviderError(e, what);
    });
  }

  batchSubscribe(listId: string, body: BatchSubscribeBody): Promise<unknown> {
    return this.call(`POST /lists/${listId}`, (l) =>
      l.batchListMembers(listId, body, { skip_merge_validation: true }),
    );
  }

  listStaticSegments(listId: string, offset: number, count: number): Promise<unknown> {
    return this.call(`GET /lists/${listId}/segments`, (l) =>
      l.listSegments(listId, {
        type: "static",
        count,
        offset,
        fields: ["segments.id", "segments.name", "total_items"],
      }),
    );
  }

  createStaticSegment(listId: string, name: string): Promise<unknown> {
    return this.call(`POST /lists/${listId}/segments`, (l) =>
      l.createSegment(listId, { name, static_segment: [] }),
    );
  }

  segmentMembers(listId: string, segmentId: number, body: SegmentMembersBody): Promise<unknown> {
    return this.call(`POST /lists/${listId}/segments/${segmentId}`, (l) =>
      l.batchSegmentMembers(body, listId, String(segmentId)),
    );
  }

  getSegment(listId: string, segmentId: number): Promise<unknown> {
    // member_count leaves unsubscribed, cleaned and transactional members out unless asked.
    return this.call(`GET /lists/${listId}/segments/${segmentId}`, (l) =>
      l.getSegment(listId, String(segmentId), {
        include_cleaned: true,
        include_transactional: true,
        include_unsubscribed: true,
      }),
    );
  }
}
