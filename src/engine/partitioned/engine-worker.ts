/**
 * An engine worker: a thread that holds the engine of the partitions assigned to it and
 * answers its coordinator's requests (protocol.ts) one at a time, in order. It is
 * today's engine, unchanged, over the contacts of its partitions.
 */
import { parentPort, workerData } from "node:worker_threads";
import { analyticsPart, labelSamples } from "../analytics-part.ts";
import { contactFacts, engineStats, searchIds } from "../contact-facts.ts";
import { FieldValueError } from "../contact-values.ts";
import { Engine, type RankedQuery, type StoredContact } from "../engine.ts";
import { eventTypes } from "../event-types.ts";
import type { EventInput, Membership, MembershipChange } from "../types.ts";
import { encodeChanges } from "./change-batch.ts";
import { eventsOf, loadEncoded } from "./event-batch.ts";
import { lowestAfter } from "./page.ts";
import type { WorkerData, WorkerError, WorkerReply, WorkerRequest } from "./protocol.ts";
import { candidatesOf } from "./rank-cuts.ts";
import { restoreWorker, restoreWorkerMaintained, saveWorker, type WorkerRestore } from "./snapshot.ts";

const data = workerData as WorkerData;
// The coordinator's clock at the start: an engine begins its maintained state there.
let now = data.now;
const engine = new Engine({ ...data.engine, clock: { now: () => now } });

/** A restore between its file's load and its maintained state's (`restore`, then `restore-maintained`). */
let restoring: WorkerRestore | null = null;

/** Ranked queries from their values round to their evaluation, by the coordinator's number. */
const held = new Map<number, RankedQuery>();

function heldQuery(query: number): RankedQuery {
  const q = held.get(query);
  if (!q) throw new Error(`no ranked query ${query} is held`);
  return q;
}

type Answer = { reply: WorkerReply; transfer?: ArrayBuffer[] };

function ok(r: WorkerRequest, extra: Omit<Extract<WorkerReply, { ok: true }>, "id" | "ok"> = {}): Answer {
  return { reply: { id: r.id, ok: true, ...extra } };
}

function withChanges(r: WorkerRequest, changes: MembershipChange[], ms?: number): Answer {
  const { batch, transfer } = encodeChanges(changes);
  return {
    reply: { id: r.id, ok: true, count: batch.count, changes: batch, ...(ms !== undefined ? { ms } : {}) },
    transfer,
  };
}

/** Events applied one by one, as a stream in time order is (`advance`: the clock moved to each first). */
function applyLive(events: EventInput[], advance: boolean, until: number | null): MembershipChange[] {
  const out: MembershipChange[] = [];
  for (const e of events) {
    if (advance) for (const c of engine.advanceTo(e.timestamp as number)) out.push(c);
    for (const c of engine.addEvent(e)) out.push(c);
  }
  if (until !== null) for (const c of engine.advanceTo(until)) out.push(c);
  return out;
}

/** An override request: checked only (`check`), or applied with its changes. */
function override(r: Extract<WorkerRequest, { op: "override" }>): Answer {
  if (r.check) return ok(r, { ids: engine.checkOverride(r.segment, r.contacts) });
  const opts = r.expiresAt !== undefined ? { expiresAt: r.expiresAt } : {};
  switch (r.mode) {
    case "add":
      return withChanges(r, engine.addMembers(r.segment, r.contacts, opts));
    case "remove":
      return withChanges(r, engine.removeMembers(r.segment, r.contacts, opts));
    case "lift":
      return withChanges(r, engine.liftOverrides(r.segment, r.contacts));
  }
}

function answer(r: WorkerRequest): Answer | Promise<Answer> {
  switch (r.op) {
    case "save":
      return ok(r, { count: saveWorker(engine, r.path, r.layout) });
    case "restore":
      return restoreWorker(engine, r.path, r.layout).then((begun) => {
        restoring = begun;
        return ok(r, { count: engine.contactCount });
      });
    case "restore-maintained": {
      if (!restoring) throw new Error("no restore was begun");
      const taken = restoreWorkerMaintained(engine, restoring, r.touched);
      restoring = null;
      return ok(r, { count: taken ? 1 : 0 });
    }
    case "contacts":
      engine.loadContacts(typeof r.rows === "string" ? (JSON.parse(r.rows) as StoredContact[]) : r.rows);
      return ok(r);
    case "events":
      loadEncoded(engine, r.batch);
      return ok(r);
    case "finish":
      engine.finishLoad({ tight: r.tight });
      return ok(r);
    case "forget":
      if (r.only === "contacts") engine.forgetLoaded(r.ids);
      else engine.forgetLoadedEvents(r.ids);
      return ok(r);
    case "load-members":
      engine.loadMembers(r.segment, r.members);
      return ok(r);
    case "segment":
      return withChanges(
        r,
        engine.defineSegment({ id: r.def.id, kind: r.def.kind, ...(r.def.rule ? { rule: r.def.rule } : {}) }),
      );
    case "segments":
      engine.loadSegments(r.defs);
      return ok(r);
    case "evaluate": {
      const t0 = performance.now();
      let m: Membership;
      if (r.query === undefined) m = engine.evaluate(r.rule, r.at);
      else {
        const q = heldQuery(r.query);
        held.delete(r.query);
        m = q.evaluate(r.cuts ?? []);
      }
      const count = m.count;
      const ms = performance.now() - t0;
      return ok(r, r.ids ? { count, ids: m.ids(), ms } : { count, ms });
    }
    case "drop":
      held.delete(r.query);
      return ok(r);
    case "rank-values": {
      const q = engine.rankedQuery(r.rule, r.at);
      const sizes: [string, number][] = [...q.populations()].map(([key, v]) => [key, v.length]);
      held.set(r.query, q);
      return ok(r, { sizes });
    }
    case "rank-candidates": {
      const pops = heldQuery(r.query).populations();
      const candidates = r.wants.map((w) => candidatesOf(pops.get(w.key) ?? new Float64Array(0), w));
      return {
        reply: { id: r.id, ok: true, candidates },
        transfer: candidates.map((v) => v.buffer as ArrayBuffer),
      };
    }
    case "members": {
      const m = engine.members(r.segment);
      return ok(r, r.ids ? { count: m.count, ids: m.ids() } : { count: m.count });
    }
    case "page":
      return ok(r, { ids: lowestAfter(engine.members(r.segment).ids(), r.after, r.limit) });
    case "upsert":
      return withChanges(
        r,
        r.patch ? engine.patchContact(r.contact, r.options) : engine.upsertContact(r.contact, r.options),
      );
    case "remove":
      return withChanges(r, engine.removeContact(r.contact));
    case "tags":
      return withChanges(r, engine.changeTags(r.contact, { add: r.add, remove: r.remove }));
    case "explain":
      return ok(r, { explain: engine.explain(r.contact, r.rule, r.at) });
    case "segments-of":
      return ok(r, { segments: engine.segmentsOf(r.contact) });
    case "field":
      engine.defineField(r.def);
      return ok(r);
    case "computed-field":
      engine.defineComputedField(r.def, r.computed);
      return ok(r);
    case "drop-computed-field":
      engine.removeComputedField(r.key);
      return ok(r);
    case "computed-values": {
      const read = engine.computedReader(r.at);
      return ok(r, { values: r.contacts.map(read) });
    }
    case "timers":
      return ok(r, { count: engine.timerCount });
    case "facts":
      return ok(r, {
        facts: contactFacts(engine, r.contacts, { computed: r.computed, segments: r.segments }, r.at),
      });
    case "search":
      return ok(r, { ids: searchIds(engine, r.q) });
    case "sizes":
      return ok(r, { counts: r.segments.map((s) => engine.members(s).count) });
    case "stats":
      return ok(r, { stats: engineStats(engine) });
    case "undeclared":
      return ok(r, { count: engine.contacts.undeclared.has(r.key) ? 1 : 0 });
    case "event-types":
      return ok(r, { eventTypes: eventTypes(engine) });
    case "analytics":
      return ok(r, { analytics: analyticsPart(engine, r.req) });
    case "label-samples":
      return ok(r, { samples: labelSamples(engine, r.segment, r.field, r.values, r.at) });
    case "drop-segment":
      engine.removeSegment(r.segment);
      return ok(r);
    case "override":
      return override(r);
    case "overrides":
      return ok(r, { overrides: engine.overrides(r.segment) });
    case "preview-edit":
      return ok(r, engine.previewEdit(r.segment, r.rule));
    case "size":
      return ok(r, { count: engine.contactCount });
    case "advance":
      return withChanges(r, engine.advanceTo(r.to));
    case "ingest": {
      const t0 = performance.now();
      const changes = applyLive(eventsOf(r.batch), r.advance, r.until);
      return withChanges(r, changes, performance.now() - t0);
    }
  }
}

function describe(e: unknown): WorkerError {
  // The message without the `path: ` the error's constructor puts before it.
  if (e instanceof FieldValueError) {
    return { name: e.name, message: e.message.slice(e.path.length + 2), path: e.path };
  }
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

function reply(a: Answer): void {
  parentPort?.postMessage(a.reply, a.transfer ?? []);
}

function failed(r: WorkerRequest, e: unknown): Answer {
  return { reply: { id: r.id, ok: false, error: describe(e) } };
}

/**
 * Requests are answered one at a time, in order. Most answers are synchronous; one that
 * reads a file (`restore`) is not, and the requests that come meanwhile wait behind it
 * in this chain, which is dropped once it has run out.
 */
let tail: Promise<void> | null = null;

function handle(r: WorkerRequest): Promise<void> | undefined {
  now = r.now;
  let a: Answer | Promise<Answer>;
  try {
    a = answer(r);
  } catch (e) {
    a = failed(r, e);
  }
  if (!(a instanceof Promise)) {
    reply(a);
    return undefined;
  }
  return a.then(reply, (e: unknown) => reply(failed(r, e)));
}

function queue(p: Promise<void>): void {
  const t: Promise<void> = p.then(() => {
    if (tail === t) tail = null;
  });
  tail = t;
}

parentPort?.on("message", (r: WorkerRequest) => {
  if (tail) queue(tail.then(() => handle(r)));
  else {
    const p = handle(r);
    if (p) queue(p);
  }
});
