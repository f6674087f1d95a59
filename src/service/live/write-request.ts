/**
 * A write waiting in a workspace's group commit (LiveWorkspace.write), and the round
 * that commits event batches alone.
 */

import type { MembershipChange } from "../../engine/index.ts";
import type { BatchOutcome, EventWrite, Store, StoreOps } from "../../store/types.ts";

export interface WriteRequest {
  /** Log every pending change in this round. */
  flush: boolean;
  /**
   * An event batch from `ingestEvents`: its commit is `check` (its contacts) and exactly
   * `insertEvents` of `rows` (so a round of them can go to `Store.insertEventBatches`),
   * and its apply is deferred.
   */
  events: { rows: EventWrite[]; check: () => void } | null;
  commit: (tx: StoreOps) => Promise<unknown>;
  apply: (result: unknown) => void;
  resolve: (v: { result: unknown; changes: MembershipChange[] }) => void;
  reject: (e: unknown) => void;
}

/** The request settled once at most: a round that fails midway rejects only what it had not settled. */
export function settledOnce(req: WriteRequest): WriteRequest {
  let settled = false;
  return {
    ...req,
    resolve: (v) => {
      if (settled) return;
      settled = true;
      req.resolve(v);
    },
    reject: (e) => {
      if (settled) return;
      settled = true;
      req.reject(e);
    },
  };
}

/**
 * A round of event batches and nothing else: one `insertEventBatches`, during which the
 * engine applies the batches committed before and is moved to now (`advance`; on a
 * SQLite file the store works on its writer thread meanwhile). A batch that names a
 * contact the workspace does not have fails alone, the others are committed anew.
 * `finish` gets each committed batch's outcome.
 */
export async function commitEventRound(
  store: Store,
  ws: string,
  group: WriteRequest[],
  advance: () => void,
  finish: (req: WriteRequest, o: BatchOutcome<unknown>) => void,
): Promise<void> {
  // The contacts are checked while the store writes (on a SQLite file the writer
  // thread inserts meanwhile; nothing commits if the check throws), not before.
  let refused = false;
  const check = () => {
    try {
      for (const req of group) req.events!.check();
    } catch (e) {
      refused = true;
      throw e;
    }
  };
  // The batches committed before are applied by the `setImmediate` that the apply queue
  // scheduled, which runs after this round has been handed to the store (the hand-over
  // takes a few microtasks: the file's mutex), so they overlap its commit. Applying
  // them here, synchronously, would run them before the hand-over.
  const committing = store.insertEventBatches(
    ws,
    group.map((r) => r.events!.rows),
    { check },
  );
  advance();
  let outcomes: BatchOutcome<unknown>[];
  try {
    outcomes = await committing;
  } catch (e) {
    if (!refused) {
      for (const req of group) req.reject(e);
      return;
    }
    const rest = group.filter((req) => {
      try {
        req.events!.check();
        return true;
      } catch (err) {
        req.reject(err);
        return false;
      }
    });
    if (rest.length > 0) await commitEventRound(store, ws, rest, advance, finish);
    return;
  }
  group.forEach((req, k) => finish(req, outcomes[k]!));
}
