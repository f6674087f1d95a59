/**
 * `Store.commitEventRound` on a SQLite file: the batches and the log write go, as
 * columns, to the writer thread (event-writer.ts), which inserts and commits them on its
 * own connection.
 */
import { translateError } from "../executor.ts";
import { checkTimestamp } from "../repos/events.ts";
import type { Clock } from "../repos/index.ts";
import type {
  BatchOutcome,
  EventInsertResult,
  EventWrite,
  InsertStatus,
  LogWrite,
  LogWritten,
} from "../types.ts";
import {
  type EventBatchColumns,
  type SqliteEventWriter,
  type WriterOutcome,
  workerError,
} from "./event-writer.ts";

/** A batch as the writer thread takes it (the checks and values of `EventRepo.insert`'s rows). */
function eventColumns(events: EventWrite[], now: number): EventBatchColumns {
  const n = events.length;
  const cols: EventBatchColumns = {
    idem: new Array(n),
    type: new Array(n),
    contact: new Array(n),
    ts: new Float64Array(n),
    properties: new Array(n),
    received: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    checkTimestamp(e, i);
    cols.idem[i] = e.id ?? null;
    cols.type[i] = e.type;
    cols.contact[i] = e.contact_id;
    cols.ts[i] = Math.floor(e.timestamp);
    cols.properties[i] = JSON.stringify(e.properties ?? {});
    cols.received[i] = e.received_at ?? now;
  }
  return cols;
}

export async function writeEventBatches(
  writer: SqliteEventWriter,
  clock: Clock,
  ws: string,
  batches: EventWrite[][],
  check: (() => void) | undefined,
  log: LogWrite | undefined,
): Promise<{ outcomes: BatchOutcome<EventInsertResult>[]; log: LogWritten | null }> {
  // A batch with a row the store refuses fails alone, before anything is sent.
  const out: (BatchOutcome<EventInsertResult> | null)[] = [];
  const send: EventBatchColumns[] = [];
  for (const b of batches) {
    try {
      send.push(eventColumns(b, clock.now()));
      out.push(null);
    } catch (error) {
      if (batches.length === 1) throw error;
      out.push({ ok: false, error });
    }
  }
  let written: { outcomes: WriterOutcome[]; log: LogWritten | null } = { outcomes: [], log: null };
  if (send.length > 0 || log) {
    // The log's rows get the store's clock, as on the main connection.
    const logged = log && { write: log, now: clock.now() };
    written = await writer.insert(ws, send, check, logged).catch((e: unknown) => {
      throw translateError(e);
    });
  } else check?.();
  const { outcomes } = written;
  let k = 0;
  const results = out.map((o): BatchOutcome<EventInsertResult> => {
    if (o) return o;
    const w = outcomes[k++]!;
    if (!w.ok) return { ok: false, error: translateError(workerError(w.error)) };
    const items: InsertStatus[] = new Array(w.inserted.length);
    let accepted = 0;
    for (let i = 0; i < items.length; i++) {
      if (w.inserted[i] === 1) {
        items[i] = "accepted";
        accepted++;
      } else items[i] = "duplicate";
    }
    return { ok: true, value: { accepted, duplicates: items.length - accepted, items } };
  });
  return { outcomes: results, log: written.log };
}
