/**
 * Who is calling (SPEC §4): bearer keys on the API, HTTP Basic on Segment-compatible
 * ingest. Decided on the path the router matched, not on the URL as sent, so that an
 * encoded or oddly written path (`/%76%31/contacts`, `/v1/./contacts`) cannot reach a
 * handler without a key. Failed attempts are counted per client address.
 */
import { posix } from "node:path";
import type { FastifyRequest } from "fastify";
import { ApiError } from "../service/errors.ts";
import type { Caller, Slice } from "../service/slice.ts";
import { requireAccess } from "./access.ts";

/** Answered without a key (besides everything outside `/v1/`). */
const PUBLIC = new Set(["/v1/openapi.json"]);

/** How the routed path is authenticated. */
export type AuthScheme = "bearer" | "basic" | "none";

/**
 * The path as a browser or proxy could understand it: decoded, duplicate slashes and
 * dot segments resolved. Used for paths no route matched, so that an unknown `/v1/…`
 * answers 401 without a key rather than telling which paths exist.
 */
export function normalizedPath(url: string): string {
  const raw = url.split("?")[0]!;
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A malformed escape is left as sent; the router refuses it anyway.
  }
  return posix.normalize(`/${decoded.replace(/\\/g, "/")}`).replace(/\/{2,}/g, "/");
}

export function schemeOf(req: FastifyRequest): AuthScheme {
  const routed = req.routeOptions.url;
  if (routed?.startsWith("/segment/v1/")) return "basic";
  if (routed?.startsWith("/v1/")) return PUBLIC.has(routed) ? "none" : "bearer";
  // No route, or the web app's catch-all: the path decides, however it was written.
  const path = normalizedPath(req.url);
  if (path.startsWith("/segment/v1/")) return "basic";
  if (path.startsWith("/v1/") || path === "/v1") return PUBLIC.has(path) ? "none" : "bearer";
  return "none";
}

export interface AuthFailureLimit {
  /** Failed attempts per client address per window before 429. */
  max: number;
  windowMs: number;
}

export const DEFAULT_AUTH_FAILURE_LIMIT: AuthFailureLimit = { max: 20, windowMs: 60_000 };

/**
 * Fixed windows of failed attempts per address. Only a key that was presented and
 * refused counts (a missing key guesses nothing); while an address is over the limit
 * every attempt from it is refused before the key is looked at, so guessing cannot go
 * on at full speed, and a success does not reset the count.
 */
export class AuthFailures {
  private readonly seen = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly limit: AuthFailureLimit,
    private readonly now: () => number,
  ) {}

  /** Throws 429 when `ip` is over the limit. */
  check(ip: string, onRetryAfter: (seconds: number) => void): void {
    const e = this.seen.get(ip);
    if (!e) return;
    const t = this.now();
    if (e.until <= t) {
      this.seen.delete(ip);
      return;
    }
    if (e.count < this.limit.max) return;
    const seconds = Math.max(1, Math.ceil((e.until - t) / 1000));
    onRetryAfter(seconds);
    throw new ApiError(
      "rate_limited",
      `too many failed authentication attempts from this address; retry in ${seconds} s`,
    );
  }

  fail(ip: string): void {
    const t = this.now();
    const e = this.seen.get(ip);
    if (e && e.until > t) {
      e.count++;
      return;
    }
    // Bounded memory under a spray of addresses: expired windows go first.
    if (this.seen.size >= 100_000) {
      for (const [k, v] of this.seen) if (v.until <= t) this.seen.delete(k);
      if (this.seen.size >= 100_000) this.seen.delete(this.seen.keys().next().value!);
    }
    this.seen.set(ip, { count: 1, until: t + this.limit.windowMs });
  }
}

function basicSecret(header: string | undefined): string | null {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? decoded : decoded.slice(0, colon);
}

/** The caller of `req`, or null on a public path; throws 401, 403 or 429. */
export async function authenticate(
  slice: Slice,
  failures: AuthFailures,
  req: FastifyRequest,
  onRetryAfter: (seconds: number) => void,
): Promise<Caller | null> {
  const scheme = schemeOf(req);
  if (scheme === "none") return null;
  let secret: string | null;
  if (scheme === "basic") {
    secret = basicSecret(req.headers.authorization);
    if (!secret) {
      throw new ApiError(
        "unauthorized",
        "missing write key: send HTTP Basic auth with an ingest API key as the user name and an empty password",
      );
    }
  } else {
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) throw new ApiError("unauthorized", "missing API key: send Authorization: Bearer <api key>");
    secret = m[1]!;
  }
  failures.check(req.ip, onRetryAfter);
  const caller = await slice.authenticate(secret);
  if (!caller) {
    failures.fail(req.ip);
    throw new ApiError(
      "unauthorized",
      scheme === "basic" ? "unknown or revoked write key" : "unknown or revoked API key",
    );
  }
  if (scheme === "basic") requireAccess(caller.key.role, "ingest");
  return caller;
}
