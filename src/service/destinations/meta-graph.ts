/**
 * Meta Graph API answers as the Meta connector reads them (meta.ts): the error body
 * `{error: {message, type, code, error_subcode, fbtrace_id, is_transient?}}`, which of
 * its codes mean "later", the `/{audience_id}/users` answer and the upload-session read.
 *
 * Sources: Graph API "Handling Errors" (codes 1, 2 temporary; 4, 17, 341 throttling;
 * 190, 102 token), "Rate Limiting" (32 pages, 613 custom rate limit, 80000–80014
 * business-use-case limits, 80003 being custom audiences; `X-Business-Use-Case-Usage`
 * carrying `estimated_time_to_regain_access` in minutes), the Custom Audience Users
 * reference (answer `{audience_id, session_id, num_received, num_invalid_entries,
 * invalid_entry_samples: Map<string, string>}`) and the Custom Audience Session
 * reference (numbers given as numeric strings). Throttling answers come with HTTP 400
 * (or 403), never 429, and without `Retry-After`.
 */
import type { HttpResponse, ProviderError, Verdict } from "./http-call.ts";

export interface GraphError {
  message: string;
  type: string | null;
  code: number | null;
  error_subcode: number | null;
  fbtrace_id: string | null;
  is_transient: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^-?\d{1,15}$/.test(v)) return Number(v);
  return null;
}

/** The `error` object of a Graph answer, or null when the body is not one. */
export function graphErrorOf(body: unknown): GraphError | null {
  if (!isObject(body) || !isObject(body.error)) return null;
  const e = body.error;
  return {
    message: typeof e.message === "string" ? e.message : "",
    type: typeof e.type === "string" ? e.type : null,
    code: num(e.code),
    error_subcode: num(e.error_subcode),
    fbtrace_id: typeof e.fbtrace_id === "string" ? e.fbtrace_id : null,
    is_transient: e.is_transient === true,
  };
}

/** "Too many calls" in its several forms: application, user, page, custom, business use case. */
export function isThrottling(code: number | null): boolean {
  if (code === null) return false;
  return (
    code === 4 ||
    code === 17 ||
    code === 32 ||
    code === 341 ||
    code === 613 ||
    (code >= 80000 && code <= 80014)
  );
}

/** Temporary failures Meta says to wait out (unknown error, service down). */
function isTemporary(e: GraphError): boolean {
  return e.code === 1 || e.code === 2 || e.is_transient;
}

/** Codes saying the token is missing, expired or lacks a permission: no retry can fix them. */
export function isAuthProblem(code: number | null): boolean {
  if (code === null) return false;
  return (
    code === 102 ||
    code === 104 ||
    code === 190 ||
    code === 10 ||
    code === 294 ||
    (code >= 200 && code <= 299)
  );
}

/**
 * The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`
 * (`{"<business id>": [{"type": "custom_audience", …, "estimated_time_to_regain_access": 5}]}`),
 * in milliseconds, or null when absent or zero.
 */
export function regainAccessMs(headers: Headers): number | null {
  const raw = headers.get("x-business-use-case-usage");
  if (raw === null || raw.length > 10_000) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(parsed)) return null;
  let minutes = 0;
  for (const entries of Object.values(parsed)) {
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      const m = isObject(entry) ? num(entry.estimated_time_to_regain_access) : null;
      if (m !== null && m > minutes) minutes = m;
    }
  }
  return minutes > 0 ? minutes * 60_000 : null;
}

/**
 * HttpCaller's classification of Meta's non-2xx answers: throttling and temporary codes
 * are retried (after the time Meta estimates, else the backoff), token problems are not,
 * anything else is left to the default (5xx retried, 4xx not).
 */
export function classifyGraphAnswer(res: HttpResponse): Verdict | undefined {
  const e = graphErrorOf(res.body);
  if (e === null) return undefined;
  if (isAuthProblem(e.code)) return { retry: false };
  if (isThrottling(e.code) || isTemporary(e)) return { retry: true, afterMs: regainAccessMs(res.headers) };
  return undefined;
}

/**
 * Subcodes of code 100 that are about the audience or the account, not the rows sent:
 * 33 (audience missing or not reachable with this token), 1713230 (audience flagged,
 * uploads blocked until its restrictions are resolved).
 */
const AUDIENCE_SUBCODES = new Set([33, 1713230]);

/**
 * A refusal of the request's content that names no row (`(#100) Invalid parameter` with
 * no audience-level subcode): the syncer may split the batch to isolate the bad rows.
 */
export function isContentRefusal(err: ProviderError): boolean {
  if (err.status !== 400) return false;
  const e = graphErrorOf(err.body);
  return (
    e !== null && e.code === 100 && (e.error_subcode === null || !AUDIENCE_SUBCODES.has(e.error_subcode))
  );
}

/** Meta's words for an error answer, with the trace id support asks for. */
export function describeGraphError(e: GraphError): string {
  const sub = e.error_subcode !== null ? `, subcode ${e.error_subcode}` : "";
  const trace = e.fbtrace_id ? ` (fbtrace_id ${e.fbtrace_id})` : "";
  return `${e.message || "Graph API error"} [code ${e.code ?? "?"}${sub}]${trace}`;
}

export interface UsersAnswer {
  session_id: string | null;
  num_received: number | null;
  num_invalid_entries: number | null;
  /** Entries Meta could not use, with its reason; a sample, not necessarily all of them. */
  invalid_entry_samples: Record<string, string>;
}

/** The answer of `POST` / `DELETE /{audience_id}/users`. */
export function parseUsersAnswer(body: unknown): UsersAnswer {
  const o = isObject(body) ? body : {};
  const samples: Record<string, string> = {};
  if (isObject(o.invalid_entry_samples)) {
    for (const [k, v] of Object.entries(o.invalid_entry_samples)) {
      samples[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
  }
  const sid = o.session_id;
  return {
    session_id: typeof sid === "string" || typeof sid === "number" ? String(sid) : null,
    num_received: num(o.num_received),
    num_invalid_entries: num(o.num_invalid_entries),
    invalid_entry_samples: samples,
  };
}

export interface SessionRead {
  num_received: number | null;
  num_matched: number | null;
  num_invalid_entries: number | null;
  stage: string | null;
}

/** The entry for `sessionId` in the answer of `GET /{audience_id}/sessions`, or null. */
export function parseSessionsAnswer(body: unknown, sessionId: string): SessionRead | null {
  if (!isObject(body) || !Array.isArray(body.data)) return null;
  for (const s of body.data) {
    if (!isObject(s) || String(s.session_id) !== sessionId) continue;
    return {
      num_received: num(s.num_received),
      num_matched: num(s.num_matched),
      num_invalid_entries: num(s.num_invalid_entries),
      stage: typeof s.stage === "string" ? s.stage : null,
    };
  }
  return null;
}
