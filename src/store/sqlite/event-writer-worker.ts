/**
 * The worker side of `SqliteEventWriter`: its own connection on the SQLite file, which
 * inserts batches of events in one transaction and commits it (the fsync included),
 * while the main thread goes on with the engine. It only ever runs inside the file's
 * process-wide mutex, held for it by the main thread, so it never waits on the main
 * connection's transactions or they on it.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { writeLog } from "../repos/log-write.ts";
import { ScopedOps } from "../scoped-ops.ts";
import { transactionExecutor } from "./connection.ts";
import { sqliteDialect } from "./dialect.ts";
import {
  COMMIT_VERDICT,
  type EventBatchColumns,
  GATE_ID,
  GATE_VERDICT,
  type LogColumns,
  type LogReply,
  logOfColumns,
  type WriterReply,
  type WriterRequest,
} from "./event-writer.ts";

interface Data {
  path: string;
  synchronous: "full" | "normal";
  gate: SharedArrayBuffer;
}

const { path, synchronous, gate: gateBuffer } = workerData as Data;
const gate = new Int32Array(gateBuffer);
/** Longer than any check could take: past it the transaction is rolled back, not left holding the write lock. */
const GATE_TIMEOUT_MS = 30_000;
const port = parentPort!;

const db = new Database(path, { fileMustExist: true });
// The same settings as the main connection (src/store/sqlite/connection.ts): FULL makes every
// COMMIT fsync the WAL, so what is acknowledged survives a power loss too.
db.pragma("journal_mode = WAL");
db.pragma(`synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
db.pragma("foreign_keys = ON");
db.pragma("busy_timeout = 10000");
db.pragma("cache_size = -65536");
db.pragma("wal_autocheckpoint = 10000");

const insert = db.prepare(
  `INSERT INTO events (workspace_id, idem_key, type, contact_id, ts, properties, received_at)
   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
);

/** The repositories' statements, inside the transactions `handle` opens. */
const tx = transactionExecutor(db);

/** The request's changes and deliveries, by the code the main connection runs (`writeLog`). */
async function writeRequestLog(ws: string, log: LogColumns): Promise<LogReply> {
  const repos = new ScopedOps(tx, sqliteDialect, { now: () => log.now }, ws).workspace(ws);
  const written = await writeLog(repos, logOfColumns(log));
  const seqs = new Float64Array(written.logged.length);
  for (let i = 0; i < seqs.length; i++) seqs[i] = written.logged[i]!.seq;
  return { seqs, queued: written.queued, claimed: written.claimed };
}

function errorOf(e: unknown): { message: string; code?: string } {
  const err = e as { message?: unknown; code?: unknown };
  return {
    message: typeof err?.message === "string" ? err.message : String(e),
    ...(typeof err?.code === "string" ? { code: err.code } : {}),
  };
}

/** One batch: 1 per row inserted, 0 per duplicate key. */
function insertBatch(ws: string, b: EventBatchColumns): Uint8Array {
  const n = b.type.length;
  const inserted = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = insert.run(ws, b.idem[i], b.type[i], b.contact[i], b.ts[i], b.properties[i], b.received[i]);
    inserted[i] = r.changes > 0 ? 1 : 0;
  }
  return inserted;
}

/** Waits for the caller's verdict on request `id`: true to commit. */
function verdict(id: number): boolean {
  const deadline = Date.now() + GATE_TIMEOUT_MS;
  for (;;) {
    const seen = Atomics.load(gate, GATE_ID);
    if (seen === id) return Atomics.load(gate, GATE_VERDICT) === COMMIT_VERDICT;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(gate, GATE_ID, seen, left);
  }
}

async function handle(req: WriterRequest): Promise<WriterReply> {
  const single = req.batches.length === 1;
  try {
    // IMMEDIATE: the write lock at once, so another process's writer makes this wait at
    // BEGIN (busy_timeout) rather than fail halfway through.
    db.exec("BEGIN IMMEDIATE");
    const outcomes: WriterReply["outcomes"] = [];
    for (const b of req.batches) {
      if (single) {
        outcomes.push({ ok: true, inserted: insertBatch(req.ws, b) });
        continue;
      }
      db.exec("SAVEPOINT batch");
      try {
        const inserted = insertBatch(req.ws, b);
        db.exec("RELEASE batch");
        outcomes.push({ ok: true, inserted });
      } catch (e) {
        db.exec("ROLLBACK TO batch");
        db.exec("RELEASE batch");
        outcomes.push({ ok: false, error: errorOf(e) });
      }
    }
    const log = req.log ? await writeRequestLog(req.ws, req.log) : undefined;
    if (req.gated && !verdict(req.id)) {
      db.exec("ROLLBACK");
      return { id: req.id, outcomes: [], error: { message: "the write was refused by its check" } };
    }
    db.exec("COMMIT");
    return { id: req.id, outcomes, ...(log && { log }) };
  } catch (e) {
    if (db.inTransaction) db.exec("ROLLBACK");
    return { id: req.id, outcomes: [], error: errorOf(e) };
  }
}

port.on("message", (msg: WriterRequest | { close: true }) => {
  if ("close" in msg) {
    db.close();
    port.close();
    return;
  }
  // One request at a time: the main thread sends the next only after this one's reply.
  void handle(msg).then((reply) =>
    port.postMessage(reply, [
      ...reply.outcomes.flatMap((o) => (o.ok ? [o.inserted.buffer as ArrayBuffer] : [])),
      ...(reply.log ? [reply.log.seqs.buffer as ArrayBuffer] : []),
    ]),
  );
});
port.postMessage({ ready: true });
