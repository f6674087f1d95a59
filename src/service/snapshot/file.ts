/**
 * A workspace's snapshot file: its engine's contacts and events (Engine.saveState), the
 * store position they reflect, and the change log's membership as of that position, so
 * that a restart reads the file and then only what the store got after it
 * (snapshot/load.ts) instead of every row and the log's whole history. It also holds the
 * engine's maintained memberships and timers, so that a restart computes only what
 * changed since instead of every segment.
 *
 * The log's membership is the engine's minus the changes computed and not logged yet:
 * those are undone, newest first, so the file says what the log says at its position.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Bitset } from "../../engine/bitset.ts";
import type { Engine, EngineState, MaintainedState } from "../../engine/engine.ts";
import {
  type PendingSnapshot,
  SnapshotReader,
  SnapshotUnusable,
  SnapshotWriter,
} from "../../engine/snapshot-io.ts";
import type { ChangeInput, StorePosition } from "../../store/types.ts";
import { sliceVersion } from "../../version.ts";
import { membershipBits } from "../reconcile.ts";

/** Bumped whenever what a snapshot holds, or how the engine reads a stored value, changes. */
export const SNAPSHOT_FORMAT = 3;

/** Which workspace a file is for: its id and creation time (another database's workspace of the same id is another). */
export interface SnapshotOwner {
  id: string;
  created_at: number;
}

export interface SnapshotHeader {
  format: number;
  /** The Slice version that wrote it: another version loads from the store instead. */
  slice: string;
  workspace: SnapshotOwner;
  position: StorePosition;
  written_at: number;
  engine: EngineState;
  /** Per segment, the change log's members at `position.changes`, as a bitset of engine indexes. */
  members: { segment: string; size: number; words: number }[];
  /** The engine's own memberships and timers (null: not built when written), so a restart need not compute them. */
  maintained: MaintainedState | null;
}

export function snapshotOwner(w: { id: string; created_at: number }): SnapshotOwner {
  return { id: w.id, created_at: w.created_at };
}

/** The file of workspace `ws` in `dir`. */
export function snapshotPath(dir: string, ws: string): string {
  return join(dir, `${encodeURIComponent(ws)}.snap`);
}

/**
 * Writes `engine` with its store `position` to a temporary file beside `path`, which
 * `commit` syncs and renames over `path`. `unlogged` are the changes the engine computed
 * that the log does not have at `position`, oldest first.
 */
export function writeSnapshot(
  path: string,
  engine: Engine,
  unlogged: readonly ChangeInput[],
  position: StorePosition,
  owner: SnapshotOwner,
  writtenAt: number,
): PendingSnapshot {
  mkdirSync(dirname(path), { recursive: true });
  const w = new SnapshotWriter();
  const state = engine.saveState(w);
  const size = engine.contacts.size;
  const bySegment = new Map<string, Bitset>();
  for (const id of engine.segmentIds()) bySegment.set(id, membershipBits(engine.members(id), engine, size));
  for (let k = unlogged.length - 1; k >= 0; k--) {
    const c = unlogged[k]!;
    const bits = bySegment.get(c.segment_id);
    const i = engine.contacts.index(c.contact_id);
    if (bits === undefined || i === undefined || i >= size) continue;
    if (c.change === "entered") bits.clear(i);
    else bits.set(i);
  }
  const members = [...bySegment].map(([segment, bits]) => ({ segment, size, words: w.add(bits.words) }));
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT,
    slice: sliceVersion(),
    workspace: owner,
    position,
    written_at: writtenAt,
    engine: state,
    members,
    // After the members above: reading them brought maintained state to its instant.
    maintained: engine.saveMaintained(w),
  };
  return w.writeUnsynced(path, header);
}

/**
 * Reads and checks `path` for `owner`; throws SnapshotUnusable saying why it cannot
 * serve. `whileReading` gets the checked header while the arrays are read.
 */
export async function readSnapshot(
  path: string,
  owner: SnapshotOwner,
  whileReading?: (header: SnapshotHeader) => void,
): Promise<{ reader: SnapshotReader; header: SnapshotHeader }> {
  const reader = await SnapshotReader.open(path, (h) => {
    checkHeader(h as SnapshotHeader, owner);
    whileReading?.(h as SnapshotHeader);
  });
  return { reader, header: reader.header as SnapshotHeader };
}

function checkHeader(header: SnapshotHeader, owner: SnapshotOwner): void {
  if (header.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotUnusable(`format ${header.format}, this version reads ${SNAPSHOT_FORMAT}`);
  }
  if (header.slice !== sliceVersion()) {
    throw new SnapshotUnusable(`written by Slice ${header.slice}, this is ${sliceVersion()}`);
  }
  if (header.workspace.id !== owner.id || header.workspace.created_at !== owner.created_at) {
    throw new SnapshotUnusable("written for another workspace (or another database's workspace of this id)");
  }
}
