/**
 * A workspace's engine built from its store: fields, contacts and events (in bulk where
 * the store reads off this thread, else streamed page by page), segments in dependency
 * order, static members, then every membership and timer computed at the clock's now.
 * Used at open and when a workspace is reloaded after its engine failed to apply a
 * committed write.
 */

import { Engine, type StoredContact } from "../../engine/index.ts";
import type { SegmentKind } from "../../engine/segments.ts";
import { SnapshotUnusable } from "../../engine/snapshot-io.ts";
import type { Clock, EventInput } from "../../engine/types.ts";
import { ComputedDefinition } from "../../rules/computed.ts";
import type { RuleNode } from "../../rules/schema.ts";
import { segmentRefs } from "../../rules/validate.ts";
import { instantRepairs } from "../../store/contact-row.ts";
import type { ContactRecord, CustomField, EventRecord, SegmentRecord, Store } from "../../store/types.ts";
import type { LoggedMembership } from "../reconcile.ts";
import type { SnapshotOwner } from "../snapshot/file.ts";
import { type Restored, restoreFromSnapshot } from "../snapshot/load.ts";
import { loadInBulk } from "../startup-load.ts";

/**
 * The steps of a workspace's start-up load, in order: rows loaded, then `segments`
 * (every membership and timer computed, the change log reconciled; its count is the
 * number of segments).
 */
export type LoadPhase = "snapshot" | "since_snapshot" | "contacts" | "events" | "members" | "segments";

export interface LoadOptions {
  clock: Clock;
  timeZone?: string;
  /** Progress of the load, e.g. for a log line every page. */
  onProgress?: (phase: LoadPhase, rows: number) => void;
  /** Where the load reports stored values it repaired (default: a warning on stderr). */
  warn?: (line: string) => void;
  /** A snapshot file to start from (snapshot/load.ts); when it cannot serve, the load reads the store. */
  snapshot?: { path: string; owner: SnapshotOwner };
}

export interface LoadedEngine {
  engine: Engine;
  /**
   * The change log's membership as the bulk readers computed it while this thread
   * evaluated the segments (awaiting it waits for them); null when the load streamed,
   * and the log is then queried segment by segment.
   */
  logged: Promise<LoggedMembership> | null;
}

export function engineContact(r: ContactRecord): StoredContact {
  // Every key but `updated_at`, so a built-in field added to the table reaches the engine too.
  const { updated_at: _, ...contact } = r;
  return contact;
}

/** A stored event as the engine's bulk load takes it. */
export function engineEvent(r: EventRecord) {
  return { type: r.type, contact_id: r.contact_id, timestamp: r.timestamp, properties: r.properties };
}

/** Segments in an order where each comes after those its rule refers to. */
function dependencyOrder(segments: SegmentRecord[]): SegmentRecord[] {
  const byId = new Map(segments.map((s) => [s.id, s]));
  const out: SegmentRecord[] = [];
  const seen = new Set<string>();
  const visit = (s: SegmentRecord) => {
    if (seen.has(s.id)) return;
    seen.add(s.id);
    if (s.rule)
      for (const ref of segmentRefs(s.rule as unknown as RuleNode)) if (byId.has(ref)) visit(byId.get(ref)!);
    out.push(s);
  };
  for (const s of segments) visit(s);
  return out;
}

/** Builds the workspace's engine from the store, as of `opts.clock.now()`. */
export async function loadEngine(store: Store, ws: string, opts: LoadOptions): Promise<LoadedEngine> {
  const repos = store.workspace(ws);
  const fields = await repos.fields.list();
  const fieldDef = (f: CustomField) => ({
    key: f.key,
    type: f.type,
    ...(f.label ? { label: f.label } : {}),
  });
  const newEngine = () => {
    const e = new Engine({
      clock: opts.clock,
      ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      fields: fields.filter((f) => f.computed === null).map(fieldDef),
    });
    for (const f of fields) {
      if (f.computed !== null) e.defineComputedField(fieldDef(f), ComputedDefinition.parse(f.computed));
    }
    return e;
  };
  const warn = opts.warn ?? ((line: string) => process.emitWarning(line));
  // Instants outside the range writes take are repaired as they are read (contact-row.ts);
  // the count tells whether this load met any (another workspace loading meanwhile may
  // add to it: the line is a notice, not an audit).
  const repairsBefore = instantRepairs.count;
  let engine = newEngine();
  let restored: Restored | null = null;
  if (opts.snapshot) {
    try {
      restored = await restoreFromSnapshot(
        store,
        ws,
        engine,
        opts.snapshot.path,
        opts.snapshot.owner,
        opts.onProgress,
      );
    } catch (e) {
      // The store is the truth: whatever keeps the file from serving, the load reads the store.
      const why = e instanceof SnapshotUnusable ? e.message : `failed: ${String(e)}`;
      if (!(e instanceof SnapshotUnusable && /cannot be opened: ENOENT/.test(e.message))) {
        warn(`workspace ${ws}: snapshot ${opts.snapshot.path} not used (${why}); loading from the store`);
      }
      engine = newEngine();
      restored = null;
    }
  }
  // A SQLite file is read by worker threads while this thread loads (startup-load.ts).
  const bulk = restored === null ? await loadInBulk(store, ws, engine, opts.onProgress) : null;
  try {
    if (bulk === null && restored === null)
      await streamRows(store, ws, engineTarget(engine), opts.onProgress);
    const repaired = instantRepairs.count - repairsBefore;
    if (repaired > 0) {
      warn(
        `workspace ${ws}: ${repaired} stored contact instant(s) outside 0000-01-01 … 9999-12-31 ` +
          "were repaired on load (created_at and updated_at clamped into the range, the others read as null); " +
          "every read answers the repaired values",
      );
    }
    await loadDefinitions(store, ws, engineTarget(engine), opts.onProgress);
    // The segments whose memberships are computed: those the snapshot's state cannot answer, or all.
    const computed = restored?.restoreMaintained() ?? null;
    opts.onProgress?.("segments", computed ?? engine.segmentIds().length);
    // Builds every membership and timer (unless the snapshot's served), then moves them to now.
    engine.advanceTo(opts.clock.now());
  } catch (e) {
    // The readers are still reading the change log: a failed load ends only once they
    // have, so that no reader thread outlives it (nor reads a store its caller closes).
    await bulk?.logged.catch(() => undefined);
    throw e;
  }
  return { engine, logged: restored !== null ? Promise.resolve(restored.logged) : (bulk?.logged ?? null) };
}

/**
 * What a load fills: one engine, or the engine workers (src/engine/partitioned), whose
 * steps are promises. Events are loaded unfinished until `finishLoad`.
 */
export interface LoadTarget {
  loadContacts(rows: StoredContact[]): void | Promise<void>;
  loadEvents(rows: EventInput[]): void | Promise<void>;
  finishLoad(): void | Promise<void>;
  loadSegments(defs: { id: string; kind: SegmentKind; rule?: unknown }[]): void | Promise<void>;
  loadMembers(
    segmentId: string,
    members: { contact_id: string; action: "added" | "removed"; expires_at?: number | null }[],
  ): void | Promise<void>;
}

/** One engine as a load's target. */
function engineTarget(engine: Engine): LoadTarget {
  return {
    loadContacts: (rows) => engine.loadContacts(rows),
    loadEvents: (rows) => engine.loadEvents(rows, { finish: false }),
    finishLoad: () => engine.finishLoad(),
    loadSegments: (defs) => engine.loadSegments(defs),
    loadMembers: (segmentId, members) => engine.loadMembers(segmentId, members),
  };
}

/** Contacts then events, page by page, where the store has no bulk read (and for the engine workers). */
export async function streamRows(
  store: Store,
  ws: string,
  to: LoadTarget,
  onProgress: LoadOptions["onProgress"],
): Promise<void> {
  const repos = store.workspace(ws);
  let n = 0;
  for await (const page of repos.contacts.stream()) {
    await to.loadContacts(page.map(engineContact));
    n += page.length;
    onProgress?.("contacts", n);
  }
  n = 0;
  for await (const page of repos.events.stream()) {
    await to.loadEvents(page.map(engineEvent));
    n += page.length;
    onProgress?.("events", n);
  }
  await to.finishLoad();
}

/** The segments, in dependency order, then the static members and overrides. */
export async function loadDefinitions(
  store: Store,
  ws: string,
  to: LoadTarget,
  onProgress: LoadOptions["onProgress"],
): Promise<void> {
  const repos = store.workspace(ws);
  await to.loadSegments(
    dependencyOrder(await repos.segments.list()).map((s) => ({
      id: s.id,
      kind: s.kind,
      ...(s.kind === "dynamic" ? { rule: s.rule } : {}),
    })),
  );
  let n = 0;
  for await (const page of repos.members.stream()) {
    const bySegment = new Map<string, typeof page>();
    for (const m of page) bySegment.set(m.segment_id, [...(bySegment.get(m.segment_id) ?? []), m]);
    for (const [seg, members] of bySegment) await to.loadMembers(seg, members);
    n += page.length;
    onProgress?.("members", n);
  }
}
