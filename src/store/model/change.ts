/** The change log of segment membership. */
import type { PageRequest } from "./common.ts";
import type { DeliveryJob } from "./webhook.ts";

export type ChangeKind = "entered" | "exited";

export interface ChangeInput {
  segment_id: string;
  contact_id: string;
  change: ChangeKind;
  /** When the change became true. */
  at: number;
}

export interface ChangeRecord extends ChangeInput {
  /** Increases in append (and, per workspace, commit) order. */
  seq: number;
}

export interface ListChangesRequest extends PageRequest {
  /** One segment, or all of the workspace's. */
  segmentId?: string;
  /** Only changes with `at >= since`. */
  since?: number;
  /** Only changes with `at <= until`. */
  until?: number;
}

/**
 * Changes to append to the log with what must be exactly as durable as they are: the
 * webhook deliveries they start (the outbox) and, when any was queued, a lease on the
 * workspace's due deliveries for the caller to send once the transaction committed.
 * Written in one transaction by `writeLog` (src/store/repos/log-write.ts), on the
 * calling connection or, with a round of event batches, on a SQLite file's writer thread
 * (`Store.commitEventRound`).
 */
export interface LogWrite {
  changes: ChangeInput[];
  /** The deliveries to queue, each for `changes[change]`. */
  deliveries: { change: number; webhook_id: string }[];
  /** Lease up to `limit` due deliveries at `now` for `leaseMs` (DeliveryRepo.claim), if any was queued. */
  claim: { now: number; limit: number; leaseMs: number } | null;
}

/** What `writeLog` wrote: the changes with their sequence numbers, and the deliveries leased. */
export interface LogWritten {
  logged: ChangeRecord[];
  /** Deliveries queued that were not queued before. */
  queued: number;
  claimed: DeliveryJob[];
}
