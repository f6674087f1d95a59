/**
 * What a workspace's use cases ask of its engine, whether the engine runs on this thread
 * (`LocalWorkspaceEngine`) or split over worker threads (docs/cluster.md, "Every core").
 * Definitions (fields, segments, what uses what, rule checks) are known on this thread
 * in both cases and answered at once; anything about contacts, events or membership is
 * a promise, since on worker threads it is a round trip.
 *
 * Writes are called by a write's `apply` (LiveWorkspace.write), in commit order, after
 * the commit; the membership changes they make reach the workspace's change log
 * through the engine's listener, not through their results.
 */

import type { ContactFacts, EngineStats, FactsWanted } from "../../engine/contact-facts.ts";
import type { EventTypeInfo } from "../../engine/event-types.ts";
import type { ExplainNode, Override, SegmentDefinition, WriteOptions } from "../../engine/index.ts";
import type { SegmentKind } from "../../engine/segments.ts";
import type { ContactInput, EventInput } from "../../engine/types.ts";
import type { ComputedDefinition } from "../../rules/computed.ts";
import type { FieldDef, FieldRegistry } from "../../rules/fields.ts";
import type { RuleNode } from "../../rules/schema.ts";
import type { SegmentAnalytics, SegmentAnalyticsArgs } from "../analytics.ts";

/** A segment's members (or a rule's matches) at one instant. */
export interface MemberSet {
  readonly count: number;
  has(contactId: string): boolean;
  /** In the engine's order (not sorted), at most `limit`. */
  ids(limit?: number): string[];
}

export type AnalyticsRequest = Omit<SegmentAnalyticsArgs, "engine">;

export interface WorkspaceEngine {
  // Definitions, answered on this thread.
  readonly fields: FieldRegistry;
  segment(id: string): SegmentDefinition | undefined;
  segmentIds(): string[];
  usesOf(id: string): string[];
  fieldUses(key: string): string[];
  computedFields(): ReadonlyMap<string, ComputedDefinition>;
  /** Throws `RuleValidationError` for a rule the engine would refuse. */
  validate(rule: unknown, selfId?: string): RuleNode;

  // Reads, at the engine's instant with every committed write applied.
  members(segmentId: string): Promise<MemberSet>;
  /** The sizes of these segments, in their order. */
  sizes(segmentIds: readonly string[]): Promise<number[]>;
  evaluate(rule: unknown): Promise<MemberSet>;
  previewEdit(segmentId: string, rule: unknown): Promise<{ entered: string[]; exited: string[] }>;
  explain(contactId: string, segmentId: string): Promise<ExplainNode>;
  overrides(segmentId: string): Promise<Override[]>;
  /** True when the engine holds this contact (written, not erased). */
  holds(contactId: string): Promise<boolean>;
  contactCount(): Promise<number>;
  /** Facts of these contacts, in their order; computed values all read at one instant. */
  facts(contactIds: readonly string[], opts: FactsWanted): Promise<ContactFacts[]>;
  /** Ids of the contacts a search text matches (`ContactTable.search`), in no given order. */
  search(q: string): Promise<string[]>;
  /** True when contacts hold values under `key` that no field declares. */
  holdsUndeclared(key: string): Promise<boolean>;
  eventTypes(): Promise<EventTypeInfo[]>;
  analytics(req: AnalyticsRequest): Promise<SegmentAnalytics>;
  stats(): Promise<EngineStats>;

  // Writes, from a write's `apply`.
  upsertContact(c: ContactInput, opts: WriteOptions): Promise<void>;
  patchContact(c: ContactInput, opts: WriteOptions): Promise<void>;
  removeContact(id: string): Promise<void>;
  changeTags(id: string, change: { add?: string[]; remove?: string[] }): Promise<void>;
  /** Events moved to `contactId` (a merge), each applied as one live event. */
  addEvents(events: readonly EventInput[]): Promise<void>;
  defineField(def: FieldDef): Promise<void>;
  defineComputedField(def: FieldDef, computed: ComputedDefinition): Promise<void>;
  removeComputedField(key: string): Promise<void>;
  defineSegment(def: { id: string; rule?: unknown; kind?: SegmentKind }): Promise<void>;
  removeSegment(id: string): Promise<void>;
  addMembers(segmentId: string, contactIds: string[], opts?: { expiresAt?: number }): Promise<void>;
  removeMembers(segmentId: string, contactIds: string[], opts?: { expiresAt?: number }): Promise<void>;
  liftOverrides(segmentId: string, contactIds: string[]): Promise<void>;
}
