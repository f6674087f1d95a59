/**
 * In-memory ReplayGuard: remembers keys for a window and holds at most `maxEntries`,
 * dropping the oldest first. The window must outlast the longest freshness limit a
 * receiver applies (a replay older than that is refused as stale anyway): SNS messages
 * stay fresh for an hour (+5 min of clock skew), the others for 5 minutes, hence 70
 * minutes by default.
 *
 * Keys are only unique within one receiver (two receivers subscribed to one SNS topic see
 * the same MessageId), so keep one guard per receiver or wrap one with `scopedReplayGuard`.
 */
import type { ReplayGuard } from "./types.ts";

export const DEFAULT_REPLAY_WINDOW_MS = 70 * 60_000;
export const DEFAULT_REPLAY_MAX_ENTRIES = 100_000;

export class MemoryReplayGuard implements ReplayGuard {
  /** Insertion order is expiry order, since every entry gets the same window. */
  private readonly expiresAt = new Map<string, number>();

  constructor(
    private readonly windowMs = DEFAULT_REPLAY_WINDOW_MS,
    private readonly maxEntries = DEFAULT_REPLAY_MAX_ENTRIES,
  ) {
    if (!(windowMs > 0) || !(maxEntries > 0)) throw new RangeError("window and size cap must be positive");
  }

  seen(key: string, now: number): boolean {
    this.expire(now);
    const until = this.expiresAt.get(key);
    if (until !== undefined && until > now) return true;
    this.expiresAt.delete(key);
    this.expiresAt.set(key, now + this.windowMs);
    while (this.expiresAt.size > this.maxEntries) {
      const oldest = this.expiresAt.keys().next().value as string;
      this.expiresAt.delete(oldest);
    }
    return false;
  }

  /**
   * Lets a key be accepted again: for a request that passed verification but whose events
   * could not be stored, so that the provider's retry (same id, same signature) is not
   * refused as a replay.
   */
  forget(key: string): void {
    this.expiresAt.delete(key);
  }

  get size(): number {
    return this.expiresAt.size;
  }

  private expire(now: number): void {
    for (const [key, until] of this.expiresAt) {
      if (until > now) break;
      this.expiresAt.delete(key);
    }
  }
}

/** A ReplayGuard view for one receiver, which can take back what it recorded. */
export interface ScopedReplayGuard extends ReplayGuard {
  /**
   * Forgets the keys this view recorded. Call it when a request passed verification but
   * its events could not be stored: providers retry with the same id or signature (SNS
   * MessageId, svix-id), and the retry must not be refused as a replay.
   */
  release(): void;
}

/**
 * A view of `guard` whose keys are prefixed with `scope` (the receiver's id), so one guard
 * serves every receiver; make one view per request to be able to `release` it.
 */
export function scopedReplayGuard(guard: ReplayGuard, scope: string): ScopedReplayGuard {
  const recorded: string[] = [];
  return {
    seen(key, now) {
      const scoped = `${scope}\u0000${key}`;
      const seen = guard.seen(scoped, now);
      if (!seen) recorded.push(scoped);
      return seen;
    },
    release() {
      if (guard instanceof MemoryReplayGuard) for (const key of recorded) guard.forget(key);
      recorded.length = 0;
    },
  };
}
