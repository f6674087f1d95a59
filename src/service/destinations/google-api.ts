/**
 * Google's Data Manager API (IngestionService) through its official client,
 * `@google-ads/datamanager`, in its HTTP/1.1 REST mode. The client builds the URL and
 * the JSON and decodes the answers; three things stay ours, each for a reason:
 *
 * - Credentials: the client's own auth library always reaches Google's token server
 *   and its `fetch` throws a transport error on any 4xx, losing the structured error.
 *   We hand the client a minimal auth object whose `fetch` adds the bearer token we
 *   hold (a configured one, or one exchanged from a refresh token at `token_url`,
 *   cached until shortly before it expires).
 * - The error body: the client's bundled `google.rpc.BadRequest` lacks the newer
 *   `reason` field of a field violation (it decodes `INVALID_SHA256_FORMAT` away), so
 *   that `fetch` keeps the raw `google.rpc.Status` of an error answer for us.
 * - Retries: 429 RESOURCE_EXHAUSTED, 5xx and dropped connections are retried with the
 *   caller's policy (`withRetry`), the client's own retries being off.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { IngestionServiceClient, protos } from "@google-ads/datamanager";
import { type HttpCaller, ProviderError, retryAfterMs, type Verdict, withRetry } from "./http-call.ts";

export const GOOGLE_API_URL = "https://datamanager.googleapis.com";
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

export type IngestRequest = protos.google.ads.datamanager.v1.IIngestAudienceMembersRequest;
export type RemoveRequest = protos.google.ads.datamanager.v1.IRemoveAudienceMembersRequest;

export type GoogleAuth =
  | { kind: "access_token"; accessToken: string }
  | { kind: "refresh_token"; clientId: string; clientSecret: string; refreshToken: string; tokenUrl: string };

/** One field violation of a `google.rpc.BadRequest` detail. */
export interface FieldViolation {
  field: string;
  description: string;
  reason: string;
}

/** An error answer of the API, as `google.rpc.Status` in `{error: {...}}`. */
export class GoogleApiError extends Error {
  constructor(
    readonly httpStatus: number,
    /** Canonical code name: `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, `UNAUTHENTICATED`, … */
    readonly status: string,
    message: string,
    readonly violations: FieldViolation[],
    readonly body: unknown,
    readonly retryAfter: string | null,
  ) {
    super(message);
    this.name = "GoogleApiError";
  }
}

interface CallScope {
  token: string;
  timeoutMs: number;
  failure?: { status: number; text: string; retryAfter: string | null };
}

const scope = new AsyncLocalStorage<CallScope>();

/**
 * Runs in the client's transport: adds the call's token, bounds the attempt's time,
 * and keeps an error answer's raw body (the client still gets the same answer).
 */
async function scopedFetch(
  base: string,
  url: string,
  init: { method?: string; headers?: Headers; body?: string | Buffer; signal?: AbortSignal },
): Promise<Response> {
  const s = scope.getStore();
  if (!s) throw new Error("Data Manager call outside its scope");
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${s.token}`);
  const u = new URL(url);
  const timeout = AbortSignal.timeout(s.timeoutMs);
  const res = await fetch(`${base}${u.pathname}${u.search}`, {
    method: init.method ?? "POST",
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
    signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
    redirect: "manual",
  });
  if (res.ok) return res;
  const text = await res.text();
  s.failure = { status: res.status, text, retryAfter: res.headers.get("retry-after") };
  return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function parseFailure(f: NonNullable<CallScope["failure"]>): GoogleApiError {
  let body: unknown = f.text;
  try {
    body = JSON.parse(f.text);
  } catch {
    // not JSON (an HTML page from a proxy): kept as text
  }
  const err = (body as { error?: { status?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const status = typeof err?.status === "string" ? err.status : `HTTP_${f.status}`;
  const message = typeof err?.message === "string" ? err.message : f.text.slice(0, 500);
  const violations: FieldViolation[] = [];
  if (Array.isArray(err?.details)) {
    for (const d of err.details as { "@type"?: string; fieldViolations?: unknown }[]) {
      if (d?.["@type"] !== "type.googleapis.com/google.rpc.BadRequest" || !Array.isArray(d.fieldViolations))
        continue;
      for (const v of d.fieldViolations as Record<string, unknown>[]) {
        violations.push({
          field: typeof v.field === "string" ? v.field : "",
          description: typeof v.description === "string" ? v.description : "",
          reason: typeof v.reason === "string" ? v.reason : "",
        });
      }
    }
  }
  return new GoogleApiError(f.status, status, message, violations, body, f.retryAfter);
}

function classify(e: unknown): Verdict {
  if (e instanceof GoogleApiError) {
    if (e.httpStatus === 429 || e.httpStatus === 408 || e.httpStatus >= 500) {
      return { retry: true, afterMs: retryAfterMs(e.retryAfter) };
    }
    return { retry: false };
  }
  return { retry: isTransportFailure(e), afterMs: null };
}

/** A dropped connection or a timed-out attempt, as fetch reports them. */
function isTransportFailure(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 3; x = x.cause, depth++) {
    if (x.name === "TimeoutError" || x.name === "AbortError") return true;
    if (x instanceof TypeError && x.message === "fetch failed") return true;
  }
  return false;
}

function toProviderError(e: unknown, what: string): unknown {
  if (e instanceof GoogleApiError) {
    const v = classify(e);
    return new ProviderError(
      `${what}: HTTP ${e.httpStatus} ${e.status}: ${e.message}`,
      e.httpStatus,
      v.retry,
      e.body,
    );
  }
  if (e instanceof ProviderError) return e;
  return new ProviderError(
    `${what} failed: ${e instanceof Error ? e.message : String(e)}`,
    null,
    isTransportFailure(e),
  );
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Tokens are renewed this long before Google says they expire. */
const EXPIRY_MARGIN_MS = 60_000;

export interface GoogleApiOptions {
  now?: () => number;
}

/** A Data Manager client per API base URL, and access tokens per credential. */
export class GoogleApi {
  private readonly clients = new Map<string, Promise<IngestionServiceClient>>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();
  private readonly now: () => number;

  constructor(opts: GoogleApiOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async ingest(http: HttpCaller, auth: GoogleAuth, apiUrl: string, req: IngestRequest): Promise<string> {
    const client = await this.client(apiUrl);
    const [res] = await this.call(http, auth, "Data Manager audienceMembers:ingest", () =>
      client.ingestAudienceMembers(req, { maxRetries: 0 }),
    );
    return res.requestId ?? "";
  }

  async remove(http: HttpCaller, auth: GoogleAuth, apiUrl: string, req: RemoveRequest): Promise<string> {
    const client = await this.client(apiUrl);
    const [res] = await this.call(http, auth, "Data Manager audienceMembers:remove", () =>
      client.removeAudienceMembers(req, { maxRetries: 0 }),
    );
    return res.requestId ?? "";
  }

  /**
   * One API call with retries. A 401 with a refresh token renews the token once (a
   * token revoked or expired early). Errors other than GoogleApiError with status
   * INVALID_ARGUMENT come out as ProviderError.
   */
  private async call<T>(http: HttpCaller, auth: GoogleAuth, what: string, fn: () => Promise<T>): Promise<T> {
    let renewed = false;
    for (;;) {
      const token = await this.token(http, auth);
      try {
        return await withRetry(
          async () => {
            const s: CallScope = { token, timeoutMs: http.policy.timeoutMs };
            return scope.run(s, async () => {
              try {
                return await fn();
              } catch (e) {
                if (s.failure) throw parseFailure(s.failure);
                throw e;
              }
            });
          },
          classify,
          http.policy,
        );
      } catch (e) {
        if (
          e instanceof GoogleApiError &&
          e.httpStatus === 401 &&
          auth.kind === "refresh_token" &&
          !renewed
        ) {
          renewed = true;
          this.tokens.delete(credentialKey(auth));
          continue;
        }
        if (e instanceof GoogleApiError && e.status === "INVALID_ARGUMENT") throw e;
        throw toProviderError(e, what);
      }
    }
  }

  private client(apiUrl: string): Promise<IngestionServiceClient> {
    let c = this.clients.get(apiUrl);
    if (!c) {
      c = (async () => {
        // Loaded on first use: the client pulls in protobuf definitions and gax.
        const { IngestionServiceClient } = await import("@google-ads/datamanager");
        const u = new URL(apiUrl);
        const base = apiUrl.replace(/\/+$/, "");
        const authClient = {
          getRequestHeaders: async () => new Headers(),
          fetch: (url: string, init: Parameters<typeof scopedFetch>[2]) => scopedFetch(base, url, init),
        };
        return new IngestionServiceClient({
          apiEndpoint: u.hostname,
          port: Number(u.port) || (u.protocol === "http:" ? 80 : 443),
          protocol: u.protocol === "http:" ? "http" : "https",
          fallback: true,
          // The client only calls `getRequestHeaders` and `fetch` of its auth object in REST mode.
          authClient: authClient as unknown as NonNullable<
            ConstructorParameters<typeof IngestionServiceClient>[0]
          >["authClient"],
        });
      })();
      c.catch(() => this.clients.delete(apiUrl));
      this.clients.set(apiUrl, c);
    }
    return c;
  }

  private async token(http: HttpCaller, auth: GoogleAuth): Promise<string> {
    if (auth.kind === "access_token") return auth.accessToken;
    const key = credentialKey(auth);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > this.now()) return cached.token;
    let p = this.pending.get(key);
    if (!p) {
      p = this.exchange(http, auth).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return t.token;
  }

  private async exchange(
    http: HttpCaller,
    auth: Extract<GoogleAuth, { kind: "refresh_token" }>,
  ): Promise<CachedToken> {
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: auth.clientId,
      client_secret: auth.clientSecret,
      refresh_token: auth.refreshToken,
    });
    let res: Awaited<ReturnType<HttpCaller["request"]>>;
    try {
      res = await http.request({
        method: "POST",
        url: auth.tokenUrl,
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: form.toString(),
      });
    } catch (e) {
      if (e instanceof ProviderError) {
        throw new ProviderError(
          `OAuth token exchange at ${auth.tokenUrl}: ${e.message}`,
          e.status,
          e.retryable,
          e.body,
        );
      }
      throw e;
    }
    const body = res.body as { access_token?: unknown; expires_in?: unknown } | null;
    if (typeof body?.access_token !== "string" || body.access_token === "") {
      throw new ProviderError(
        `OAuth token exchange at ${auth.tokenUrl}: no access_token in the answer`,
        res.status,
        false,
      );
    }
    const seconds = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 3600;
    return { token: body.access_token, expiresAt: this.now() + seconds * 1000 };
  }
}

function credentialKey(auth: Extract<GoogleAuth, { kind: "refresh_token" }>): string {
  return createHash("sha256")
    .update(`${auth.tokenUrl}\n${auth.clientId}\n${auth.clientSecret}\n${auth.refreshToken}`)
    .digest("hex");
}
