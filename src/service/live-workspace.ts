/**
 * One workspace's engine, fed from its store. The store is the truth: every write is
 * committed before the engine sees it, and the engine is rebuilt from the store at
 * start. Between the two sits the membership change log, which the engine's changes
 * are appended to after each commit; on start it is reconciled with a from-scratch
 * evaluation, so a crash between a commit and the append of its changes loses nothing
 * and invents nothing.
 */

import { Engine, type MembershipChange, type StoredContact } from "../engine/index.ts";
import type { Clock } from "../engine/types.ts";
import { ComputedDefinition } from "../rules/computed.ts";
import { EVENT_TYPE_EXPECTED, isEventType } from "../rules/event-type.ts";
import type { RuleNode } from "../rules/schema.ts";
import { segmentRefs } from "../rules/validate.ts";
import { instantRepairs } from "../store/contact-row.ts";
import type {
  BatchOutcome,
  ChangeInput,
  ChangeRecord,
  ContactRecord,
  CustomField,
  EventInsertResult,
  EventRecord,
  EventWrite,
  SegmentRecord,
  Store,
  StoreOps,
} from "../store/types.ts";
import { missingChanges, startupLogs } from "./reconcile.ts";
import { loadInBulk } from "./startup-load.ts";

/**
 * The steps of a workspace's start-up load, in order: rows loaded, then `segments`
 * (every membership and timer computed, the change log reconciled; its count is the
 * number of segments).
 */
export type LoadPhase = "contacts" | "events" | "members" | "segments";

export interface OpenOptions {
  clock?: Clock;
  timeZone?: string;
  /** Progress of the start-up load, e.g. for a log line every page. */
  onProgress?: (phase: LoadPhase, rows: number) => void;
  /**
   * Called inside the transaction that appends changes to the log, with the logged
   * records: work that must be exactly as durable as the log (the webhook outbox).
   */
  onLog?: (tx: StoreOps, logged: ChangeRecord[]) => Promise<void>;
  /** Called after that transaction committed (stream subscribers, waking the webhook worker). */
  afterLog?: (logged: ChangeRecord[]) => void;
  /** Where the load reports stored values it repaired (default: a warning on stderr). */
  warn?: (line: string) => void;
}

export interface IngestResult extends EventInsertResult {
  changes: MembershipChange[];
}

/** How an event names its contact when not by id. */
export type ContactKey = { email: string } | { external_id: string };

/**
 * A contact the engine found by email or external id, with that key as the engine holds
 * it: an event batch naming the contact so is committed only if the contact still has it.
 */
export interface ContactMatch {
  index: number;
  id: string;
  by: "email" | "external_id";
  key: string;
}

export function engineContact(r: ContactRecord): StoredContact {
  return {
    id: r.id,
    email: r.email,
    external_id: r.external_id,
    phone: r.phone,
    first_name: r.first_name,
    last_name: r.last_name,
    country: r.country,
    region: r.region,
    city: r.city,
    postal_code: r.postal_code,
    timezone: r.timezone,
    language: r.language,
    status: r.status,
    email_status: r.email_status,
    tags: r.tags,
    created_at: r.created_at,
    subscribed_at: r.subscribed_at,
    fields: r.fields,
    status_written_at: r.status_written_at,
    email_status_written_at: r.email_status_written_at,
  };
}

function engineEvent(r: EventRecord) {
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

const toLog = (c: MembershipChange): ChangeInput => ({
  segment_id: c.segment_id,
  contact_id: c.contact_id,
  change: c.change,
  at: Date.parse(c.at),
});

export class LiveWorkspace {
  /**
   * Changes computed but not yet logged. They are written in the same transaction as
   * the next write (or by `tick`/`flush`), which halves the commits of a busy ingest;
   * a crash loses at most these, and start-up reconciliation writes them back. Every
   * change the engine emits lands here (an `onChange` listener), including the
   * time-driven ones a read brings about.
   */
  private pending: ChangeInput[] = [];
  /** When the oldest pending change was computed. */
  private pendingSince = 0;

  /**
   * Pending changes ride along with a write once they are this old (or this many);
   * `flush`/`tick` write them whatever their age. Each change touches the log's indexes
   * at random places, and a page dirtied by several commits is written to the WAL each
   * time: gathering ~¼ s of changes into one commit writes each page once, which is
   * what keeps a busy ingest from spending its time rewriting index pages. SPEC §3.3a
   * allows 2 s; the service ticks every 500 ms.
   */
  static readonly LOG_DELAY_MS = 250;
  static readonly LOG_MAX_PENDING = 20_000;

  /**
   * Committed event batches not applied to the engine yet, in commit order. An event
   * batch is acknowledged as soon as it is committed and applied just after (a
   * `setImmediate`, or when the next commit has been handed to the store), so the
   * engine's work on one batch overlaps the store's work on the next (docs/storage.md).
   * Whoever reads the engine through `engine` applies them first: nothing committed is
   * ever invisible to a reader.
   */
  private applyQueue: (() => void)[] = [];
  private applyScheduled = false;

  private constructor(
    readonly store: Store,
    readonly ws: string,
    private readonly core: Engine,
    private readonly clock: Clock,
    private readonly hooks: Pick<OpenOptions, "onLog" | "afterLog">,
  ) {
    core.onChange((c) => {
      if (this.pending.length === 0) this.pendingSince = clock.now();
      this.pending.push(toLog(c));
    });
  }

  /** The workspace's engine, with every committed write applied. */
  /** Membership changes computed and not appended to the change log yet. */
  get pendingChanges(): number {
    return this.pending.length;
  }

  get engine(): Engine {
    this.settle();
    return this.core;
  }

  /** Applies the committed event batches still waiting. */
  settle(): void {
    const q = this.applyQueue;
    if (q.length === 0) return;
    this.applyQueue = [];
    for (let i = 0; i < q.length; i++) q[i]!();
  }

  private defer(apply: () => void): void {
    this.applyQueue.push(apply);
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    setImmediate(() => {
      this.applyScheduled = false;
      this.settle();
    });
  }

  /** Rebuilds the engine from the store in bulk (streamed page by page), then reconciles the change log. */
  static async open(store: Store, ws: string, opts: OpenOptions = {}): Promise<LiveWorkspace> {
    const clock = opts.clock ?? { now: () => Date.now() };
    const fields = await store.listFields(ws);
    const fieldDef = (f: CustomField) => ({
      key: f.key,
      type: f.type,
      ...(f.label ? { label: f.label } : {}),
    });
    const engine = new Engine({
      clock,
      ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      fields: fields.filter((f) => f.computed === null).map(fieldDef),
    });
    for (const f of fields) {
      if (f.computed !== null) engine.defineComputedField(fieldDef(f), ComputedDefinition.parse(f.computed));
    }
    // Instants outside the range writes take are repaired as they are read (contact-row.ts);
    // the count tells whether this load met any (another workspace loading meanwhile may
    // add to it: the line is a notice, not an audit).
    const repairsBefore = instantRepairs.count;
    // A SQLite file is read by worker threads while this thread loads (startup-load.ts).
    const bulk = await loadInBulk(store, ws, engine, opts.onProgress);
    let n = 0;
    if (bulk === null) {
      for await (const page of store.streamContacts(ws)) {
        engine.loadContacts(page.map(engineContact));
        n += page.length;
        opts.onProgress?.("contacts", n);
      }
      n = 0;
      for await (const page of store.streamEvents(ws)) {
        engine.loadEvents(page.map(engineEvent), { finish: false });
        n += page.length;
        opts.onProgress?.("events", n);
      }
      engine.finishLoad();
    }
    const repaired = instantRepairs.count - repairsBefore;
    if (repaired > 0) {
      (opts.warn ?? ((line: string) => process.emitWarning(line)))(
        `workspace ${ws}: ${repaired} stored contact instant(s) outside 0000-01-01 … 9999-12-31 ` +
          "were repaired on load (created_at and updated_at clamped into the range, the others read as null); " +
          "every read answers the repaired values",
      );
    }
    engine.loadSegments(
      dependencyOrder(await store.listSegments(ws)).map((s) => ({
        id: s.id,
        kind: s.kind,
        ...(s.kind === "dynamic" ? { rule: s.rule } : {}),
      })),
    );
    n = 0;
    for await (const page of store.streamMembers(ws)) {
      const bySegment = new Map<string, typeof page>();
      for (const m of page) bySegment.set(m.segment_id, [...(bySegment.get(m.segment_id) ?? []), m]);
      for (const [seg, members] of bySegment) engine.loadMembers(seg, members);
      n += page.length;
      opts.onProgress?.("members", n);
    }
    opts.onProgress?.("segments", engine.segmentIds().length);
    engine.advanceTo(clock.now()); // builds every membership and timer
    const live = new LiveWorkspace(store, ws, engine, clock, opts);
    live.pending = []; // the log is reconciled below instead
    // The readers computed the log's membership meanwhile.
    if (bulk) startupLogs.set(live, bulk.logged);
    await live.reconcile();
    live.indexContactKeys();
    return live;
  }

  /**
   * Appends to the change log whatever separates it from the engine's membership
   * (changes computed but not logged before a crash), at the current instant.
   */
  async reconcile(): Promise<ChangeInput[]> {
    // At open, the log's membership as the start-up readers found it; else queried here.
    const startup = startupLogs.get(this);
    startupLogs.delete(this);
    const missing = await missingChanges(this.engine, this.store, this.ws, startup ? await startup : null);
    this.pending = [];
    if (missing.length > 0) {
      const logged = await this.store.transaction(this.ws, (tx) => this.log(tx, missing));
      this.hooks.afterLog?.(logged);
    }
    return missing;
  }

  private async log(tx: StoreOps, changes: ChangeInput[]): Promise<ChangeRecord[]> {
    if (changes.length === 0) return [];
    const logged = await tx.appendChanges(this.ws, changes);
    await this.hooks.onLog?.(tx, logged);
    return logged;
  }

  /**
   * Group commit: writes asked for while a commit is in flight wait here, and the next
   * round commits all of them in one transaction (each under its own savepoint, so one
   * failing write fails alone). One fsync then acknowledges many writes, which is what
   * lets concurrent clients exceed one commit per fsync.
   */
  private waiting: WriteRequest[] = [];
  private draining = false;

  /** Writes per group commit at most (bounds the latency of the first in a round). */
  static readonly GROUP_MAX = 64;

  /**
   * One write: `commit` runs in a store transaction (with the changes not logged yet),
   * then, once committed, `apply` brings the engine along. The returned promise
   * resolves after the commit, so what it acknowledges is durable. If `commit` throws,
   * nothing of it is stored and the engine is left alone. Writes are committed and
   * applied in the order they were asked for.
   */
  write<T>(
    commit: (tx: StoreOps) => Promise<T>,
    apply: (result: T) => void,
    opts: { flush?: boolean } = {},
  ): Promise<{ result: T; changes: MembershipChange[] }> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        flush: opts.flush ?? false,
        events: null,
        commit,
        apply: apply as (r: unknown) => void,
        resolve: resolve as (v: { result: unknown; changes: MembershipChange[] }) => void,
        reject,
      });
    });
  }

  private enqueue(req: WriteRequest): void {
    this.waiting.push(req);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0) {
        // Event batches and other writes go in separate rounds, so that a round of event
        // batches sees every contact written before it applied (their contact check).
        const events = this.waiting[0]!.events !== null;
        let n = 1;
        while (
          n < this.waiting.length &&
          n < LiveWorkspace.GROUP_MAX &&
          (this.waiting[n]!.events !== null) === events
        )
          n++;
        await this.commitGroup(this.waiting.splice(0, n));
      }
    } finally {
      this.draining = false;
    }
  }

  private async commitGroup(group: WriteRequest[]): Promise<void> {
    const now = this.clock.now();
    const due =
      group.some((r) => r.flush) ||
      this.pending.length >= LiveWorkspace.LOG_MAX_PENDING ||
      (this.pending.length > 0 && now - this.pendingSince >= LiveWorkspace.LOG_DELAY_MS);
    if (!due && group.every((r) => r.events !== null)) {
      await this.commitEvents(group, now);
      return;
    }
    this.settle();
    this.core.advanceTo(now);
    const pending = due ? this.pending : [];
    if (due) this.pending = [];
    let logged: ChangeRecord[] = [];
    const outcomes: BatchOutcome<unknown>[] = [];
    try {
      await this.store.transaction(this.ws, async (tx) => {
        logged = await this.log(tx, pending);
        for (const req of group) {
          this.current = outcomes.length === 0;
          try {
            const value =
              group.length === 1 ? await req.commit(tx) : await tx.savepoint((sp) => req.commit(sp));
            outcomes.push({ ok: true, value });
          } catch (error) {
            outcomes.push({ ok: false, error });
          } finally {
            this.current = true;
          }
        }
        // A lone write that failed rolls back as a whole (nothing else to keep).
        if (group.length === 1 && !outcomes[0]!.ok) throw (outcomes[0] as { error: unknown }).error;
      });
    } catch (e) {
      if (due) this.pending = [...pending, ...this.pending];
      for (const req of group) req.reject(e);
      return;
    }
    if (logged.length > 0) this.hooks.afterLog?.(logged);
    group.forEach((req, k) => this.finish(req, outcomes[k]!));
  }

  /**
   * A group of event batches and nothing else: one `insertEventBatches`, during which
   * the engine applies the batches committed before (on a SQLite file the store works
   * on its writer thread meanwhile). The change log waits for a later round.
   */
  private async commitEvents(group: WriteRequest[], now: number): Promise<void> {
    // The contacts are checked while the store writes (on a SQLite file the writer
    // thread inserts meanwhile; nothing commits if the check throws), not before.
    let refused = false;
    const check = () => {
      try {
        for (const req of group) req.events!.check();
      } catch (e) {
        refused = true;
        throw e;
      }
    };
    // The batches committed before are applied by the `setImmediate` that `defer`
    // scheduled, which runs after this round has been handed to the store (the hand-over
    // takes a few microtasks: the file's mutex), so they overlap its commit. Applying
    // them here, synchronously, would run them before the hand-over.
    const committing = this.store.insertEventBatches(
      this.ws,
      group.map((r) => r.events!.rows),
      { check },
    );
    this.core.advanceTo(now);
    let outcomes: BatchOutcome<unknown>[];
    try {
      outcomes = await committing;
    } catch (e) {
      if (!refused) {
        for (const req of group) req.reject(e);
        return;
      }
      // A batch names a contact the workspace does not have: it fails alone, the others
      // are committed anew.
      const rest = group.filter((req) => {
        try {
          req.events!.check();
          return true;
        } catch (err) {
          req.reject(err);
          return false;
        }
      });
      if (rest.length > 0) await this.commitEvents(rest, now);
      return;
    }
    group.forEach((req, k) => this.finish(req, outcomes[k]!));
  }

  /** After the commit: resolves the write and applies it, at once or (event batches) deferred. */
  private finish(req: WriteRequest, o: BatchOutcome<unknown>): void {
    if (!o.ok) {
      req.reject(o.error);
      return;
    }
    const live = this;
    if (req.events !== null) {
      let raw: ChangeInput[] = [];
      let failure: unknown = null;
      this.defer(() => {
        const before = this.pending.length;
        try {
          req.apply(o.value);
        } catch (e) {
          // Committed but not applied: the engine misses events the store has, until
          // the next start rebuilds it. Only a bug gets here: ingestEvents checks first
          // everything the engine checks.
          failure = e;
          process.emitWarning(`events committed but not applied to the engine: ${String(e)}`);
        }
        raw = this.pending.slice(before);
      });
      req.resolve({
        result: o.value,
        // Built on demand: most callers (HTTP ingest) never look at them.
        get changes() {
          live.settle();
          if (failure !== null) throw failure;
          return raw.map(fromLog);
        },
      });
      return;
    }
    this.settle();
    this.generation++;
    const before = this.pending.length;
    try {
      req.apply(o.value);
    } catch (e) {
      req.reject(e);
      return;
    }
    const raw = this.pending.slice(before);
    req.resolve({
      result: o.value,
      get changes() {
        return raw.map(fromLog);
      },
    });
  }

  /** Counts writes other than event batches, which may add or remove contacts. */
  private generation = 0;

  /**
   * False while a write's commit runs after other writes of the same group commit: they
   * are committed in its transaction but applied to the engine only once it commits, so
   * the engine does not show them yet (a contact they erased, an email they moved). The
   * commit must then ask the store, not the engine.
   */
  get engineCurrent(): boolean {
    return this.current;
  }
  private current = true;

  /**
   * Ingests a batch of events for known contacts: committed in one transaction, then
   * applied to the engine; the membership changes are logged with a later write. The
   * promise resolves once the batch is committed; the engine applies it right after,
   * and before anyone reads it through `engine` (`changes` waits for that).
   */
  async ingestEvents(
    batch: EventWrite[],
    opts: { named?: readonly (ContactMatch | null)[] } = {},
  ): Promise<IngestResult> {
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!;
      // Everything the engine would refuse is refused before the commit, so that what
      // is committed is always applied.
      if (!isEventType(e.type)) {
        throw new Error(`events[${i}].type: ${EVENT_TYPE_EXPECTED}`);
      }
      if (!Number.isFinite(e.timestamp))
        throw new Error(`events[${i}].timestamp: expected epoch milliseconds`);
      const p = e.properties;
      if (p !== undefined && (typeof p !== "object" || p === null || Array.isArray(p))) {
        throw new Error(`events[${i}].properties: expected an object`);
      }
    }
    // Each event's contact, looked up once, at commit time (an erased contact gets no
    // events, nor does one that no longer has the email or external id the event named
    // it by); the apply then reuses the indices.
    const engine = this.core;
    const named = opts.named;
    const index = new Int32Array(batch.length);
    const check = () => {
      const contacts = engine.contacts;
      for (let i = 0; i < batch.length; i++) {
        const id = batch[i]!.contact_id;
        const m = named?.[i];
        if (m) {
          // The key as found: unchanged, it is the very string the engine holds.
          const now = m.by === "email" ? contacts.emailOf(m.index) : contacts.externalIdOf(m.index);
          if (now !== m.key || contacts.ids[m.index] !== id) throw new UnknownContactError(i, id, m);
          index[i] = m.index;
          continue;
        }
        const c = contacts.index(id);
        if (c === undefined || !contacts.alive.has(c)) throw new UnknownContactError(i, id);
        index[i] = c;
      }
    };
    let checkedAt = -1;
    const checkNow = () => {
      check();
      checkedAt = this.generation;
    };
    const apply = (r: EventInsertResult) => {
      const same = checkedAt === this.generation;
      for (let i = 0; i < batch.length; i++) {
        if (r.items[i] !== "accepted") continue;
        const e = batch[i]!;
        const input = {
          type: e.type,
          contact_id: e.contact_id,
          timestamp: e.timestamp,
          ...(e.properties ? { properties: e.properties } : {}),
        };
        if (same) engine.addEvent(input, index[i]);
        else engine.addEvent(input);
      }
    };
    const done = await new Promise<{ result: EventInsertResult; changes: MembershipChange[] }>(
      (resolve, reject) => {
        this.enqueue({
          flush: false,
          events: { rows: batch, check: checkNow },
          commit: async (tx) => {
            checkNow();
            return tx.insertEvents(this.ws, batch);
          },
          apply: apply as (r: unknown) => void,
          resolve: resolve as (v: { result: unknown; changes: MembershipChange[] }) => void,
          reject,
        });
      },
    );
    const { result } = done;
    return {
      accepted: result.accepted,
      duplicates: result.duplicates,
      items: result.items,
      // Read on demand: it waits for the batch to be applied.
      get changes() {
        return done.changes;
      },
    };
  }

  /**
   * Indexes the contacts by email and external id (`contactBy`) a slice at a time, between
   * other work: at a million contacts the whole takes seconds, which one request must not
   * wait for. Until it is done a contact not reached yet is not found, and its events go
   * the way of unknown ones, through the store: slower, never wrong.
   */
  private indexContactKeys(): void {
    const step = () => {
      if (!this.core.contacts.indexKeys(LiveWorkspace.INDEX_SLICE)) setImmediate(step);
    };
    step();
  }

  /** Contacts indexed per slice (a few milliseconds each). */
  static readonly INDEX_SLICE = 20_000;

  /** True when the engine holds this contact (committed writes only; no event batch can add one). */
  hasContact(id: string): boolean {
    const c = this.core.contacts.index(id);
    return c !== undefined && this.core.contacts.alive.has(c);
  }

  /**
   * The contact with this email (compared trimmed and lower-cased) or this external id
   * (compared exactly), as the store would answer after the writes the engine holds;
   * undefined when none. Kept by the engine itself through every write and load of a
   * contact (ContactTable.byEmail), so no write path has to remember it.
   */
  contactIdBy(key: ContactKey): string | undefined {
    return this.contactBy(key)?.id;
  }

  /** The same, with the key as the engine holds it (what an event batch's commit checks). */
  contactBy(key: ContactKey): ContactMatch | undefined {
    const t = this.core.contacts;
    if ("email" in key) {
      const i = t.byEmail(key.email);
      return i === undefined ? undefined : { index: i, id: t.ids[i]!, by: "email", key: t.emailOf(i)! };
    }
    const i = t.byExternalId(key.external_id);
    return i === undefined
      ? undefined
      : { index: i, id: t.ids[i]!, by: "external_id", key: t.externalIdOf(i)! };
  }

  /** Writes the changes not logged yet. */
  async flush(): Promise<void> {
    this.settle();
    if (this.pending.length === 0 && this.waiting.length === 0 && !this.draining) return;
    await this.write(
      async () => undefined,
      () => {},
      { flush: true },
    );
  }

  /** Moves membership to the clock's now and logs the time-driven changes (and any pending ones). */
  async tick(): Promise<MembershipChange[]> {
    this.settle();
    const before = this.pending.length;
    this.engine.advanceTo(this.clock.now());
    const changes = this.pending.slice(before).map(fromLog);
    await this.flush();
    return changes;
  }
}

/**
 * An event for a contact the workspace does not have (never created, or erased), or
 * that no longer has the email or external id (`key`) the event named it by.
 */
export class UnknownContactError extends Error {
  constructor(
    readonly index: number,
    readonly contactId: string,
    readonly match?: ContactMatch,
  ) {
    super(
      match === undefined
        ? `events[${index}].contact_id: unknown contact "${contactId}"`
        : `events[${index}].contact: contact "${contactId}" no longer has ${match.by} "${match.key}"`,
    );
    this.name = "UnknownContactError";
  }
}

interface WriteRequest {
  /** Log every pending change in this round. */
  flush: boolean;
  /**
   * An event batch from `ingestEvents`: its commit is `check` (its contacts) and exactly
   * `insertEvents` of `rows` (so a round of them can go to `Store.insertEventBatches`),
   * and its apply is deferred.
   */
  events: { rows: EventWrite[]; check: () => void } | null;
  commit: (tx: StoreOps) => Promise<unknown>;
  apply: (result: unknown) => void;
  resolve: (v: { result: unknown; changes: MembershipChange[] }) => void;
  reject: (e: unknown) => void;
}

function fromLog(c: ChangeInput): MembershipChange {
  return {
    segment_id: c.segment_id,
    contact_id: c.contact_id,
    change: c.change,
    at: new Date(c.at).toISOString(),
  };
}
