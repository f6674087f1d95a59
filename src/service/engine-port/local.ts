/**
 * The engine port over one `Engine` on this thread: every read settles the committed
 * event batches still waiting (LiveWorkspace.settle) and answers from the engine, every
 * write applies at once. The promises only carry answers already computed, so a write's
 * effect is in the engine when the call returns, as the write queue's order needs.
 */

import {
  type ContactFacts,
  contactFacts,
  type EngineStats,
  engineStats,
  type FactsWanted,
  searchIds,
} from "../../engine/contact-facts.ts";
import { type EventTypeInfo, eventTypes } from "../../engine/event-types.ts";
import type { Engine, ExplainNode, Override, SegmentDefinition, WriteOptions } from "../../engine/index.ts";
import type { SegmentKind } from "../../engine/segments.ts";
import type { ContactInput, EventInput } from "../../engine/types.ts";
import type { ComputedDefinition } from "../../rules/computed.ts";
import type { FieldDef, FieldRegistry } from "../../rules/fields.ts";
import type { RuleNode } from "../../rules/schema.ts";
import { type SegmentAnalytics, segmentAnalytics } from "../analytics.ts";
import type { AnalyticsRequest, MemberSet, WorkspaceEngine } from "./port.ts";

export class LocalWorkspaceEngine implements WorkspaceEngine {
  /** `engine` gives the engine with every committed write applied (LiveWorkspace.engine). */
  constructor(private readonly current: () => Engine) {}

  private get e(): Engine {
    return this.current();
  }

  get fields(): FieldRegistry {
    return this.e.fields;
  }
  segment(id: string): SegmentDefinition | undefined {
    return this.e.segment(id);
  }
  segmentIds(): string[] {
    return this.e.segmentIds();
  }
  usesOf(id: string): string[] {
    return this.e.usesOf(id);
  }
  fieldUses(key: string): string[] {
    return this.e.fieldUses(key);
  }
  computedFields(): ReadonlyMap<string, ComputedDefinition> {
    return this.e.computedFields();
  }
  validate(rule: unknown, selfId?: string): RuleNode {
    return this.e.validate(rule, selfId);
  }

  async members(segmentId: string): Promise<MemberSet> {
    return this.e.members(segmentId);
  }
  async sizes(segmentIds: readonly string[]): Promise<number[]> {
    const e = this.e;
    return segmentIds.map((id) => e.members(id).count);
  }
  async evaluate(rule: unknown): Promise<MemberSet> {
    return this.e.evaluate(rule);
  }
  async previewEdit(segmentId: string, rule: unknown): Promise<{ entered: string[]; exited: string[] }> {
    return this.e.previewEdit(segmentId, rule);
  }
  async explain(contactId: string, segmentId: string): Promise<ExplainNode> {
    return this.e.explain(contactId, segmentId);
  }
  async overrides(segmentId: string): Promise<Override[]> {
    return this.e.overrides(segmentId);
  }
  async holds(contactId: string): Promise<boolean> {
    const [f] = contactFacts(this.e, [contactId], { computed: false, segments: false });
    return f!.held;
  }
  async contactCount(): Promise<number> {
    return this.e.contacts.count;
  }
  async facts(contactIds: readonly string[], opts: FactsWanted): Promise<ContactFacts[]> {
    return contactFacts(this.e, contactIds, opts);
  }
  async search(q: string): Promise<string[]> {
    return searchIds(this.e, q);
  }
  async holdsUndeclared(key: string): Promise<boolean> {
    return this.e.contacts.undeclared.has(key);
  }
  async eventTypes(): Promise<EventTypeInfo[]> {
    return eventTypes(this.e);
  }
  analytics(req: AnalyticsRequest): Promise<SegmentAnalytics> {
    return segmentAnalytics({ ...req, engine: this.e });
  }
  async stats(): Promise<EngineStats> {
    return engineStats(this.e);
  }

  async upsertContact(c: ContactInput, opts: WriteOptions): Promise<void> {
    this.e.upsertContact(c, opts);
  }
  async patchContact(c: ContactInput, opts: WriteOptions): Promise<void> {
    this.e.patchContact(c, opts);
  }
  async removeContact(id: string): Promise<void> {
    this.e.removeContact(id);
  }
  async changeTags(id: string, change: { add?: string[]; remove?: string[] }): Promise<void> {
    this.e.changeTags(id, change);
  }
  async addEvents(events: readonly EventInput[]): Promise<void> {
    const e = this.e;
    for (const ev of events) e.addEvent(ev);
  }
  async defineField(def: FieldDef): Promise<void> {
    this.e.defineField(def);
  }
  async defineComputedField(def: FieldDef, computed: ComputedDefinition): Promise<void> {
    this.e.defineComputedField(def, computed);
  }
  async removeComputedField(key: string): Promise<void> {
    this.e.removeComputedField(key);
  }
  async defineSegment(def: { id: string; rule?: unknown; kind?: SegmentKind }): Promise<void> {
    this.e.defineSegment(def);
  }
  async removeSegment(id: string): Promise<void> {
    this.e.removeSegment(id);
  }
  async addMembers(
    segmentId: string,
    contactIds: string[],
    opts: { expiresAt?: number } = {},
  ): Promise<void> {
    this.e.addMembers(segmentId, contactIds, opts);
  }
  async removeMembers(
    segmentId: string,
    contactIds: string[],
    opts: { expiresAt?: number } = {},
  ): Promise<void> {
    this.e.removeMembers(segmentId, contactIds, opts);
  }
  async liftOverrides(segmentId: string, contactIds: string[]): Promise<void> {
    this.e.liftOverrides(segmentId, contactIds);
  }
}
