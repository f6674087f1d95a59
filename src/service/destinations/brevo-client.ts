/**
 * Brevo API v3 calls for the Brevo connector, through the official SDK (`@getbrevo/brevo`):
 * its own retries are switched off (`maxRetries: 0`) and each call is wrapped in
 * `withRetry` with the caller's policy, honouring `Retry-After` or else Brevo's
 * `x-sib-ratelimit-reset` (seconds). Failures leave as `ProviderError`, like `ctx.http`'s.
 */
import type { BrevoClient, BrevoError } from "@getbrevo/brevo";
import {
  describeFailure,
  type HttpResponse,
  ProviderError,
  retryAfterMs,
  type Verdict,
  withRetry,
} from "./http-call.ts";
import type { ConnectorContext } from "./types.ts";

export const BREVO_API_URL = "https://api.brevo.com/v3";

type Sdk = typeof import("@getbrevo/brevo");
let sdk: Sdk | null = null;

/**
 * The SDK, loaded by the first Brevo call: it takes over a second to load, which every
 * server start and every process that never syncs to Brevo would pay.
 */
async function loadSdk(): Promise<Sdk> {
  sdk ??= await import("@getbrevo/brevo");
  return sdk;
}

/** Whether `e` is the SDK's error (none can exist before the SDK is loaded). */
export function isBrevoError(e: unknown): e is BrevoError {
  return sdk !== null && e instanceof sdk.BrevoError;
}

function isBrevoTimeout(e: unknown): boolean {
  return sdk !== null && e instanceof sdk.BrevoTimeoutError;
}

/**
 * When to try again: 429 waits what `Retry-After` asks, else what `x-sib-ratelimit-reset`
 * says (Brevo sends the latter and, per its rate-limit page, not the former); 408 and
 * 5xx back off; anything else is final.
 */
export function brevoVerdict(status: number, headers: Headers): Verdict {
  if (status === 429) {
    const after =
      retryAfterMs(headers.get("retry-after")) ?? retryAfterMs(headers.get("x-sib-ratelimit-reset"));
    return { retry: true, afterMs: after };
  }
  if (status === 408 || status >= 500)
    return { retry: true, afterMs: retryAfterMs(headers.get("retry-after")) };
  return { retry: false };
}

/** For `ctx.http.with(...)`: the same reading for plain HTTP calls. */
export function classifyBrevo(res: HttpResponse): Verdict | undefined {
  return res.status === 429 ? brevoVerdict(res.status, res.headers) : undefined;
}

function verdictOf(e: unknown): Verdict {
  if (isBrevoTimeout(e)) return { retry: true, afterMs: null };
  if (isBrevoError(e)) {
    // No status: the request never got an answer (connection refused or reset).
    if (e.statusCode === undefined) return { retry: true, afterMs: null };
    return brevoVerdict(e.statusCode, e.rawResponse?.headers ?? new Headers());
  }
  return { retry: false };
}

/** The error body's `{code, message}` when there is one. */
export function brevoErrorBody(e: BrevoError): { code: string; message: string } | null {
  const b = e.body as { code?: unknown; message?: unknown } | null | undefined;
  if (b && typeof b === "object" && typeof b.code === "string") {
    return { code: b.code, message: typeof b.message === "string" ? b.message : "" };
  }
  return null;
}

function toProviderError(e: unknown, what: string): unknown {
  if (isBrevoTimeout(e)) return new ProviderError(`${what}: timed out`, null, true);
  if (!isBrevoError(e)) return e;
  const status = e.statusCode ?? null;
  const retryable = verdictOf(e).retry;
  const detail = status === null ? e.message : describeFailure(status, e.body ?? "");
  return new ProviderError(`${what}: ${detail}`, status, retryable, e.body ?? null);
}

export async function brevoClient(ctx: ConnectorContext): Promise<BrevoClient> {
  const api = typeof ctx.config.api_url === "string" ? ctx.config.api_url : BREVO_API_URL;
  const { BrevoClient } = await loadSdk();
  return new BrevoClient({
    apiKey: ctx.secrets.api_key ?? "",
    baseUrl: api,
    maxRetries: 0,
    timeoutInSeconds: Math.max(1, Math.ceil(ctx.http.policy.timeoutMs / 1000)),
  });
}

/**
 * Runs one SDK call with the caller's retry policy. `keep` lists the answers the caller
 * reads itself (thrown back as the SDK's `BrevoError`, e.g. a 400 naming bad rows);
 * everything else that still fails becomes a `ProviderError`.
 */
export async function brevoCall<T>(
  ctx: ConnectorContext,
  what: string,
  fn: (client: BrevoClient) => Promise<T>,
  keep: (e: BrevoError) => boolean = () => false,
): Promise<T> {
  const client = await brevoClient(ctx);
  try {
    return await withRetry(() => fn(client), verdictOf, ctx.http.policy);
  } catch (e) {
    if (isBrevoError(e) && !isBrevoTimeout(e) && keep(e)) throw e;
    throw toProviderError(e, what);
  }
}
