/**
 * Each workspace's webhook subscriptions as a write of the change log reads them (to
 * write one outbox row per matching subscription), cached between changes. A
 * subscription is created and deleted in the workspace's write queue, like every write
 * that logs changes, and the cache is cleared as that write is applied,
 * before the queue's next round: no change logged after the subscription's insert
 * committed can miss it, and none logged after its delete can still name it.
 */

import type { ChangeInput, NewWebhook, Store, StoreOps, WebhookRecord } from "../store/types.ts";
import type { LiveWorkspace } from "./live-workspace.ts";

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
 * One delivery per subscription in `hooks` that wants each change: `change` indexes
 * `changes`, whose sequence numbers the log's write gives them (`writeLog`).
 */
export function matchingDeliveries(
  hooks: readonly Subscription[],
  changes: readonly ChangeInput[],
): { change: number; webhook_id: string }[] {
  const out: { change: number; webhook_id: string }[] = [];
  if (hooks.length === 0) return out;
  for (let i = 0; i < changes.length; i++) {
    for (const hook of hooks) {
      if (subscriptionMatches(hook, changes[i]!)) out.push({ change: i, webhook_id: hook.id });
    }
  }
  return out;
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
