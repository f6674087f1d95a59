/**
 * The segment engine as a library: contacts, events and segments in memory, every
 * segment's membership maintained exactly as data changes and as time passes, and any
 * rule evaluable from scratch at any instant. No I/O and no global clock: the caller
 * passes one in.
 *
 * Live maintenance: a change to one contact re-evaluates, for that contact only, the
 * segments that read what changed (a field, an event type, a referenced segment). For
 * time, each contact has one scheduled instant — the earliest at which any segment's
 * answer for it can change with no new data — kept in a heap; `advanceTo(t)` handles
 * exactly the contacts due by t, each at its own instant, so a change's `at` is the
 * boundary instant itself.
 *
 * The file is long (about 1,300 lines) on purpose for now: a split into a thin class
 * over parts (registry, writes, scheduling, overrides) was measured side by side in
 * one process on the same data and made the live path 10–20 % slower (docs/architecture.md).
 */
import { type ComputedDefinition, fieldRefs } from "../rules/computed.ts";
import { DEFAULT_SEGMENT_SETTINGS, defaultSegments } from "../rules/defaults.ts";
import { RuleValidationError } from "../rules/errors.ts";
import { EVENT_TYPE_EXPECTED, isEventType } from "../rules/event-type.ts";
import { type FieldDef, FieldRegistry } from "../rules/fields.ts";
import type { RuleNode } from "../rules/schema.ts";
import { isValidTimeZone } from "../rules/time.ts";
import { validateRule } from "../rules/validate.ts";
import { Bitset } from "./bitset.ts";
import { type CompiledNode, compile } from "./compile.ts";
import { expandComputed } from "./computed-origin.ts";
import { computedValues } from "./computed-values.ts";
import { type ContactColumns, ContactTable, type ContactTableState, FieldValueError } from "./contacts.ts";
import { Dictionary } from "./dictionary.ts";
import { EFFECT_EVENT_TYPES, type EffectField, type EffectsState, ProfileEffects } from "./effects.ts";
import { checkEvent } from "./event-input.ts";
import { EventColumns, EventStore, type EventStoreState, type EventTable } from "./events.ts";
import { TimerHeap } from "./heap.ts";
import { GrowthAhead } from "./prefault.ts";
import { plainForTimers, relativeKeys, relativeNodes } from "./rank.ts";
import { RankRegistry } from "./rank-index.ts";
import { MembershipRows } from "./rows.ts";
import { SegmentEnv, type SegmentKind, SegmentState } from "./segments.ts";
import { type SnapshotReader, SnapshotUnusable, type SnapshotWriter } from "./snapshot-io.ts";
import { type EventTimerPlan, timerPlan } from "./timers.ts";
import type {
  Clock,
  ContactInput,
  EngineOptions,
  EventInput,
  ExplainNode,
  JsonValue,
  Membership,
  MembershipChange,
} from "./types.ts";

const NO_FIELDS: readonly EffectField[] = [];

/** The segments reading one event type, with their live compiled nodes, and those that are timed. */
interface EventReaders {
  readonly type: string;
  readonly states: SegmentState[];
  readonly nodes: CompiledNode[];
  readonly timed: CompiledNode[];
  plan: EventTimerPlan | null;
}

/** An engine's contacts and events in a snapshot (`Engine.saveState`). */
export interface EngineState {
  timeZone: string;
  /** The stored fields as `key:type`, in order: a restore into other fields is refused. */
  fields: string[];
  contacts: ContactTableState;
  events: EventStoreState;
  effects: EffectsState;
}

/** Maintained state in a snapshot (`Engine.saveMaintained`); numbers name the snapshot's arrays. */
export interface MaintainedState {
  /** The instant it is exact at. */
  at: number;
  /** Contacts it covers: indexes 0 … size − 1. */
  size: number;
  segments: { id: string; fingerprint: string; words: number }[];
  /** Each contact's next instant to re-check. */
  nextDue: number;
}

export interface SegmentDefinition {
  id: string;
  kind: SegmentKind;
  rule: RuleNode | null;
  /** Default segments are read-only. */
  readonly: boolean;
}

/** A rule compiled for one instant: evaluate it all at once, or contact by contact. */
export interface CompiledQuery {
  readonly at: number;
  evaluate(): Membership;
  matches(contactId: string): boolean;
  /** By dense contact index (0 … contactCount-1), for callers that iterate. */
  matchesIndex(i: number): boolean;
}

/** A rule with rank or quintile conditions whose cuts are chosen elsewhere (`Engine.rankedQuery`). */
export interface RankedQuery {
  /**
   * Per `relativeKey`, the values of this engine's contacts in each rank or quintile
   * condition's population, in no order: computed on the first call; the arrays are the
   * query's own, so a caller may reorder them.
   */
  populations(): Map<string, Float64Array>;
  /** The members, given every rank condition's cut by `rankCutKey` and every quintile score's by `scoreCutKey`. */
  evaluate(cuts: Iterable<[string, number]>): Membership;
}

/** A contact as a store keeps it: with when status and email_status were last written explicitly. */
export interface StoredContact extends ContactInput {
  status_written_at?: number | null;
  email_status_written_at?: number | null;
}

export interface WriteOptions {
  /** When an explicit write of `status` / `email_status` was received (default: now). SPEC §2. */
  receivedAt?: number;
  /** Keys given as creation defaults: they never block a profile effect of an event. */
  defaults?: EffectField[];
}

export interface Override {
  contact_id: string;
  action: "added" | "removed";
  /** Epoch ms, or null when it does not expire. */
  expires_at: number | null;
}

export interface EventBatchResult {
  accepted: number;
  duplicates: number;
  errors: { index: number; error: string }[];
  changes: MembershipChange[];
}

class BitsetMembership implements Membership {
  readonly count: number;
  constructor(
    readonly bits: Bitset,
    private readonly contacts: ContactTable,
  ) {
    this.count = bits.count();
  }
  has(contactId: string): boolean {
    const i = this.contacts.index(contactId);
    return i !== undefined && this.bits.has(i);
  }
  ids(limit?: number): string[] {
    return this.bits.toArray(limit).map((i) => this.contacts.ids[i]);
  }
}

export class Engine {
  readonly timeZone: string;
  private registry: FieldRegistry;
  /** The fields contacts hold values of: the registry without the computed fields. */
  private stored: FieldRegistry;
  /** Computed fields by key (docs/rules.md): rules are compiled with conditions on them expanded. */
  private readonly computed = new Map<string, ComputedDefinition>();
  /** Segment rules as defined, where their states hold them expanded. */
  private readonly sourceRules = new Map<string, RuleNode>();
  private readonly clock: Clock;
  readonly contacts: ContactTable;
  readonly events: EventStore;
  private readonly effects: ProfileEffects;
  private readonly states = new Map<string, SegmentState>();
  /** Segments in dependency order: every segment after those it refers to. */
  private order: SegmentState[] = [];
  /** Transitive reads per segment (its own and those of the segments it refers to). */
  private reads = new Map<string, Set<string>>();
  /** Per read key, the segments that read it (directly or through references), in dependency order. */
  private readers = new Map<string, SegmentState[]>();
  private timedCache: SegmentState[] | null = null;
  /**
   * Per event type, its readers as arrays (rebuilt whenever definitions, compiled nodes
   * or timed segments change).
   */
  private eventReaderCache = new Map<string, EventReaders>();
  /** Where the last `append` wrote. */
  private lastTable: EventTable | null = null;
  private lastSlot = -1;
  /** The contact of the event being applied, and its id as given (see `emit`). */
  private eventContact = -1;
  private eventContactId = "";
  /** Contact capacity per-contact structures were last grown to. */
  private grownTo = -1;
  /** Their arrays for the next capacity, touched ahead of need (prefault.ts). */
  private readonly ahead = new GrowthAhead<SegmentState>();
  /** The contact count when `ahead` was last asked to step (-1: not yet seen). */
  private aheadAt = -1;
  private readonly live: SegmentEnv;
  /** Maintained membership by contact, in step with every segment's `bits`. */
  private readonly rows = new MembershipRows();
  /** Maintained values of the rank and quintile conditions of the live rules (rank-index.ts). */
  private readonly ranks = new RankRegistry();
  private readonly heap = new TimerHeap();
  private nextDue = new Float64Array(1024).fill(Number.POSITIVE_INFINITY);
  private readonly eventIds = new Set<string>();
  private readonly listeners: ((c: MembershipChange) => void)[] = [];
  /** The instant maintained membership is exact at. */
  private liveNow: number;
  /** Bulk loads leave maintained state to be rebuilt on next use. */
  private dirty = true;
  /** The snapshot `prepareRestore` began with, until `restoreState` ends it. */
  private restoring: EngineState | null = null;

  constructor(opts: EngineOptions) {
    this.timeZone = opts.timeZone ?? "UTC";
    if (!isValidTimeZone(this.timeZone)) throw new Error(`timeZone: unknown time zone "${this.timeZone}"`);
    this.registry = new FieldRegistry(opts.fields ?? []);
    this.stored = this.registry;
    this.clock = opts.clock;
    this.contacts = new ContactTable(this.registry, this.timeZone);
    this.events = new EventStore(new Dictionary());
    this.effects = new ProfileEffects(this.contacts, this.events);
    this.liveNow = this.clock.now();
    this.live = new SegmentEnv(
      this.liveNow,
      this.timeZone,
      this.contacts,
      this.events,
      this.states,
      true,
      this.rows,
      this.ranks,
    );
    if (opts.defaultSegments !== false) {
      for (const s of defaultSegments(opts.defaultSegments ?? DEFAULT_SEGMENT_SETTINGS)) {
        this.states.set(s.id, new SegmentState(s.id, "dynamic", s.rule, true));
      }
    }
    this.reorder();
  }

  get fields(): FieldRegistry {
    return this.registry;
  }

  /** The instant maintained membership is exact at (the last `advanceTo`, or the clock at the last write). */
  get now(): number {
    return this.liveNow;
  }

  /** Every membership change, as it is emitted (writes, segment edits, the passing of time). */
  onChange(listener: (c: MembershipChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Declares a custom field (SPEC §1); throws on a bad key, a shadowed built-in or a duplicate. */
  defineField(def: FieldDef): void {
    this.registry = this.registry.withField(def);
    this.stored = this.stored.withField(def);
    this.contacts.setFields(this.stored);
  }

  /**
   * Declares a computed field: rules may test it as a field of `def.type`, which must be
   * the measure's (validated by the caller, `validateComputed`); contacts hold no value
   * of it, writes of its key are ignored as undeclared.
   */
  defineComputedField(def: FieldDef, computed: ComputedDefinition): void {
    this.registry = this.registry.withField(def);
    this.computed.set(def.key, computed);
  }

  /** Removes a computed field; refused while a segment's rule names it. */
  removeComputedField(key: string): void {
    if (!this.computed.has(key)) throw new Error(`"${key}" is not a computed field`);
    const uses = this.fieldUses(key);
    if (uses.length > 0) throw new Error(`field "${key}" is used by ${uses.map((u) => `"${u}"`).join(", ")}`);
    this.computed.delete(key);
    this.registry = new FieldRegistry(this.registry.custom().filter((f) => f.key !== key));
  }

  /** The computed fields' definitions by key. */
  computedFields(): ReadonlyMap<string, ComputedDefinition> {
    return this.computed;
  }

  /** Segments whose rules have a condition on the field `key`. */
  fieldUses(key: string): string[] {
    const out: string[] = [];
    for (const id of this.states.keys()) {
      const rule = this.sourceRules.get(id) ?? this.states.get(id)!.rule;
      if (rule && fieldRefs(rule).has(key)) out.push(id);
    }
    return out;
  }

  /** A rule as compiled: conditions on computed fields expanded to their event conditions. */
  private expanded(rule: RuleNode): RuleNode {
    return expandComputed(rule, this.computed);
  }

  /** A state for a segment, holding its rule expanded; the rule as defined is kept for `segment(id)`. */
  private stateOf(id: string, kind: SegmentKind, rule: RuleNode | null): SegmentState {
    if (rule === null) this.sourceRules.delete(id);
    else this.sourceRules.set(id, rule);
    return new SegmentState(id, kind, rule && this.expanded(rule), false);
  }

  /**
   * The computed fields' values of contacts at `at` (default: the clock's now): numbers,
   * ISO instants (`first_at`, `last_at`), strings as rules see them (`most_frequent`), or
   * null when missing. One reader serves many contacts (a page, an export).
   */
  computedReader(at?: number): (contactId: string) => Record<string, JsonValue> {
    if (this.computed.size === 0) return () => ({});
    const values = computedValues(this.env(at), this.computed);
    return (id) => {
      const i = this.contacts.index(id);
      return i === undefined || !this.contacts.alive.has(i) ? {} : values(i);
    };
  }

  /** Pending time-driven re-evaluations (contact, segment pairs), for monitoring. */
  get timerCount(): number {
    return this.heap.size;
  }

  get contactCount(): number {
    return this.contacts.count;
  }

  contactIds(): string[] {
    return this.contacts.alive.toArray().map((i) => this.contacts.ids[i]);
  }

  // ---------------------------------------------------------------- writes

  /** Replaces a contact's whole profile; throws FieldValueError (with the path) before changing anything. */
  upsertContact(c: ContactInput, opts: WriteOptions = {}): MembershipChange[] {
    return this.writeContact(c, false, opts);
  }

  /** Changes only the keys given (null clears a field). */
  patchContact(c: ContactInput, opts: WriteOptions = {}): MembershipChange[] {
    if (this.contacts.index(c.id) === undefined)
      throw new FieldValueError("contact.id", `unknown contact "${c.id}"`);
    return this.writeContact(c, true, opts);
  }

  private writeContact(c: ContactInput, patch: boolean, opts: WriteOptions): MembershipChange[] {
    const out = this.sync();
    const before = this.contacts.index(c.id);
    const isNew = before === undefined || !this.contacts.alive.has(before);
    const { index, changed } = this.contacts.upsert(c, patch);
    this.grow();
    if (!patch) this.effects.forget(index);
    const at = opts.receivedAt ?? this.liveNow;
    for (const key of ["status", "email_status"] as const) {
      if (c[key] === undefined && patch) continue;
      // A key left out is not an explicit write: it blocks no event's effect.
      const explicit = c[key] !== undefined && !(opts.defaults?.includes(key) ?? false);
      this.effects.record(index, key, c[key] ?? null, explicit ? at : Number.NEGATIVE_INFINITY);
    }
    const effected = this.effects.apply(index);
    if (isNew && this.ranks.size > 0) this.rankTouch(index, null, out);
    const keys = new Set([...changed, ...effected].map((k) => `f:${k}`));
    this.reschedule(index, this.reevaluate(index, isNew ? null : keys, out));
    return out;
  }

  /** Adds and removes tags. */
  changeTags(contactId: string, change: { add?: string[]; remove?: string[] }): MembershipChange[] {
    const out = this.sync();
    const c = this.aliveIndex(contactId);
    if (this.contacts.changeTags(c, change.add ?? [], change.remove ?? [])) {
      this.reschedule(c, this.reevaluate(c, new Set(["f:tags"]), out));
    }
    return out;
  }

  /** Erases a contact (right to erasure): its profile, events and memberships, with an exit per segment. */
  removeContact(id: string): MembershipChange[] {
    const out = this.sync();
    const i = this.contacts.index(id);
    if (i === undefined || !this.contacts.alive.has(i)) return out;
    for (const st of this.order) {
      st.added.delete(i);
      st.removed.delete(i);
      if (st.bits.has(i)) {
        st.bits.clear(i);
        this.emit(out, st.id, i, "exited", this.liveNow);
      }
    }
    this.rows.clearContact(i);
    this.contacts.remove(id);
    this.events.clearContact(i);
    this.effects.forget(i);
    if (this.ranks.size > 0) this.rankTouch(i, null, out);
    this.nextDue[i] = Number.POSITIVE_INFINITY;
    return out;
  }

  /** Checks an event and stores it; returns the contact index, or -1 for a duplicate id. */
  private append(e: EventInput, keepSorted: boolean, contact = -1): number {
    const t = checkEvent(e, this.timeZone);
    if (e.id !== undefined) {
      if (this.eventIds.has(e.id)) return -1;
      this.eventIds.add(e.id);
    }
    // An event for an unknown contact creates it with no fields (SPEC §2).
    const c = contact >= 0 ? contact : this.contacts.ensure(e.contact_id);
    this.events.ensureContacts(this.contacts.size);
    const table = this.events.table(e.type);
    this.lastSlot = table.append(c, t, e.properties, keepSorted);
    this.lastTable = table;
    return c;
  }

  /**
   * Adds one event, in any time order; an `id` already seen is ignored. Returns the
   * membership changes. `contact` is the contact's index when the caller has just looked
   * it up (`contacts.index(e.contact_id)`), which spares a second lookup in a map of
   * every contact id (a sixth of the cost of an event at a million contacts).
   */
  addEvent(e: EventInput, contact?: number): MembershipChange[] {
    const out = this.sync();
    const before = this.contacts.count;
    const c = this.append(e, true, contact ?? -1);
    if (c < 0) return out;
    const isNew = this.contacts.count !== before;
    this.grow();
    if (this.ranks.size > 0) this.rankTouch(c, isNew ? null : e.type, out);
    const effected = EFFECT_EVENT_TYPES.has(e.type) ? this.effects.applyAfterEvent(e.type, c) : NO_FIELDS;
    if (isNew || effected.length > 0) {
      const keys = new Set([`e:${e.type}`]);
      for (const k of effected) keys.add(`f:${k}`);
      this.reschedule(c, this.reevaluate(c, isNew ? null : keys, out));
      return out;
    }
    // The common case: only the segments reading the type, from arrays built once per type.
    const rs = this.eventReaders(e.type);
    // Changes name the contact by the event's id string (the same text; no lookup by index).
    this.eventContact = c;
    this.eventContactId = e.contact_id;
    const { states, nodes } = rs;
    for (let k = 0; k < states.length; k++) this.reevaluateNode(states[k], nodes[k], c, out);
    this.eventContact = -1;
    if (!this.timerKept(rs, c)) this.scheduleNodes(c, rs.timed, true);
    return out;
  }

  /** Adds events one by one; per-item errors do not stop the rest. */
  addEvents(batch: EventInput[]): EventBatchResult {
    const res: EventBatchResult = { accepted: 0, duplicates: 0, errors: [], changes: [] };
    batch.forEach((e, index) => {
      try {
        if (e.id !== undefined && this.eventIds.has(e.id)) {
          res.duplicates++;
          return;
        }
        res.changes.push(...this.addEvent(e));
        res.accepted++;
      } catch (err) {
        res.errors.push({ index, error: (err as Error).message });
      }
    });
    return res;
  }

  /** Bulk load of contacts (start-up): no changes are emitted; maintained state is rebuilt on next use. */
  loadContacts(it: Iterable<StoredContact>): void {
    for (const c of it) {
      const index = this.contacts.load(c);
      this.loadedEffects(
        index,
        c.status ?? null,
        c.status_written_at ?? Number.NaN,
        c.email_status ?? null,
        c.email_status_written_at ?? Number.NaN,
      );
    }
    this.events.ensureContacts(this.contacts.size);
    this.dirty = true;
  }

  /**
   * Bulk load of a page of contacts as columns (start-up): the same as `loadContacts` of
   * its rows, with when `status` and `email_status` were last written explicitly per row
   * (NaN: never, or left out: never for any row).
   */
  loadContactColumns(
    b: ContactColumns,
    written: { status?: Float64Array; email_status?: Float64Array } = {},
  ): void {
    const idx = this.contacts.loadColumns(b);
    const st = written.status;
    const es = written.email_status;
    if ((st && st.length !== idx.length) || (es && es.length !== idx.length)) {
      throw new Error("contact columns: write times do not match the rows");
    }
    for (let k = 0; k < idx.length; k++) {
      const index = idx[k];
      const s = this.contacts.valueOf(index, "status");
      const e = this.contacts.valueOf(index, "email_status");
      this.loadedEffects(
        index,
        typeof s === "string" ? s : null,
        st ? st[k] : Number.NaN,
        typeof e === "string" ? e : null,
        es ? es[k] : Number.NaN,
      );
    }
    this.events.ensureContacts(this.contacts.size);
    this.dirty = true;
  }

  /** Profile effects of a loaded contact, given when each of its fields was written explicitly (NaN: never). */
  private loadedEffects(
    index: number,
    status: string | null,
    statusAt: number,
    emailStatus: string | null,
    emailStatusAt: number,
  ): void {
    // When each explicit write of status / email_status was received (SPEC §2); none: a default.
    if (!Number.isNaN(statusAt) || !Number.isNaN(emailStatusAt)) {
      this.effects.record(
        index,
        "status",
        status,
        Number.isNaN(statusAt) ? Number.NEGATIVE_INFINITY : statusAt,
      );
      this.effects.record(
        index,
        "email_status",
        emailStatus,
        Number.isNaN(emailStatusAt) ? Number.NEGATIVE_INFINITY : emailStatusAt,
      );
    } else {
      // A stored contact replaces whatever was held before, write times included.
      this.effects.forget(index);
    }
    // Events loaded before their contact keep their profile effects (SPEC §2).
    if (this.effects.touches(index)) this.effects.apply(index);
  }

  /**
   * Bulk load of events in any order: appended unsorted, then each block sorted once and
   * the slab packed. A columnar batch (`EventColumns`, start-up from a store) is the same
   * as its rows given one by one, but is laid out only when the load finishes.
   */
  loadEvents(it: Iterable<EventInput> | EventColumns, opts: { finish?: boolean } = {}): void {
    if (it instanceof EventColumns) this.loadEventColumns(it);
    else for (const e of it) this.append(e, false);
    this.dirty = true;
    if (opts.finish !== false) this.finishLoad();
  }

  /** The checks `append` makes, once per type and contact index rather than per event; times are floored in place. */
  private loadEventColumns(b: EventColumns): void {
    for (const type of b.types) {
      if (!isEventType(type)) {
        throw new FieldValueError("event.type", EVENT_TYPE_EXPECTED);
      }
    }
    const { time, contact, type, count } = b;
    const size = this.contacts.size;
    const types = b.types.length;
    for (let i = 0; i < count; i++) {
      const t = time[i];
      if (!Number.isFinite(t)) throw new FieldValueError("event.timestamp", "expected a finite epoch ms");
      time[i] = Math.floor(t);
      if (!(contact[i] >= 0 && contact[i] < size) || !(type[i] >= 0 && type[i] < types)) {
        throw new Error("event columns: a contact index or type code out of range");
      }
    }
    this.events.ensureContacts(size);
    this.events.addColumns(b);
  }

  /** Ends a bulk load made of several `loadEvents(…, { finish: false })` calls. */
  finishLoad(opts: { tight?: boolean } = {}): void {
    // A restored slab keeps its spare room: rewriting ten million events tight (1.4 s)
    // for the few a catch-up appended would undo what the snapshot saved.
    this.events.compact(opts.tight ?? true);
    for (const c of this.effects.candidates()) this.effects.apply(c);
    this.dirty = true;
  }

  /**
   * Contacts and events as an engine snapshot holds them (engine-snapshot.ts): what a
   * bulk load builds, not what is derived from it (memberships, timers, rank indexes,
   * segments), which a restored engine computes again as after a load.
   */
  saveState(w: SnapshotWriter): EngineState {
    return {
      timeZone: this.timeZone,
      fields: this.stored.all().map((f) => `${f.key}:${f.type}`),
      contacts: this.contacts.saveState(w),
      events: this.events.saveState(w),
      effects: this.effects.saveState(w),
    };
  }

  /**
   * Bulk load from a snapshot, first step: what needs none of its arrays (ids,
   * dictionaries), which a caller does while they are read. Throws SnapshotUnusable when
   * the snapshot was taken with other fields or time zone.
   */
  prepareRestore(s: EngineState): void {
    if (s.timeZone !== this.timeZone) throw new SnapshotUnusable("the workspace's time zone changed");
    const fields = this.stored.all().map((f) => `${f.key}:${f.type}`);
    if (fields.length !== s.fields.length || fields.some((f, k) => f !== s.fields[k])) {
      throw new SnapshotUnusable("the workspace's fields changed since it was written");
    }
    this.contacts.restoreIndex(s.contacts);
    this.events.restoreDict(s.events);
    this.restoring = s;
  }

  /**
   * Bulk load from a snapshot, into an engine that holds no contact yet (`prepareRestore`
   * first, or done here): afterwards the engine is as after `loadContacts`, `loadEvents`
   * and `finishLoad` of the same data.
   */
  restoreState(r: SnapshotReader, s: EngineState): void {
    if (this.restoring !== s) this.prepareRestore(s);
    this.restoring = null;
    this.contacts.restoreArrays(r, s.contacts);
    this.events.restoreTables(r, s.events);
    this.events.ensureContacts(this.contacts.size);
    this.effects.restoreState(r, s.effects);
    this.dirty = true;
  }

  /**
   * Maintained state for a snapshot, beside `saveState`'s: per segment its fingerprint
   * and membership, and every contact's next instant, all exact at the engine's instant.
   * Null while a bulk load left it to be rebuilt.
   */
  saveMaintained(w: SnapshotWriter): MaintainedState | null {
    if (this.dirty) return null;
    const size = this.contacts.alive.size;
    const segments = this.order.map((st) => ({
      id: st.id,
      fingerprint: st.fingerprint(),
      words: w.add(st.bits.size === size ? st.bits.words : st.bits.resized(size).words),
    }));
    return {
      at: this.liveNow,
      size,
      segments,
      nextDue: w.add(this.nextDue, Math.min(size, this.nextDue.length)),
    };
  }

  /**
   * After a restore (`restoreState`, the catch-up's contacts and events, `loadSegments`,
   * `loadMembers`): takes maintained state from the snapshot instead of computing every
   * segment and timer again. What the snapshot's state cannot answer is computed, at
   * its instant: segments whose fingerprint changed (and those referring to them),
   * segments reading a rank or quintile when any contact changed (a cut moves with the
   * population), and the contacts the catch-up touched, which are re-evaluated in every
   * segment and rescheduled. `advanceTo` then moves it on to now, contact by contact,
   * as a running engine would have. Answers how many segments were computed again, or
   * null, changing nothing, when the state cannot serve (taken at a later instant than
   * the clock's now, or over more contacts).
   */
  restoreMaintained(r: SnapshotReader, m: MaintainedState, touched: Iterable<string>): number | null {
    const size = this.contacts.alive.size;
    if (m.at > this.clock.now() || m.size > size) return null;
    const saved = new Map(m.segments.map((s) => [s.id, s]));
    const indexes = new Set<number>();
    for (const id of touched) {
      const i = this.contacts.index(id);
      if (i !== undefined) indexes.add(i);
    }
    for (let c = m.size; c < size; c++) indexes.add(c);

    const changed = new Set<SegmentState>();
    for (const st of this.order) {
      const s = saved.get(st.id);
      const ranked = indexes.size > 0 && st.rule !== null && relativeKeys(st.rule).size > 0;
      if (s === undefined || ranked || s.fingerprint !== st.fingerprint()) {
        for (const d of this.dependentsOf(st.id)) changed.add(d);
      }
    }
    this.setNow(m.at);
    this.dirty = false;
    this.resetLive();
    this.ranks.clear();
    for (const st of this.order) {
      const s = saved.get(st.id);
      st.bits =
        s === undefined || changed.has(st)
          ? new Bitset(size)
          : new Bitset(m.size, r.array(s.words, Uint32Array)).resized(size);
    }
    const due = r.array(m.nextDue, Float64Array);
    this.nextDue = new Float64Array(Math.max(size, 1024)).fill(Number.POSITIVE_INFINITY);
    this.nextDue.set(due.subarray(0, Math.min(due.length, size)));
    this.grownTo = -1;
    this.grow();
    this.heap.clear();
    for (let c = 0; c < size; c++) {
      const t = this.nextDue[c]!;
      if (t !== Number.POSITIVE_INFINITY) this.heap.push(t, c);
    }
    this.rows.clearAll();
    for (const st of this.order) {
      if (changed.has(st)) st.bits = this.live.segment(st.id).all(this.contacts.alive);
      this.rows.load(st.slot, st.bits, true);
    }
    const timedChanged = this.timedSegments().filter((st) => changed.has(st));
    if (timedChanged.length > 0) {
      for (const c of this.contacts.alive.toArray()) this.scheduleFor(c, timedChanged, true);
    }
    // Computed again at the snapshot's instant: the changes are not the log's (the
    // caller reconciles the log with the membership it ends with).
    const discarded: MembershipChange[] = [];
    const timed = this.timedSegments();
    for (const c of indexes) {
      if (this.contacts.alive.has(c)) {
        this.reevaluate(c, null, discarded);
        this.scheduleFor(c, timed);
      } else {
        for (const st of this.order) st.bits.clear(c);
        this.rows.clearContact(c);
        this.nextDue[c] = Number.POSITIVE_INFINITY;
      }
    }
    return changed.size;
  }

  /**
   * Bulk load: drops contacts as if never loaded (profile, events, write times), where a
   * load from a snapshot learns they were erased, merged or rewritten since. No changes.
   */
  forgetLoaded(ids: Iterable<string>): void {
    for (const id of ids) {
      const i = this.contacts.index(id);
      if (i === undefined || !this.contacts.alive.has(i)) continue;
      this.contacts.remove(id);
      this.events.clearContact(i);
      this.effects.forget(i);
    }
    this.dirty = true;
  }

  /** Bulk load: drops the events of these contacts, whose events the store moved since a snapshot. */
  forgetLoadedEvents(ids: Iterable<string>): void {
    for (const id of ids) {
      const i = this.contacts.index(id);
      if (i !== undefined) this.events.clearContact(i);
    }
    this.dirty = true;
  }

  /**
   * Bulk load of static members and overrides (start-up): no changes emitted. Unknown
   * segments or contacts throw.
   */
  loadMembers(
    segmentId: string,
    members: { contact_id: string; action: "added" | "removed"; expires_at?: number | null }[],
  ): void {
    const st = this.states.get(segmentId);
    if (!st) throw new Error(`unknown segment "${segmentId}"`);
    for (const m of members) {
      const c = this.aliveIndex(m.contact_id);
      const until = m.expires_at ?? Number.POSITIVE_INFINITY;
      if (m.action === "added") st.added.set(c, until);
      else st.removed.set(c, until);
    }
    this.forgetDerived();
    this.dirty = true;
  }

  // ---------------------------------------------------------------- segments

  /** Parses and validates a rule against this engine's fields and segments. */
  validate(rule: unknown, selfId?: string): RuleNode {
    const segs = new Map<string, RuleNode | null>();
    for (const [id, st] of this.states) segs.set(id, st.rule);
    return validateRule(rule, {
      fields: this.registry,
      timeZone: this.timeZone,
      segments: segs,
      ...(selfId !== undefined ? { selfId } : {}),
    });
  }

  /**
   * Creates or replaces a segment (a dynamic one by default); throws
   * RuleValidationError (unknown fields, cycles, …). Returns the changes the definition
   * causes, in this segment and in the segments that refer to it. Overrides and static
   * members are kept across edits.
   */
  defineSegment(def: { id: string; rule?: unknown; kind?: SegmentKind }): MembershipChange[] {
    const kind = def.kind ?? "dynamic";
    const existing = this.states.get(def.id);
    if (existing?.readonly) {
      throw new RuleValidationError([
        { path: "id", message: `segment "${def.id}" is a read-only default segment` },
      ]);
    }
    if (existing && existing.kind !== kind) {
      throw new RuleValidationError([{ path: "kind", message: `segment "${def.id}" is ${existing.kind}` }]);
    }
    let rule: RuleNode | null = null;
    if (kind === "dynamic") rule = this.validate(def.rule, def.id);
    else if (def.rule !== undefined) {
      throw new RuleValidationError([{ path: "rule", message: "a static segment has no rule" }]);
    }
    const out = this.sync();
    const state = this.stateOf(def.id, kind, rule);
    if (existing) {
      for (const [c, t] of existing.added) state.added.set(c, t);
      for (const [c, t] of existing.removed) state.removed.set(c, t);
      state.bits = existing.bits;
      state.slot = existing.slot;
    } else state.bits = new Bitset(this.contacts.alive.size);
    this.states.set(def.id, state);
    this.reorder();
    this.resetLive();
    const deps = this.dependentsOf(def.id);
    this.recomputeSegments(deps, out);
    const timed = new Set(this.timedSegments());
    const newlyTimed = deps.filter((st) => timed.has(st));
    if (newlyTimed.length > 0)
      for (const c of this.contacts.alive.toArray()) this.scheduleFor(c, newlyTimed, true);
    return out;
  }

  /**
   * Bulk definition of segments (start-up, from the store): validated in the order
   * given, no changes emitted; maintained state is rebuilt on next use.
   */
  loadSegments(defs: { id: string; rule?: unknown; kind?: SegmentKind }[]): void {
    this.dirty = true; // rebuilt on next use: no membership to carry into rows meanwhile
    for (const def of defs) {
      const kind = def.kind ?? "dynamic";
      const rule = kind === "dynamic" ? this.validate(def.rule, def.id) : null;
      if (this.states.get(def.id)?.readonly) {
        throw new RuleValidationError([
          { path: "id", message: `segment "${def.id}" is a read-only default segment` },
        ]);
      }
      this.states.set(def.id, this.stateOf(def.id, kind, rule));
      this.reorder();
    }
    this.resetLive();
    this.dirty = true;
  }

  /** Segments whose rules refer to `id`. */
  usesOf(id: string): string[] {
    const out: string[] = [];
    for (const st of this.order) if (st.refs().has(id)) out.push(st.id);
    return out;
  }

  /** Deletes a segment (never its contacts); refused while another segment refers to it. */
  removeSegment(id: string): void {
    const st = this.states.get(id);
    if (!st) throw new Error(`unknown segment "${id}"`);
    if (st.readonly) throw new Error(`segment "${id}" is a read-only default segment`);
    const uses = this.usesOf(id);
    if (uses.length > 0)
      throw new Error(`segment "${id}" is used by ${uses.map((u) => `"${u}"`).join(", ")}`);
    this.states.delete(id);
    this.sourceRules.delete(id);
    this.reorder();
    this.resetLive();
  }

  segment(id: string): SegmentDefinition | undefined {
    const st = this.states.get(id);
    return (
      st && { id: st.id, kind: st.kind, rule: this.sourceRules.get(id) ?? st.rule, readonly: st.readonly }
    );
  }

  segmentIds(): string[] {
    return [...this.states.keys()];
  }

  private aliveIndex(contactId: string): number {
    const i = this.contacts.index(contactId);
    if (i === undefined || !this.contacts.alive.has(i)) throw new Error(`unknown contact "${contactId}"`);
    return i;
  }

  /**
   * Throws as an override of `segmentId` would for the segment (unknown, read-only), and
   * answers the contacts of `contactIds` it would refuse as unknown: a caller that
   * splits one override over several engines checks them all before any applies it.
   */
  checkOverride(segmentId: string, contactIds: readonly string[]): string[] {
    this.editable(segmentId);
    return contactIds.filter((id) => {
      const i = this.contacts.index(id);
      return i === undefined || !this.contacts.alive.has(i);
    });
  }

  private editable(segmentId: string): SegmentState {
    const st = this.states.get(segmentId);
    if (!st) throw new Error(`unknown segment "${segmentId}"`);
    if (st.readonly) throw new Error(`segment "${segmentId}" is a read-only default segment`);
    return st;
  }

  private override(
    segmentId: string,
    contactIds: string[],
    apply: (st: SegmentState, c: number) => void,
  ): MembershipChange[] {
    const st = this.editable(segmentId);
    const idx = contactIds.map((id) => this.aliveIndex(id));
    const out = this.sync();
    const affected = this.dependentsOf(segmentId);
    for (const c of idx) {
      apply(st, c);
      // An expiring override can make a segment timed.
      this.forgetDerived();
      for (const s of affected) this.reevaluateOne(s, c, out);
      this.reschedule(c);
    }
    return out;
  }

  private checkExpiry(expiresAt: number | undefined): number {
    if (expiresAt === undefined) return Number.POSITIVE_INFINITY;
    if (!Number.isFinite(expiresAt)) throw new FieldValueError("expires_at", "expected an instant");
    return expiresAt;
  }

  /**
   * Adds contacts: members of a static segment, or "always in" overrides of a dynamic
   * one, optionally until `expiresAt`.
   */
  addMembers(segmentId: string, contactIds: string[], opts: { expiresAt?: number } = {}): MembershipChange[] {
    const until = this.checkExpiry(opts.expiresAt);
    return this.override(segmentId, contactIds, (st, c) => {
      st.removed.delete(c);
      st.added.set(c, until);
    });
  }

  /** Removes members of a static segment, or adds "always out" overrides to a dynamic one. */
  removeMembers(
    segmentId: string,
    contactIds: string[],
    opts: { expiresAt?: number } = {},
  ): MembershipChange[] {
    const until = this.checkExpiry(opts.expiresAt);
    return this.override(segmentId, contactIds, (st, c) => {
      st.added.delete(c);
      if (st.kind === "dynamic") st.removed.set(c, until);
    });
  }

  /** Lifts a dynamic segment's overrides: the rule alone decides again. */
  liftOverrides(segmentId: string, contactIds: string[]): MembershipChange[] {
    return this.override(segmentId, contactIds, (st, c) => {
      st.added.delete(c);
      st.removed.delete(c);
    });
  }

  /** A segment's overrides (or a static segment's members) still in force. */
  overrides(segmentId: string): Override[] {
    this.sync();
    const st = this.states.get(segmentId);
    if (!st) throw new Error(`unknown segment "${segmentId}"`);
    const out: Override[] = [];
    for (const [action, map] of [
      ["added", st.added],
      ["removed", st.removed],
    ] as const) {
      for (const [c, t] of map) {
        if (t <= this.liveNow) continue;
        out.push({ contact_id: this.contacts.ids[c], action, expires_at: Number.isFinite(t) ? t : null });
      }
    }
    return out;
  }

  /** Who would enter and who would leave if a segment's rule were replaced (nothing is saved). */
  previewEdit(segmentId: string, rule: unknown): { entered: string[]; exited: string[] } {
    this.sync();
    const st = this.editable(segmentId);
    if (st.kind !== "dynamic") throw new Error(`segment "${segmentId}" is static`);
    const validated = this.validate(rule, segmentId);
    const trial = new SegmentState(segmentId, "dynamic", this.expanded(validated), false);
    for (const [c, t] of st.added) trial.added.set(c, t);
    for (const [c, t] of st.removed) trial.removed.set(c, t);
    const states = new Map(this.states);
    states.set(segmentId, trial);
    const env = new SegmentEnv(this.liveNow, this.timeZone, this.contacts, this.events, states, true);
    const next = env.segment(segmentId).all(this.contacts.alive);
    const entered = next.clone().andNot(st.bits);
    const exited = st.bits.clone().and(this.contacts.alive).andNot(next);
    const ids = (b: Bitset) => b.toArray().map((i) => this.contacts.ids[i]);
    return { entered: ids(entered), exited: ids(exited) };
  }

  // ---------------------------------------------------------------- time

  /**
   * Moves maintained membership to instant `t`, handling every contact whose answer can
   * change by then, each at its own instant. Returns the changes, oldest first.
   */
  advanceTo(t: number): MembershipChange[] {
    const out: MembershipChange[] = [];
    if (this.dirty) this.rebuild(Math.max(t, this.liveNow));
    while (this.heap.size > 0 && this.heap.peekTime() <= t) {
      const due = this.heap.peekTime();
      const c = this.heap.peekId();
      this.heap.pop();
      if (this.nextDue[c] !== due) continue; // stale: rescheduled since
      this.nextDue[c] = Number.POSITIVE_INFINITY;
      if (!this.contacts.alive.has(c)) continue;
      // Expired overrides stay in their maps: membership at a past instant still needs them.
      this.setNow(Math.max(due, this.liveNow));
      if (this.ranks.size > 0) this.rankTouch(c, null, out);
      // Only timed segments can change with time alone (and they include every segment referring to one).
      const timed = this.timedSegments();
      const nodes = this.timedNodes();
      for (let k = 0; k < timed.length; k++) this.reevaluateNode(timed[k], nodes[k], c, out);
      this.scheduleNodes(c, nodes, false);
    }
    if (t > this.liveNow) this.setNow(t);
    return out;
  }

  private setNow(t: number): void {
    this.liveNow = t;
    this.live.now = t;
  }

  /** Brings maintained state to the clock's now; returns the time-driven changes on the way. */
  private sync(): MembershipChange[] {
    const now = this.clock.now();
    if (this.dirty) this.rebuild(Math.max(now, this.liveNow));
    return this.advanceTo(now);
  }

  /** Recomputes every segment from scratch and schedules every contact (after bulk loads). */
  private rebuild(at: number): void {
    this.setNow(at);
    this.dirty = false;
    this.grow();
    this.resetLive();
    this.ranks.clear();
    for (const st of this.order) st.bits = this.live.segment(st.id).all(this.contacts.alive);
    this.rows.clearAll();
    for (const st of this.order) this.rows.load(st.slot, st.bits, true);
    this.rescheduleAll();
  }

  // ---------------------------------------------------------------- maintenance

  private emit(
    out: MembershipChange[],
    segment: string,
    c: number,
    change: "entered" | "exited",
    at: number,
  ): void {
    const ch: MembershipChange = {
      segment_id: segment,
      contact_id: c === this.eventContact ? this.eventContactId : this.contacts.ids[c],
      change,
      at,
    };
    out.push(ch);
    for (const l of this.listeners) l(ch);
  }

  /** Keeps per-contact structures as large as the contact table. */
  private grow(): void {
    const size = this.contacts.alive.size;
    if (size === this.grownTo) {
      // Only new contacts bring the doubling nearer: while none arrive (a stream of
      // events for known ones), nothing is made or touched ahead.
      const used = this.contacts.size;
      if (used > this.aheadAt) {
        if (this.aheadAt >= 0) this.ahead.step(size, used, () => ({ rows: this.rows, segments: this.order }));
        this.aheadAt = used;
      }
      return;
    }
    this.grownTo = size;
    const ahead = this.ahead.take(size);
    if (this.nextDue.length < size) {
      if (ahead?.due) this.nextDue = ahead.due.take(this.nextDue);
      else {
        const n = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
        n.set(this.nextDue);
        this.nextDue = n;
      }
    }
    for (const st of this.order) {
      if (st.bits.size >= size) continue;
      const words = ahead?.bits.get(st);
      st.bits = words !== undefined ? new Bitset(size, words.take(st.bits.words)) : st.bits.resized(size);
    }
    this.rows.ensure(size, this.slots, ahead?.rows ?? null);
  }

  private reorder(): void {
    const order: SegmentState[] = [];
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      const st = this.states.get(id);
      if (!st) return;
      for (const r of st.refs()) visit(r);
      order.push(st);
    };
    for (const id of this.states.keys()) visit(id);
    this.order = order;
    this.ranks.retain(new Set(order.flatMap((st) => (st.rule ? [...relativeKeys(st.rule)] : []))));
    this.assignSlots();
    const reads = new Map<string, Set<string>>();
    for (const st of order) {
      const r = new Set(st.reads);
      for (const ref of st.refs()) for (const k of reads.get(ref) ?? []) r.add(k);
      reads.set(st.id, r);
    }
    this.reads = reads;
    this.readers.clear();
    this.forgetDerived();
    this.grownTo = -1;
  }

  private eventReaders(type: string): EventReaders {
    let r = this.eventReaderCache.get(type);
    if (!r) {
      const states = this.readersOf(`e:${type}`);
      const timed = new Set(this.timedSegments());
      r = {
        type,
        states,
        nodes: states.map((st) => this.live.segment(st.id)),
        timed: states.filter((st) => timed.has(st)).map((st) => this.live.segment(st.id)),
        plan: null,
      };
      this.eventReaderCache.set(type, r);
    }
    return r;
  }

  /** Recompiles live nodes on next use. */
  private resetLive(): void {
    this.live.reset();
    this.forgetDerived();
  }

  private timedNodesCache: CompiledNode[] | null = null;

  /** The live compiled nodes of `timedSegments()`, in the same order. */
  private timedNodes(): CompiledNode[] {
    this.timedNodesCache ??= this.timedSegments().map((st) => this.live.segment(st.id));
    return this.timedNodesCache;
  }

  /** Forgets what is derived from definitions, compiled nodes and the timed segments. */
  private forgetDerived(): void {
    this.timedNodesCache = null;
    this.timedCache = null;
    this.timedOf = new WeakMap();
    this.eventReaderCache.clear();
    this.rankReaderCache = null;
  }

  /**
   * Whether the event just stored for contact `c` leaves its scheduled instant at most
   * every estimate of its readers' `next` (timers.ts), so rescheduling would not move it.
   */
  private timerKept(rs: EventReaders, c: number): boolean {
    const table = this.lastTable!;
    const slot = this.lastSlot;
    // The previous latest event when this one was appended after it.
    const s0 = table.start[c];
    const p = slot > s0 && slot === s0 + table.len[c] - 1 ? table.times[slot - 1] : Number.NaN;
    rs.plan ??= timerPlan(
      rs.type,
      rs.states.flatMap((st) => (st.rule ? [plainForTimers(st.rule)] : [])),
      this.timeZone,
    );
    return rs.plan.keeps(p, table.times[slot], this.liveNow, this.nextDue[c]);
  }

  /** Slots in use: one past the highest. */
  private slots = 0;

  /** Gives every segment without one a free slot in the rows, holding its current membership. */
  private assignSlots(): void {
    const used = new Set<number>();
    for (const st of this.order) if (st.slot >= 0) used.add(st.slot);
    const fresh: SegmentState[] = [];
    let free = 0;
    for (const st of this.order) {
      if (st.slot >= 0) continue;
      while (used.has(free)) free++;
      st.slot = free;
      used.add(free);
      fresh.push(st);
    }
    for (const k of used) if (k >= this.slots) this.slots = k + 1;
    this.rows.ensure(Math.max(0, this.grownTo), this.slots);
    // A freed slot may hold a removed segment's bits; a pending rebuild reloads every slot.
    if (!this.dirty) for (const st of fresh) this.rows.load(st.slot, st.bits);
  }

  private readersOf(key: string): SegmentState[] {
    let r = this.readers.get(key);
    if (!r) {
      r = this.order.filter((st) => this.reads.get(st.id)!.has(key));
      this.readers.set(key, r);
    }
    return r;
  }

  /** `id` and every segment that refers to it, directly or not, in dependency order. */
  private dependentsOf(id: string): SegmentState[] {
    return this.order.filter((st) => st.id === id || this.reads.get(st.id)?.has(`s:${id}`));
  }

  /** Per rank index, the segments reading it directly or through references, in dependency order. */
  private rankReaderCache: Map<string, SegmentState[]> | null = null;

  private rankReaders(key: string): SegmentState[] {
    if (this.rankReaderCache === null) {
      const keysOf = new Map<string, Set<string>>();
      const byKey = new Map<string, SegmentState[]>();
      for (const st of this.order) {
        const keys = st.rule ? relativeKeys(st.rule) : new Set<string>();
        for (const r of st.refs()) for (const k of keysOf.get(r) ?? []) keys.add(k);
        keysOf.set(st.id, keys);
        for (const k of keys) {
          const list = byKey.get(k);
          if (list) list.push(st);
          else byKey.set(k, [st]);
        }
      }
      this.rankReaderCache = byKey;
    }
    return this.rankReaderCache.get(key) ?? [];
  }

  /**
   * Contact `c`'s values of the rank indexes on event type `type` (all of them when
   * null: a contact created or erased changes every population, and a due timer may
   * move any window) may have changed: the indexes re-read it, and the other contacts
   * whose value lies between a cut's old and new place are re-evaluated in the
   * segments reading the index, now, with no data of their own changed. The caller
   * re-evaluates `c` itself.
   */
  private rankTouch(c: number, type: string | null, out: MembershipChange[]): void {
    const alive = this.contacts.alive.has(c);
    for (const ix of this.ranks.all()) {
      if (type !== null && ix.event !== type) continue;
      const moved = ix.update(c, alive);
      if (moved === null || moved.length === 0) continue;
      const readers = this.rankReaders(ix.key);
      for (const d of moved) for (const st of readers) this.reevaluateOne(st, d, out);
    }
  }
  private reevaluateOne(st: SegmentState, c: number, out: MembershipChange[]): void {
    this.reevaluateNode(st, this.live.segment(st.id), c, out);
  }

  private reevaluateNode(st: SegmentState, node: CompiledNode, c: number, out: MembershipChange[]): void {
    const now = node.one(c);
    if (now === this.rows.has(st.slot, c)) return;
    if (now) {
      st.bits.set(c);
      this.rows.set(st.slot, c);
    } else {
      st.bits.clear(c);
      this.rows.clear(st.slot, c);
    }
    this.emit(out, st.id, c, now ? "entered" : "exited", this.liveNow);
  }

  /**
   * Re-evaluates contact `c` in the segments that read any of `keys` (all of them when
   * null), and in the segments that refer to a segment whose answer changed.
   */
  private reevaluate(c: number, keys: Set<string> | null, out: MembershipChange[]): SegmentState[] {
    // Reads are transitive, so the readers of a key include every segment that refers
    // to one that reads it: one pass in dependency order covers the propagation.
    let affected: SegmentState[];
    if (keys === null) affected = this.order;
    else if (keys.size === 1) affected = this.readersOf(keys.values().next().value as string);
    else {
      const hit = new Set<SegmentState>();
      for (const k of keys) for (const st of this.readersOf(k)) hit.add(st);
      affected = this.order.filter((st) => hit.has(st));
    }
    for (const st of affected) this.reevaluateOne(st, c, out);
    return affected;
  }

  private recomputeSegments(states: SegmentState[], out: MembershipChange[]): void {
    this.grow();
    for (const st of states) {
      const next = this.live.segment(st.id).all(this.contacts.alive);
      const prev = st.bits;
      st.bits = next;
      for (const c of next.clone().andNot(prev).toArray()) {
        this.rows.set(st.slot, c);
        this.emit(out, st.id, c, "entered", this.liveNow);
      }
      for (const c of prev.clone().andNot(next).toArray()) {
        this.rows.clear(st.slot, c);
        this.emit(out, st.id, c, "exited", this.liveNow);
      }
    }
  }

  /** Segments whose answer can change with time alone: moving rules, expiring overrides, and what refers to them. */
  private timedSegments(): SegmentState[] {
    if (this.timedCache) return this.timedCache;
    const timed = new Set<string>();
    for (const st of this.order) {
      if (st.moving || st.hasExpiries() || [...st.refs()].some((r) => timed.has(r))) timed.add(st.id);
    }
    this.timedCache = this.order.filter((st) => timed.has(st.id));
    return this.timedCache;
  }

  /**
   * Sets the contact's next instant from `segments`. With `partial`, only those
   * segments' answers may have changed, so the earlier of the old instant and theirs
   * stays correct (at worst early, which only costs a re-check).
   */
  private scheduleFor(c: number, segments: SegmentState[], partial = false): void {
    let due = partial ? this.nextDue[c] : Number.POSITIVE_INFINITY;
    for (const st of segments) {
      const n = this.live.segment(st.id).next(c);
      if (n < due) due = n;
    }
    // A conservative estimate may land on now itself; checking again a millisecond later is safe.
    if (due <= this.liveNow) due = this.liveNow + 1;
    if (due === this.nextDue[c]) return;
    this.nextDue[c] = due;
    if (due !== Number.POSITIVE_INFINITY) this.heap.push(due, c);
  }

  /** `scheduleFor` with the segments' compiled nodes at hand. */
  private scheduleNodes(c: number, nodes: CompiledNode[], partial: boolean): void {
    let due = partial ? this.nextDue[c] : Number.POSITIVE_INFINITY;
    for (let k = 0; k < nodes.length; k++) {
      const n = nodes[k].next(c);
      if (n < due) due = n;
    }
    if (due <= this.liveNow) due = this.liveNow + 1;
    if (due === this.nextDue[c]) return;
    this.nextDue[c] = due;
    if (due !== Number.POSITIVE_INFINITY) this.heap.push(due, c);
  }

  private timedOf = new WeakMap<SegmentState[], SegmentState[]>();

  /** The timed segments of a readers list (cached per list; lists are rebuilt when definitions change). */
  private timedAmong(list: SegmentState[]): SegmentState[] {
    let r = this.timedOf.get(list);
    if (!r) {
      const timed = new Set(this.timedSegments());
      r = list.filter((st) => timed.has(st));
      this.timedOf.set(list, r);
    }
    return r;
  }

  private reschedule(c: number, affected?: SegmentState[]): void {
    const timed = this.timedSegments();
    if (affected === undefined || affected === this.order) {
      this.scheduleFor(c, timed);
      return;
    }
    this.scheduleFor(c, this.timedAmong(affected), true);
  }

  private rescheduleAll(): void {
    const timed = this.timedSegments();
    this.heap.clear();
    this.nextDue.fill(Number.POSITIVE_INFINITY);
    if (timed.length === 0) return;
    const nodes = this.timedNodes();
    const alive = this.contacts.alive.toArray();
    for (let k = 0; k < alive.length; k++) this.scheduleNodes(alive[k]!, nodes, false);
  }

  // ---------------------------------------------------------------- queries

  private env(at: number | undefined): SegmentEnv {
    return new SegmentEnv(
      at ?? this.clock.now(),
      this.timeZone,
      this.contacts,
      this.events,
      this.states,
      false,
    );
  }

  private resolve(ruleOrId: unknown): RuleNode | string {
    if (typeof ruleOrId === "string") {
      if (!this.states.has(ruleOrId)) throw new Error(`unknown segment "${ruleOrId}"`);
      return ruleOrId;
    }
    return this.expanded(this.validate(ruleOrId));
  }

  /** Compiles a rule (or a segment, by id) for instant `at` (default: the clock's now), from scratch. */
  compile(rule: unknown, at?: number): CompiledQuery {
    const env = this.env(at);
    const r = this.resolve(rule);
    const node = typeof r === "string" ? env.segment(r) : compile(r, env);
    const contacts = this.contacts;
    return {
      at: env.now,
      evaluate: () => new BitsetMembership(node.all(contacts.alive), contacts),
      matches: (id) => {
        const i = contacts.index(id);
        return i !== undefined && contacts.alive.has(i) && node.one(i);
      },
      matchesIndex: (i) => node.one(i),
    };
  }

  /** Evaluates a rule from scratch over every contact at `at` (default: the clock's now). */
  evaluate(rule: unknown, at?: number): Membership {
    return this.compile(rule, at).evaluate();
  }

  /**
   * A rule whose rank and quintile conditions' cuts are chosen over more contacts than this engine's
   * (the partitioned engine's coordinator, over every worker), evaluated from scratch at
   * `at`. Each measure's values are computed once, for both steps.
   */
  rankedQuery(rule: unknown, at?: number): RankedQuery {
    const node = this.expanded(this.validate(rule));
    const env = this.env(at);
    const cuts = new Map<string, number>();
    env.rankCuts = cuts;
    env.rankSnapshots = new Map();
    const alive = this.contacts.alive;
    let gathered: Map<string, Float64Array> | null = null;
    return {
      populations: () => {
        if (gathered) return gathered;
        const out = new Map<string, Float64Array>();
        env.rankPopulations = out;
        // Compiling a rank or quintile condition while populations are gathered adds its
        // own (rank.ts); each on its own, as inside a group one may be skipped.
        for (const n of relativeNodes(node)) compile(n, env);
        env.rankPopulations = undefined;
        gathered = out;
        return out;
      },
      evaluate: (given) => {
        for (const [key, cut] of given) cuts.set(key, cut);
        return new BitsetMembership(compile(node, env).all(alive), this.contacts);
      },
    };
  }

  /**
   * A segment's members: maintained membership brought to the clock's now, or, with
   * `at`, computed from scratch at that instant.
   */
  /**
   * The segments a contact is in now, in `segmentIds()` order: one bit per segment
   * instead of `members(id).has(c)`, which copies every segment's set.
   */
  segmentsOf(contactId: string): string[] {
    this.sync();
    const i = this.contacts.index(contactId);
    if (i === undefined || !this.contacts.alive.has(i)) return [];
    const out: string[] = [];
    for (const [id, st] of this.states) if (st.bits.has(i)) out.push(id);
    return out;
  }

  members(segmentId: string, at?: number): Membership {
    if (at !== undefined) return this.compile(segmentId, at).evaluate();
    this.sync();
    const st = this.states.get(segmentId);
    if (!st) throw new Error(`unknown segment "${segmentId}"`);
    return new BitsetMembership(st.bits.clone().and(this.contacts.alive), this.contacts);
  }

  matches(contactId: string, ruleOrSegmentId: RuleNode | string, at?: number): boolean {
    return this.compile(ruleOrSegmentId, at).matches(contactId);
  }

  /** Why a contact is in or out (SPEC §3.4): every node's result, event nodes with measured values. */
  explain(contactId: string, ruleOrSegmentId: RuleNode | string, at?: number): ExplainNode {
    const i = this.aliveIndex(contactId);
    const env = this.env(at);
    const r = this.resolve(ruleOrSegmentId);
    return (typeof r === "string" ? env.segment(r) : compile(r, env)).explain(i);
  }
}
