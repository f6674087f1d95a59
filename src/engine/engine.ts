/**
 * The segment engine as a library: contacts, events and segments in memory, every
 * segment's membership maintained exactly as data changes and as time passes, and any
 * rule evaluable from scratch at any instant. No I/O and no global clock: the caller
 * passes one in.
 *
 * This class is the public surface only; the work is done by the parts in live/:
 * writes.ts (a change to one contact re-evaluates the segments reading what changed),
 * schedule.ts and due.ts (each contact's next instant in a heap; `advanceTo(t)` handles
 * exactly the contacts due by t), registry.ts (segment definitions), overrides.ts
 * (manual membership), dependencies.ts and computed-fields.ts (what reads what),
 * membership.ts (maintained bitsets and rows, and the changes emitted) and loading.ts
 * (bulk loads at start-up). Queries from scratch are in queries.ts.
 */
import type { ComputedDefinition } from "../rules/computed.ts";
import { DEFAULT_SEGMENT_SETTINGS, defaultSegments } from "../rules/defaults.ts";
import type { FieldDef, FieldRegistry } from "../rules/fields.ts";
import type { RuleNode } from "../rules/schema.ts";
import { isValidTimeZone } from "../rules/time.ts";
import { computedValues } from "./computed-values.ts";
import { type ContactColumns, ContactTable } from "./contacts.ts";
import { Dictionary } from "./dictionary.ts";
import { ProfileEffects } from "./effects.ts";
import { type EventColumns, EventStore } from "./events.ts";
import { aliveIndex } from "./live/alive.ts";
import { FieldBook } from "./live/computed-fields.ts";
import { SegmentGraph } from "./live/dependencies.ts";
import { DueTimes } from "./live/due.ts";
import { EventIntake } from "./live/intake.ts";
import { Loader, type StoredContact } from "./live/loading.ts";
import { MaintainedMembership } from "./live/membership.ts";
import { type Override, Overrides } from "./live/overrides.ts";
import { type SegmentDefinition, SegmentRegistry } from "./live/registry.ts";
import { Scheduler } from "./live/schedule.ts";
import { type EventBatchResult, type WriteOptions, Writes } from "./live/writes.ts";
import { BitsetMembership, type CompiledQuery, Queries } from "./queries.ts";
import { MembershipRows } from "./rows.ts";
import { SegmentEnv, type SegmentKind, type SegmentState } from "./segments.ts";
import {
  type Clock,
  type ContactInput,
  type EngineOptions,
  type EventInput,
  type ExplainNode,
  type JsonValue,
  type Membership,
  type MembershipChange,
  systemClock,
} from "./types.ts";

export type { CompiledQuery, EventBatchResult, Override, SegmentDefinition, StoredContact, WriteOptions };

export class Engine {
  readonly timeZone: string;
  readonly contacts: ContactTable;
  readonly events: EventStore;
  private readonly clock: Clock;
  private readonly fieldBook: FieldBook;
  private readonly segments: SegmentRegistry;
  private readonly graph: SegmentGraph;
  private readonly maintained: MaintainedMembership;
  private readonly due: DueTimes;
  private readonly scheduler: Scheduler;
  private readonly overrideBook: Overrides;
  private readonly intake: EventIntake;
  private readonly loader: Loader;
  private readonly writes: Writes;
  private readonly queries: Queries;

  constructor(opts: EngineOptions = {}) {
    this.timeZone = opts.timeZone ?? "UTC";
    if (!isValidTimeZone(this.timeZone)) throw new Error(`timeZone: unknown time zone "${this.timeZone}"`);
    // The one reading of the system clock left: for callers that pass no clock.
    this.clock = opts.clock ?? systemClock;
    this.fieldBook = new FieldBook(opts.fields ?? []);
    this.contacts = new ContactTable(this.fieldBook.registry, this.timeZone);
    this.events = new EventStore(new Dictionary());
    const effects = new ProfileEffects(this.contacts, this.events);
    const states = new Map<string, SegmentState>();
    this.graph = new SegmentGraph(states);
    const rows = new MembershipRows();
    const live = new SegmentEnv(
      this.clock.now(),
      this.timeZone,
      this.contacts,
      this.events,
      states,
      true,
      rows,
    );
    this.due = new DueTimes(live, this.graph);
    this.maintained = new MaintainedMembership(live, rows, this.contacts, this.graph, this.due);
    this.scheduler = new Scheduler(this.clock, live, this.contacts, this.graph, this.maintained, this.due);
    this.segments = new SegmentRegistry(
      states,
      this.fieldBook,
      this.timeZone,
      this.contacts,
      this.events,
      this.graph,
      this.maintained,
      this.scheduler,
      this.due,
    );
    this.overrideBook = new Overrides(
      this.contacts,
      this.segments,
      this.graph,
      this.maintained,
      this.scheduler,
      this.due,
    );
    this.intake = new EventIntake(this.contacts, this.events, this.timeZone);
    this.loader = new Loader(this.contacts, this.events, effects, this.intake, this.maintained);
    this.writes = new Writes(
      this.contacts,
      this.events,
      effects,
      this.intake,
      this.maintained,
      this.scheduler,
      this.due,
    );
    this.queries = new Queries(this.timeZone, this.contacts, this.events, states, (r) => this.resolve(r));
    if (opts.defaultSegments !== false) {
      for (const s of defaultSegments(opts.defaultSegments ?? DEFAULT_SEGMENT_SETTINGS)) {
        this.segments.addDefault(s.id, s.rule);
      }
    }
    this.maintained.reorder();
  }

  get fields(): FieldRegistry {
    return this.fieldBook.registry;
  }

  /** The instant maintained membership is exact at (the last `advanceTo`, or the clock at the last write). */
  get now(): number {
    return this.scheduler.now;
  }

  /** Every membership change, as it is emitted (writes, segment edits, the passing of time). */
  onChange(listener: (c: MembershipChange) => void): () => void {
    return this.maintained.onChange(listener);
  }

  // ---------------------------------------------------------------- fields

  /** Declares a custom field (SPEC §1); throws on a bad key, a shadowed built-in or a duplicate. */
  defineField(def: FieldDef): void {
    this.contacts.setFields(this.fieldBook.define(def));
  }

  /**
   * Declares a computed field: rules may test it as a field of `def.type`, which must be
   * the measure's (validated by the caller, `validateComputed`); contacts hold no value
   * of it, writes of its key are ignored as undeclared.
   */
  defineComputedField(def: FieldDef, computed: ComputedDefinition): void {
    this.fieldBook.defineComputed(def, computed);
  }

  /** Removes a computed field; refused while a segment's rule names it. */
  removeComputedField(key: string): void {
    this.fieldBook.removeComputed(key, this.fieldUses(key));
  }

  /** The computed fields' definitions by key. */
  computedFields(): ReadonlyMap<string, ComputedDefinition> {
    return this.fieldBook.computed;
  }

  /** Segments whose rules have a condition on the field `key`. */
  fieldUses(key: string): string[] {
    return this.segments.fieldUses(key);
  }

  /**
   * The computed fields' values of contacts at `at` (default: the clock's now): numbers,
   * ISO instants (`first_at`, `last_at`), strings as rules see them (`most_frequent`), or
   * null when missing. One reader serves many contacts (a page, an export).
   */
  computedReader(at?: number): (contactId: string) => Record<string, JsonValue> {
    const computed = this.fieldBook.computed;
    if (computed.size === 0) return () => ({});
    const values = computedValues(this.queries.env(at ?? this.clock.now()), computed);
    return (id) => {
      const i = this.contacts.index(id);
      return i === undefined || !this.contacts.alive.has(i) ? {} : values(i);
    };
  }

  /** Pending time-driven re-evaluations (contact, segment pairs), for monitoring. */
  get timerCount(): number {
    return this.due.size;
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
    return this.writes.writeContact(c, false, opts);
  }

  /** Changes only the keys given (null clears a field). */
  patchContact(c: ContactInput, opts: WriteOptions = {}): MembershipChange[] {
    return this.writes.writeContact(c, true, opts);
  }

  /** Adds and removes tags. */
  changeTags(contactId: string, change: { add?: string[]; remove?: string[] }): MembershipChange[] {
    return this.writes.changeTags(contactId, change);
  }

  /** Erases a contact (right to erasure): its profile, events and memberships, with an exit per segment. */
  removeContact(id: string): MembershipChange[] {
    return this.writes.removeContact(id);
  }

  /**
   * Adds one event, in any time order; an `id` already seen is ignored. Returns the
   * membership changes. `contact` is the contact's index when the caller has just looked
   * it up (`contacts.index(e.contact_id)`), which spares a second lookup in a map of
   * every contact id (a sixth of the cost of an event at a million contacts).
   */
  addEvent(e: EventInput, contact?: number): MembershipChange[] {
    return this.writes.addEvent(e, contact ?? -1);
  }

  /** Adds events one by one; per-item errors do not stop the rest. */
  addEvents(batch: EventInput[]): EventBatchResult {
    return this.writes.addEvents(batch);
  }

  // ---------------------------------------------------------------- bulk loads

  /** Bulk load of contacts (start-up): no changes are emitted; maintained state is rebuilt on next use. */
  loadContacts(it: Iterable<StoredContact>): void {
    this.loader.loadContacts(it);
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
    this.loader.loadContactColumns(b, written);
  }

  /**
   * Bulk load of events in any order: appended unsorted, then each block sorted once and
   * the slab packed. A columnar batch (`EventColumns`, start-up from a store) is the same
   * as its rows given one by one, but is laid out only when the load finishes.
   */
  loadEvents(it: Iterable<EventInput> | EventColumns, opts: { finish?: boolean } = {}): void {
    this.loader.loadEvents(it, opts.finish !== false);
  }

  /** Ends a bulk load made of several `loadEvents(…, { finish: false })` calls. */
  finishLoad(): void {
    this.loader.finishLoad();
  }

  /**
   * Bulk load of static members and overrides (start-up): no changes emitted. Unknown
   * segments or contacts throw.
   */
  loadMembers(
    segmentId: string,
    members: { contact_id: string; action: "added" | "removed"; expires_at?: number | null }[],
  ): void {
    this.overrideBook.load(segmentId, members);
  }

  // ---------------------------------------------------------------- segments

  /** Parses and validates a rule against this engine's fields and segments. */
  validate(rule: unknown, selfId?: string): RuleNode {
    return this.segments.validate(rule, selfId);
  }

  /**
   * Creates or replaces a segment (a dynamic one by default); throws
   * RuleValidationError (unknown fields, cycles, …). Returns the changes the definition
   * causes, in this segment and in the segments that refer to it. Overrides and static
   * members are kept across edits.
   */
  defineSegment(def: { id: string; rule?: unknown; kind?: SegmentKind }): MembershipChange[] {
    return this.segments.define(def);
  }

  /**
   * Bulk definition of segments (start-up, from the store): validated in the order
   * given, no changes emitted; maintained state is rebuilt on next use.
   */
  loadSegments(defs: { id: string; rule?: unknown; kind?: SegmentKind }[]): void {
    this.segments.load(defs);
  }

  /** Segments whose rules refer to `id`. */
  usesOf(id: string): string[] {
    return this.graph.usesOf(id);
  }

  /** Deletes a segment (never its contacts); refused while another segment refers to it. */
  removeSegment(id: string): void {
    this.segments.remove(id);
  }

  segment(id: string): SegmentDefinition | undefined {
    return this.segments.definition(id);
  }

  segmentIds(): string[] {
    return this.segments.ids();
  }

  /**
   * Adds contacts: members of a static segment, or "always in" overrides of a dynamic
   * one, optionally until `expiresAt`.
   */
  addMembers(segmentId: string, contactIds: string[], opts: { expiresAt?: number } = {}): MembershipChange[] {
    return this.overrideBook.add(segmentId, contactIds, opts.expiresAt);
  }

  /** Removes members of a static segment, or adds "always out" overrides to a dynamic one. */
  removeMembers(
    segmentId: string,
    contactIds: string[],
    opts: { expiresAt?: number } = {},
  ): MembershipChange[] {
    return this.overrideBook.remove(segmentId, contactIds, opts.expiresAt);
  }

  /** Lifts a dynamic segment's overrides: the rule alone decides again. */
  liftOverrides(segmentId: string, contactIds: string[]): MembershipChange[] {
    return this.overrideBook.lift(segmentId, contactIds);
  }

  /** A segment's overrides (or a static segment's members) still in force. */
  overrides(segmentId: string): Override[] {
    return this.overrideBook.list(segmentId);
  }

  /** Who would enter and who would leave if a segment's rule were replaced (nothing is saved). */
  previewEdit(segmentId: string, rule: unknown): { entered: string[]; exited: string[] } {
    return this.segments.previewEdit(segmentId, rule);
  }

  // ---------------------------------------------------------------- time

  /**
   * Moves maintained membership to instant `t`, handling every contact whose answer can
   * change by then, each at its own instant. Returns the changes, oldest first.
   */
  advanceTo(t: number): MembershipChange[] {
    return this.scheduler.advanceTo(t);
  }

  // ---------------------------------------------------------------- queries

  private resolve(ruleOrId: unknown): RuleNode | string {
    if (typeof ruleOrId === "string") {
      if (!this.segments.get(ruleOrId)) throw new Error(`unknown segment "${ruleOrId}"`);
      return ruleOrId;
    }
    return this.fieldBook.expand(this.validate(ruleOrId));
  }

  /** Compiles a rule (or a segment, by id) for instant `at` (default: the clock's now), from scratch. */
  compile(rule: unknown, at?: number): CompiledQuery {
    return this.queries.compile(rule, at ?? this.clock.now());
  }

  /** Evaluates a rule from scratch over every contact at `at` (default: the clock's now). */
  evaluate(rule: unknown, at?: number): Membership {
    return this.compile(rule, at).evaluate();
  }

  /**
   * The segments a contact is in now, in `segmentIds()` order: one bit per segment
   * instead of `members(id).has(c)`, which copies every segment's set.
   */
  segmentsOf(contactId: string): string[] {
    this.scheduler.sync();
    const i = this.contacts.index(contactId);
    if (i === undefined || !this.contacts.alive.has(i)) return [];
    return this.segments.holding(i);
  }

  /**
   * A segment's members: maintained membership brought to the clock's now, or, with
   * `at`, computed from scratch at that instant.
   */
  members(segmentId: string, at?: number): Membership {
    if (at !== undefined) return this.compile(segmentId, at).evaluate();
    this.scheduler.sync();
    const st = this.segments.known(segmentId);
    return new BitsetMembership(st.bits.clone().and(this.contacts.alive), this.contacts);
  }

  matches(contactId: string, ruleOrSegmentId: RuleNode | string, at?: number): boolean {
    return this.compile(ruleOrSegmentId, at).matches(contactId);
  }

  /** Why a contact is in or out (SPEC §3.4): every node's result, event nodes with measured values. */
  explain(contactId: string, ruleOrSegmentId: RuleNode | string, at?: number): ExplainNode {
    const i = aliveIndex(this.contacts, contactId);
    return this.queries.explain(i, ruleOrSegmentId, at ?? this.clock.now());
  }
}
