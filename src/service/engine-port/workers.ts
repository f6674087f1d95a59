/**
 * The engine port over a workspace's engine split across worker threads
 * (src/engine/partitioned): every read is a round trip to the workers that hold the
 * contacts it is about, or a fan-out merged here; every write goes to the workers it
 * concerns, and the membership changes it made are handed to `onChanges` before its
 * promise resolves, as one engine's listener would have had them.
 */
import type { ContactFacts, EngineStats, FactsWanted } from "../../engine/contact-facts.ts";
import type { EventTypeInfo } from "../../engine/event-types.ts";
import type { Engine, ExplainNode, Override, SegmentDefinition, WriteOptions } from "../../engine/index.ts";
import type { ChangeSet } from "../../engine/partitioned/change-batch.ts";
import type {
  PartitionedEngine,
  PartitionedMembership,
} from "../../engine/partitioned/partitioned-engine.ts";
import type { SegmentKind } from "../../engine/segments.ts";
import type { ContactInput, EventInput, MembershipChange } from "../../engine/types.ts";
import type { ComputedDefinition } from "../../rules/computed.ts";
import type { FieldDef, FieldRegistry } from "../../rules/fields.ts";
import type { RuleNode } from "../../rules/schema.ts";
import { type SegmentAnalytics, segmentAnalytics } from "../analytics.ts";
import type { AnalyticsRequest, MemberSet, WorkspaceEngine } from "./port.ts";

/** The workers' answer as a member set: its ids, looked up through a set built when first asked. */
class IdMemberSet implements MemberSet {
  private set: Set<string> | null = null;
  constructor(private readonly m: PartitionedMembership) {}
  get count(): number {
    return this.m.count;
  }
  has(contactId: string): boolean {
    this.set ??= new Set(this.m.ids);
    return this.set.has(contactId);
  }
  ids(limit?: number): string[] {
    return limit === undefined ? this.m.ids : this.m.ids.slice(0, limit);
  }
}

/** A contact's keys that identify it: what the directory keeps, at a load and at each write. */
export function identity(c: ContactInput): ContactInput {
  return {
    id: c.id,
    ...(c.email !== undefined ? { email: c.email } : {}),
    ...(c.external_id !== undefined ? { external_id: c.external_id } : {}),
  };
}

export class WorkersWorkspaceEngine implements WorkspaceEngine {
  /**
   * `directory`: an engine on this thread without segments, holding every contact's id,
   * email and external id (the workspace's identity lookups, live/event-batch.ts); each
   * contact write is made to it too.
   */
  constructor(
    private readonly pe: PartitionedEngine,
    private readonly onChanges: (changes: MembershipChange[]) => void,
    private readonly directory?: Engine,
  ) {}

  private async changed(set: Promise<ChangeSet>): Promise<void> {
    const changes = (await set).toArray();
    if (changes.length > 0) this.onChanges(changes);
  }

  get fields(): FieldRegistry {
    return this.pe.fields;
  }
  segment(id: string): SegmentDefinition | undefined {
    return this.pe.segment(id);
  }
  segmentIds(): string[] {
    return this.pe.segmentIds();
  }
  usesOf(id: string): string[] {
    return this.pe.usesOf(id);
  }
  fieldUses(key: string): string[] {
    return this.pe.fieldUses(key);
  }
  computedFields(): ReadonlyMap<string, ComputedDefinition> {
    return this.pe.computedFields();
  }
  validate(rule: unknown, selfId?: string): RuleNode {
    return this.pe.validate(rule, selfId);
  }

  async members(segmentId: string): Promise<MemberSet> {
    return new IdMemberSet(await this.pe.members(segmentId, { ids: true }));
  }
  sizes(segmentIds: readonly string[]): Promise<number[]> {
    return this.pe.sizes(segmentIds);
  }
  async evaluate(rule: unknown): Promise<MemberSet> {
    return new IdMemberSet(await this.pe.evaluate(rule, undefined, { ids: true }));
  }
  previewEdit(segmentId: string, rule: unknown): Promise<{ entered: string[]; exited: string[] }> {
    return this.pe.previewEdit(segmentId, rule);
  }
  explain(contactId: string, segmentId: string): Promise<ExplainNode> {
    return this.pe.explain(contactId, segmentId);
  }
  overrides(segmentId: string): Promise<Override[]> {
    return this.pe.overrides(segmentId);
  }
  async holds(contactId: string): Promise<boolean> {
    const [f] = await this.pe.facts([contactId], { computed: false, segments: false });
    return f!.held;
  }
  contactCount(): Promise<number> {
    return this.pe.contactCount();
  }
  facts(contactIds: readonly string[], opts: FactsWanted): Promise<ContactFacts[]> {
    return this.pe.facts(contactIds, opts);
  }
  search(q: string): Promise<string[]> {
    return this.pe.search(q);
  }
  holdsUndeclared(key: string): Promise<boolean> {
    return this.pe.holdsUndeclared(key);
  }
  eventTypes(): Promise<EventTypeInfo[]> {
    return this.pe.eventTypes();
  }
  analytics(req: AnalyticsRequest): Promise<SegmentAnalytics> {
    const pe = this.pe;
    return segmentAnalytics({
      ...req,
      engine: {
        segment: (id) => pe.segment(id),
        storesField: (key) => pe.storesField(key),
        part: (r) => pe.analyticsPart(r),
        labelSamples: (segmentId, field, values, now) => pe.labelSamples(segmentId, field, values, now),
      },
    });
  }
  stats(): Promise<EngineStats> {
    return this.pe.stats();
  }

  async upsertContact(c: ContactInput, opts: WriteOptions): Promise<void> {
    await this.changed(this.pe.upsertContact(c, opts));
    // Once the workers took it: a write they refuse leaves the directory as it was.
    this.directory?.upsertContact(identity(c));
  }
  async patchContact(c: ContactInput, opts: WriteOptions): Promise<void> {
    await this.changed(this.pe.upsertContact(c, { ...opts, patch: true }));
    // Once the workers took it: a write they refuse leaves the directory as it was.
    this.directory?.patchContact(identity(c));
  }
  async removeContact(id: string): Promise<void> {
    await this.changed(this.pe.removeContact(id));
    // Once the workers took it: a write they refuse leaves the directory as it was.
    this.directory?.removeContact(id);
  }
  changeTags(id: string, change: { add?: string[]; remove?: string[] }): Promise<void> {
    return this.changed(this.pe.changeTags(id, change));
  }
  addEvents(events: readonly EventInput[]): Promise<void> {
    return this.changed(this.pe.ingest(events));
  }
  defineField(def: FieldDef): Promise<void> {
    return this.pe.defineField(def);
  }
  defineComputedField(def: FieldDef, computed: ComputedDefinition): Promise<void> {
    return this.pe.defineComputedField(def, computed);
  }
  removeComputedField(key: string): Promise<void> {
    return this.pe.removeComputedField(key);
  }
  defineSegment(def: { id: string; rule?: unknown; kind?: SegmentKind }): Promise<void> {
    return this.changed(this.pe.defineSegment(def));
  }
  removeSegment(id: string): Promise<void> {
    return this.pe.removeSegment(id);
  }
  addMembers(segmentId: string, contactIds: string[], opts: { expiresAt?: number } = {}): Promise<void> {
    return this.changed(this.pe.addMembers(segmentId, contactIds, opts));
  }
  removeMembers(segmentId: string, contactIds: string[], opts: { expiresAt?: number } = {}): Promise<void> {
    return this.changed(this.pe.removeMembers(segmentId, contactIds, opts));
  }
  liftOverrides(segmentId: string, contactIds: string[]): Promise<void> {
    return this.changed(this.pe.liftOverrides(segmentId, contactIds));
  }
}
