/**
 * Each workspace's webhook subscriptions as the transaction that logs membership changes
 * reads them (to write one outbox row per matching subscription), cached between
 * changes. A subscription is created and deleted in the workspace's write queue, like
 * every write that logs changes, and the cache is cleared as that write is applied,
 * before the queue's next round: no change logged after the subscription's insert
 * committed can miss it, and none logged after its delete can still name it.
 */

import type { ChangeRecord, NewWebhook, Store, StoreOps, WebhookRecord } from "../store/types.ts";
import type { LiveWorkspace } from "./live-workspace.ts";

/** Outbox rows written per statement by `enqueueMatching`. */
const ENQUEUE_CHUNK = 5_000;

/** Does a subscription want this change? Its event type is listed and its segment (if any) matches. */
export function subscriptionMatches(
  webhook: { events: string[]; segment_id: string | null },
  change: { segment_id: string; change: string },
): boolean {
  return (
    webhook.events.includes(`segment.${change.change}`) &&
    (webhook.segment_id === null || webhook.segment_id === change.segment_id)
  );
}

/** What matching a change needs of a subscription. */
export type Subscription = Pick<WebhookRecord, "id" | "events" | "segment_id">;

/**
 * Writes one outbox row per subscription in `hooks` that wants each change, through
 * `ops` (a transaction, for rows as durable as the changes), `ENQUEUE_CHUNK` rows per
 * statement; answers how many were new (re-enqueueing the same changes adds nothing).
 */
export async function enqueueMatching(
  ops: StoreOps,
  ws: string,
  hooks: readonly Subscription[],
  changes: readonly ChangeRecord[],
): Promise<number> {
  if (hooks.length === 0 || changes.length === 0) return 0;
  let added = 0;
  let batch: { webhook_id: string; change_seq: number }[] = [];
  for (const change of changes) {
    for (const hook of hooks) {
      if (!subscriptionMatches(hook, change)) continue;
      batch.push({ webhook_id: hook.id, change_seq: change.seq });
      if (batch.length >= ENQUEUE_CHUNK) {
        added += await ops.workspace(ws).deliveries.enqueue(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) added += await ops.workspace(ws).deliveries.enqueue(batch);
  return added;
}

export class WebhookSubscriptions {
  private readonly cache = new Map<string, WebhookRecord[]>();
  /**
   * Moves with every change of a workspace's subscriptions: a listing begun before a
   * change (a read outside the write queue, e.g. a segment's users) is answered but not
   * cached, or it could put back what the change just cleared.
   */
  private readonly versions = new Map<string, number>();

  constructor(private readonly store: Store) {}

  /** The workspace's subscriptions, read through `db` (the logging transaction) when not cached. */
  async list(ws: string, db: StoreOps = this.store): Promise<WebhookRecord[]> {
    const cached = this.cache.get(ws);
    if (cached) return cached;
    const version = this.versions.get(ws) ?? 0;
    const list = await db.workspace(ws).webhooks.list();
    if ((this.versions.get(ws) ?? 0) === version) this.cache.set(ws, list);
    return list;
  }

  /** After a change of the workspace's subscriptions committed. */
  changed(ws: string): void {
    this.versions.set(ws, (this.versions.get(ws) ?? 0) + 1);
    this.cache.delete(ws);
  }

  /**
   * Creates a subscription in the workspace's write queue. The changes not logged yet
   * are logged in the same transaction, before it: they belong to before the subscription.
   */
  async create(live: LiveWorkspace, hook: NewWebhook): Promise<WebhookRecord> {
    const { result } = await live.write(
      (tx) => tx.workspace(live.ws).webhooks.create(hook),
      () => this.changed(live.ws),
      { flush: true },
    );
    return result;
  }

  /** Deletes a subscription in the workspace's write queue; false when there is none. */
  async delete(live: LiveWorkspace, id: string): Promise<boolean> {
    const { result } = await live.write(
      (tx) => tx.workspace(live.ws).webhooks.delete(id),
      (deleted) => {
        if (deleted) this.changed(live.ws);
      },
    );
    return result;
  }
}
