/**
 * One workspace's engine split over worker threads (docs/cluster.md, "Every core"): the
 * coordinator, on the calling thread, checks each write, routes it by its contact's
 * partition to the worker that runs that partition, and merges the workers' answers.
 * Each worker holds one engine over the contacts of its partitions (engine-worker.ts).
 *
 * Built so far: bulk loads (contacts, events as encoded columns), fields and computed
 * fields (their values read by each contact's worker), segment definitions (dynamic and
 * static) and deletions, live ingest with membership changes, contact writes (upserts,
 * patches, tags, erasures) in the contact's worker, static members and overrides (each
 * worker its share, checked by all before any applies), clock moves, full evaluation
 * (counts and ids) and a rule edit's preview fanned out to every worker, member pages in
 * contact id order merged from every worker (page.ts), explain and `segmentsOf` asked
 * of the contact's worker, and snapshots, one file per worker written and read by all
 * at once (snapshot.ts). A rank or quintile condition compares a contact with the
 * whole population, which no single worker holds: `evaluate` gathers every worker's
 * values and selects the cuts here (a quintile score is one more than the four cuts of
 * its population below the value). Segments maintained with either are refused until
 * moving their cuts as writes arrive is built.
 */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import type { ComputedDefinition } from "../../rules/computed.ts";
import type { FieldDef, FieldRegistry } from "../../rules/fields.ts";
import type { EventNode, RuleNode } from "../../rules/schema.ts";
import { startWorker } from "../../worker-thread.ts";
import { type AnalyticsPart, type AnalyticsPartRequest, mergeAnalyticsParts } from "../analytics-part.ts";
import type { ContactFacts, EngineStats, FactsWanted } from "../contact-facts.ts";
import { FieldValueError } from "../contact-values.ts";
import { checkId } from "../contacts.ts";
import {
  Engine,
  type Override,
  type SegmentDefinition,
  type StoredContact,
  type WriteOptions,
} from "../engine.ts";
import { checkEvent } from "../event-input.ts";
import { type EventTypeInfo, mergeEventTypes } from "../event-types.ts";
import { relativeKeys, relativeNodes } from "../rank.ts";
import type { SegmentKind } from "../segments.ts";
import type { Clock, ContactInput, EventInput, ExplainNode, JsonValue } from "../types.ts";
import { ChangeSet } from "./change-batch.ts";
import { EventBatchEncoder } from "./event-batch.ts";
import { mergePage } from "./page.ts";
import { DEFAULT_PARTITIONS, partitionOf, workerOf } from "./partition.ts";
import type {
  OverrideMode,
  WorkerData,
  WorkerEngineOptions,
  WorkerLayout,
  WorkerReply,
  WorkerRequest,
} from "./protocol.ts";
import { cutsFrom, rankWants } from "./rank-cuts.ts";
import { workerSnapshotPath } from "./snapshot.ts";

export interface PartitionedEngineOptions extends WorkerEngineOptions {
  clock: Clock;
  /** Engine worker threads; default one per core. */
  workers?: number;
  /** Partitions contacts are hashed to; default 64. */
  partitions?: number;
  /** Events per batch shipped to a worker; default 65,536. */
  batchEvents?: number;
  /** Contacts per batch shipped to a worker; default 10,000. */
  batchContacts?: number;
}

/** What shipping writes to the workers cost the coordinator's thread. */
export interface ShippingFigures {
  events: number;
  eventBatches: number;
  /** Checking, encoding and posting events, in ms (sampled: `SampledMeter`). */
  eventMs: number;
  contacts: number;
  /** Checking, routing, encoding (JSON) and posting contacts, in ms. */
  contactMs: number;
}

/** A set of contacts the workers answered: its size, and its ids worker by worker. */
export interface PartitionedMembership {
  readonly count: number;
  readonly ids: string[];
  /** Each worker's time in its engine for the last round, in ms (where a query's time goes). */
  readonly workerMs: number[];
}

type Body = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, "id" | "now"> : never) : never;

/** One worker and the replies it owes. */
class WorkerLink {
  private next = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }
  >();
  private failure: Error | null = null;

  constructor(
    readonly index: number,
    private readonly worker: Worker,
    private readonly clock: Clock,
  ) {
    worker.on("message", (r: WorkerReply) => {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      w?.resolve(r);
    });
    worker.on("error", (e) => this.fail(new Error(`engine worker ${index} failed: ${e.message}`)));
    worker.on("exit", (code) => this.fail(new Error(`engine worker ${index} stopped (exit code ${code})`)));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }

  request(body: Body, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id, now: this.clock.now() } as WorkerRequest, transfer);
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error(`engine worker ${this.index} closed`);
    await this.worker.terminate();
  }
}

/** The reply's error as the worker's engine threw it, or the reply. */
function settled(r: WorkerReply): Extract<WorkerReply, { ok: true }> {
  if (r.ok) return r;
  if (r.error.path !== undefined) throw new FieldValueError(r.error.path, r.error.message);
  const e = new Error(r.error.message);
  e.name = r.error.name;
  throw e;
}

async function all(pending: Promise<WorkerReply>[]): Promise<Extract<WorkerReply, { ok: true }>[]> {
  return (await Promise.all(pending)).map(settled);
}

/** What the engine workers do not do yet (a workspace that needs it runs on one thread). */
export class NotOnWorkers extends FieldValueError {
  constructor(message: string) {
    super("rule", message);
    this.name = "NotOnWorkers";
  }
}

export class PartitionedEngine {
  /** An engine without contacts: what rules are checked against (fields, segments). */
  private readonly local: Engine;
  private readonly eventIds = new Set<string>();
  /** Numbers the ranked queries the workers hold from their values round to their evaluation. */
  private rankedQueries = 0;
  private readonly timeZone: string;
  private readonly batchEvents: number;
  private readonly batchContacts: number;
  readonly shipping: ShippingFigures = { events: 0, eventBatches: 0, eventMs: 0, contacts: 0, contactMs: 0 };

  private constructor(
    private readonly links: WorkerLink[],
    readonly partitions: number,
    private readonly clock: Clock,
    opts: PartitionedEngineOptions,
  ) {
    this.local = new Engine({ ...engineOptions(opts), clock });
    this.timeZone = this.local.timeZone;
    this.batchEvents = opts.batchEvents ?? 65_536;
    this.batchContacts = opts.batchContacts ?? 10_000;
  }

  /** Starts the workers (each with an empty engine); answers once every one runs. */
  static async start(opts: PartitionedEngineOptions): Promise<PartitionedEngine> {
    const count = opts.workers ?? availableParallelism();
    const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`workers: expected a whole number ≥ 1, got ${count}`);
    if (!Number.isInteger(partitions) || partitions < count) {
      throw new Error(`partitions: expected a whole number ≥ the workers (${count}), got ${partitions}`);
    }
    const entry = new URL("./engine-worker.ts", import.meta.url);
    const workers = Array.from({ length: count }, () =>
      startWorker(entry, { engine: engineOptions(opts), now: opts.clock.now() } satisfies WorkerData),
    );
    try {
      await Promise.all(
        workers.map(
          (w, i) =>
            new Promise<void>((resolve, reject) => {
              w.once("online", resolve);
              w.once("error", (e) => reject(new Error(`engine worker ${i} could not start: ${e.message}`)));
            }),
        ),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    const links = workers.map((w, i) => new WorkerLink(i, w, opts.clock));
    return new PartitionedEngine(links, partitions, opts.clock, opts);
  }

  get workers(): number {
    return this.links.length;
  }

  /** The worker that holds contact `id`. */
  workerOfContact(id: string): number {
    return workerOf(partitionOf(id, this.partitions), this.links.length);
  }

  /** Checks a rule as `Engine.validate` does. */
  validate(rule: unknown, selfId?: string): RuleNode {
    return this.local.validate(rule, selfId);
  }

  /** A segment's rule: no rank or quintile condition, whose membership no worker can maintain alone. */
  private segmentRule(rule: unknown, id: string): RuleNode {
    const node = this.validate(rule, id);
    if (relativeKeys(node).size > 0) {
      throw new NotOnWorkers(
        "a segment with a rank or quintile condition is not maintained across engine workers yet",
      );
    }
    return node;
  }

  /**
   * Bulk load of contacts, each to the worker of its partition; `finishLoad` ends the
   * load. A batch travels as one JSON text: copying a string between threads is a
   * memcpy, where structured-cloning the objects took 7.5 µs per contact on this
   * thread, and the parsing runs on the worker's.
   */
  async loadContacts(it: Iterable<StoredContact>): Promise<void> {
    const pending: Promise<WorkerReply>[] = [];
    const rows: StoredContact[][] = this.links.map(() => []);
    // JSON would turn a NaN or an infinity into null, which the engine reads as "not
    // set" where it refuses the number: such a batch is structured-cloned instead.
    const exact = this.links.map(() => true);
    const meter = new SampledMeter();
    const ship = (w: number) => {
      const t0 = performance.now();
      const batch = exact[w] ? JSON.stringify(rows[w]) : rows[w];
      pending.push(this.links[w].request({ op: "contacts", rows: batch }));
      rows[w] = [];
      exact[w] = true;
      meter.whole(performance.now() - t0);
    };
    for (const c of it) {
      const t0 = meter.start();
      checkId(c.id);
      const w = this.workerOfContact(c.id);
      rows[w].push(c);
      if (exact[w] && !jsonExact(c)) exact[w] = false;
      meter.stop(t0);
      this.shipping.contacts++;
      if (rows[w].length === this.batchContacts) ship(w);
    }
    for (let w = 0; w < rows.length; w++) if (rows[w].length > 0) ship(w);
    this.shipping.contactMs += meter.ms();
    await all(pending);
  }

  /**
   * Bulk load of events in any order, each to the worker of its contact's partition,
   * checked here as `Engine.loadEvents` checks them (an id already seen is skipped);
   * `finishLoad` ends the load. At a bad event the events before it are kept, as one
   * engine keeps them: shipped and applied before the error is thrown.
   */
  async loadEvents(it: Iterable<EventInput>): Promise<void> {
    const pending: Promise<WorkerReply>[] = [];
    const encoders = this.links.map(() => new EventBatchEncoder(this.batchEvents));
    const meter = new SampledMeter();
    const ship = (w: number) => {
      const t0 = performance.now();
      const { batch, transfer } = encoders[w].take();
      pending.push(this.links[w].request({ op: "events", batch }, transfer));
      this.shipping.eventBatches++;
      meter.whole(performance.now() - t0);
    };
    let bad: { error: unknown } | null = null;
    try {
      this.route(it, encoders, meter, ship);
    } catch (error) {
      bad = { error };
    }
    for (let w = 0; w < encoders.length; w++) if (encoders[w].size > 0) ship(w);
    this.shipping.eventMs += meter.ms();
    await all(pending);
    if (bad) throw bad.error;
  }

  /**
   * Checks each event as `Engine` checks it, skips an id already seen, and adds the event
   * to the batch of its contact's worker, calling `ship(w)` when that batch is full.
   * Answers the latest instant added (-Infinity when none).
   */
  private route(
    events: Iterable<EventInput>,
    encoders: EventBatchEncoder[],
    meter: SampledMeter,
    ship: (w: number) => void,
  ): number {
    let last = Number.NEGATIVE_INFINITY;
    for (const e of events) {
      const t0 = meter.start();
      const t = checkEvent(e, this.timeZone);
      if (e.id !== undefined) {
        if (this.eventIds.has(e.id)) continue;
        this.eventIds.add(e.id);
      }
      if (t > last) last = t;
      const w = this.workerOfContact(e.contact_id);
      encoders[w].add(e, t);
      meter.stop(t0);
      this.shipping.events++;
      if (encoders[w].full) ship(w);
    }
    return last;
  }

  /** Ends a bulk load in every worker (events sorted and laid out). */
  async finishLoad(opts: { tight?: boolean } = {}): Promise<void> {
    const tight = opts.tight ?? true;
    await all(this.links.map((l) => l.request({ op: "finish", tight })));
  }

  /**
   * Bulk load: drops these contacts, as `Engine.forgetLoaded` (erased, merged or
   * rewritten since a snapshot), or with `only: "events"` only their events
   * (`Engine.forgetLoadedEvents`), each in its worker. No changes.
   */
  async forgetLoaded(ids: Iterable<string>, opts: { only?: "contacts" | "events" } = {}): Promise<void> {
    const only = opts.only ?? "contacts";
    const shares = this.byWorker(ids);
    await all(this.links.map((l, w) => l.request({ op: "forget", ids: shares[w], only })));
  }

  /** Bulk load of a segment's static members and overrides, each in its contact's worker, as `Engine.loadMembers`. */
  async loadMembers(
    segmentId: string,
    members: { contact_id: string; action: "added" | "removed"; expires_at?: number | null }[],
  ): Promise<void> {
    const shares: (typeof members)[] = this.links.map(() => []);
    for (const m of members) shares[this.workerOfContact(m.contact_id)].push(m);
    await all(
      this.links.map((l, w) => l.request({ op: "load-members", segment: segmentId, members: shares[w] })),
    );
  }

  /** Contact ids split by the worker that holds them. */
  private byWorker(ids: Iterable<string>): string[][] {
    const shares: string[][] = this.links.map(() => []);
    for (const id of ids) shares[this.workerOfContact(id)].push(id);
    return shares;
  }

  /**
   * Defines (or redefines) a segment in every worker, dynamic (with its rule) or static;
   * the changes, as `Engine.defineSegment`'s.
   */
  async defineSegment(def: { id: string; rule?: unknown; kind?: SegmentKind }): Promise<ChangeSet> {
    const kind = def.kind ?? "dynamic";
    const rule = kind === "dynamic" ? this.segmentRule(def.rule, def.id) : null;
    // Checked here as one engine checks it (a static segment given a rule, a kind changed).
    this.local.defineSegment({
      id: def.id,
      kind,
      ...(rule ? { rule } : def.rule !== undefined ? { rule: def.rule } : {}),
    });
    return changesOf(
      await all(this.links.map((l) => l.request({ op: "segment", def: { id: def.id, rule, kind } }))),
    );
  }

  /**
   * Bulk definition of segments, as `Engine.loadSegments`: no changes; every worker
   * builds their membership on its next move of the clock (`advanceTo`).
   */
  async loadSegments(defs: { id: string; rule?: unknown; kind?: SegmentKind }[]): Promise<void> {
    // One by one, as the engine checks them: a definition may refer to one before it.
    const checked = defs.map((d) => {
      const kind = d.kind ?? "dynamic";
      const def = { id: d.id, kind, rule: kind === "dynamic" ? this.segmentRule(d.rule, d.id) : null };
      this.local.loadSegments([def]);
      return def;
    });
    await all(this.links.map((l) => l.request({ op: "segments", defs: checked })));
  }

  /** Maintained membership of every worker moved to instant `t`; the changes, worker by worker. */
  async advanceTo(t: number): Promise<ChangeSet> {
    return changesOf(await all(this.links.map((l) => l.request({ op: "advance", to: t }))));
  }

  /**
   * Applies events as they come (`Engine.addEvent` in each worker, the clock moved to
   * each event's instant first with `advance`, for a stream in time order), checked and
   * deduplicated by id here; then, with `advance`, every worker is moved to the last
   * event's instant, so all stand at one instant. The changes, worker by worker, each
   * worker's in the order its engine made them. Calls may overlap: each worker applies
   * them in the order they were made.
   */
  ingest(events: Iterable<EventInput>, opts: { advance?: boolean } = {}): Promise<ChangeSet> {
    const advance = opts.advance ?? false;
    const pending: Promise<WorkerReply>[] = [];
    const encoders = this.links.map(() => new EventBatchEncoder(this.batchEvents));
    const meter = new SampledMeter();
    const ship = (w: number, until: number | null) => {
      const t0 = performance.now();
      const { batch, transfer } = encoders[w].take();
      pending.push(this.links[w].request({ op: "ingest", batch, advance, until }, transfer));
      this.shipping.eventBatches++;
      meter.whole(performance.now() - t0);
    };
    let last: number;
    try {
      last = this.route(events, encoders, meter, (w) => ship(w, null));
    } catch (e) {
      // What was checked before the bad event is applied, as one engine would have.
      for (let w = 0; w < encoders.length; w++) if (encoders[w].size > 0) ship(w, null);
      this.shipping.eventMs += meter.ms();
      return Promise.all(pending).then(() => Promise.reject(e));
    }
    const until = advance && last > Number.NEGATIVE_INFINITY ? last : null;
    for (let w = 0; w < encoders.length; w++) if (encoders[w].size > 0 || until !== null) ship(w, until);
    this.shipping.eventMs += meter.ms();
    return all(pending).then(changesOf);
  }

  /** A segment's maintained members, over every worker. */
  async members(segmentId: string, opts: { ids?: boolean } = {}): Promise<PartitionedMembership> {
    const wantIds = opts.ids ?? true;
    const replies = await all(
      this.links.map((l) => l.request({ op: "members", segment: segmentId, ids: wantIds })),
    );
    return merged(replies);
  }

  /**
   * A page of a segment's maintained members in contact id order: the first `limit`
   * with an id after `after` (none: from the start), and the cursor of the next page
   * (the page's last id) when more follow. Each worker answers its lowest `limit + 1`
   * after the cursor and they are merged here, so a cursor holds across writes: a page
   * after it has the members after it at the time of that page's request.
   */
  async membersPage(
    segmentId: string,
    opts: { after?: string; limit: number },
  ): Promise<{ ids: string[]; next: string | null }> {
    if (!Number.isInteger(opts.limit) || opts.limit < 1)
      throw new FieldValueError("limit", `expected a whole number ≥ 1, got ${opts.limit}`);
    const replies = await all(
      this.links.map((l) =>
        l.request({ op: "page", segment: segmentId, after: opts.after ?? "", limit: opts.limit + 1 }),
      ),
    );
    return mergePage(
      replies.map((r) => r.ids ?? []),
      opts.limit,
    );
  }

  /** Writes a contact in its partition's worker, as `Engine.upsertContact` (or `patchContact` with `patch`); its changes. */
  async upsertContact(c: ContactInput, opts: WriteOptions & { patch?: boolean } = {}): Promise<ChangeSet> {
    checkId(c.id);
    const { patch = false, ...options } = opts;
    const reply = await this.requestFor(c.id, { op: "upsert", contact: c, options, patch });
    return changesOf([reply]);
  }

  /** Erases a contact, as `Engine.removeContact`; its changes (its exits). */
  async removeContact(id: string): Promise<ChangeSet> {
    return changesOf([await this.requestFor(id, { op: "remove", contact: id })]);
  }

  /** Adds and removes tags of a contact, as `Engine.changeTags`; its changes. */
  async changeTags(id: string, change: { add?: string[]; remove?: string[] }): Promise<ChangeSet> {
    const body: Body = { op: "tags", contact: id, add: change.add ?? [], remove: change.remove ?? [] };
    return changesOf([await this.requestFor(id, body)]);
  }

  /**
   * Why a contact matches a rule or segment at `at` (default now), as `Engine.explain`,
   * asked of the worker that holds it. A rank or quintile condition compares the contact
   * with every worker's, which one worker cannot: refused, as for segments.
   */
  async explain(contactId: string, ruleOrSegmentId: unknown, at?: number): Promise<ExplainNode> {
    const rule = typeof ruleOrSegmentId === "string" ? ruleOrSegmentId : this.validate(ruleOrSegmentId);
    if (typeof rule !== "string" && relativeKeys(rule).size > 0) {
      throw new FieldValueError(
        "rule",
        "explaining a rank or quintile condition across engine workers is not built yet",
      );
    }
    const when = at ?? this.clock.now();
    const reply = await this.requestFor(contactId, { op: "explain", contact: contactId, rule, at: when });
    return reply.explain as ExplainNode;
  }

  /** The segments a contact is a maintained member of, as `Engine.segmentsOf`. */
  async segmentsOf(contactId: string): Promise<string[]> {
    return (await this.requestFor(contactId, { op: "segments-of", contact: contactId })).segments ?? [];
  }

  // Definitions, answered by the coordinator's engine without contacts, which holds every
  // field and segment the workers hold: no round trip.

  /** The fields rules and contacts are checked against, as `Engine.fields`. */
  get fields(): FieldRegistry {
    return this.local.fields;
  }

  /** A segment's definition, as `Engine.segment`. */
  segment(id: string): SegmentDefinition | undefined {
    return this.local.segment(id);
  }

  segmentIds(): string[] {
    return this.local.segmentIds();
  }

  /** The segments that refer to segment `id`, as `Engine.usesOf`. */
  usesOf(id: string): string[] {
    return this.local.usesOf(id);
  }

  /** The segments whose rules test field `key`, as `Engine.fieldUses`. */
  fieldUses(key: string): string[] {
    return this.local.fieldUses(key);
  }

  computedFields(): ReadonlyMap<string, ComputedDefinition> {
    return this.local.computedFields();
  }

  /** Declares a computed field in every worker, as `Engine.defineComputedField` (checked here first). */
  async defineComputedField(def: FieldDef, computed: ComputedDefinition): Promise<void> {
    this.local.defineComputedField(def, computed);
    await all(this.links.map((l) => l.request({ op: "computed-field", def, computed })));
  }

  /** Removes a computed field in every worker, as `Engine.removeComputedField` (refused here first). */
  async removeComputedField(key: string): Promise<void> {
    this.local.removeComputedField(key);
    await all(this.links.map((l) => l.request({ op: "drop-computed-field", key })));
  }

  /**
   * The computed fields' values of each contact at `at` (default now), in the order
   * given, as `Engine.computedReader` reads them (`{}` for a contact not held): each
   * worker reads its own contacts, for a page or an export at a time.
   */
  computedValues(contactIds: string[], at?: number): Promise<Record<string, JsonValue>[]> {
    const when = at ?? this.clock.now();
    return this.perContact(
      contactIds,
      (contacts) => ({ op: "computed-values", contacts, at: when }),
      (r) => r.values,
    );
  }

  /**
   * What the engine knows of each contact (contact-facts.ts), in the order given, the
   * computed values read at `at` (default now) by every worker.
   */
  facts(contactIds: readonly string[], opts: FactsWanted, at?: number): Promise<ContactFacts[]> {
    const when = at ?? this.clock.now();
    return this.perContact(
      contactIds,
      (contacts) => ({ op: "facts", contacts, at: when, ...opts }),
      (r) => r.facts,
    );
  }

  /**
   * One answer per contact, in the order given: each worker asked (`body`) about its
   * own contacts at once, every worker asked even with none, so that each answers at
   * the same point of the writes sent to it.
   */
  private async perContact<T>(
    contactIds: readonly string[],
    body: (contacts: string[]) => Body,
    read: (r: Extract<WorkerReply, { ok: true }>) => T[] | undefined,
  ): Promise<T[]> {
    const shares: number[][] = this.links.map(() => []);
    contactIds.forEach((id, k) => {
      shares[this.workerOfContact(id)].push(k);
    });
    const replies = await all(this.links.map((l, w) => l.request(body(shares[w].map((k) => contactIds[k])))));
    const out: T[] = new Array(contactIds.length);
    replies.forEach((r, w) => {
      const answers = read(r) ?? [];
      shares[w].forEach((k, j) => {
        out[k] = answers[j] as T;
      });
    });
    return out;
  }

  /** Ids of the contacts a search text matches, over every worker, in no given order. */
  async search(q: string): Promise<string[]> {
    return (await all(this.links.map((l) => l.request({ op: "search", q })))).flatMap((r) => r.ids ?? []);
  }

  /** The sizes of these segments' maintained memberships, in their order, summed over the workers. */
  async sizes(segmentIds: readonly string[]): Promise<number[]> {
    const segments = [...segmentIds];
    const replies = await all(this.links.map((l) => l.request({ op: "sizes", segments })));
    return segments.map((_, k) => replies.reduce((n, r) => n + (r.counts?.[k] ?? 0), 0));
  }

  /** Contacts, events and timers held, summed over the workers. */
  async stats(): Promise<EngineStats> {
    const replies = await all(this.links.map((l) => l.request({ op: "stats" })));
    const sum = (key: keyof EngineStats) => replies.reduce((n, r) => n + (r.stats?.[key] ?? 0), 0);
    return { contacts: sum("contacts"), events: sum("events"), timers: sum("timers") };
  }

  /** Whether any worker's contacts hold values under `key` that no field declares. */
  async holdsUndeclared(key: string): Promise<boolean> {
    return counted(await all(this.links.map((l) => l.request({ op: "undeclared", key })))) > 0;
  }

  /** Whether contacts hold values of this field: a stored field, built-in or custom (not a computed one). */
  storesField(key: string): boolean {
    return this.local.contacts.columns.has(key);
  }

  /** A segment's analytics part (analytics-part.ts) over every worker, added up. */
  async analyticsPart(req: AnalyticsPartRequest): Promise<AnalyticsPart> {
    const replies = await all(this.links.map((l) => l.request({ op: "analytics", req })));
    return mergeAnalyticsParts(replies.map((r) => r.analytics!));
  }

  /** Members' ids per value of a text field, every worker's samples together (`labelSamples`). */
  async labelSamples(
    segmentId: string,
    field: string,
    values: readonly string[],
    at?: number,
  ): Promise<[string, string[]][]> {
    const body: Body = {
      op: "label-samples",
      segment: segmentId,
      field,
      values: [...values],
      at: at ?? this.clock.now(),
    };
    const replies = await all(this.links.map((l) => l.request(body)));
    const byValue = new Map<string, string[]>();
    for (const r of replies) {
      for (const [v, ids] of r.samples ?? []) {
        const list = byValue.get(v);
        if (list) list.push(...ids);
        else byValue.set(v, [...ids]);
      }
    }
    return [...byValue];
  }

  /** The event types held, as one engine holding every worker's events answers them. */
  async eventTypes(): Promise<EventTypeInfo[]> {
    const replies = await all(this.links.map((l) => l.request({ op: "event-types" })));
    return mergeEventTypes(replies.map((r) => r.eventTypes ?? []));
  }

  /** Pending time-driven re-evaluations over every worker, as `Engine.timerCount`. */
  async timerCount(): Promise<number> {
    return counted(await all(this.links.map((l) => l.request({ op: "timers" }))));
  }

  /** Declares a custom field in every worker, as `Engine.defineField` (checked here first). */
  async defineField(def: FieldDef): Promise<void> {
    this.local.defineField(def);
    await all(this.links.map((l) => l.request({ op: "field", def })));
  }

  /** Deletes a segment in every worker, as `Engine.removeSegment` (refused here first). */
  async removeSegment(id: string): Promise<void> {
    this.local.removeSegment(id);
    await all(this.links.map((l) => l.request({ op: "drop-segment", segment: id })));
  }

  /**
   * Members added to a static segment, or "always in" overrides of a dynamic one, as
   * `Engine.addMembers`; `removeMembers` and `liftOverrides` likewise. Each worker gets
   * its share of the contacts; every worker first checks its share (each contact known,
   * the segment editable), so the call is taken whole or refused whole, as on one engine.
   * The service makes its writes one at a time: nothing comes between the two rounds.
   */
  addMembers(segmentId: string, contactIds: string[], opts: { expiresAt?: number } = {}): Promise<ChangeSet> {
    return this.override("add", segmentId, contactIds, opts.expiresAt);
  }

  removeMembers(
    segmentId: string,
    contactIds: string[],
    opts: { expiresAt?: number } = {},
  ): Promise<ChangeSet> {
    return this.override("remove", segmentId, contactIds, opts.expiresAt);
  }

  liftOverrides(segmentId: string, contactIds: string[]): Promise<ChangeSet> {
    return this.override("lift", segmentId, contactIds, undefined);
  }

  private async override(
    mode: OverrideMode,
    segment: string,
    contactIds: string[],
    expiresAt: number | undefined,
  ): Promise<ChangeSet> {
    if (expiresAt !== undefined && !Number.isFinite(expiresAt)) {
      throw new FieldValueError("expires_at", "expected an instant");
    }
    const shares = this.byWorker(contactIds);
    const body = (w: number, check: boolean): Body => ({
      op: "override",
      mode,
      segment,
      contacts: shares[w],
      check,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    });
    // As one engine checks: the segment first, then the first unknown contact as listed.
    const checked = await all(this.links.map((l, w) => l.request(body(w, true))));
    const unknown = new Set(checked.flatMap((r) => r.ids ?? []));
    const first = contactIds.find((id) => unknown.has(id));
    if (first !== undefined) throw new Error(`unknown contact "${first}"`);
    return changesOf(await all(this.links.map((l, w) => l.request(body(w, false)))));
  }

  /** A segment's overrides (or a static segment's members) still in force, over every worker. */
  async overrides(segmentId: string): Promise<Override[]> {
    const replies = await all(this.links.map((l) => l.request({ op: "overrides", segment: segmentId })));
    return replies.flatMap((r) => r.overrides ?? []);
  }

  /**
   * Who would enter and who would leave if a segment's rule were replaced, as
   * `Engine.previewEdit`, over every worker (nothing is saved). A rule with a rank or
   * quintile condition is refused, as for segments.
   */
  async previewEdit(segmentId: string, rule: unknown): Promise<{ entered: string[]; exited: string[] }> {
    // The coordinator's engine holds no contact: its preview is empty, and refuses what one engine refuses.
    this.local.previewEdit(segmentId, rule);
    const node = this.segmentRule(rule, segmentId);
    const replies = await all(
      this.links.map((l) => l.request({ op: "preview-edit", segment: segmentId, rule: node })),
    );
    return {
      entered: replies.flatMap((r) => r.entered ?? []),
      exited: replies.flatMap((r) => r.exited ?? []),
    };
  }

  /** A request to the worker that holds contact `id`, settled. */
  private async requestFor(id: string, body: Body): Promise<Extract<WorkerReply, { ok: true }>> {
    return settled(await this.links[this.workerOfContact(id)].request(body));
  }

  /** Contacts held, over every worker. */
  async contactCount(): Promise<number> {
    return counted(await all(this.links.map((l) => l.request({ op: "size" }))));
  }

  /**
   * The contacts matching a rule (or a segment id) at `at` (default now), computed from
   * scratch by every worker at once; `ids: false` answers the count alone.
   */
  async evaluate(rule: unknown, at?: number, opts: { ids?: boolean } = {}): Promise<PartitionedMembership> {
    const node = typeof rule === "string" ? rule : this.validate(rule);
    if (typeof node === "string" && !this.local.segmentIds().includes(node)) {
      throw new FieldValueError("segment", `unknown segment ${JSON.stringify(node)}`);
    }
    const when = at ?? this.clock.now();
    const wantIds = opts.ids ?? true;
    const relative = typeof node === "string" ? [] : relativeNodes(node);
    if (typeof node === "string" || relative.length === 0) {
      return merged(
        await all(this.links.map((l) => l.request({ op: "evaluate", rule: node, at: when, ids: wantIds }))),
      );
    }
    const query = ++this.rankedQueries;
    let cuts: [string, number][];
    try {
      cuts = await this.rankCuts(node, relative, when, query);
    } catch (e) {
      // The workers that answered hold the query: let it go.
      await Promise.allSettled(this.links.map((l) => l.request({ op: "drop", query })));
      throw e;
    }
    return merged(
      await all(
        this.links.map((l) => l.request({ op: "evaluate", rule: node, at: when, ids: wantIds, query, cuts })),
      ),
    );
  }

  /**
   * The cuts of each rank and quintile condition of `rule` over every worker's contacts
   * (rank-cuts.ts): every worker computes its values at once, in parallel, and keeps
   * them for the query's evaluation; the cuts are selected here over the values they
   * send, as one engine selects them over its own.
   */
  private async rankCuts(
    rule: RuleNode,
    relative: EventNode[],
    at: number,
    query: number,
  ): Promise<[string, number][]> {
    const sized = await all(this.links.map((l) => l.request({ op: "rank-values", rule, at, query })));
    const totals = new Map<string, number>();
    for (const r of sized) for (const [key, n] of r.sizes ?? []) totals.set(key, (totals.get(key) ?? 0) + n);
    const wants = rankWants(relative, totals);
    const sent = await all(this.links.map((l) => l.request({ op: "rank-candidates", query, wants })));
    return cutsFrom(
      relative,
      totals,
      wants,
      sent.map((r) => r.candidates ?? []),
    );
  }

  /** Worker `w`'s place in this engine's layout. */
  private layout(w: number): WorkerLayout {
    return { worker: w, workers: this.links.length, partitions: this.partitions };
  }

  /**
   * Every worker writes its engine to a file of its own in `dir` (snapshot.ts), at once;
   * answers the files' bytes in all. Calls made meanwhile wait for the writes.
   */
  async saveSnapshot(dir: string): Promise<number> {
    mkdirSync(dir, { recursive: true });
    const replies = await all(
      this.links.map((l, w) =>
        l.request({ op: "save", path: workerSnapshotPath(dir, this.layout(w)), layout: this.layout(w) }),
      ),
    );
    return counted(replies);
  }

  /**
   * Loads every worker, holding no contact yet, from its file in `dir` written by an
   * engine of the same layout (workers and partitions); answers the contacts loaded.
   * Rejects with a `SnapshotUnusable` error naming the file's fault (missing, corrupt,
   * another layout or version): the caller then loads from the store instead. Then
   * load what changed since the file (`forgetLoaded`, `loadContacts`, `loadEvents`,
   * `finishLoad({ tight: false })`), define the segments again (`loadSegments`) and
   * call `restoreMaintained` with the contacts that changed.
   */
  async restoreSnapshot(dir: string): Promise<number> {
    const replies = await all(
      this.links.map((l, w) =>
        l.request({ op: "restore", path: workerSnapshotPath(dir, this.layout(w)), layout: this.layout(w) }),
      ),
    );
    return counted(replies);
  }

  /**
   * Ends a restore: each worker takes its file's memberships and timers for the segments
   * whose definition did not change, but for the `touched` contacts (those the catch-up
   * after the file changed), and leaves the rest to be rebuilt on next use.
   * True when every worker took them.
   */
  async restoreMaintained(touched: Iterable<string> = []): Promise<boolean> {
    const shares = this.byWorker(touched);
    const replies = await all(
      this.links.map((l, w) => l.request({ op: "restore-maintained", touched: shares[w] })),
    );
    return replies.every((r) => r.count === 1);
  }

  /** Stops every worker; the engine answers nothing after. */
  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => l.close()));
  }
}

function merged(replies: Extract<WorkerReply, { ok: true }>[]): PartitionedMembership {
  let count = 0;
  const ids: string[] = [];
  const workerMs: number[] = [];
  for (const r of replies) {
    count += r.count ?? 0;
    if (r.ids) for (const id of r.ids) ids.push(id);
    if (r.ms !== undefined) workerMs.push(r.ms);
  }
  return { count, ids, workerMs };
}

/** The workers' counts, summed. */
function counted(replies: Extract<WorkerReply, { ok: true }>[]): number {
  return replies.reduce((n, r) => n + (r.count ?? 0), 0);
}

function changesOf(replies: Extract<WorkerReply, { ok: true }>[]): ChangeSet {
  return new ChangeSet(
    replies.flatMap((r) => (r.changes ? [r.changes] : [])),
    replies.flatMap((r) => (r.ms !== undefined ? [r.ms] : [])),
  );
}

/** Whether a contact's values survive JSON unchanged: no number is NaN or infinite. */
function jsonExact(c: StoredContact): boolean {
  const finite = (o: object): boolean => {
    for (const v of Object.values(o)) if (typeof v === "number" && !Number.isFinite(v)) return false;
    return true;
  };
  return finite(c) && (typeof c.fields !== "object" || c.fields === null || finite(c.fields));
}

/**
 * The coordinator's time per write, without the time the caller's iterable takes to
 * produce it: every 16th write is timed (timing each would add a tenth to what is
 * measured) and counted 16 times; each batch shipped is timed whole.
 */
class SampledMeter {
  private n = 0;
  private sampled = 0;
  private shipped = 0;

  /** The instant to pass to `stop`, or -1 when this write is not sampled. */
  start(): number {
    return (this.n++ & 15) === 0 ? performance.now() : -1;
  }

  stop(t0: number): void {
    if (t0 >= 0) this.sampled += performance.now() - t0;
  }

  whole(ms: number): void {
    this.shipped += ms;
  }

  ms(): number {
    return this.sampled * 16 + this.shipped;
  }
}

function engineOptions(opts: PartitionedEngineOptions): WorkerEngineOptions {
  return {
    ...(opts.timeZone !== undefined ? { timeZone: opts.timeZone } : {}),
    ...(opts.fields !== undefined ? { fields: opts.fields } : {}),
    ...(opts.defaultSegments !== undefined ? { defaultSegments: opts.defaultSegments } : {}),
  };
}
