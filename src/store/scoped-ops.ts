/**
 * The workspace-first methods of `StoreOps`, each a delegation to the repositories that
 * `workspace(ws)` binds (src/store/repos/): `ops.putContacts(ws, c)` is
 * `ops.workspace(ws).contacts.put(c)`. Callers can move to the bound repositories one by
 * one; this layer only keeps the older form working.
 */
import type { SqlDialect } from "./dialect.ts";
import type { Executor } from "./executor.ts";
import { type Clock, WorkspaceRepos } from "./repos/index.ts";
import {
  type ApiKey,
  type ChangeInput,
  type ChangeRecord,
  type ContactRecord,
  type ContactRef,
  type ContactWrite,
  type CreatedApiKey,
  type CustomField,
  type DeliveryFailure,
  type DeliveryJob,
  type DeliveryRecord,
  type EventInsertResult,
  type EventRecord,
  type EventWrite,
  type ImportJob,
  type ImportProgress,
  type JsonObject,
  type ListChangesRequest,
  type ListContactsRequest,
  type MemberAction,
  type MemberRecord,
  type MemberWrite,
  type NewApiKey,
  type NewField,
  type NewImport,
  type NewPayloadDelivery,
  type NewReceiver,
  type NewSegment,
  type NewWebhook,
  type Page,
  type PageRequest,
  type ReceiverRecord,
  type SegmentPatch,
  type SegmentRecord,
  type SegmentVersion,
  StoreError,
  type StoreOps,
  type StreamOptions,
  type WebhookRecord,
} from "./types.ts";

let savepoints = 0;

export class ScopedOps implements StoreOps {
  private readonly bound = new Map<string, WorkspaceRepos>();

  constructor(
    protected readonly x: Executor,
    protected readonly dialect_: SqlDialect,
    protected readonly clock: Clock,
    /** Inside a transaction: the only workspace it accepts. */
    private readonly only: string | null = null,
  ) {}

  workspace(ws: string): WorkspaceRepos {
    let repos = this.bound.get(ws);
    if (repos) return repos;
    if (typeof ws !== "string" || ws === "") throw new StoreError("invalid", "a workspace id is required");
    if (this.only !== null && ws !== this.only) {
      throw new StoreError(
        "workspace_mismatch",
        `this transaction belongs to workspace "${this.only}", not "${ws}"`,
      );
    }
    repos = new WorkspaceRepos({ x: this.x, d: this.dialect_, clock: this.clock, ws });
    this.bound.set(ws, repos);
    return repos;
  }

  /**
   * Inside a transaction: runs `fn` under a savepoint, so that when it throws, what it
   * wrote is undone and the rest of the transaction goes on (group commit: several
   * writes in one transaction, one commit, each failing alone).
   */
  async savepoint<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    if (!this.x.inTransaction) throw new Error("savepoint needs a transaction");
    const name = `sp_${++savepoints}`;
    await this.x.exec(`SAVEPOINT ${name}`);
    let result: T;
    try {
      result = await fn(this);
    } catch (e) {
      await this.x.exec(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.x.exec(`RELEASE SAVEPOINT ${name}`);
      throw e;
    }
    await this.x.exec(`RELEASE SAVEPOINT ${name}`);
    return result;
  }

  executorFor(ws: string): Executor {
    return this.workspace(ws).executor;
  }

  // fields and keys
  async createField(ws: string, f: NewField): Promise<CustomField> {
    return this.workspace(ws).fields.create(f);
  }
  async listFields(ws: string): Promise<CustomField[]> {
    return this.workspace(ws).fields.list();
  }
  async deleteField(ws: string, key: string): Promise<boolean> {
    return this.workspace(ws).fields.delete(key);
  }
  async createApiKey(ws: string, k: NewApiKey = {}): Promise<CreatedApiKey> {
    return this.workspace(ws).apiKeys.create(k);
  }
  async listApiKeys(ws: string): Promise<ApiKey[]> {
    return this.workspace(ws).apiKeys.list();
  }
  async deleteApiKey(ws: string, id: string): Promise<boolean> {
    return this.workspace(ws).apiKeys.delete(id);
  }

  // identities and receivers
  async findIdentities(ws: string, anonymousIds: string[]): Promise<(string | null)[]> {
    return this.workspace(ws).identities.find(anonymousIds);
  }
  async putIdentities(ws: string, pairs: { anonymous_id: string; contact_id: string }[]): Promise<void> {
    return this.workspace(ws).identities.put(pairs);
  }
  async moveContactData(ws: string, from: string, to: string): Promise<{ events: number }> {
    return this.workspace(ws).identities.moveContactData(from, to);
  }
  async createReceiver(ws: string, r: NewReceiver): Promise<ReceiverRecord> {
    return this.workspace(ws).receivers.create(r);
  }
  async getReceiver(ws: string, id: string): Promise<ReceiverRecord | null> {
    return this.workspace(ws).receivers.get(id);
  }
  async listReceivers(ws: string): Promise<ReceiverRecord[]> {
    return this.workspace(ws).receivers.list();
  }
  async updateReceiver(
    ws: string,
    id: string,
    patch: { name: string; config: JsonObject },
  ): Promise<ReceiverRecord | null> {
    return this.workspace(ws).receivers.update(id, patch);
  }
  async deleteReceiver(ws: string, id: string): Promise<boolean> {
    return this.workspace(ws).receivers.delete(id);
  }

  // contacts
  async putContacts(ws: string, contacts: ContactWrite[]): Promise<ContactRecord[]> {
    return this.workspace(ws).contacts.put(contacts);
  }
  async getContact(ws: string, id: string): Promise<ContactRecord | null> {
    return this.workspace(ws).contacts.get(id);
  }
  async getContacts(ws: string, ids: string[]): Promise<(ContactRecord | null)[]> {
    return this.workspace(ws).contacts.getMany(ids);
  }
  async findContacts(ws: string, refs: ContactRef[]): Promise<(ContactRecord | null)[]> {
    return this.workspace(ws).contacts.find(refs);
  }
  async deleteContact(ws: string, id: string): Promise<boolean> {
    return this.workspace(ws).contacts.delete(id);
  }
  async countContacts(ws: string): Promise<number> {
    return this.workspace(ws).contacts.count();
  }
  async listContacts(ws: string, req: ListContactsRequest = {}): Promise<Page<ContactRecord>> {
    return this.workspace(ws).contacts.list(req);
  }
  async *streamContacts(ws: string, opts: StreamOptions = {}): AsyncIterable<ContactRecord[]> {
    yield* this.workspace(ws).contacts.stream(opts);
  }

  // events
  async insertEvents(ws: string, events: EventWrite[]): Promise<EventInsertResult> {
    return this.workspace(ws).events.insert(events);
  }
  async listContactEvents(ws: string, contactId: string, req: PageRequest = {}): Promise<Page<EventRecord>> {
    return this.workspace(ws).events.listOfContact(contactId, req);
  }
  async countEvents(ws: string): Promise<number> {
    return this.workspace(ws).events.count();
  }
  async *streamEvents(ws: string, opts: StreamOptions = {}): AsyncIterable<EventRecord[]> {
    yield* this.workspace(ws).events.stream(opts);
  }

  // segments
  async createSegment(ws: string, s: NewSegment): Promise<SegmentRecord> {
    return this.workspace(ws).segments.create(s);
  }
  async updateSegment(ws: string, id: string, patch: SegmentPatch): Promise<SegmentRecord | null> {
    return this.workspace(ws).segments.update(id, patch);
  }
  async getSegment(ws: string, id: string): Promise<SegmentRecord | null> {
    return this.workspace(ws).segments.get(id);
  }
  async listSegments(ws: string): Promise<SegmentRecord[]> {
    return this.workspace(ws).segments.list();
  }
  async listSegmentVersions(ws: string, id: string): Promise<SegmentVersion[]> {
    return this.workspace(ws).segments.versions(id);
  }
  async deleteSegment(ws: string, id: string): Promise<boolean> {
    return this.workspace(ws).segments.delete(id);
  }

  // static memberships and overrides
  async putMembers(ws: string, segmentId: string, members: MemberWrite[]): Promise<number> {
    return this.workspace(ws).members.put(segmentId, members);
  }
  async deleteMembers(ws: string, segmentId: string, contactIds: string[]): Promise<number> {
    return this.workspace(ws).members.delete(segmentId, contactIds);
  }
  async listMembers(
    ws: string,
    segmentId: string,
    req: PageRequest & { action?: MemberAction } = {},
  ): Promise<Page<MemberRecord>> {
    return this.workspace(ws).members.list(segmentId, req);
  }
  async *streamMembers(ws: string, opts: StreamOptions = {}): AsyncIterable<MemberRecord[]> {
    yield* this.workspace(ws).members.stream(opts);
  }
  async purgeExpiredMembers(ws: string, now: number): Promise<number> {
    return this.workspace(ws).members.purgeExpired(now);
  }

  // change log
  async appendChanges(ws: string, changes: ChangeInput[]): Promise<ChangeRecord[]> {
    return this.workspace(ws).changes.append(changes);
  }
  async listChanges(ws: string, req: ListChangesRequest = {}): Promise<Page<ChangeRecord>> {
    return this.workspace(ws).changes.list(req);
  }
  async lastChangeSeq(ws: string): Promise<number> {
    return this.workspace(ws).changes.lastSeq();
  }
  async membersAt(ws: string, segmentId: string, at: number, req: PageRequest = {}): Promise<Page<string>> {
    return this.workspace(ws).changes.membersAt(segmentId, at, req);
  }
  async countMembersAt(ws: string, segmentId: string, at: number): Promise<number> {
    return this.workspace(ws).changes.countMembersAt(segmentId, at);
  }
  async loggedMembers(ws: string, segmentId: string, req: PageRequest = {}): Promise<Page<string>> {
    return this.workspace(ws).changes.logged(segmentId, req);
  }

  // webhooks and their outbox
  async createWebhook(ws: string, w: NewWebhook): Promise<WebhookRecord> {
    return this.workspace(ws).webhooks.create(w);
  }
  async getWebhook(ws: string, id: string): Promise<WebhookRecord | null> {
    return this.workspace(ws).webhooks.get(id);
  }
  async listWebhooks(ws: string): Promise<WebhookRecord[]> {
    return this.workspace(ws).webhooks.list();
  }
  async deleteWebhook(ws: string, id: string): Promise<boolean> {
    return this.workspace(ws).webhooks.delete(id);
  }
  async rotateWebhookSecret(
    ws: string,
    id: string,
    r: { secret: string; previous_until: number },
  ): Promise<WebhookRecord | null> {
    return this.workspace(ws).webhooks.rotateSecret(id, r);
  }
  async enqueueDeliveries(ws: string, items: { webhook_id: string; change_seq: number }[]): Promise<number> {
    return this.workspace(ws).deliveries.enqueue(items);
  }
  async claimDeliveries(
    ws: string,
    opts: { now: number; limit: number; leaseMs: number },
  ): Promise<DeliveryJob[]> {
    return this.workspace(ws).deliveries.claim(opts);
  }
  async getDeliveryJob(ws: string, id: number): Promise<DeliveryJob | null> {
    return this.workspace(ws).deliveries.getJob(id);
  }
  async addPayloadDelivery(ws: string, d: NewPayloadDelivery): Promise<DeliveryRecord> {
    return this.workspace(ws).deliveries.addPayload(d);
  }
  async markDelivered(
    ws: string,
    id: number,
    opts: { at: number; status_code?: number | null },
  ): Promise<boolean> {
    return this.workspace(ws).deliveries.markDelivered(id, opts);
  }
  async markFailed(ws: string, id: number, opts: DeliveryFailure & { at: number }): Promise<boolean> {
    return this.workspace(ws).deliveries.markFailed(id, opts);
  }
  async getDelivery(ws: string, id: number): Promise<DeliveryRecord | null> {
    return this.workspace(ws).deliveries.get(id);
  }
  async listDeliveries(ws: string, webhookId: string, req: PageRequest = {}): Promise<Page<DeliveryRecord>> {
    return this.workspace(ws).deliveries.list(webhookId, req);
  }

  // imports
  async createImport(ws: string, job: NewImport): Promise<ImportJob> {
    return this.workspace(ws).imports.create(job);
  }
  async getImport(ws: string, id: string): Promise<ImportJob | null> {
    return this.workspace(ws).imports.get(id);
  }
  async listImports(ws: string, req: PageRequest = {}): Promise<Page<ImportJob>> {
    return this.workspace(ws).imports.list(req);
  }
  async recordImportProgress(ws: string, id: string, p: ImportProgress): Promise<ImportJob> {
    return this.workspace(ws).imports.recordProgress(id, p);
  }
  async finishImport(
    ws: string,
    id: string,
    status: "done" | "failed",
    failure: string | null = null,
  ): Promise<ImportJob> {
    return this.workspace(ws).imports.finish(id, status, failure);
  }
}
