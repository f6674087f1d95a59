/**
 * The worker side of `WalCheckpointer`: its own connection on the SQLite file, copying
 * the WAL's committed pages back into the database file every few milliseconds with a
 * PASSIVE checkpoint. A PASSIVE checkpoint takes no lock a writer needs and never waits
 * on one (SQLite's WAL mode lets a checkpoint run beside a write transaction), so it
 * runs outside the file's process-wide mutex: the commits it spares are the point.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

interface Data {
  path: string;
  synchronous: "full" | "normal";
  everyMs: number;
}

const { path, synchronous, everyMs } = workerData as Data;
const port = parentPort!;

const db = new Database(path, { fileMustExist: true });
// The checkpoint syncs as its connection is set: the WAL before copying, the database
// file after, so that a WAL restarted after it never drops a page the file lacks.
db.pragma(`synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
// This connection never writes, so it never checkpoints on commit either.
db.pragma("wal_autocheckpoint = 0");

const timer = setInterval(() => {
  try {
    // When every frame is already in the file, SQLite returns without copying or syncing.
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (e) {
    // The writers' own automatic checkpoint (a commit's, at 10,000 pages) still bounds the
    // WAL; the main thread is told once and this thread ends.
    clearInterval(timer);
    port.postMessage({ error: e instanceof Error ? e.message : String(e) });
    db.close();
    port.close();
  }
}, everyMs);

port.on("message", (msg: { close: true }) => {
  if ("close" in msg) {
    clearInterval(timer);
    if (db.open) db.close();
    port.close();
  }
});
port.postMessage({ ready: true });
