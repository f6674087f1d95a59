/**
 * The segments: their definitions and states, created, replaced and removed here.
 * A definition change recomputes the segment and every segment referring to it, from
 * the maintained state of the others, and schedules what became timed. Rules are kept
 * as defined for `segment(id)`, and compiled with computed fields expanded.
 */
import { fieldRefs } from "../../rules/computed.ts";
import { RuleValidationError } from "../../rules/errors.ts";
import type { RuleNode } from "../../rules/schema.ts";
import { validateRule } from "../../rules/validate.ts";
import type { Bitset } from "../bitset.ts";
import type { ContactTable } from "../contacts.ts";
import type { EventStore } from "../events.ts";
import { SegmentEnv, type SegmentKind, SegmentState } from "../segments.ts";
import type { MembershipChange } from "../types.ts";
import type { FieldBook } from "./computed-fields.ts";
import type { SegmentGraph } from "./dependencies.ts";
import type { DueTimes } from "./due.ts";
import type { MaintainedMembership } from "./membership.ts";
import type { Scheduler } from "./schedule.ts";

export interface SegmentDefinition {
  id: string;
  kind: SegmentKind;
  rule: RuleNode | null;
  /** Default segments are read-only. */
  readonly: boolean;
}

export class SegmentRegistry {
  /** Segment rules as defined, where their states hold them expanded. */
  private readonly sourceRules = new Map<string, RuleNode>();

  constructor(
    private readonly states: Map<string, SegmentState>,
    private readonly fields: FieldBook,
    private readonly timeZone: string,
    private readonly contacts: ContactTable,
    private readonly events: EventStore,
    private readonly graph: SegmentGraph,
    private readonly members: MaintainedMembership,
    private readonly scheduler: Scheduler,
    private readonly due: DueTimes,
  ) {}

  get(id: string): SegmentState | undefined {
    return this.states.get(id);
  }

  /** A segment's state; throws for an unknown one. */
  known(id: string): SegmentState {
    const st = this.states.get(id);
    if (!st) throw new Error(`unknown segment "${id}"`);
    return st;
  }

  /** A segment that may be edited; throws for an unknown or read-only one. */
  editable(segmentId: string): SegmentState {
    const st = this.known(segmentId);
    if (st.readonly) throw new Error(`segment "${segmentId}" is a read-only default segment`);
    return st;
  }

  /** The segments contact `i` is in, in definition order. */
  holding(i: number): string[] {
    const out: string[] = [];
    for (const [id, st] of this.states) if (st.bits.has(i)) out.push(id);
    return out;
  }

  ids(): string[] {
    return [...this.states.keys()];
  }

  definition(id: string): SegmentDefinition | undefined {
    const st = this.states.get(id);
    return (
      st && { id: st.id, kind: st.kind, rule: this.sourceRules.get(id) ?? st.rule, readonly: st.readonly }
    );
  }

  /** Parses and validates a rule against the fields and segments. */
  validate(rule: unknown, selfId?: string): RuleNode {
    const segs = new Map<string, RuleNode | null>();
    for (const [id, st] of this.states) segs.set(id, st.rule);
    return validateRule(rule, {
      fields: this.fields.registry,
      timeZone: this.timeZone,
      segments: segs,
      ...(selfId !== undefined ? { selfId } : {}),
    });
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

  /** A state for a segment, holding its rule expanded; the rule as defined is kept for `definition(id)`. */
  private stateOf(id: string, kind: SegmentKind, rule: RuleNode | null): SegmentState {
    if (rule === null) this.sourceRules.delete(id);
    else this.sourceRules.set(id, rule);
    return new SegmentState(id, kind, rule && this.fields.expand(rule), false);
  }

  /** Adds a default segment (read-only, its rule given as compiled). */
  addDefault(id: string, rule: RuleNode): void {
    this.states.set(id, new SegmentState(id, "dynamic", rule, true));
  }

  define(def: { id: string; rule?: unknown; kind?: SegmentKind }): MembershipChange[] {
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
    const out = this.scheduler.sync();
    const state = this.stateOf(def.id, kind, rule);
    if (existing) {
      for (const [c, t] of existing.added) state.added.set(c, t);
      for (const [c, t] of existing.removed) state.removed.set(c, t);
      state.bits = existing.bits;
      state.slot = existing.slot;
    } else state.bits = this.members.emptyBits();
    this.states.set(def.id, state);
    this.members.reorder();
    this.members.resetLive();
    const deps = this.graph.dependentsOf(def.id);
    this.members.recompute(deps, out);
    const timed = new Set(this.graph.timedSegments());
    const newlyTimed = deps.filter((st) => timed.has(st));
    if (newlyTimed.length > 0)
      for (const c of this.contacts.alive.toArray()) this.due.scheduleFor(c, newlyTimed, true);
    return out;
  }

  load(defs: { id: string; rule?: unknown; kind?: SegmentKind }[]): void {
    this.members.dirty = true; // rebuilt on next use: no membership to carry into rows meanwhile
    for (const def of defs) {
      const kind = def.kind ?? "dynamic";
      const rule = kind === "dynamic" ? this.validate(def.rule, def.id) : null;
      if (this.states.get(def.id)?.readonly) {
        throw new RuleValidationError([
          { path: "id", message: `segment "${def.id}" is a read-only default segment` },
        ]);
      }
      this.states.set(def.id, this.stateOf(def.id, kind, rule));
      this.members.reorder();
    }
    this.members.resetLive();
    this.members.dirty = true;
  }

  remove(id: string): void {
    const st = this.known(id);
    if (st.readonly) throw new Error(`segment "${id}" is a read-only default segment`);
    const uses = this.graph.usesOf(id);
    if (uses.length > 0)
      throw new Error(`segment "${id}" is used by ${uses.map((u) => `"${u}"`).join(", ")}`);
    this.states.delete(id);
    this.sourceRules.delete(id);
    this.members.reorder();
    this.members.resetLive();
  }

  /** Who would enter and who would leave if a segment's rule were replaced (nothing is saved). */
  previewEdit(segmentId: string, rule: unknown): { entered: string[]; exited: string[] } {
    this.scheduler.sync();
    const st = this.editable(segmentId);
    if (st.kind !== "dynamic") throw new Error(`segment "${segmentId}" is static`);
    const validated = this.validate(rule, segmentId);
    const trial = new SegmentState(segmentId, "dynamic", this.fields.expand(validated), false);
    for (const [c, t] of st.added) trial.added.set(c, t);
    for (const [c, t] of st.removed) trial.removed.set(c, t);
    const states = new Map(this.states);
    states.set(segmentId, trial);
    const env = new SegmentEnv(this.scheduler.now, this.timeZone, this.contacts, this.events, states, true);
    const next = env.segment(segmentId).all(this.contacts.alive);
    const entered = next.clone().andNot(st.bits);
    const exited = st.bits.clone().and(this.contacts.alive).andNot(next);
    const ids = (b: Bitset) => b.toArray().map((i) => this.contacts.ids[i]);
    return { entered: ids(entered), exited: ids(exited) };
  }
}
