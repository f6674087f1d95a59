/**
 * Committed event batches not applied to the engine yet, in commit order. An event
 * batch is acknowledged as soon as it is committed and applied just after (a
 * `setImmediate`, or when the next commit has been handed to the store), so the
 * engine's work on one batch overlaps the store's work on the next (docs/storage.md).
 * Whoever reads the engine applies them first (`settle`): nothing committed is ever
 * invisible to a reader.
 */
export class ApplyQueue {
  private queue: (() => void)[] = [];
  private scheduled = false;

  /** Applies the batches still waiting. */
  settle(): void {
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    for (let i = 0; i < q.length; i++) q[i]!();
  }

  /** Applies `apply` at the next `settle`, at the latest on the next turn of the event loop. */
  defer(apply: () => void): void {
    this.queue.push(apply);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.settle();
    });
  }

  /** Forgets the batches waiting: the engine they were for is being rebuilt from the store. */
  drop(): void {
    this.queue = [];
  }
}
