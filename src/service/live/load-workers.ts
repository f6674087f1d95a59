/**
 * A workspace's engine on worker threads (src/engine/partitioned), built from its store
 * as `loadEngine` builds one engine: fields, contacts and events streamed page by page
 * to the workers that hold them, segments in dependency order, static members, then
 * every membership and timer computed at the clock's now; and the changes that bring
 * the change log to the workers' memberships (the start-up reconciliation).
 *
 * A segment with a rank or quintile condition is not maintained across workers yet
 * (docs/cluster.md): a workspace that has one is refused here, and stays on one thread.
 */
import type { Engine } from "../../engine/engine.ts";
import { PartitionedEngine } from "../../engine/partitioned/partitioned-engine.ts";
import { ComputedDefinition } from "../../rules/computed.ts";
import type { ChangeInput, CustomField, Store } from "../../store/types.ts";
import { identity } from "../engine-port/workers.ts";
import { missingOnWorkers } from "../reconcile.ts";
import { type LoadOptions, type LoadTarget, loadDefinitions, streamRows } from "./load.ts";

export interface WorkersLoadOptions extends Pick<LoadOptions, "clock" | "timeZone" | "onProgress"> {
  /** Engine worker threads (default: one per core). */
  workers?: number;
  /** Partitions the contacts are split into (default 64). */
  partitions?: number;
  /** An engine without segments given every contact's id, email and external id (the identity lookups). */
  directory?: Engine;
}

export interface LoadedWorkers {
  engine: PartitionedEngine;
  /** The changes that bring the change log to the workers' memberships, at the load's instant. */
  missing: ChangeInput[];
}

/** Starts the workers and loads the workspace into them, as of `opts.clock.now()`; they are stopped if the load fails. */
export async function loadOnWorkers(
  store: Store,
  ws: string,
  opts: WorkersLoadOptions,
): Promise<LoadedWorkers> {
  const repos = store.workspace(ws);
  const fields = await repos.fields.list();
  const fieldDef = (f: CustomField) => ({ key: f.key, type: f.type, ...(f.label ? { label: f.label } : {}) });
  const engine = await PartitionedEngine.start({
    clock: opts.clock,
    ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
    fields: fields.filter((f) => f.computed === null).map(fieldDef),
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.partitions !== undefined ? { partitions: opts.partitions } : {}),
  });
  try {
    for (const f of fields) {
      if (f.computed !== null)
        await engine.defineComputedField(fieldDef(f), ComputedDefinition.parse(f.computed));
    }
    const directory = opts.directory;
    await streamRows(
      store,
      ws,
      directory
        ? ({
            loadContacts: (rows) => {
              directory.loadContacts(rows.map(identity));
              return engine.loadContacts(rows);
            },
            loadEvents: (rows) => engine.loadEvents(rows),
            finishLoad: () => {
              directory.finishLoad();
              return engine.finishLoad();
            },
            loadSegments: (defs) => engine.loadSegments(defs),
            loadMembers: (id, members) => engine.loadMembers(id, members),
          } satisfies LoadTarget)
        : engine,
      opts.onProgress,
    );
    await loadDefinitions(store, ws, engine, opts.onProgress);
    opts.onProgress?.("segments", engine.segmentIds().length);
    const at = opts.clock.now();
    await engine.advanceTo(at);
    const missing = await missingOnWorkers(
      {
        segmentIds: () => engine.segmentIds(),
        memberIds: async (id) => (await engine.members(id, { ids: true })).ids,
      },
      at,
      store,
      ws,
    );
    return { engine, missing };
  } catch (e) {
    await engine.close();
    throw e;
  }
}
