/**
 * What every provider stand-in offers the destination tests (test/e2e/destinations.test.ts):
 * a local HTTP server on 127.0.0.1 written from the provider's API reference, that
 * refuses what the real API refuses, plus a view of the remote audience it holds.
 */
export interface StandIn {
  /** Base URL to put in the destination's `config.api_url`. */
  url: string;
  /** The rest of a valid `config` for `POST /v1/destinations` (credentials the stand-in accepts, list or tag ids…). */
  config: Record<string, unknown>;
  /**
   * How the remote audience names a contact given its email (lower-case email for email
   * platforms, the SHA-256 hex of the normalised email for ad platforms).
   */
  keyOf(email: string): string;
  /** The keys of the contacts in the remote audience now. */
  audience(): Set<string>;
  /** The keys the provider holds as subscribed (email platforms); ad platforms: empty. */
  subscribed(): Set<string>;
  /** Every request received, in order (rejected ones included). */
  calls: { method: string; path: string; rows: number; status: number }[];
  /** The next `n` requests are answered the provider's way of saying "too many requests" (with its retry hint). */
  rateLimit(n: number): void;
  /** Breaches of the provider's documented limits seen (batch over the maximum, too many concurrent calls): must stay empty. */
  violations: string[];
  close(): Promise<void>;
}
