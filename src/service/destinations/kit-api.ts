/**
 * Kit v4 calls as the Kit connector makes them: credentials, pacing under Kit's
 * rolling request budget, and reading Kit's answers (`{subscriber}`, `{subscribers,
 * failures}`, errors as `{errors: ["..."]}`).
 */
import type { HttpCaller, HttpResponse, Verdict } from "./http-call.ts";
import { describeFailure } from "./http-call.ts";
import { type KitSettings, kitHeaders } from "./kit-config.ts";
import type { RollingWindow } from "./kit-pacer.ts";

export interface KitCall {
  method: "GET" | "POST" | "DELETE";
  /** Below the base URL, e.g. `/bulk/subscribers`. */
  path: string;
  body?: unknown;
  /** Error statuses answered back instead of thrown. */
  accept?: number[];
}

/**
 * 413: "too many bulk requests queued", which Kit asks to retry after a short period.
 * Everything else keeps HttpCaller's reading (429 and 5xx retried; Kit's 429 carries no
 * Retry-After, so the backoff applies).
 */
function classifyKit(res: HttpResponse): Verdict | undefined {
  if (res.status === 413) return { retry: true, afterMs: null };
  return undefined;
}

export class KitApi {
  private readonly http: HttpCaller;

  constructor(
    http: HttpCaller,
    readonly settings: KitSettings,
    private readonly pacer: RollingWindow,
  ) {
    this.http = http.with(classifyKit);
  }

  url(path: string): string {
    return `${this.settings.baseUrl}${path}`;
  }

  /** Waits for a place in the credential's budget, then sends (retries happen inside the HttpCaller). */
  async send(call: KitCall): Promise<HttpResponse> {
    await this.pacer.acquire();
    return this.http.request({
      method: call.method,
      url: this.url(call.path),
      headers: { ...kitHeaders(this.settings), Accept: "application/json" },
      ...(call.body !== undefined ? { body: call.body } : {}),
      ...(call.accept ? { accept: call.accept } : {}),
    });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Kit's words from an error answer (`{errors: [...]}`), or the status and body. */
export function kitErrors(res: Pick<HttpResponse, "status" | "body">): string {
  const errors = isRecord(res.body) ? res.body.errors : undefined;
  if (Array.isArray(errors) && errors.length > 0) return errors.map(String).join("; ");
  return describeFailure(res.status, res.body);
}

export interface KitSubscriber {
  id: number;
  email: string;
  state: string;
}

export function readSubscriber(v: unknown): KitSubscriber | null {
  if (!isRecord(v)) return null;
  const { id, email_address: email, state } = v;
  if (typeof id !== "number" || typeof email !== "string") return null;
  return { id, email: email.trim().toLowerCase(), state: typeof state === "string" ? state : "" };
}

/** `{subscribers: [...]}` of a bulk answer. */
export function readSubscribers(body: unknown): KitSubscriber[] {
  const list = isRecord(body) ? body.subscribers : undefined;
  if (!Array.isArray(list)) return [];
  return list.map(readSubscriber).filter((s): s is KitSubscriber => s !== null);
}

export interface KitFailure {
  errors: string;
  /** The email the failure names (bulk create), lower-cased, when Kit echoes it. */
  email: string | null;
  /** The subscriber id the failure names (bulk tag), when Kit echoes it. */
  subscriberId: number | null;
}

/** `{failures: [{errors, subscriber | tagging}]}` of a bulk answer. */
export function readFailures(body: unknown): KitFailure[] {
  const list = isRecord(body) ? body.failures : undefined;
  if (!Array.isArray(list)) return [];
  return list.filter(isRecord).map((f) => {
    const errors =
      Array.isArray(f.errors) && f.errors.length > 0 ? f.errors.map(String).join("; ") : "failed";
    const sub = isRecord(f.subscriber) ? f.subscriber : {};
    const tagging = isRecord(f.tagging) ? f.tagging : {};
    return {
      errors,
      email: typeof sub.email_address === "string" ? sub.email_address.trim().toLowerCase() : null,
      subscriberId: typeof tagging.subscriber_id === "number" ? tagging.subscriber_id : null,
    };
  });
}

/** `{tag: {id}}` of `POST /tags`. */
export function readTagId(body: unknown): number | null {
  const tag = isRecord(body) ? body.tag : undefined;
  return isRecord(tag) && typeof tag.id === "number" ? tag.id : null;
}

/** `pagination.total_count` of a list answer asked with `include_total_count=true`. */
export function readTotalCount(body: unknown): number | null {
  const p = isRecord(body) ? body.pagination : undefined;
  return isRecord(p) && typeof p.total_count === "number" ? p.total_count : null;
}

/** Runs `fn` over `items` with at most `n` at once, keeping the input order in the result. */
export async function mapPool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  // After a failure (an auth error, retries exhausted) the other workers stop taking items.
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
