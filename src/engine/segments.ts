/**
 * Segment definitions and the environments rules are compiled in. A segment's
 * membership is `(rule or added) and not removed` (SPEC §3): static segments have no
 * rule, dynamic ones may carry manual overrides; both kinds of override can expire.
 */

import { createHash } from "node:crypto";
import { MOVING_OPS } from "../contract/operators.ts";
import type { EventNode, FieldNode, RuleNode, SequenceNode } from "../rules/schema.ts";
import { segmentRefs } from "../rules/validate.ts";
import { Bitset } from "./bitset.ts";
import { type CompiledNode, type CompileEnv, compile } from "./compile.ts";
import type { ContactTable } from "./contacts.ts";
import type { EventStore } from "./events.ts";
import type { RankRegistry } from "./rank-index.ts";
import type { Snapshot } from "./rank-scratch.ts";
import type { MembershipRows } from "./rows.ts";

export type SegmentKind = "dynamic" | "static";

export class SegmentState {
  /** Contact index → instant the override ends (+∞: never). Members of a static segment live here. */
  readonly added = new Map<number, number>();
  readonly removed = new Map<number, number>();
  /** Maintained membership. */
  bits: Bitset = new Bitset(0);
  /** Its bit in the engine's per-contact rows (-1: none yet). */
  slot = -1;
  /** What the rule reads, directly: `f:<field>`, `e:<event type>`, `s:<segment>`. */
  readonly reads: Set<string>;
  /** The rule alone can change with time (relative windows and dates). */
  readonly moving: boolean;

  constructor(
    readonly id: string,
    readonly kind: SegmentKind,
    readonly rule: RuleNode | null,
    readonly readonly: boolean,
  ) {
    this.reads = rule ? readsOf(rule) : new Set();
    this.moving = rule ? isMoving(rule) : false;
  }

  private refSet: Set<string> | null = null;

  /** The segments the rule refers to directly. */
  refs(): Set<string> {
    this.refSet ??= this.rule ? segmentRefs(this.rule) : new Set();
    return this.refSet;
  }

  /**
   * What its maintained membership is computed from besides contact data (kind, rule as
   * expanded, overrides with their ends): equal fingerprints, equal membership over the
   * same contacts at the same instant. A snapshot keeps it beside the bits (engine.ts).
   */
  fingerprint(): string {
    const overrides = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).flat();
    return createHash("sha256")
      .update(JSON.stringify([this.kind, this.rule, overrides(this.added), overrides(this.removed)]))
      .digest("base64");
  }

  hasExpiries(): boolean {
    for (const m of [this.added, this.removed])
      for (const t of m.values()) if (t !== Number.POSITIVE_INFINITY) return true;
    return false;
  }
}

function readsOf(rule: RuleNode, out = new Set<string>()): Set<string> {
  switch (rule.type) {
    case "and":
    case "or":
      for (const c of rule.conditions) readsOf(c, out);
      break;
    case "not":
      readsOf(rule.condition, out);
      break;
    case "field":
      out.add(`f:${rule.field}`);
      break;
    case "segment":
      out.add(`s:${rule.segment}`);
      break;
    case "event":
      out.add(`e:${rule.event}`);
      break;
    case "sequence":
      for (const s of rule.steps) out.add(`e:${s.event}`);
      break;
    case "bucket":
      // A pure function of the contact id: it reads nothing that a write can change.
      break;
  }
  return out;
}

const MOVING: ReadonlySet<string> = new Set(MOVING_OPS);

export function relativeWhere(where: { op: string }[] | undefined): boolean {
  return where?.some((f) => MOVING.has(f.op)) ?? false;
}

function relativeWindow(n: EventNode | SequenceNode): boolean {
  return (
    n.window !== undefined && ("in_last" in n.window || "between_ago" in n.window || "during" in n.window)
  );
}

/** Whether a rule's answer can change as time passes with no new data (segment references aside). */
export function isMoving(rule: RuleNode): boolean {
  switch (rule.type) {
    case "and":
    case "or":
      return rule.conditions.some(isMoving);
    case "not":
      return isMoving(rule.condition);
    case "field":
      return MOVING.has((rule as FieldNode).op);
    case "segment":
      return false;
    case "event":
      return (
        relativeWindow(rule) || relativeWhere(rule.where) || (rule.op !== undefined && MOVING.has(rule.op))
      );
    case "sequence":
      // A negative step holds from a deadline on, reached by time alone.
      return relativeWindow(rule) || rule.steps.some((s) => s.not === true || relativeWhere(s.where));
    case "bucket":
      return false;
  }
}

function activeAt(m: Map<number, number>, c: number, now: number): boolean {
  const t = m.get(c);
  return t !== undefined && t > now;
}

/** A segment's effective membership as a compiled node: rule, overrides and expiries. */
function effectiveNode(state: SegmentState, env: SegmentEnv): CompiledNode {
  const ruleNode = state.rule ? compile(state.rule, env) : null;
  const { added, removed } = state;
  const overrides = (c: number): number => {
    let m = Number.POSITIVE_INFINITY;
    const a = added.get(c);
    if (a !== undefined && a > env.now) m = a;
    const r = removed.get(c);
    if (r !== undefined && r > env.now && r < m) m = r;
    return m;
  };
  // Most segments have no overrides: skip the map lookups then, this runs on every write.
  const one = (c: number): boolean =>
    ((ruleNode?.one(c) ?? false) || (added.size > 0 && activeAt(added, c, env.now))) &&
    !(removed.size > 0 && activeAt(removed, c, env.now));
  return {
    rule: state.rule ?? { type: "or", conditions: [] },
    cost: ruleNode?.cost ?? 0,
    one,
    next: (c) => {
      const r = ruleNode ? ruleNode.next(c) : Number.POSITIVE_INFINITY;
      return added.size === 0 && removed.size === 0 ? r : Math.min(r, overrides(c));
    },
    all: (mask) => {
      const out = ruleNode ? ruleNode.all(mask) : new Bitset(mask.size);
      for (const [c, t] of state.added) if (t > env.now && mask.has(c)) out.set(c);
      for (const [c, t] of state.removed) if (t > env.now) out.clear(c);
      return out;
    },
    explain: (c) => {
      if (!ruleNode) return { type: "segment", op: "in", segment: state.id, result: one(c) };
      return ruleNode.explain(c);
    },
  };
}

/**
 * Where rules compile. `maintained` environments (the live one) answer segment
 * references from maintained bitsets; the others compute every referenced segment
 * from scratch at their instant.
 */
export class SegmentEnv implements CompileEnv {
  private readonly compiled = new Map<string, CompiledNode>();
  private readonly bits = new Map<string, Bitset>();
  now: number;
  rankCuts?: ReadonlyMap<string, number>;
  rankPopulations?: Map<string, Float64Array>;
  rankSnapshots?: Map<string, Snapshot>;

  constructor(
    now: number,
    readonly tz: string,
    readonly contacts: ContactTable,
    readonly events: EventStore,
    private readonly states: ReadonlyMap<string, SegmentState>,
    private readonly maintained: boolean,
    /** For a maintained environment: the same membership by contact, read instead of the bitsets. */
    private readonly rows: MembershipRows | null = null,
    readonly ranks: RankRegistry | null = null,
  ) {
    this.now = now;
  }

  segment(id: string): CompiledNode {
    let c = this.compiled.get(id);
    if (!c) {
      const st = this.states.get(id);
      if (!st) throw new Error(`unknown segment "${id}"`);
      c = effectiveNode(st, this);
      this.compiled.set(id, c);
    }
    return c;
  }

  /**
   * Maintained environments answer from the maintained bitset: segments are
   * re-evaluated in dependency order, so a referenced segment is already current.
   */
  member(id: string, c: number): boolean {
    if (this.maintained) {
      const st = this.states.get(id);
      if (!st) throw new Error(`unknown segment "${id}"`);
      return this.rows !== null && st.slot >= 0 ? this.rows.has(st.slot, c) : st.bits.has(c);
    }
    return this.segment(id).one(c);
  }

  segmentBits(id: string): Bitset {
    if (this.maintained) {
      const st = this.states.get(id);
      if (!st) throw new Error(`unknown segment "${id}"`);
      return st.bits;
    }
    let b = this.bits.get(id);
    if (!b) {
      b = this.segment(id).all(this.contacts.alive);
      this.bits.set(id, b);
    }
    return b;
  }

  /** Forget compiled segments (after a definition changed). */
  reset(): void {
    this.compiled.clear();
    this.bits.clear();
  }
}
