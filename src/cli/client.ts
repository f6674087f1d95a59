/**
 * The HTTP client of the CLI's client commands: the server's URL and API key (flags
 * over `SLICE_URL` / `SLICE_API_KEY`), JSON in and out, and SPEC §4 error bodies turned
 * into `CliError`s, which `main.ts` prints as `error: <message>` with exit code 1.
 */

export const DEFAULT_URL = "http://127.0.0.1:8080";

/** A failure to report to the user: `main.ts` prints `error: <message>` and exits 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export interface ClientOptions {
  url?: string;
  key?: string;
}

/** Options shared by every client command. */
export function clientSettings(
  opts: ClientOptions,
  env: NodeJS.ProcessEnv = process.env,
): {
  url: string;
  key: string | undefined;
} {
  const raw = opts.url ?? (env.SLICE_URL?.trim() ? env.SLICE_URL.trim() : DEFAULT_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--url: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`--url: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  const key = opts.key ?? (env.SLICE_API_KEY?.trim() ? env.SLICE_API_KEY.trim() : undefined);
  return { url: url.toString().replace(/\/+$/, ""), key };
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  /** A JSON body. */
  json?: unknown;
  /** A streamed body (file uploads) and its content type. */
  stream?: ReadableStream<Uint8Array>;
  contentType?: string;
}

/** What a server answered that is not a 2xx: the SPEC §4 error message when there is one. */
async function errorOf(res: Response): Promise<CliError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; details?: { path?: unknown } } };
    const message = body?.error?.message;
    if (typeof message === "string" && message !== "") {
      let out = message;
      const path = body.error?.details?.path;
      if (typeof path === "string" && path !== "" && !message.includes(path)) out = `${path}: ${message}`;
      if (res.status === 401) out += " (pass --key or set SLICE_API_KEY)";
      return new CliError(out, res.status);
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().slice(0, 200);
  return new CliError(`HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ""}`, res.status);
}

export class Client {
  readonly url: string;
  private readonly key: string | undefined;

  constructor(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env) {
    const s = clientSettings(opts, env);
    this.url = s.url;
    this.key = s.key;
  }

  /** The raw response of a request, or a CliError for a non-2xx answer or no answer at all. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, v);
    const target = `${this.url}${path}${qs.size > 0 ? `?${qs}` : ""}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    let body: string | ReadableStream<Uint8Array> | undefined;
    if (opts.stream) {
      body = opts.stream;
      headers["content-type"] = opts.contentType ?? "application/octet-stream";
    } else if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        // A streamed request body needs half-duplex (Node's fetch).
        ...(opts.stream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CliError(`cannot reach Slice at ${this.url} (${why}); is \`slice serve\` running?`);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  /** A JSON request and its parsed answer (undefined for 204). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the server answered ${method} ${path} with something that is not JSON`);
    }
  }
}

/** `encodeURIComponent` for one path segment. */
export const seg = (s: string): string => encodeURIComponent(s);
