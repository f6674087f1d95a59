/**
 * HTTP for connectors: one call, retried while the provider says "later" (429, 5xx,
 * a dropped connection), waiting what its `Retry-After` asks (seconds or an HTTP date)
 * or else a capped exponential backoff with jitter. A connector using a provider SDK
 * wraps its calls in `withRetry` with its own classification of the SDK's errors.
 */

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (`Content-Type: application/json`). */
  body?: unknown;
  /** Non-2xx statuses answered back instead of thrown (e.g. `[400]` to read per-row errors). */
  accept?: number[];
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body parsed as JSON when it is JSON, else its text ("" when empty). */
  body: unknown;
}

/** A call that still failed after its retries, or that failed in a way retrying cannot fix. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** True when a later attempt may succeed (rate limit, outage): the syncer tries the pass again later. */
    readonly retryable: boolean,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

export interface RetryPolicy {
  /** Attempts per call, the first included (default 8). */
  attempts: number;
  /** First backoff delay; doubles per attempt (default 500 ms). */
  baseMs: number;
  /** Longest single wait, Retry-After included (default 60 s). */
  capMs: number;
  /** Per attempt (default 30 s). */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 500, capMs: 60_000, timeoutMs: 30_000 };

/** How a failed attempt should go on: retry after a delay (null: backoff), or give up. */
export type Verdict = { retry: true; afterMs: number | null } | { retry: false };

export interface RetryHooks {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told of every wait (metrics, logs). */
  onRetry?: (info: { attempt: number; waitMs: number; reason: string }) => void;
}

/** Milliseconds a `Retry-After` value asks for (delta-seconds or an HTTP date), or null. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  if (v.length > 64) return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const base = policy.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 20);
  return Math.min(policy.capMs, Math.round(base * (0.8 + 0.4 * random())));
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` until it succeeds, `classify` says not to retry, or the attempts run out
 * (then the last error is thrown).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  classify: (e: unknown) => Verdict,
  policy: RetryPolicy = DEFAULT_RETRY,
  hooks: RetryHooks = {},
): Promise<T> {
  const sleep = hooks.sleep ?? defaultSleep;
  const random = hooks.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const v = classify(e);
      if (!v.retry || attempt >= policy.attempts) throw e;
      const waitMs = Math.min(policy.capMs, v.afterMs ?? backoffMs(attempt, policy, random));
      hooks.onRetry?.({ attempt, waitMs, reason: e instanceof Error ? e.message : String(e) });
      await sleep(waitMs);
    }
  }
}

function retryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === "") return "";
  const type = res.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** A short description of an error answer for logs and outcomes (bodies are cut at 500 chars). */
export function describeFailure(status: number, body: unknown): string {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return `HTTP ${status}${text ? `: ${text.length > 500 ? `${text.slice(0, 500)}…` : text}` : ""}`;
}

export interface HttpCallerOptions {
  fetch?: typeof fetch;
  policy?: Partial<RetryPolicy>;
  hooks?: RetryHooks;
  /**
   * Provider-specific "later" answers besides 429 / 408 / 5xx (e.g. Meta's throttling
   * codes in a 400 body): return a verdict, or undefined for the default.
   */
  classify?: (res: HttpResponse) => Verdict | undefined;
}

/** Sends requests with retries; an answer that is not 2xx after them throws ProviderError. */
export class HttpCaller {
  readonly policy: RetryPolicy;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: HttpCallerOptions = {}) {
    this.policy = { ...DEFAULT_RETRY, ...opts.policy };
    const f = opts.fetch ?? globalThis.fetch;
    this.fetchFn = (input, init) => f(input, init);
  }

  /** The same transport and retry policy, with another provider classification. */
  with(classify: HttpCallerOptions["classify"]): HttpCaller {
    return new HttpCaller({ ...this.opts, ...(classify ? { classify } : {}) });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    return withRetry(
      () => this.once(req),
      (e) => {
        if (!(e instanceof AttemptFailed)) return { retry: false };
        return e.verdict;
      },
      this.policy,
      this.opts.hooks,
    ).catch((e: unknown) => {
      if (e instanceof AttemptFailed) throw e.error;
      throw e;
    });
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...req.headers };
    let body: string | undefined;
    if (req.body !== undefined) {
      if (typeof req.body === "string") body = req.body;
      else {
        body = JSON.stringify(req.body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
          headers["Content-Type"] = "application/json";
        }
      }
    }
    let res: Response;
    try {
      res = await this.fetchFn(req.url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: "manual",
        signal: AbortSignal.timeout(this.policy.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === "string" ? ` (${cause.code})` : "";
      const error = new ProviderError(
        `${req.method} ${req.url} failed${code}: ${(e as Error).message}`,
        null,
        true,
      );
      throw new AttemptFailed(error, { retry: true, afterMs: null });
    }
    const out: HttpResponse = { status: res.status, headers: res.headers, body: await readBody(res) };
    if ((res.status >= 200 && res.status < 300) || req.accept?.includes(res.status)) return out;
    const custom = this.opts.classify?.(out);
    const verdict: Verdict =
      custom ??
      (retryableStatus(res.status)
        ? { retry: true, afterMs: retryAfterMs(res.headers.get("retry-after")) }
        : { retry: false });
    const error = new ProviderError(
      describeFailure(res.status, out.body),
      res.status,
      verdict.retry,
      out.body,
    );
    throw new AttemptFailed(error, verdict);
  }
}

/** One attempt's failure with its verdict; `request` rethrows the ProviderError inside. */
class AttemptFailed extends Error {
  constructor(
    readonly error: ProviderError,
    readonly verdict: Verdict,
  ) {
    super(error.message);
  }
}
