/**
 * One workspace's repositories over one connection (the store's, or a transaction's):
 * what `Store.workspace(ws)` and a transaction's `tx.workspace(ws)` answer. Every
 * statement they run is restricted to that workspace; the workspace id was checked once,
 * when they were bound.
 */
import { ApiKeyRepo } from "./api-keys.ts";
import { ChangeRepo } from "./changes.ts";
import { ContactRepo } from "./contacts.ts";
import { DestinationRepo } from "./destinations.ts";
import { EventRepo } from "./events.ts";
import { FieldRepo } from "./fields.ts";
import { IdempotencyRepo } from "./idempotency.ts";
import { ImportRepo } from "./imports.ts";
import { IdentityRepo, ReceiverRepo } from "./ingest.ts";
import { MemberRepo } from "./members.ts";
import { ScheduleRepo } from "./schedules.ts";
import type { Scope } from "./scope.ts";
import { SegmentRepo } from "./segments.ts";
import { SnapshotRepo } from "./snapshots.ts";
import { DeliveryRepo, WebhookRepo } from "./webhooks.ts";

export type { Clock, Scope } from "./scope.ts";
export type {
  ApiKeyRepo,
  ChangeRepo,
  ContactRepo,
  DeliveryRepo,
  DestinationRepo,
  EventRepo,
  FieldRepo,
  IdempotencyRepo,
  IdentityRepo,
  ImportRepo,
  MemberRepo,
  ReceiverRepo,
  ScheduleRepo,
  SegmentRepo,
  SnapshotRepo,
  WebhookRepo,
};

export class WorkspaceRepos {
  readonly id: string;
  readonly fields: FieldRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly identities: IdentityRepo;
  readonly receivers: ReceiverRepo;
  readonly contacts: ContactRepo;
  readonly events: EventRepo;
  readonly segments: SegmentRepo;
  /** Static memberships and overrides. */
  readonly members: MemberRepo;
  readonly changes: ChangeRepo;
  readonly webhooks: WebhookRepo;
  readonly deliveries: DeliveryRepo;
  readonly imports: ImportRepo;
  /** Destinations with their remote members, sync runs and outcomes. */
  readonly destinations: DestinationRepo;
  /** Scheduled exports and their runs. */
  readonly schedules: ScheduleRepo;
  /** `Idempotency-Key` claims and their answers. */
  readonly idempotency: IdempotencyRepo;
  /** The store's position and the contact journal, for engine snapshots. */
  readonly snapshots: SnapshotRepo;

  constructor(s: Scope) {
    this.id = s.ws;
    this.fields = new FieldRepo(s);
    this.apiKeys = new ApiKeyRepo(s);
    this.identities = new IdentityRepo(s);
    this.receivers = new ReceiverRepo(s);
    this.contacts = new ContactRepo(s);
    this.events = new EventRepo(s);
    this.segments = new SegmentRepo(s);
    this.members = new MemberRepo(s);
    this.changes = new ChangeRepo(s);
    this.webhooks = new WebhookRepo(s);
    this.deliveries = new DeliveryRepo(s);
    this.imports = new ImportRepo(s);
    this.destinations = new DestinationRepo(s);
    this.schedules = new ScheduleRepo(s);
    this.idempotency = new IdempotencyRepo(s);
    this.snapshots = new SnapshotRepo(s);
  }
}
