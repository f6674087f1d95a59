/**
 * Start-up reconciliation of the change log: what separates the membership the log
 * records (per segment, the contacts whose last change by `seq` is `entered`) from the
 * engine's, as the changes to append at the engine's instant.
 */
import { Bitset } from "../engine/bitset.ts";
import type { Engine } from "../engine/engine.ts";
import type { ChangeInput, Store } from "../store/types.ts";

/**
 * Per segment, the logged members: those with an engine index (listed, or as the words
 * of a bitset over the indexes), and the ids of those without one (erased contacts
 * whose exit was never logged).
 */
export type LoggedMembership = Map<
  string,
  ({ indices: Int32Array } | { words: Uint32Array }) & { unknown: string[] }
>;

/**
 * The changes that bring the log to the engine's membership: per segment of the engine,
 * `entered` for each member the log lacks (in engine order), then `exited` for each
 * logged member that is not one (by contact id). `logged` comes from a start-up read;
 * without it the log is queried segment by segment (`loggedMembers`).
 */
export async function missingChanges(
  engine: Engine,
  store: Store,
  ws: string,
  logged: LoggedMembership | null,
): Promise<ChangeInput[]> {
  const at = engine.now;
  const missing: ChangeInput[] = [];
  const ids = engine.contacts.ids;
  for (const id of engine.segmentIds()) {
    const members = engine.members(id);
    if (logged === null) {
      await missingOf(store, ws, id, members.ids(), at, missing);
      continue;
    }
    const log = logged.get(id);
    const size = Math.max(engine.contacts.alive.size, ids.length);
    const inLog = new Bitset(size);
    if (log && "words" in log) inLog.words.set(log.words.subarray(0, inLog.words.length));
    else if (log) for (const i of log.indices) inLog.set(i);
    // The engine's maintained set (`members` answers a bitset); contacts by index, no id lookups.
    const bits = membershipBits(members, engine, size);
    for (const i of bits.clone().andNot(inLog).toArray()) {
      missing.push({ segment_id: id, contact_id: ids[i], change: "entered", at });
    }
    const exited = inLog
      .andNot(bits)
      .toArray()
      .map((i) => ids[i]);
    if (log) exited.push(...log.unknown);
    // By contact id, as the log query lists them.
    exited.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const c of exited) missing.push({ segment_id: id, contact_id: c, change: "exited", at });
  }
  return missing;
}

/** What the changes of `missingOnWorkers` are computed from: the engine workers' memberships. */
export interface MembershipSource {
  segmentIds(): string[];
  /** A segment's members now, in any order. */
  memberIds(segmentId: string): Promise<string[]>;
}

/**
 * `missingChanges` for the engine on worker threads, at `at` (the instant the workers
 * stand at): the log queried segment by segment, the members compared by id.
 */
export async function missingOnWorkers(
  source: MembershipSource,
  at: number,
  store: Store,
  ws: string,
): Promise<ChangeInput[]> {
  const missing: ChangeInput[] = [];
  for (const id of source.segmentIds())
    await missingOf(store, ws, id, await source.memberIds(id), at, missing);
  return missing;
}

/** One segment's missing changes by contact id, its logged members read from the store; appended to `out`. */
async function missingOf(
  store: Store,
  ws: string,
  segmentId: string,
  members: readonly string[],
  at: number,
  out: ChangeInput[],
): Promise<void> {
  const set = new Set<string>();
  let cursor: string | null | undefined;
  do {
    const page = await store
      .workspace(ws)
      .changes.logged(segmentId, { limit: 10_000, ...(cursor ? { cursor } : {}) });
    for (const c of page.data) set.add(c);
    cursor = page.next_cursor;
  } while (cursor);
  for (const c of members) {
    if (!set.delete(c)) out.push({ segment_id: segmentId, contact_id: c, change: "entered", at });
  }
  for (const c of set) out.push({ segment_id: segmentId, contact_id: c, change: "exited", at });
}

/** A segment's members as a bitset of engine indexes with room for `size` (the engine's own, a copy: callers may change it). */
export function membershipBits(m: ReturnType<Engine["members"]>, engine: Engine, size: number): Bitset {
  const bits = (m as { bits?: unknown }).bits;
  if (bits instanceof Bitset) return bits.size === size ? bits : bits.resized(size);
  const out = new Bitset(size);
  for (const c of m.ids()) out.set(engine.contacts.index(c)!);
  return out;
}
