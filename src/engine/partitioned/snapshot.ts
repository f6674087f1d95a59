/**
 * A worker's snapshot (docs/cluster.md, "Fast restart"): its engine's contacts, events
 * and profile effects, and its maintained memberships and timers, in the engine's
 * snapshot file format (snapshot-io.ts: checksummed, written to a temporary file and
 * renamed into place). One file per worker, named for its place in the layout; a file
 * serves only the worker of the same place in the same layout (which partitions it
 * holds depends on both).
 *
 * Definitions (fields, segments, computed fields), static members, overrides and the
 * event ids seen are not in it: a restart reads them from the store, as one engine's
 * restart does, with what changed since the file (contacts forgotten and loaded again,
 * events appended), and defines the segments between `restore` and
 * `restoreMaintained`, whose saved memberships are taken only where a segment's
 * fingerprint is unchanged, and only for the contacts that did not change.
 */
import { join } from "node:path";
import { sliceVersion } from "../../version.ts";
import type { Engine, EngineState, MaintainedState } from "../engine.ts";
import { SnapshotReader, SnapshotUnusable, SnapshotWriter } from "../snapshot-io.ts";
import type { WorkerLayout } from "./protocol.ts";

/** Raised when what the file holds changes shape. */
const WORKER_SNAPSHOT_FORMAT = 1;

interface WorkerSnapshotHeader {
  format: number;
  slice: string;
  layout: WorkerLayout;
  engine: EngineState;
  maintained: MaintainedState | null;
}

/** The file of worker `layout.worker` in `dir`. */
export function workerSnapshotPath(dir: string, layout: WorkerLayout): string {
  return join(dir, `worker-${layout.worker}-of-${layout.workers}-p${layout.partitions}.snap`);
}

/** Writes `engine` to `path` atomically; answers the file's bytes. */
export function saveWorker(engine: Engine, path: string, layout: WorkerLayout): number {
  const w = new SnapshotWriter();
  const state = engine.saveState(w);
  const header: WorkerSnapshotHeader = {
    format: WORKER_SNAPSHOT_FORMAT,
    slice: sliceVersion(),
    layout,
    engine: state,
    // After the state: reading the memberships brings them to the engine's instant.
    maintained: engine.saveMaintained(w),
  };
  return w.writeTo(path, header);
}

/** A restore begun: the engine holds the file's data; its maintained state waits for the segments. */
export interface WorkerRestore {
  reader: SnapshotReader;
  maintained: MaintainedState | null;
}

/** Loads the file at `path` into `engine`, which holds no contact; throws SnapshotUnusable saying why it cannot. */
export async function restoreWorker(
  engine: Engine,
  path: string,
  layout: WorkerLayout,
): Promise<WorkerRestore> {
  if (engine.contactCount > 0) throw new Error("a restore needs an engine that holds no contact yet");
  const reader = await SnapshotReader.open(path, (h) => {
    const header = h as WorkerSnapshotHeader;
    if (header.format !== WORKER_SNAPSHOT_FORMAT) {
      throw new SnapshotUnusable(`format ${header.format}, this version reads ${WORKER_SNAPSHOT_FORMAT}`);
    }
    if (header.slice !== sliceVersion()) {
      throw new SnapshotUnusable(`written by Slice ${header.slice}, this is ${sliceVersion()}`);
    }
    const l = header.layout;
    if (l.worker !== layout.worker || l.workers !== layout.workers || l.partitions !== layout.partitions) {
      throw new SnapshotUnusable(
        `written by worker ${l.worker} of ${l.workers} over ${l.partitions} partitions, not worker ${layout.worker} of ${layout.workers} over ${layout.partitions}`,
      );
    }
    engine.prepareRestore(header.engine);
  });
  const header = reader.header as WorkerSnapshotHeader;
  engine.restoreState(reader, header.engine);
  return { reader, maintained: header.maintained };
}

/**
 * Takes the file's memberships and timers where they still hold, those of the `touched`
 * contacts (changed since the file) computed again; false when they are left to be
 * rebuilt.
 */
export function restoreWorkerMaintained(
  engine: Engine,
  r: WorkerRestore,
  touched: readonly string[],
): boolean {
  return r.maintained !== null && engine.restoreMaintained(r.reader, r.maintained, touched) !== null;
}
