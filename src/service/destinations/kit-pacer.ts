/**
 * Kit counts requests per credential over a rolling 60 s window (120 for a v4 API key,
 * 600 for an OAuth token) and answers 429 "Retry later" beyond, without a Retry-After.
 * Spacing request starts below that budget costs less than finding the limit by
 * hitting it: a 429 can take up to a minute of backoff to clear.
 */

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
};

/** At most `limit` starts in any `windowMs`; callers are served in arrival order. */
export class RollingWindow {
  private readonly starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: PacerClock = realClock,
  ) {}

  /** Resolves when one more request may start. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot());
    this.queue = turn.catch(() => {});
    return turn;
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      while (this.starts.length > 0 && this.starts[0] <= now - this.windowMs) this.starts.shift();
      if (this.starts.length < this.limit) {
        this.starts.push(now);
        return;
      }
      await this.clock.sleep(Math.max(1, this.starts[0] + this.windowMs - now));
    }
  }
}
