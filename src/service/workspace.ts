/**
 * The use cases of one workspace (SPEC §4), tying its store and its engine: every write
 * is validated, committed, then applied to the engine (LiveWorkspace.write); every read
 * of membership comes from the engine at the read instant. Each resource's use cases
 * live in their own module under ./workspace/; this class composes them over one
 * `WorkspaceCore`. Requests arrive parsed (the routes parse with the schemas of
 * wire.ts), except batches, whose items are parsed one by one to answer per-item errors.
 */
import { randomBytes } from "node:crypto";
import type { ExplainNode, MembershipChange } from "../engine/index.ts";
import type { Clock } from "../engine/types.ts";
import type { FieldRegistry } from "../rules/fields.ts";
import type {
  ContactRecord,
  ContactWrite,
  CustomField,
  Page,
  SegmentVersion,
  Store,
  Workspace,
} from "../store/types.ts";
import type { SegmentAnalytics } from "./analytics.ts";
import type { WireField } from "./computed-fields.ts";
import { mergeContacts } from "./contact-merge.ts";
import type { WorkspaceEngine } from "./engine-port/port.ts";
import type { IfMatch } from "./etag.ts";
import type { ImportCustomField } from "./import-parse.ts";
import { LiveWorkspace } from "./live-workspace.ts";
import { LogPositions, type WorkspacePositions } from "./log-position.ts";
import { snapshotOwner, snapshotPath } from "./snapshot/file.ts";
import type {
  ActionInput,
  ContactChanges,
  ContactInput,
  FieldInput,
  MembersInput,
  PreviewInput,
  RefsInput,
  SegmentInput,
  SegmentReplace,
} from "./wire.ts";
import type { WireContact } from "./wire-contact.ts";
import { analytics } from "./workspace/analytics.ts";
import * as reads from "./workspace/contact-reads.ts";
import * as writes from "./workspace/contact-writes.ts";
import {
  type BatchResult,
  isDefault,
  requireCustom,
  requireSegment,
  type WireSegment,
  type WorkspaceCore,
  type WorkspaceHooks,
} from "./workspace/core.ts";
import * as eventOps from "./workspace/events.ts";
import * as fieldOps from "./workspace/fields.ts";
import { importFields, requireImportSegment } from "./workspace/imports.ts";
import * as memberOps from "./workspace/members.ts";
import * as previewOps from "./workspace/preview.ts";
import * as segmentOps from "./workspace/segments.ts";

export type { BatchResult, WireSegment, WorkspaceHooks } from "./workspace/core.ts";
export { wireChange } from "./workspace/members.ts";

export class WorkspaceService {
  /** What the resource modules work with. */
  private readonly core: WorkspaceCore;

  private constructor(
    readonly info: Workspace,
    readonly live: LiveWorkspace,
    store: Store,
    clock: Clock,
    hooks: WorkspaceHooks,
    /** Log positions (cursors) as the client sees them: opaque tokens. */
    readonly positions: WorkspacePositions,
  ) {
    this.core = {
      id: info.id,
      timeZone: info.time_zone,
      live,
      // A reload may move the engine (to or from the workers): read through `live`.
      get engine() {
        return live.port;
      },
      get registry() {
        return live.port.fields;
      },
      store,
      clock,
      hooks,
      positions,
    };
  }

  static async open(
    store: Store,
    info: Workspace,
    opts: {
      /** Default: a key of this process only, for a service opened on its own (tests, tools). */
      positions?: WorkspacePositions;
      clock?: Clock;
      hooks?: WorkspaceHooks;
      onProgress?: (phase: string, rows: number) => void;
      /** The directory of snapshot files, when snapshots are on (docs/operations.md, "Snapshots"). */
      snapshotDir?: string;
      /** The engine on worker threads (LiveWorkspace's `workers`). */
      workers?: { count: number; partitions?: number };
    } = {},
  ): Promise<WorkspaceService> {
    const clock = opts.clock ?? { now: () => Date.now() };
    const hooks = opts.hooks ?? {};
    const live = await LiveWorkspace.open(store, info.id, {
      clock,
      timeZone: info.time_zone,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.workers ? { workers: opts.workers } : {}),
      ...(opts.snapshotDir !== undefined
        ? { snapshot: { path: snapshotPath(opts.snapshotDir, info.id), owner: snapshotOwner(info) } }
        : {}),
      ...(hooks.planLog && { planLog: (changes) => hooks.planLog!(info.id, changes) }),
      afterLog: (logged, claimed) => hooks.afterLog?.(info.id, logged, claimed),
    });
    const positions = opts.positions ?? new LogPositions(randomBytes(32)).of(info.id);
    return new WorkspaceService(info, live, store, clock, hooks, positions);
  }

  get id(): string {
    return this.info.id;
  }

  /** Writes this workspace's snapshot file into `dir` (LiveWorkspace.snapshot). */
  snapshot(dir: string): ReturnType<LiveWorkspace["snapshot"]> {
    return this.live.snapshot(snapshotPath(dir, this.info.id), snapshotOwner(this.info));
  }

  /** The live engine, on this thread or on worker threads (engine-port/port.ts). */
  get engine(): WorkspaceEngine {
    return this.live.port;
  }

  get registry(): FieldRegistry {
    return this.engine.fields;
  }

  get timeZone(): string {
    return this.info.time_zone;
  }

  /** The workspace clock's now. */
  now(): number {
    return this.core.clock.now();
  }

  /** Time-driven changes and the changes not logged yet, to the log. */
  tick(): Promise<MembershipChange[]> {
    return this.live.tick();
  }

  // ---------------------------------------------------------------- contacts (workspace/contact-*.ts)

  /** The wire forms with the effective status / email_status, computed values and segments (`opts`). */
  wireContacts(
    recs: readonly ContactRecord[],
    opts: reads.WireOptions = {},
  ): Promise<(WireContact & { segments?: string[] })[]> {
    return reads.wireContacts(this.core, recs, opts);
  }

  getContact(id: string): Promise<WireContact> {
    return reads.getContact(this.core, id);
  }

  /**
   * A page of contacts in id order, of one segment and/or matching a search text,
   * with `total`; or the one contact an email or external_id names (no `total`).
   */
  listContacts(
    req: Parameters<typeof reads.listContacts>[1],
  ): Promise<Page<WireContact> & { total?: number }> {
    return reads.listContacts(this.core, req);
  }

  contactsByIds(ids: string[]): Promise<WireContact[]> {
    return reads.contactsByIds(this.core, ids);
  }

  upsertContact(
    input: ContactInput,
    opts: { id?: string } = {},
  ): Promise<{ contact: WireContact; created: boolean }> {
    return writes.upsertContact(this.core, input, opts);
  }

  /** With `ifMatch`, a stale tag answers 412, checked inside the commit (etag.ts). */
  patchContact(id: string, input: ContactInput, ifMatch?: IfMatch | null): Promise<WireContact> {
    return writes.patchContact(this.core, id, input, ifMatch);
  }

  /** A batch of contacts, each item parsed here (per-item errors). */
  upsertContacts(body: unknown): Promise<BatchResult> {
    return writes.upsertContacts(this.core, body);
  }

  /** A contacts batch; also the ids of the contacts written (imports add them to a segment). */
  upsertContactsWithIds(body: unknown): Promise<{ result: BatchResult; ids: string[] }> {
    return writes.upsertContactsWithIds(this.core, body);
  }

  /** With `ifMatch`, a stale tag answers 412, checked inside the commit (etag.ts). */
  deleteContact(id: string, ifMatch?: IfMatch | null): Promise<void> {
    return writes.deleteContact(this.core, id, ifMatch);
  }

  changeTags(id: string, add: string[], remove: string[]): Promise<void> {
    return writes.changeTags(this.core, id, add, remove);
  }

  /** The stored record after a write of `ch` over `prev` (null: a new contact), as upserts compute it. */
  contactWrite(prev: ContactRecord | null, ch: ContactChanges, now: number): Promise<ContactWrite> {
    return writes.merged(this.core, prev, ch, now);
  }

  /** Brings the engine along a committed contact write: a new contact whole, else the keys of `ch`. */
  applyContactWrite(rec: ContactRecord, ch: ContactChanges, created: boolean, now: number): Promise<void> {
    return writes.applyContact(this.core, rec, ch, created, now);
  }

  /** Merges contact `from` into `to` (contact-merge.ts): one durable write. */
  mergeContacts(
    from: string,
    to: string,
  ): Promise<{ contact: WireContact & { segments?: string[] }; events: number }> {
    return mergeContacts(this, { from, to }).then(async (r) => ({
      contact: await reads.wireContact(this.core, r.contact, { segments: true }),
      events: r.events,
    }));
  }

  // ---------------------------------------------------------------- events (workspace/events.ts)

  /** One event or an array of them, each item parsed here (per-item errors). */
  ingest(body: unknown): Promise<BatchResult> {
    return eventOps.ingest(this.core, body);
  }

  contactEvents(id: string, req: { cursor?: string; limit: number }) {
    return eventOps.contactEvents(this.core, id, req);
  }

  // ---------------------------------------------------------------- fields (workspace/fields.ts)

  listFields(): Promise<WireField[]> {
    return fieldOps.listFields(this.core);
  }

  /** A custom field on the wire; a computed one with its definition, also in the text form. */
  wireField(f: CustomField): WireField {
    return fieldOps.wireField(this.core, f);
  }

  createField(input: FieldInput): Promise<CustomField> {
    return fieldOps.createField(this.core, input);
  }

  /** Deletes a computed field: 404 unknown, 409 while a segment's rule names it. */
  deleteField(key: string): Promise<void> {
    return fieldOps.deleteField(this.core, key);
  }

  // ---------------------------------------------------------------- segments (workspace/segments.ts)

  isDefault(id: string): boolean {
    return isDefault(id);
  }

  /** 404 unless the segment exists. */
  requireSegment(id: string): void {
    requireSegment(this.core, id);
  }

  /** 403 for a default segment (read-only), before a write's body is read. */
  requireCustom(id: string): void {
    requireCustom(id);
  }

  listSegments(): Promise<WireSegment[]> {
    return segmentOps.listSegments(this.core);
  }

  /** A segment's versions, newest first (a default segment has its one). */
  segmentVersions(id: string): Promise<SegmentVersion[]> {
    return segmentOps.segmentVersions(this.core, id);
  }

  getSegment(id: string): Promise<WireSegment> {
    return segmentOps.getSegment(this.core, id);
  }

  createSegment(input: SegmentInput): Promise<WireSegment> {
    return segmentOps.createSegment(this.core, input);
  }

  /** With `ifMatch`, refused (412) unless the segment's version tag still matches. */
  replaceSegment(
    id: string,
    input: SegmentReplace,
    opts: { ifMatch?: IfMatch | null } = {},
  ): Promise<WireSegment> {
    return segmentOps.replaceSegment(this.core, id, input, opts);
  }

  uses(id: string): Promise<{ type: string; id: string }[]> {
    return segmentOps.uses(this.core, id);
  }

  deleteSegment(id: string, opts: { ifMatch?: IfMatch | null } = {}): Promise<void> {
    return segmentOps.deleteSegment(this.core, id, opts);
  }

  // ---------------------------------------------------------------- preview, explain (workspace/preview.ts)

  preview(input: PreviewInput): ReturnType<typeof previewOps.preview> {
    return previewOps.preview(this.core, input);
  }

  /** With a hand override in force the answer names it (membership is then the override's). */
  explain(
    contactId: string,
    segmentId: string,
  ): Promise<{
    member: boolean;
    rule: ExplainNode | null;
    override?: { action: "added" | "removed"; expires_at: string | null };
  }> {
    return previewOps.explain(this.core, contactId, segmentId);
  }

  // ---------------------------------------------------------------- members (workspace/members.ts)

  /** Members now (from the engine) or at a past instant (from the change log). */
  members(id: string, req: Parameters<typeof memberOps.members>[2]): Promise<Page<WireContact>> {
    return memberOps.members(this.core, id, req);
  }

  /** Before a members write's body is read: a custom segment that exists. */
  requireMemberWrite(id: string): void {
    memberOps.requireMemberWrite(this.core, id);
  }

  /** Before an overrides write's body is read: a dynamic custom segment that exists. */
  requireOverridable(id: string, write: boolean): void {
    memberOps.requireOverridable(this.core, id, write);
  }

  addMembers(id: string, input: MembersInput): Promise<{ added: number }> {
    return memberOps.addMembers(this.core, id, input);
  }

  removeMembers(id: string, input: RefsInput): Promise<{ removed: number }> {
    return memberOps.removeMembers(this.core, id, input);
  }

  overrides(id: string) {
    return memberOps.overrides(this.core, id);
  }

  liftOverrides(id: string, input: RefsInput): Promise<{ lifted: number }> {
    return memberOps.liftOverrides(this.core, id, input);
  }

  action(id: string, input: ActionInput): Promise<{ changed: number }> {
    return memberOps.action(this.core, id, input);
  }

  /** Size, daily entries and exits, breakdown, engagement, overlap (workspace/analytics.ts). */
  analytics(
    id: string,
    req: { days?: number; top?: number; breakdown?: string; overlap?: string },
  ): Promise<SegmentAnalytics> {
    return analytics(this.core, id, req);
  }

  /** Before an import starts: the segment it adds contacts to is a custom static one. */
  requireImportSegment(id: string): void {
    requireImportSegment(this.core, id);
  }

  /** The custom fields an import writes (not the computed ones). */
  importFields(): ImportCustomField[] {
    return importFields(this.core);
  }

  changes(id: string, req: { since?: string; cursor?: string; limit: number }) {
    return memberOps.changes(this.core, id, req);
  }
}
