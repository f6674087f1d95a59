/**
 * Start-up from a snapshot: the engine's contacts and events restored from the file
 * (snapshot/file.ts), then what the store got after the file's position applied as a
 * bulk load would: contacts the contact journal names since (rewritten, erased, or
 * whose events a merge moved) reloaded whole from the store, events with a higher
 * sequence appended. The change log's membership is the file's, moved on by the
 * changes logged after its position. Memberships and timers are the file's too, with
 * what the catch-up touched computed again (Engine.restoreMaintained).
 */
import type { Engine } from "../../engine/engine.ts";
import { SnapshotUnusable } from "../../engine/snapshot-io.ts";
import type { Store } from "../../store/types.ts";
import { engineContact, engineEvent } from "../live/load.ts";
import type { LoggedMembership } from "../reconcile.ts";
import { readSnapshot, type SnapshotOwner } from "./file.ts";

/** Progress of a load from a snapshot: contacts restored, then rows applied since. */
export type SnapshotProgress = (phase: "snapshot" | "since_snapshot", rows: number) => void;

/** What a restore answers: the change log's membership, and how to take the file's maintained state. */
export interface Restored {
  logged: LoggedMembership;
  /**
   * Once segments and overrides are loaded: takes memberships and timers from the file,
   * computing only what changed since (Engine.restoreMaintained); answers how many
   * segments were computed again. Null when the file holds none that can serve; the
   * engine then computes every one.
   */
  restoreMaintained(): number | null;
}

/**
 * Restores `engine` (new, holding nothing) from `path` and the store. Throws
 * SnapshotUnusable when the file cannot serve (the caller then loads from the store
 * into a new engine).
 */
export async function restoreFromSnapshot(
  store: Store,
  ws: string,
  engine: Engine,
  path: string,
  owner: SnapshotOwner,
  onProgress?: SnapshotProgress,
): Promise<Restored> {
  // The ids and dictionaries are restored while the arrays are read.
  const { reader, header } = await readSnapshot(path, owner, (h) => engine.prepareRestore(h.engine));
  const repos = store.workspace(ws);
  const at = header.position;
  const mark = await repos.snapshots.lastSnapshot();
  if (mark !== null && mark > at.journal) {
    throw new SnapshotUnusable(
      "a later snapshot was written since: the contacts changed after this one are no longer listed",
    );
  }
  // The change log only grows: a store whose log is behind the file is older than it.
  if ((await repos.snapshots.position()).changes < at.changes) {
    throw new SnapshotUnusable("the store is behind the snapshot (restored from an older backup?)");
  }
  engine.restoreState(reader, header.engine);
  onProgress?.("snapshot", engine.contacts.count);

  const journal = await repos.snapshots.journalAfter(at.journal);
  const moved = new Set<string>(journal.events);
  // The contacts whose data differs from the file's: their memberships are computed again.
  const touched = new Set<string>([...journal.rows, ...journal.erased, ...moved]);
  engine.forgetLoaded(journal.erased);
  engine.forgetLoadedEvents(moved);
  let applied = 0;
  const rewritten = [...new Set([...journal.rows, ...journal.erased])];
  const rows = (await repos.contacts.getMany(rewritten)).filter((r) => r !== null);
  engine.loadContacts(rows.map(engineContact));
  applied += rows.length;
  if (moved.size > 0) {
    engine.loadEvents((await repos.events.ofContacts([...moved])).map(engineEvent), { finish: false });
  }
  for await (const page of repos.events.streamAfter(at.events)) {
    for (const e of page) touched.add(e.contact_id);
    const fresh = moved.size === 0 ? page : page.filter((e) => !moved.has(e.contact_id));
    engine.loadEvents(fresh.map(engineEvent), { finish: false });
    applied += page.length;
    onProgress?.("since_snapshot", applied);
  }
  engine.finishLoad({ tight: false });

  const logged: LoggedMembership = new Map();
  const bits = new Map<string, { words: Uint32Array; unknown: Map<string, boolean> }>();
  for (const m of header.members) {
    bits.set(m.segment, { words: reader.array(m.words, Uint32Array), unknown: new Map() });
  }
  const size = engine.contacts.size;
  for await (const page of repos.changes.streamAfter(at.changes)) {
    for (const c of page) {
      let seg = bits.get(c.segment_id);
      if (seg === undefined) {
        seg = { words: new Uint32Array((size + 31) >>> 5), unknown: new Map() };
        bits.set(c.segment_id, seg);
      }
      const i = engine.contacts.index(c.contact_id);
      if (i === undefined) seg.unknown.set(c.contact_id, c.change === "entered");
      else {
        if (i >>> 5 >= seg.words.length) {
          const grown = new Uint32Array((size + 31) >>> 5);
          grown.set(seg.words);
          seg.words = grown;
        }
        if (c.change === "entered") seg.words[i >>> 5]! |= 1 << (i & 31);
        else seg.words[i >>> 5]! &= ~(1 << (i & 31));
      }
    }
    applied += page.length;
    onProgress?.("since_snapshot", applied);
  }
  for (const [segment, { words, unknown }] of bits) {
    logged.set(segment, {
      words,
      unknown: [...unknown].filter(([, inside]) => inside).map(([id]) => id),
    });
  }
  const maintained = header.maintained;
  return {
    logged,
    restoreMaintained: () =>
      maintained === null ? null : engine.restoreMaintained(reader, maintained, touched),
  };
}
