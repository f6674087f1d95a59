/**
 * Rules evaluated from scratch at an instant (a query, a preview at a past instant,
 * explain): compiled in an environment of their own, never touching maintained
 * membership, so the answer at the live instant matches the maintained one.
 */
import type { RuleNode } from "../rules/schema.ts";
import type { Bitset } from "./bitset.ts";
import { compile } from "./compile.ts";
import type { ContactTable } from "./contacts.ts";
import type { EventStore } from "./events.ts";
import { SegmentEnv, type SegmentState } from "./segments.ts";
import type { ExplainNode, Membership } from "./types.ts";

/** A rule compiled for one instant: evaluate it all at once, or contact by contact. */
export interface CompiledQuery {
  readonly at: number;
  evaluate(): Membership;
  matches(contactId: string): boolean;
  /** By dense contact index (0 … contactCount-1), for callers that iterate. */
  matchesIndex(i: number): boolean;
}

export class BitsetMembership implements Membership {
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

export class Queries {
  constructor(
    private readonly timeZone: string,
    private readonly contacts: ContactTable,
    private readonly events: EventStore,
    private readonly states: ReadonlyMap<string, SegmentState>,
    /** A segment id as is, or a rule validated and with computed fields expanded. */
    private readonly resolve: (ruleOrId: unknown) => RuleNode | string,
  ) {}

  /** An environment computing everything from scratch at `at`. */
  env(at: number): SegmentEnv {
    return new SegmentEnv(at, this.timeZone, this.contacts, this.events, this.states, false);
  }

  compile(rule: unknown, at: number): CompiledQuery {
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

  explain(i: number, ruleOrSegmentId: RuleNode | string, at: number): ExplainNode {
    const env = this.env(at);
    const r = this.resolve(ruleOrSegmentId);
    return (typeof r === "string" ? env.segment(r) : compile(r, env)).explain(i);
  }
}
