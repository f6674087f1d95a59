/**
 * Helpers the provider modules share: reading headers and bodies, checking freshness,
 * normalising recipients and times, deterministic event ids, and per-item error capture.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { instantInRange } from "../../store/contact-row.ts";
import { emailProblem } from "../email.ts";
import {
  type InboundRequest,
  MAX_EVENTS_PER_REQUEST,
  type MappedEvent,
  type ParseResult,
  type Provider,
  ReceiverInputError,
  type Verdict,
} from "./types.ts";

/** One item of a batch is malformed: reported in `errors`, the rest of the batch still maps. */
export class ItemError extends Error {}

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A header's value; a repeated header counts as absent, since which copy to trust is ambiguous. */
export function header(req: InboundRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return typeof value === "string" ? value : undefined;
}

export function parseJsonBody(req: InboundRequest, provider: Provider): unknown {
  const text = req.rawBody.toString("utf8");
  if (text.trim() === "") throw new ReceiverInputError(`${provider} body is empty`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ReceiverInputError(`${provider} body is not JSON: ${(err as Error).message}`);
  }
}

/** Constant-time comparison of two strings (false, not a throw, when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Refuses a signed time outside [now - maxAge, now + maxAhead]. */
export function checkFreshness(
  signedAtMs: number,
  now: number,
  maxAgeMs: number,
  maxAheadMs: number,
): Verdict | undefined {
  if (!Number.isFinite(signedAtMs)) return { ok: false, reason: "timestamp is not a valid time" };
  if (now - signedAtMs > maxAgeMs) {
    return { ok: false, reason: `timestamp too old (${Math.round((now - signedAtMs) / 1000)} s)` };
  }
  if (signedAtMs - now > maxAheadMs) {
    return {
      ok: false,
      reason: `timestamp too far in the future (${Math.round((signedAtMs - now) / 1000)} s)`,
    };
  }
  return undefined;
}

/** Unix seconds given as a number or a decimal string ("1600112502"); NaN otherwise. */
export function unixSecondsToMs(value: unknown): number {
  if (typeof value === "number") return value * 1000;
  if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  return Number.NaN;
}

export function recipient(value: unknown, path: string): string {
  if (typeof value !== "string") throw new ItemError(`${path}: missing recipient address`);
  const email = value.trim().toLowerCase();
  const problem = emailProblem(email);
  if (problem) throw new ItemError(`${path}: ${JSON.stringify(value.slice(0, 80))} ${problem}`);
  return email;
}

export function requiredString(value: unknown, path: string): string {
  if (typeof value !== "string" || value === "") throw new ItemError(`${path}: missing or not a string`);
  return value;
}

export function optionalString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** An ISO 8601 time (or unix seconds as a number) → ms since epoch. */
export function eventTime(value: unknown, path: string): number {
  let ms = Number.NaN;
  if (typeof value === "string" && value !== "") ms = Date.parse(value);
  else if (typeof value === "number") ms = value * 1000;
  if (!Number.isFinite(ms)) throw new ItemError(`${path}: ${JSON.stringify(value)} is not a time`);
  // A finite time outside the instants Slice keeps (1e20 s) made the delivery log throw: a 500.
  if (!instantInRange(ms)) throw new ItemError(`${path}: ${JSON.stringify(value)} is out of range`);
  return Math.round(ms);
}

const MAX_ID_LENGTH = 200;

/**
 * `provider:part:part…`; ids longer than Slice accepts become `provider:` + sha256 hex of
 * the same text, still deterministic.
 */
export function eventId(provider: Provider, ...parts: string[]): string {
  const id = `${provider}:${parts.join(":")}`;
  if (id.length <= MAX_ID_LENGTH) return id;
  return `${provider}:${createHash("sha256").update(id).digest("hex")}`;
}

export function checkCount(count: number, what: string): void {
  if (count > MAX_EVENTS_PER_REQUEST) {
    throw new ReceiverInputError(
      `${what} has ${count} items; at most ${MAX_EVENTS_PER_REQUEST} are accepted per request`,
    );
  }
}

/**
 * Maps each item with `map` (which returns the item's events, none for a skipped kind),
 * collecting ItemErrors per index; any other error is a bug and propagates.
 */
export function mapItems<T>(
  items: readonly T[],
  map: (item: T, index: number) => MappedEvent[],
): Pick<ParseResult, "events" | "errors"> {
  const events: MappedEvent[] = [];
  const errors: ParseResult["errors"] = [];
  items.forEach((item, index) => {
    try {
      events.push(...map(item, index));
    } catch (err) {
      if (!(err instanceof ItemError)) throw err;
      errors.push({ index, error: err.message });
    }
  });
  if (events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ReceiverInputError(
      `the request maps to ${events.length} events; at most ${MAX_EVENTS_PER_REQUEST} are accepted per request`,
    );
  }
  return { events, errors };
}

/** Drops absent (undefined, null, empty-string) properties so events carry only what the provider sent. */
export function compact(
  properties: Record<string, string | number | boolean | null | undefined>,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value !== undefined && value !== null && value !== "") out[key] = value;
  }
  return out;
}
