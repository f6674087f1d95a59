/**
 * One write of the change log (`LogWrite`): the changes, the deliveries they start and
 * the lease of due deliveries, through a workspace's repositories bound to a
 * transaction. The same code runs on the main connection and on a SQLite file's writer
 * thread (src/store/sqlite/event-writer-worker.ts), so the two cannot drift apart.
 */
import type { LogWrite, LogWritten } from "../types.ts";
import type { WorkspaceRepos } from "./index.ts";

/** A write of no changes: nothing logged, queued or leased. */
export function nothingWritten(): LogWritten {
  return { logged: [], queued: 0, claimed: [] };
}

export async function writeLog(repos: WorkspaceRepos, w: LogWrite): Promise<LogWritten> {
  if (w.changes.length === 0) return nothingWritten();
  const logged = await repos.changes.append(w.changes);
  const queued = await repos.deliveries.enqueue(
    w.deliveries.map((d) => ({ webhook_id: d.webhook_id, change_seq: logged[d.change]!.seq })),
  );
  const claimed = queued > 0 && w.claim !== null ? await repos.deliveries.claim(w.claim) : [];
  return { logged, queued, claimed };
}
