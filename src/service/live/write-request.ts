/**
 * A write waiting in a workspace's group commit (LiveWorkspace.write), and the round
 * that commits event batches and flushes alone.
 */

import type { MembershipChange } from "../../engine/index.ts";
import type { BatchOutcome, EventWrite, LogWrite, LogWritten, Store, StoreOps } from "../../store/types.ts";

export interface WriteRequest {
  /** Log every pending change in this round. */
  flush: boolean;
  /**
   * Nothing but that: a flush with no commit or apply of its own, which may go in a
   * round of event batches.
   */
  logOnly?: boolean;
  /**
   * An event batch from `ingestEvents`: its commit is `check` (its contacts) and exactly
   * `insertEvents` of `rows` (so a round of them can go to `Store.commitEventRound`),
   * and its apply is deferred.
   */
  events: { rows: EventWrite[]; check: () => void } | null;
  commit: (tx: StoreOps) => Promise<unknown>;
  /** Event batches apply synchronously (the apply queue); other writes may take a turn. */
  apply: (result: unknown) => void | Promise<void>;
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

/** A flush of the log and nothing else. */
export function logOnlyRequest(resolve: () => void, reject: (e: unknown) => void): WriteRequest {
  return {
    flush: true,
    logOnly: true,
    events: null,
    commit: async () => undefined,
    apply: () => {},
    resolve: () => resolve(),
    reject,
  };
}

/** Requests of one kind share a round: event batches, flushes of the log, other writes. */
export function roundKind(req: WriteRequest): "events" | "log" | "other" {
  return req.events !== null ? "events" : req.logOnly === true ? "log" : "other";
}

/** Whether the request goes through the store's round (`commitEventRound`). */
export function inEventRound(req: WriteRequest): boolean {
  return roundKind(req) !== "other";
}

/**
 * A round of event batches or of flushes: one `Store.commitEventRound` with `log` (the
 * changes taken for it), during which the engine applies the batches committed before
 * and is moved to now (`advance`; on a SQLite file the store works on its writer thread
 * meanwhile). A batch that names a contact the workspace does not have fails alone, the
 * others and the log are committed anew. `finish` gets each committed batch's outcome;
 * the flushes resolve once the round committed. Resolves with the log written; rejects,
 * with every request of the round rejected, when nothing was committed.
 */
export async function commitEventRound(
  store: Store,
  ws: string,
  group: WriteRequest[],
  log: LogWrite | undefined,
  advance: () => void,
  finish: (req: WriteRequest, o: BatchOutcome<unknown>) => void,
): Promise<LogWritten | null> {
  const batches = group.filter((r) => r.events !== null);
  // The contacts are checked while the store writes (on a SQLite file the writer
  // thread inserts meanwhile; nothing commits if the check throws), not before.
  let refused = false;
  const check = () => {
    try {
      for (const req of batches) req.events!.check();
    } catch (e) {
      refused = true;
      throw e;
    }
  };
  // The batches committed before are applied by the `setImmediate` that the apply queue
  // scheduled, which runs after this round has been handed to the store (the hand-over
  // takes a few microtasks: the file's mutex), so they overlap its commit. Applying
  // them here, synchronously, would run them before the hand-over.
  const committing = store.commitEventRound(ws, {
    batches: batches.map((r) => r.events!.rows),
    check,
    ...(log && { log }),
  });
  advance();
  let round: Awaited<typeof committing>;
  try {
    round = await committing;
  } catch (e) {
    if (!refused) {
      for (const req of group) req.reject(e);
      throw e;
    }
    const rest = group.filter((req) => {
      if (req.events === null) return true;
      try {
        req.events.check();
        return true;
      } catch (err) {
        req.reject(err);
        return false;
      }
    });
    if (rest.length > 0 || log) return commitEventRound(store, ws, rest, log, advance, finish);
    return null;
  }
  let k = 0;
  for (const req of group) {
    if (req.events === null) req.resolve({ result: undefined, changes: [] });
    else finish(req, round.outcomes[k++]!);
  }
  return round.log;
}
