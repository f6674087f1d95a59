/**
 * The segment engine as a library: contacts, events and segment definitions in
 * memory, evaluated exactly at any instant. No I/O and no global clock: the caller
 * passes one in (or an explicit instant per call).
 */
import { DEFAULT_SEGMENT_SETTINGS, defaultSegments } from "../rules/defaults.ts";
import { RuleValidationError } from "../rules/errors.ts";
import { type FieldDef, FieldRegistry } from "../rules/fields.ts";
import type { RuleNode } from "../rules/schema.ts";
import { isValidTimeZone, parseTimeValue } from "../rules/time.ts";
import { segmentRefs, validateRule } from "../rules/validate.ts";
import type { Bitset } from "./bitset.ts";
import { type CompiledNode, type CompileEnv, compile } from "./compile.ts";
import { ContactTable, FieldValueError } from "./contacts.ts";
import { Dictionary } from "./dictionary.ts";
import { EventStore } from "./events.ts";
import {
  type Clock,
  type ContactInput,
  type EngineOptions,
  type EventInput,
  type ExplainNode,
  type Membership,
  systemClock,
} from "./types.ts";

const EVENT_TYPE = /^[a-z0-9_.:-]{1,64}$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

export interface SegmentDefinition {
  id: string;
  rule: RuleNode;
  /** Default segments are read-only. */
  readonly?: boolean;
}

/** A rule compiled for one instant: evaluate it all at once, or contact by contact. */
export interface CompiledQuery {
  readonly at: number;
  evaluate(): Membership;
  matches(contactId: string): boolean;
  /** By dense contact index (0 … contactCount-1), for callers that iterate. */
  matchesIndex(i: number): boolean;
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
  ids(): string[] {
    return this.bits.toArray().map((i) => this.contacts.ids[i]);
  }
}

/** Compilation context for one instant: segments referenced by rules compile and evaluate once. */
class InstantEnv implements CompileEnv {
  private readonly compiled = new Map<string, CompiledNode>();
  private readonly bits = new Map<string, Bitset>();
  constructor(
    readonly now: number,
    readonly tz: string,
    readonly contacts: ContactTable,
    readonly events: EventStore,
    private readonly rules: ReadonlyMap<string, SegmentDefinition>,
  ) {}

  segment(id: string): CompiledNode {
    let c = this.compiled.get(id);
    if (!c) {
      const def = this.rules.get(id);
      if (!def) throw new Error(`unknown segment "${id}"`);
      c = compile(def.rule, this);
      this.compiled.set(id, c);
    }
    return c;
  }

  segmentBits(id: string): Bitset {
    let b = this.bits.get(id);
    if (!b) {
      b = this.segment(id).all(this.contacts.alive);
      this.bits.set(id, b);
    }
    return b;
  }
}

export class Engine {
  readonly timeZone: string;
  private registry: FieldRegistry;
  private readonly clock: Clock;
  readonly contacts: ContactTable;
  readonly events: EventStore;
  private readonly segments = new Map<string, SegmentDefinition>();

  constructor(opts: EngineOptions = {}) {
    this.timeZone = opts.timeZone ?? "UTC";
    if (!isValidTimeZone(this.timeZone)) throw new Error(`timeZone: unknown time zone "${this.timeZone}"`);
    this.registry = new FieldRegistry(opts.fields ?? []);
    this.clock = opts.clock ?? systemClock;
    this.contacts = new ContactTable(this.registry, this.timeZone);
    this.events = new EventStore(new Dictionary());
    if (opts.defaultSegments !== false) {
      for (const s of defaultSegments(opts.defaultSegments ?? DEFAULT_SEGMENT_SETTINGS)) {
        this.segments.set(s.id, { id: s.id, rule: s.rule, readonly: true });
      }
    }
  }

  get fields(): FieldRegistry {
    return this.registry;
  }

  /** Declares a custom field (SPEC §1); throws on a bad key, a shadowed built-in or a duplicate. */
  defineField(def: FieldDef): void {
    this.registry = this.registry.withField(def);
    this.contacts.setFields(this.registry);
  }

  get contactCount(): number {
    return this.contacts.count;
  }

  contactIds(): string[] {
    return this.contacts.alive.toArray().map((i) => this.contacts.ids[i]);
  }

  /** Replaces a contact's whole profile; throws FieldValueError (with the path) before changing anything. */
  upsertContact(c: ContactInput): void {
    this.contacts.upsert(c);
    this.events.ensureContacts(this.contacts.size);
  }

  /** Erases a contact and its events. */
  removeContact(id: string): boolean {
    const i = this.contacts.remove(id);
    if (i === undefined) return false;
    this.events.clearContact(i);
    return true;
  }

  private eventTime(e: EventInput): number {
    const ts = e.timestamp;
    if (typeof ts === "number") {
      if (!Number.isFinite(ts)) throw new FieldValueError("event.timestamp", "expected a finite epoch ms");
      return Math.floor(ts);
    }
    if (typeof ts === "string") {
      if (ISO_WITH_ZONE.test(ts)) {
        const t = Date.parse(ts);
        if (!Number.isNaN(t)) return t;
      }
      try {
        return parseTimeValue(ts, this.timeZone).start;
      } catch (err) {
        throw new FieldValueError("event.timestamp", (err as Error).message);
      }
    }
    throw new FieldValueError("event.timestamp", "expected an ISO 8601 instant or epoch ms");
  }

  private append(e: EventInput, keepSorted: boolean): void {
    if (typeof e.type !== "string" || !EVENT_TYPE.test(e.type)) {
      throw new FieldValueError("event.type", "expected an event type matching [a-z0-9_.:-]{1,64}");
    }
    if (typeof e.contact_id !== "string" || e.contact_id === "") {
      throw new FieldValueError("event.contact_id", "expected a contact id");
    }
    const t = this.eventTime(e);
    if (
      e.properties !== undefined &&
      (typeof e.properties !== "object" || e.properties === null || Array.isArray(e.properties))
    ) {
      throw new FieldValueError("event.properties", "expected an object");
    }
    // An event for an unknown contact creates it with no fields (SPEC §2).
    const c = this.contacts.ensure(e.contact_id);
    this.events.ensureContacts(this.contacts.size);
    this.events.table(e.type).append(c, t, e.properties, keepSorted);
  }

  /** Adds one event, in any time order. */
  addEvent(e: EventInput): void {
    this.append(e, true);
  }

  /** Bulk load of contacts. */
  loadContacts(it: Iterable<ContactInput>): void {
    for (const c of it) this.contacts.upsert(c);
    this.events.ensureContacts(this.contacts.size);
  }

  /** Bulk load of events in any order: appended unsorted, then each block sorted once and the slab packed. */
  loadEvents(it: Iterable<EventInput>): void {
    for (const e of it) this.append(e, false);
    this.events.compact(true);
  }

  /** Parses and validates a rule against this engine's fields and segments. */
  validate(rule: unknown, selfId?: string): RuleNode {
    const segs = new Map<string, RuleNode | null>();
    for (const [id, def] of this.segments) segs.set(id, def.rule);
    return validateRule(rule, {
      fields: this.registry,
      timeZone: this.timeZone,
      segments: segs,
      ...(selfId !== undefined ? { selfId } : {}),
    });
  }

  /** Creates or replaces a segment; throws RuleValidationError (unknown fields, cycles, …). */
  defineSegment(def: { id: string; rule: unknown }): void {
    const existing = this.segments.get(def.id);
    if (existing?.readonly) {
      throw new RuleValidationError([
        { path: "id", message: `segment "${def.id}" is a read-only default segment` },
      ]);
    }
    const rule = this.validate(def.rule, def.id);
    this.segments.set(def.id, { id: def.id, rule });
  }

  /** Segments whose rules refer to `id`. */
  usesOf(id: string): string[] {
    const out: string[] = [];
    for (const [sid, def] of this.segments) if (segmentRefs(def.rule).has(id)) out.push(sid);
    return out;
  }

  removeSegment(id: string): void {
    const def = this.segments.get(id);
    if (!def) throw new Error(`unknown segment "${id}"`);
    if (def.readonly) throw new Error(`segment "${id}" is a read-only default segment`);
    const uses = this.usesOf(id);
    if (uses.length > 0)
      throw new Error(`segment "${id}" is used by ${uses.map((u) => `"${u}"`).join(", ")}`);
    this.segments.delete(id);
  }

  segment(id: string): SegmentDefinition | undefined {
    return this.segments.get(id);
  }

  segmentIds(): string[] {
    return [...this.segments.keys()];
  }

  private env(at: number | undefined): InstantEnv {
    return new InstantEnv(at ?? this.clock.now(), this.timeZone, this.contacts, this.events, this.segments);
  }

  private resolve(ruleOrId: RuleNode | string | unknown): RuleNode {
    if (typeof ruleOrId === "string") {
      const def = this.segments.get(ruleOrId);
      if (!def) throw new Error(`unknown segment "${ruleOrId}"`);
      return def.rule;
    }
    return this.validate(ruleOrId);
  }

  compile(rule: unknown, at?: number): CompiledQuery {
    const env = this.env(at);
    const node = compile(this.resolve(rule), env);
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

  /** A segment's members at `at`, computed from its rule. */
  members(segmentId: string, at?: number): Membership {
    return this.compile(segmentId, at).evaluate();
  }

  matches(contactId: string, ruleOrSegmentId: RuleNode | string, at?: number): boolean {
    return this.compile(ruleOrSegmentId, at).matches(contactId);
  }

  /** Why a contact is in or out (SPEC §3.4): every node's result, event nodes with measured values. */
  explain(contactId: string, ruleOrSegmentId: RuleNode | string, at?: number): ExplainNode {
    const i = this.contacts.index(contactId);
    if (i === undefined || !this.contacts.alive.has(i)) throw new Error(`unknown contact "${contactId}"`);
    const env = this.env(at);
    return compile(this.resolve(ruleOrSegmentId), env).explain(i);
  }
}
