/**
 * The store over SQL, shared by both adapters: the SQL is common to SQLite and
 * PostgreSQL except for batch writes, which take each database's fast path (one
 * prepared statement per row inside the transaction on SQLite, one `unnest` statement
 * per batch on PostgreSQL).
 */
import { randomBytes } from "node:crypto";
import type { FieldType } from "../rules/fields.ts";
import { CONTACT_COLUMNS, CONTACT_ROW_COLUMNS, contactFromRow } from "./contact-row.ts";
import { type Executor, type Row, translateError } from "./executor.ts";
import { newId, newSecret, normalizeEmail, sha256Hex } from "./ids.ts";
import * as ingest from "./ingest-repo.ts";
import { MIGRATIONS, migrate } from "./migrations.ts";
import { keyCursor, limitOf, MAX_LIMIT, page, seqCursor } from "./paging.ts";
import { serverSecret } from "./server-secret-repo.ts";
import { sqliteFileOf } from "./sqlite.ts";
import { readSqliteWorkspace } from "./sqlite-bulk-read.ts";
import { type EventBatchColumns, type SqliteEventWriter, workerError } from "./sqlite-event-writer.ts";
import type { StartupRead } from "./startup-read.ts";
import {
  type ApiKey,
  type BatchOutcome,
  type ChangeInput,
  type ChangeKind,
  type ChangeRecord,
  type ContactRecord,
  type ContactRef,
  type ContactWrite,
  type CreatedApiKey,
  type CustomField,
  type DeliveryFailure,
  type DeliveryJob,
  type DeliveryRecord,
  type DeliveryStatus,
  type Dialect,
  type EventInsertResult,
  type EventRecord,
  type EventWrite,
  type ImportJob,
  type ImportKind,
  type ImportProgress,
  type ImportRowError,
  type ImportStatus,
  type InsertStatus,
  type JsonObject,
  type JsonValue,
  type KeyRole,
  type ListChangesRequest,
  type ListContactsRequest,
  MAX_IMPORT_ERRORS,
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
  type NewWorkspace,
  type Page,
  type PageRequest,
  type ReceiverRecord,
  type SegmentKind,
  type SegmentPatch,
  type SegmentRecord,
  type SegmentVersion,
  type Store,
  StoreError,
  type StoreOps,
  type StreamOptions,
  type WebhookRecord,
  type Workspace,
  type WorkspacePatch,
} from "./types.ts";

export interface Clock {
  now(): number;
}

const DEFAULT_PAGE = 10_000;
/** SQLite allows 32,766 parameters per statement; IN lists stay well below. */
const IN_CHUNK = 500;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A delivery with its change (null when gone) and its subscription's address and secrets. */
const DELIVERY_JOB_COLUMNS =
  "d.*, c.seq AS c_seq, c.segment_id, c.contact_id, c.change, c.at, w.url, w.secret, w.previous_secret, w.previous_secret_until";

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const CONTACT_SELECT = CONTACT_ROW_COLUMNS.join(", ");
const EVENT_SELECT = "seq, idem_key, type, contact_id, ts, properties, received_at";
/** PostgreSQL array type of each contact column in an `unnest` batch. */
const CONTACT_PG_TYPES = CONTACT_COLUMNS.map((c) =>
  c === "tags" || c === "custom" ? "text[]" : c.endsWith("_at") ? "bigint[]" : "text[]",
);
const CONTACT_CASTS = CONTACT_COLUMNS.map((c) => (c === "tags" || c === "custom" ? `${c}::jsonb` : c));
const STRING_KEYS = [
  "external_id",
  "phone",
  "first_name",
  "last_name",
  "country",
  "region",
  "city",
  "postal_code",
  "timezone",
  "language",
  "status",
  "email_status",
] as const;

/** The workspace-scoped operations over one executor (the store's, or a transaction's). */
let savepoints = 0;

export class SqlOps implements StoreOps {
  protected readonly d: Dialect;

  constructor(
    protected readonly x: Executor,
    protected readonly clock: Clock,
    /** Inside a transaction: the only workspace it accepts. */
    private readonly bound: string | null = null,
  ) {
    this.d = x.dialect;
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

  protected check(ws: string): void {
    if (typeof ws !== "string" || ws === "") throw new StoreError("invalid", "a workspace id is required");
    if (this.bound !== null && ws !== this.bound) {
      throw new StoreError(
        "workspace_mismatch",
        `this transaction belongs to workspace "${this.bound}", not "${ws}"`,
      );
    }
  }

  protected json(v: unknown): string {
    return JSON.stringify(v);
  }

  /** JSON as read back: PostgreSQL's JSONB arrives parsed, SQLite's TEXT does not. */
  protected parse<T>(v: unknown): T {
    if (this.d === "sqlite" && typeof v === "string") return JSON.parse(v) as T;
    return v as T;
  }

  /** `col IN (?, …)` on SQLite, `col = ANY(?)` with one array parameter on PostgreSQL. */
  protected inList(column: string, values: readonly unknown[]): { sql: string; params: unknown[] } {
    if (this.d === "postgres") return { sql: `${column} = ANY(?)`, params: [values] };
    return { sql: `${column} IN (${values.map(() => "?").join(", ")})`, params: [...values] };
  }

  // ---------------------------------------------------------------- fields

  async createField(ws: string, f: NewField): Promise<CustomField> {
    this.check(ws);
    const rec: CustomField = {
      key: f.key,
      type: f.type,
      label: f.label ?? f.key,
      created_at: this.clock.now(),
      computed: f.computed ?? null,
    };
    await this.x.run(
      "INSERT INTO fields (workspace_id, key, type, label, created_at, computed) VALUES (?, ?, ?, ?, ?, ?)",
      [
        ws,
        rec.key,
        rec.type,
        rec.label,
        rec.created_at,
        rec.computed === null ? null : JSON.stringify(rec.computed),
      ],
    );
    return rec;
  }

  async listFields(ws: string): Promise<CustomField[]> {
    this.check(ws);
    const rows = await this.x.all(
      "SELECT key, type, label, created_at, computed FROM fields WHERE workspace_id = ? ORDER BY created_at, key",
      [ws],
    );
    return rows.map((r) => ({
      key: String(r.key),
      type: r.type as FieldType,
      label: String(r.label),
      created_at: Number(r.created_at),
      computed: r.computed == null ? null : (JSON.parse(String(r.computed)) as unknown),
    }));
  }

  async deleteField(ws: string, key: string): Promise<boolean> {
    this.check(ws);
    return (await this.x.run("DELETE FROM fields WHERE workspace_id = ? AND key = ?", [ws, key])) > 0;
  }

  // ---------------------------------------------------------------- api keys

  async createApiKey(ws: string, k: NewApiKey = {}): Promise<CreatedApiKey> {
    this.check(ws);
    const secret = k.secret ?? newSecret("slk");
    const role: KeyRole = k.admin ? "admin" : (k.role ?? "read_write");
    if (secret.length < 16) throw new StoreError("invalid", "an API key secret has at least 16 characters");
    const now = this.clock.now();
    const key: ApiKey = {
      id: newId("key", now),
      workspace_id: ws,
      name: k.name ?? "",
      prefix: secret.slice(0, 10),
      admin: role === "admin",
      role,
      created_at: now,
    };
    await this.x.run(
      "INSERT INTO api_keys (workspace_id, id, name, prefix, secret_hash, admin, role, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [ws, key.id, key.name, key.prefix, sha256Hex(secret), key.admin, role, key.created_at],
    );
    return { key, secret };
  }

  async listApiKeys(ws: string): Promise<ApiKey[]> {
    this.check(ws);
    const rows = await this.x.all(
      "SELECT workspace_id, id, name, prefix, admin, role, created_at FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id",
      [ws],
    );
    return rows.map(toApiKey);
  }

  async deleteApiKey(ws: string, id: string): Promise<boolean> {
    this.check(ws);
    return (await this.x.run("DELETE FROM api_keys WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
  }

  // ---------------------------------------------------------------- identities and receivers

  async findIdentities(ws: string, anonymousIds: string[]): Promise<(string | null)[]> {
    this.check(ws);
    return ingest.findIdentities(this.x, ws, anonymousIds);
  }

  async putIdentities(ws: string, pairs: { anonymous_id: string; contact_id: string }[]): Promise<void> {
    this.check(ws);
    return ingest.putIdentities(this.x, ws, pairs, this.clock.now());
  }

  async moveContactData(ws: string, from: string, to: string): Promise<{ events: number }> {
    this.check(ws);
    return ingest.moveContactData(this.x, ws, from, to);
  }

  async createReceiver(ws: string, r: NewReceiver): Promise<ReceiverRecord> {
    this.check(ws);
    return ingest.createReceiver(this.x, ws, r, this.clock.now());
  }

  async getReceiver(ws: string, id: string): Promise<ReceiverRecord | null> {
    this.check(ws);
    return ingest.getReceiver(this.x, ws, id);
  }

  async listReceivers(ws: string): Promise<ReceiverRecord[]> {
    this.check(ws);
    return ingest.listReceivers(this.x, ws);
  }

  async updateReceiver(
    ws: string,
    id: string,
    patch: { name: string; config: JsonObject },
  ): Promise<ReceiverRecord | null> {
    this.check(ws);
    return ingest.updateReceiver(this.x, ws, id, patch);
  }

  async deleteReceiver(ws: string, id: string): Promise<boolean> {
    this.check(ws);
    return ingest.deleteReceiver(this.x, ws, id);
  }

  executorFor(ws: string): Executor {
    this.check(ws);
    return this.x;
  }

  // ---------------------------------------------------------------- contacts

  private normalizeContact(c: ContactWrite, now: number): ContactRecord {
    return {
      id: c.id ?? newId("ct", now),
      email: normalizeEmail(c.email),
      external_id: c.external_id ?? null,
      phone: c.phone ?? null,
      first_name: c.first_name ?? null,
      last_name: c.last_name ?? null,
      country: c.country ?? null,
      region: c.region ?? null,
      city: c.city ?? null,
      postal_code: c.postal_code ?? null,
      timezone: c.timezone ?? null,
      language: c.language ?? null,
      status: c.status ?? null,
      email_status: c.email_status ?? null,
      tags: c.tags ? [...c.tags] : [],
      fields: c.fields ? { ...c.fields } : {},
      created_at: c.created_at ?? now,
      subscribed_at: c.subscribed_at ?? null,
      status_written_at: c.status_written_at ?? null,
      email_status_written_at: c.email_status_written_at ?? null,
      updated_at: now,
    };
  }

  /** Parameters in CONTACT_COLUMNS order. */
  private contactParams(ws: string, r: ContactRecord): unknown[] {
    const row: unknown[] = [ws, r.id, r.email];
    for (const k of STRING_KEYS) row.push(r[k]);
    row.push(
      this.json(r.tags),
      this.json(r.fields),
      r.created_at,
      r.subscribed_at,
      r.status_written_at,
      r.email_status_written_at,
      r.updated_at,
    );
    return row;
  }

  /** A row of CONTACT_SELECT, as arrays. */
  protected toContact(a: unknown[]): ContactRecord {
    return contactFromRow(a, (v) => this.parse(v));
  }

  async putContacts(ws: string, contacts: ContactWrite[]): Promise<ContactRecord[]> {
    this.check(ws);
    if (contacts.length === 0) return [];
    const now = this.clock.now();
    const records = contacts.map((c) => this.normalizeContact(c, now));
    const rows = records.map((r) => this.contactParams(ws, r));
    // created_at is kept from creation (SPEC §1): the update leaves it out.
    const updates = CONTACT_COLUMNS.filter((c) => c !== "workspace_id" && c !== "id" && c !== "created_at")
      .map((c) => `${c} = excluded.${c}`)
      .join(", ");
    return this.x.atomic(async (tx) => {
      const created = new Map<string, number>();
      if (tx.runEach) {
        const sql = `INSERT INTO contacts (${CONTACT_COLUMNS.join(", ")}) VALUES (${CONTACT_COLUMNS.map(() => "?").join(", ")})
          ON CONFLICT (workspace_id, id) DO UPDATE SET ${updates}`;
        tx.runEach(sql, rows);
        // Only rows that already existed can have another created_at than the one written.
        const ids = [...new Set(rows.map((r) => r[1] as string))];
        for (const part of chunks(ids, IN_CHUNK)) {
          const inl = this.inList("id", part);
          for (const r of await tx.all(
            `SELECT id, created_at FROM contacts WHERE workspace_id = ? AND ${inl.sql}`,
            [ws, ...inl.params],
          )) {
            created.set(String(r.id), Number(r.created_at));
          }
        }
      } else {
        // One statement may not touch a row twice: the last write of an id wins, as it would one by one.
        const last = new Map<string, unknown[]>();
        for (const r of rows) last.set(r[1] as string, r);
        const unique = [...last.values()];
        const cols = CONTACT_COLUMNS.map((_, i) => unique.map((r) => r[i]));
        const sql = `INSERT INTO contacts (${CONTACT_COLUMNS.join(", ")})
          SELECT ${CONTACT_CASTS.join(", ")} FROM unnest(${CONTACT_PG_TYPES.map((t) => `?::${t}`).join(", ")})
            AS u(${CONTACT_COLUMNS.join(", ")})
          ON CONFLICT (workspace_id, id) DO UPDATE SET ${updates}
          RETURNING id, created_at`;
        for (const r of await tx.all(sql, cols)) created.set(String(r.id), Number(r.created_at));
      }
      for (const r of records) r.created_at = created.get(r.id) ?? r.created_at;
      return records;
    });
  }

  async getContact(ws: string, id: string): Promise<ContactRecord | null> {
    this.check(ws);
    const rows = await this.x.arrays(
      `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND id = ?`,
      [ws, id],
    );
    return rows.length > 0 ? this.toContact(rows[0]) : null;
  }

  private async contactsBy(
    ws: string,
    column: "id" | "email" | "external_id",
    values: string[],
  ): Promise<Map<string, ContactRecord>> {
    const found = new Map<string, ContactRecord>();
    const unique = [...new Set(values)];
    for (const part of chunks(unique, IN_CHUNK)) {
      const inl = this.inList(column, part);
      const rows = await this.x.arrays(
        `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND ${inl.sql}`,
        [ws, ...inl.params],
      );
      for (const r of rows) {
        const c = this.toContact(r);
        found.set(String(c[column]), c);
      }
    }
    return found;
  }

  async getContacts(ws: string, ids: string[]): Promise<(ContactRecord | null)[]> {
    this.check(ws);
    const found = await this.contactsBy(ws, "id", ids);
    return ids.map((id) => found.get(id) ?? null);
  }

  async findContacts(ws: string, refs: ContactRef[]): Promise<(ContactRecord | null)[]> {
    this.check(ws);
    const ids: string[] = [];
    const emails: string[] = [];
    const externals: string[] = [];
    for (const r of refs) {
      if ("id" in r) ids.push(r.id);
      else if ("email" in r) {
        const e = normalizeEmail(r.email);
        if (e !== null) emails.push(e);
      } else externals.push(r.external_id);
    }
    const byId = ids.length > 0 ? await this.contactsBy(ws, "id", ids) : new Map<string, ContactRecord>();
    const byEmail =
      emails.length > 0 ? await this.contactsBy(ws, "email", emails) : new Map<string, ContactRecord>();
    const byExt =
      externals.length > 0
        ? await this.contactsBy(ws, "external_id", externals)
        : new Map<string, ContactRecord>();
    return refs.map((r) => {
      if ("id" in r) return byId.get(r.id) ?? null;
      if ("email" in r) return byEmail.get(normalizeEmail(r.email) ?? "") ?? null;
      return byExt.get(r.external_id) ?? null;
    });
  }

  async deleteContact(ws: string, id: string): Promise<boolean> {
    this.check(ws);
    return this.x.atomic(async (tx) => {
      await tx.run("DELETE FROM events WHERE workspace_id = ? AND contact_id = ?", [ws, id]);
      await tx.run("DELETE FROM segment_members WHERE workspace_id = ? AND contact_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM contacts WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }

  async countContacts(ws: string): Promise<number> {
    this.check(ws);
    const rows = await this.x.all("SELECT COUNT(*) AS n FROM contacts WHERE workspace_id = ?", [ws]);
    return Number(rows[0].n);
  }

  async listContacts(ws: string, req: ListContactsRequest = {}): Promise<Page<ContactRecord>> {
    this.check(ws);
    const limit = limitOf(req);
    const filter = req.segmentMembers;
    let after = keyCursor(req.cursor);
    const out: ContactRecord[] = [];
    // Scan in store order; with a filter, keep scanning until limit + 1 matches (one more
    // tells whether there is a next page) or the table ends.
    const step = filter ? Math.max(1000, limit + 1) : limit + 1;
    for (;;) {
      const rows = await this.x.arrays(
        `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?`,
        [ws, after, step],
      );
      for (const r of rows) {
        if (!filter || filter.has(r[0] as string)) out.push(this.toContact(r));
        if (out.length > limit) break;
      }
      if (out.length > limit || rows.length < step) break;
      after = rows[rows.length - 1][0] as string;
    }
    return page(out, limit, (c) => c.id);
  }

  async *streamContacts(ws: string, opts: StreamOptions = {}): AsyncIterable<ContactRecord[]> {
    this.check(ws);
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    if (this.x.cursor) {
      const sql = `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? ORDER BY id`;
      for await (const rows of this.x.cursor(sql, [ws], size)) yield rows.map((r) => this.toContact(r));
      return;
    }
    let after = "";
    for (;;) {
      const rows = await this.x.arrays(
        `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?`,
        [ws, after, size],
      );
      if (rows.length === 0) return;
      after = rows[rows.length - 1][0] as string;
      yield rows.map((r) => this.toContact(r));
      if (rows.length < size) return;
    }
  }

  // ---------------------------------------------------------------- events

  /** `insertEvents`' rows: [ws, idem_key, type, contact_id, ts, properties, received_at]. */
  protected eventRows(ws: string, events: EventWrite[]): unknown[][] {
    const now = this.clock.now();
    return events.map((e, i) => {
      if (!Number.isFinite(e.timestamp))
        throw new StoreError("invalid", `events[${i}].timestamp is not a number`);
      return [
        ws,
        e.id ?? null,
        e.type,
        e.contact_id,
        Math.floor(e.timestamp),
        this.json(e.properties ?? {}),
        e.received_at ?? now,
      ];
    });
  }

  async insertEvents(ws: string, events: EventWrite[]): Promise<EventInsertResult> {
    this.check(ws);
    const rows = this.eventRows(ws, events);
    const items: InsertStatus[] = new Array(rows.length);
    if (rows.length > 0) {
      await this.x.atomic(async (tx) => {
        const sql = `INSERT INTO events (workspace_id, idem_key, type, contact_id, ts, properties, received_at)`;
        if (tx.runEach) {
          // A duplicate key, stored before or earlier in this batch, inserts nothing.
          const res = tx.runEach(`${sql} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, rows);
          res.forEach((r, i) => {
            items[i] = r.changes > 0 ? "accepted" : "duplicate";
          });
          return;
        }
        const seen = new Set<string>();
        const fresh: unknown[][] = [];
        rows.forEach((r, i) => {
          const key = r[1] as string | null;
          if (key !== null) {
            if (seen.has(key)) {
              items[i] = "duplicate";
              return;
            }
            seen.add(key);
          }
          fresh.push(r);
        });
        const cols = [0, 1, 2, 3, 4, 5, 6].map((c) => fresh.map((r) => r[c]));
        const inserted = await tx.all(
          `${sql}
           SELECT w, k, t, c, ts, p::jsonb, r
           FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::bigint[]) AS u(w, k, t, c, ts, p, r)
           ON CONFLICT DO NOTHING RETURNING idem_key`,
          cols,
        );
        const accepted = new Set(inserted.map((r) => r.idem_key as string | null));
        rows.forEach((r, i) => {
          if (items[i] !== undefined) return;
          const key = r[1] as string | null;
          items[i] = key === null || accepted.has(key) ? "accepted" : "duplicate";
        });
      });
    }
    let accepted = 0;
    for (const s of items) if (s === "accepted") accepted++;
    return { accepted, duplicates: items.length - accepted, items };
  }

  /** A row of EVENT_SELECT, as arrays. */
  protected toEvent(a: unknown[]): EventRecord {
    return {
      seq: Number(a[0]),
      id: a[1] as string | null,
      type: a[2] as string,
      contact_id: a[3] as string,
      timestamp: Number(a[4]),
      properties: this.parse<JsonObject>(a[5]),
      received_at: Number(a[6]),
    };
  }

  async listContactEvents(ws: string, contactId: string, req: PageRequest = {}): Promise<Page<EventRecord>> {
    this.check(ws);
    const limit = limitOf(req);
    let where = "";
    const params: unknown[] = [ws, contactId];
    if (req.cursor) {
      const m = /^(-?\d{1,16})\.(\d{1,16})$/.exec(req.cursor);
      if (!m) throw new StoreError("invalid", `invalid cursor "${req.cursor}"`);
      where = " AND (ts < ? OR (ts = ? AND seq < ?))";
      params.push(Number(m[1]), Number(m[1]), Number(m[2]));
    }
    const rows = await this.x.arrays(
      `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? AND contact_id = ?${where} ORDER BY ts DESC, seq DESC LIMIT ?`,
      [...params, limit + 1],
    );
    return page(
      rows.map((r) => this.toEvent(r)),
      limit,
      (e) => `${e.timestamp}.${e.seq}`,
    );
  }

  async countEvents(ws: string): Promise<number> {
    this.check(ws);
    const rows = await this.x.all("SELECT COUNT(*) AS n FROM events WHERE workspace_id = ?", [ws]);
    return Number(rows[0].n);
  }

  async *streamEvents(ws: string, opts: StreamOptions = {}): AsyncIterable<EventRecord[]> {
    this.check(ws);
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    if (this.x.cursor) {
      const sql = `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? ORDER BY seq`;
      for await (const rows of this.x.cursor(sql, [ws], size)) yield rows.map((r) => this.toEvent(r));
      return;
    }
    let after = 0;
    for (;;) {
      const rows = await this.x.arrays(
        `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
        [ws, after, size],
      );
      if (rows.length === 0) return;
      after = Number(rows[rows.length - 1][0]);
      yield rows.map((r) => this.toEvent(r));
      if (rows.length < size) return;
    }
  }

  // ---------------------------------------------------------------- segments

  protected toSegment(r: Row): SegmentRecord {
    return {
      id: String(r.id),
      kind: r.kind as SegmentKind,
      name: String(r.name),
      description: String(r.description),
      rule: r.rule === null || r.rule === undefined ? null : this.parse<JsonValue>(r.rule),
      version: Number(r.version),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
    };
  }

  private async addVersion(tx: Executor, ws: string, s: SegmentRecord): Promise<void> {
    await tx.run(
      "INSERT INTO segment_versions (workspace_id, segment_id, version, name, description, rule, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [ws, s.id, s.version, s.name, s.description, s.rule === null ? null : this.json(s.rule), s.updated_at],
    );
  }

  async createSegment(ws: string, s: NewSegment): Promise<SegmentRecord> {
    this.check(ws);
    const now = this.clock.now();
    const rec: SegmentRecord = {
      id: s.id ?? newId("seg", now),
      kind: s.kind,
      name: s.name,
      description: s.description ?? "",
      rule: s.rule ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.x.atomic(async (tx) => {
      await tx.run(
        "INSERT INTO segments (workspace_id, id, kind, name, description, rule, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
          ws,
          rec.id,
          rec.kind,
          rec.name,
          rec.description,
          rec.rule === null ? null : this.json(rec.rule),
          rec.version,
          now,
          now,
        ],
      );
      await this.addVersion(tx, ws, rec);
    });
    return rec;
  }

  async updateSegment(ws: string, id: string, patch: SegmentPatch): Promise<SegmentRecord | null> {
    this.check(ws);
    return this.x.atomic(async (tx) => {
      const rows = await tx.all(`SELECT * FROM segments WHERE workspace_id = ? AND id = ?`, [ws, id]);
      if (rows.length === 0) return null;
      const cur = this.toSegment(rows[0]);
      const next: SegmentRecord = {
        ...cur,
        name: patch.name ?? cur.name,
        description: patch.description ?? cur.description,
        rule: patch.rule === undefined ? cur.rule : patch.rule,
        version: cur.version + 1,
        updated_at: this.clock.now(),
      };
      // The version check makes a concurrent edit from another server fail instead of being lost.
      const n = await tx.run(
        "UPDATE segments SET name = ?, description = ?, rule = ?, version = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND version = ?",
        [
          next.name,
          next.description,
          next.rule === null ? null : this.json(next.rule),
          next.version,
          next.updated_at,
          ws,
          id,
          cur.version,
        ],
      );
      if (n === 0) throw new StoreError("conflict", `segment "${id}" was changed concurrently`, "version");
      await this.addVersion(tx, ws, next);
      return next;
    });
  }

  async getSegment(ws: string, id: string): Promise<SegmentRecord | null> {
    this.check(ws);
    const rows = await this.x.all("SELECT * FROM segments WHERE workspace_id = ? AND id = ?", [ws, id]);
    return rows.length > 0 ? this.toSegment(rows[0]) : null;
  }

  async listSegments(ws: string): Promise<SegmentRecord[]> {
    this.check(ws);
    const rows = await this.x.all("SELECT * FROM segments WHERE workspace_id = ? ORDER BY created_at, id", [
      ws,
    ]);
    return rows.map((r) => this.toSegment(r));
  }

  async listSegmentVersions(ws: string, id: string): Promise<SegmentVersion[]> {
    this.check(ws);
    const rows = await this.x.all(
      "SELECT * FROM segment_versions WHERE workspace_id = ? AND segment_id = ? ORDER BY version",
      [ws, id],
    );
    return rows.map((r) => ({
      segment_id: String(r.segment_id),
      version: Number(r.version),
      name: String(r.name),
      description: String(r.description),
      rule: r.rule === null || r.rule === undefined ? null : this.parse<JsonValue>(r.rule),
      created_at: Number(r.created_at),
    }));
  }

  async deleteSegment(ws: string, id: string): Promise<boolean> {
    this.check(ws);
    return this.x.atomic(async (tx) => {
      await tx.run("DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ?", [ws, id]);
      await tx.run("DELETE FROM segment_versions WHERE workspace_id = ? AND segment_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM segments WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }

  // ---------------------------------------------------------------- members and overrides

  protected toMember(r: Row): MemberRecord {
    return {
      segment_id: String(r.segment_id),
      contact_id: String(r.contact_id),
      action: r.action as MemberAction,
      expires_at: num(r.expires_at),
      created_at: Number(r.created_at),
    };
  }

  async putMembers(ws: string, segmentId: string, members: MemberWrite[]): Promise<number> {
    this.check(ws);
    if (members.length === 0) return 0;
    const now = this.clock.now();
    const last = new Map<string, unknown[]>();
    for (const m of members) {
      if (m.action !== "added" && m.action !== "removed") {
        throw new StoreError(
          "invalid",
          `member action must be "added" or "removed", not "${String(m.action)}"`,
        );
      }
      last.set(m.contact_id, [ws, segmentId, m.contact_id, m.action, m.expires_at ?? null, now]);
    }
    const rows = [...last.values()];
    const cols = "workspace_id, segment_id, contact_id, action, expires_at, created_at";
    const conflict =
      "ON CONFLICT (workspace_id, segment_id, contact_id) DO UPDATE SET action = excluded.action, expires_at = excluded.expires_at, created_at = excluded.created_at";
    return this.x.atomic(async (tx) => {
      if (tx.runEach) {
        tx.runEach(`INSERT INTO segment_members (${cols}) VALUES (?, ?, ?, ?, ?, ?) ${conflict}`, rows);
        return rows.length;
      }
      const c = [0, 1, 2, 3, 4, 5].map((i) => rows.map((r) => r[i]));
      return tx.run(
        `INSERT INTO segment_members (${cols})
         SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) ${conflict}`,
        c,
      );
    });
  }

  async deleteMembers(ws: string, segmentId: string, contactIds: string[]): Promise<number> {
    this.check(ws);
    let n = 0;
    const unique = [...new Set(contactIds)];
    await this.x.atomic(async (tx) => {
      for (const part of chunks(unique, IN_CHUNK)) {
        const inl = this.inList("contact_id", part);
        n += await tx.run(
          `DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND ${inl.sql}`,
          [ws, segmentId, ...inl.params],
        );
      }
    });
    return n;
  }

  async listMembers(
    ws: string,
    segmentId: string,
    req: PageRequest & { action?: MemberAction } = {},
  ): Promise<Page<MemberRecord>> {
    this.check(ws);
    const limit = limitOf(req);
    const params: unknown[] = [ws, segmentId, keyCursor(req.cursor)];
    let action = "";
    if (req.action) {
      action = " AND action = ?";
      params.push(req.action);
    }
    const rows = await this.x.all(
      `SELECT * FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND contact_id > ?${action} ORDER BY contact_id LIMIT ?`,
      [...params, limit + 1],
    );
    return page(
      rows.map((r) => this.toMember(r)),
      limit,
      (m) => m.contact_id,
    );
  }

  async *streamMembers(ws: string, opts: StreamOptions = {}): AsyncIterable<MemberRecord[]> {
    this.check(ws);
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    let seg = "";
    let contact = "";
    for (;;) {
      const rows = await this.x.all(
        `SELECT * FROM segment_members WHERE workspace_id = ? AND (segment_id > ? OR (segment_id = ? AND contact_id > ?))
         ORDER BY segment_id, contact_id LIMIT ?`,
        [ws, seg, seg, contact, size],
      );
      if (rows.length === 0) return;
      const lastRow = rows[rows.length - 1];
      seg = String(lastRow.segment_id);
      contact = String(lastRow.contact_id);
      yield rows.map((r) => this.toMember(r));
      if (rows.length < size) return;
    }
  }

  async purgeExpiredMembers(ws: string, now: number): Promise<number> {
    this.check(ws);
    return this.x.run(
      "DELETE FROM segment_members WHERE workspace_id = ? AND expires_at IS NOT NULL AND expires_at <= ?",
      [ws, now],
    );
  }

  // ---------------------------------------------------------------- change log

  protected toChange(r: Row): ChangeRecord {
    return {
      seq: Number(r.seq),
      segment_id: String(r.segment_id),
      contact_id: String(r.contact_id),
      change: r.change as ChangeKind,
      at: Number(r.at),
    };
  }

  async appendChanges(ws: string, changes: ChangeInput[]): Promise<ChangeRecord[]> {
    this.check(ws);
    if (changes.length === 0) return [];
    const rows = changes.map((c) => [ws, c.segment_id, c.contact_id, c.change, c.at]);
    const sql = "INSERT INTO changes (workspace_id, segment_id, contact_id, change, at)";
    return this.x.atomic(async (tx) => {
      let seqs: number[];
      if (tx.runEach) {
        seqs = tx.runEach(`${sql} VALUES (?, ?, ?, ?, ?)`, rows).map((r) => r.rowid);
      } else {
        // Sequence numbers are taken at insert, not at commit: holding this lock until
        // commit makes a workspace's log grow in commit order, so a reader that follows
        // it by sequence ("since seq N") never skips an entry committed late.
        await tx.all("SELECT pg_advisory_xact_lock(hashtext(?))", [`slice.changes:${ws}`]);
        const cols = [0, 1, 2, 3, 4].map((i) => rows.map((r) => r[i]));
        const inserted = await tx.all(
          `${sql}
           SELECT w, s, c, k, a FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])
             WITH ORDINALITY AS u(w, s, c, k, a, n) ORDER BY n
           RETURNING seq`,
          cols,
        );
        seqs = inserted.map((r) => Number(r.seq)).sort((a, b) => a - b);
      }
      return changes.map((c, i) => ({
        seq: seqs[i],
        segment_id: c.segment_id,
        contact_id: c.contact_id,
        change: c.change,
        at: c.at,
      }));
    });
  }

  async listChanges(ws: string, req: ListChangesRequest = {}): Promise<Page<ChangeRecord>> {
    this.check(ws);
    const limit = limitOf(req);
    let where = "workspace_id = ? AND seq > ?";
    const params: unknown[] = [ws, seqCursor(req.cursor)];
    if (req.segmentId !== undefined) {
      where += " AND segment_id = ?";
      params.push(req.segmentId);
    }
    if (req.since !== undefined) {
      where += " AND at >= ?";
      params.push(req.since);
    }
    if (req.until !== undefined) {
      where += " AND at <= ?";
      params.push(req.until);
    }
    const rows = await this.x.all(`SELECT * FROM changes WHERE ${where} ORDER BY seq LIMIT ?`, [
      ...params,
      limit + 1,
    ]);
    return page(
      rows.map((r) => this.toChange(r)),
      limit,
      (c) => String(c.seq),
    );
  }

  async lastChangeSeq(ws: string): Promise<number> {
    this.check(ws);
    const rows = await this.x.all(
      "SELECT seq FROM changes WHERE workspace_id = ? ORDER BY seq DESC LIMIT 1",
      [ws],
    );
    return rows.length > 0 ? Number(rows[0].seq) : 0;
  }

  /**
   * A contact is in the segment at `at` when its latest change at or before `at`, in
   * (at, seq) order, is `entered`: an `entered` row with no later row for the same
   * contact up to `at`. The (workspace, segment, contact, at, seq) index serves both
   * the scan in contact order and the probe.
   */
  private static readonly MEMBERS_AT = `
    FROM changes c
    WHERE c.workspace_id = ? AND c.segment_id = ? AND c.at <= ? AND c.change = 'entered' AND c.contact_id > ?
      AND NOT EXISTS (
        SELECT 1 FROM changes l
        WHERE l.workspace_id = c.workspace_id AND l.segment_id = c.segment_id AND l.contact_id = c.contact_id
          AND l.at <= ? AND (l.at > c.at OR (l.at = c.at AND l.seq > c.seq)))`;

  async membersAt(ws: string, segmentId: string, at: number, req: PageRequest = {}): Promise<Page<string>> {
    this.check(ws);
    const limit = limitOf(req);
    const rows = await this.x.all(`SELECT c.contact_id ${SqlOps.MEMBERS_AT} ORDER BY c.contact_id LIMIT ?`, [
      ws,
      segmentId,
      at,
      keyCursor(req.cursor),
      at,
      limit + 1,
    ]);
    return page(
      rows.map((r) => String(r.contact_id)),
      limit,
      (id) => id,
    );
  }

  async countMembersAt(ws: string, segmentId: string, at: number): Promise<number> {
    this.check(ws);
    const rows = await this.x.all(`SELECT COUNT(*) AS n ${SqlOps.MEMBERS_AT}`, [ws, segmentId, at, "", at]);
    return Number(rows[0].n);
  }

  async loggedMembers(ws: string, segmentId: string, req: PageRequest = {}): Promise<Page<string>> {
    this.check(ws);
    const limit = limitOf(req);
    const rows = await this.x.all(
      `SELECT c.contact_id FROM changes c
       WHERE c.workspace_id = ? AND c.segment_id = ? AND c.change = 'entered' AND c.contact_id > ?
         AND NOT EXISTS (
           SELECT 1 FROM changes l
           WHERE l.workspace_id = c.workspace_id AND l.segment_id = c.segment_id AND l.contact_id = c.contact_id
             AND l.seq > c.seq)
       ORDER BY c.contact_id LIMIT ?`,
      [ws, segmentId, keyCursor(req.cursor), limit + 1],
    );
    return page(
      rows.map((r) => String(r.contact_id)),
      limit,
      (id) => id,
    );
  }

  // ---------------------------------------------------------------- webhooks

  protected toWebhook(r: Row): WebhookRecord {
    return {
      id: String(r.id),
      url: String(r.url),
      events: this.parse<string[]>(r.events),
      segment_id: str(r.segment_id),
      secret: String(r.secret),
      previous_secret: str(r.previous_secret),
      previous_secret_until: num(r.previous_secret_until),
      created_at: Number(r.created_at),
    };
  }

  async createWebhook(ws: string, w: NewWebhook): Promise<WebhookRecord> {
    this.check(ws);
    const now = this.clock.now();
    const rec: WebhookRecord = {
      id: newId("wh", now),
      url: w.url,
      events: [...w.events],
      segment_id: w.segment_id ?? null,
      // A Standard Webhooks secret: whsec_ + standard base64 of 32 random bytes.
      secret: w.secret ?? `whsec_${randomBytes(32).toString("base64")}`,
      previous_secret: null,
      previous_secret_until: null,
      created_at: now,
    };
    await this.x.run(
      "INSERT INTO webhooks (workspace_id, id, url, events, segment_id, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [ws, rec.id, rec.url, this.json(rec.events), rec.segment_id, rec.secret, now],
    );
    return rec;
  }

  async getWebhook(ws: string, id: string): Promise<WebhookRecord | null> {
    this.check(ws);
    const rows = await this.x.all("SELECT * FROM webhooks WHERE workspace_id = ? AND id = ?", [ws, id]);
    return rows.length > 0 ? this.toWebhook(rows[0]) : null;
  }

  async listWebhooks(ws: string): Promise<WebhookRecord[]> {
    this.check(ws);
    const rows = await this.x.all("SELECT * FROM webhooks WHERE workspace_id = ? ORDER BY created_at, id", [
      ws,
    ]);
    return rows.map((r) => this.toWebhook(r));
  }

  async deleteWebhook(ws: string, id: string): Promise<boolean> {
    this.check(ws);
    return this.x.atomic(async (tx) => {
      await tx.run("DELETE FROM deliveries WHERE workspace_id = ? AND webhook_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM webhooks WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }

  async rotateWebhookSecret(
    ws: string,
    id: string,
    r: { secret: string; previous_until: number },
  ): Promise<WebhookRecord | null> {
    this.check(ws);
    return this.x.atomic(async (tx) => {
      // The right-hand sides read the row as it was: the current secret becomes the previous one.
      const n = await tx.run(
        `UPDATE webhooks SET previous_secret = secret, previous_secret_until = ?, secret = ?
         WHERE workspace_id = ? AND id = ?`,
        [r.previous_until, r.secret, ws, id],
      );
      if (n === 0) return null;
      const rows = await tx.all("SELECT * FROM webhooks WHERE workspace_id = ? AND id = ?", [ws, id]);
      return this.toWebhook(rows[0]);
    });
  }

  async enqueueDeliveries(ws: string, items: { webhook_id: string; change_seq: number }[]): Promise<number> {
    this.check(ws);
    if (items.length === 0) return 0;
    const now = this.clock.now();
    const rows = items.map((i) => [ws, i.webhook_id, i.change_seq, now, now, now]);
    const cols =
      "INSERT INTO deliveries (workspace_id, webhook_id, change_seq, status, attempts, next_attempt_at, created_at, updated_at)";
    return this.x.atomic(async (tx) => {
      if (tx.runEach) {
        const res = tx.runEach(
          `${cols} VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING`,
          rows,
        );
        return res.reduce((n, r) => n + r.changes, 0);
      }
      const c = [0, 1, 2, 3, 4, 5].map((i) => rows.map((r) => r[i]));
      return tx.run(
        `${cols} SELECT w, h, s, 'pending', 0, n, c, up
         FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS u(w, h, s, n, c, up)
         ON CONFLICT DO NOTHING`,
        c,
      );
    });
  }

  protected toDelivery(r: Row): DeliveryRecord {
    return {
      id: Number(r.id),
      webhook_id: String(r.webhook_id),
      // 0 marks a delivery that is not about a change (see migration 5).
      change_seq: Number(r.change_seq) > 0 ? Number(r.change_seq) : null,
      redelivery_of: num(r.redelivery_of),
      status: r.status as DeliveryStatus,
      attempts: Number(r.attempts),
      next_attempt_at: num(r.next_attempt_at),
      last_error: str(r.last_error),
      last_status_code: num(r.last_status_code),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
      delivered_at: num(r.delivered_at),
    };
  }

  async claimDeliveries(
    ws: string,
    opts: { now: number; limit: number; leaseMs: number },
  ): Promise<DeliveryJob[]> {
    this.check(ws);
    const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(opts.limit)));
    return this.x.atomic(async (tx) => {
      const lock = this.d === "postgres" ? " FOR UPDATE OF d SKIP LOCKED" : "";
      // A delivery whose change is gone and that has no payload of its own cannot be sent.
      const rows = await tx.all(
        `SELECT ${DELIVERY_JOB_COLUMNS}
         FROM deliveries d
         LEFT JOIN changes c ON c.seq = d.change_seq AND c.workspace_id = d.workspace_id
         JOIN webhooks w ON w.workspace_id = d.workspace_id AND w.id = d.webhook_id
         WHERE d.workspace_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ?
           AND (d.payload IS NOT NULL OR c.seq IS NOT NULL)
         ORDER BY d.next_attempt_at, d.id LIMIT ?${lock}`,
        [ws, opts.now, limit],
      );
      if (rows.length === 0) return [];
      const lease = opts.now + opts.leaseMs;
      const ids = rows.map((r) => Number(r.id));
      for (const part of chunks(ids, IN_CHUNK)) {
        const inl = this.inList("id", part);
        await tx.run(
          `UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE workspace_id = ? AND ${inl.sql}`,
          [lease, opts.now, ws, ...inl.params],
        );
      }
      return rows.map((r) => ({ ...this.toDeliveryJob(r), next_attempt_at: lease, updated_at: opts.now }));
    });
  }

  protected toDeliveryJob(r: Row): DeliveryJob {
    return {
      ...this.toDelivery(r),
      change:
        r.c_seq === null || r.c_seq === undefined
          ? null
          : {
              seq: Number(r.c_seq),
              segment_id: String(r.segment_id),
              contact_id: String(r.contact_id),
              change: r.change as ChangeKind,
              at: Number(r.at),
            },
      payload: str(r.payload),
      url: String(r.url),
      secret: String(r.secret),
      previous_secret: str(r.previous_secret),
      previous_secret_until: num(r.previous_secret_until),
    };
  }

  async getDeliveryJob(ws: string, id: number): Promise<DeliveryJob | null> {
    this.check(ws);
    const rows = await this.x.all(
      `SELECT ${DELIVERY_JOB_COLUMNS}
       FROM deliveries d
       LEFT JOIN changes c ON c.seq = d.change_seq AND c.workspace_id = d.workspace_id
       JOIN webhooks w ON w.workspace_id = d.workspace_id AND w.id = d.webhook_id
       WHERE d.workspace_id = ? AND d.id = ?`,
      [ws, id],
    );
    return rows.length > 0 ? this.toDeliveryJob(rows[0]) : null;
  }

  async addPayloadDelivery(ws: string, d: NewPayloadDelivery): Promise<DeliveryRecord> {
    this.check(ws);
    const now = this.clock.now();
    return this.x.atomic(async (tx) => {
      const fixed = typeof d.payload === "string" ? d.payload : "";
      const inserted = await tx.all(
        `INSERT INTO deliveries (workspace_id, webhook_id, change_seq, redelivery_of, payload, status, attempts,
           next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING id`,
        [ws, d.webhook_id, d.change_seq ?? 0, d.redelivery_of ?? null, fixed, d.next_attempt_at, now, now],
      );
      const id = Number(inserted[0].id);
      if (typeof d.payload === "function") {
        await tx.run("UPDATE deliveries SET payload = ? WHERE workspace_id = ? AND id = ?", [
          d.payload(id),
          ws,
          id,
        ]);
      }
      const rows = await tx.all("SELECT * FROM deliveries WHERE workspace_id = ? AND id = ?", [ws, id]);
      return this.toDelivery(rows[0]);
    });
  }

  async markDelivered(
    ws: string,
    id: number,
    opts: { at: number; status_code?: number | null },
  ): Promise<boolean> {
    this.check(ws);
    const n = await this.x.run(
      `UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL,
         last_status_code = ?, delivered_at = ?, updated_at = ?
       WHERE workspace_id = ? AND id = ? AND status = 'pending'`,
      [opts.status_code ?? null, opts.at, opts.at, ws, id],
    );
    return n > 0;
  }

  async markFailed(ws: string, id: number, opts: DeliveryFailure & { at: number }): Promise<boolean> {
    this.check(ws);
    const status: DeliveryStatus = opts.retry_at === null ? "failed" : "pending";
    const n = await this.x.run(
      `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
         last_status_code = ?, updated_at = ?
       WHERE workspace_id = ? AND id = ? AND status = 'pending'`,
      [status, opts.retry_at, opts.error, opts.status_code ?? null, opts.at, ws, id],
    );
    return n > 0;
  }

  async getDelivery(ws: string, id: number): Promise<DeliveryRecord | null> {
    this.check(ws);
    const rows = await this.x.all("SELECT * FROM deliveries WHERE workspace_id = ? AND id = ?", [ws, id]);
    return rows.length > 0 ? this.toDelivery(rows[0]) : null;
  }

  async listDeliveries(ws: string, webhookId: string, req: PageRequest = {}): Promise<Page<DeliveryRecord>> {
    this.check(ws);
    const limit = limitOf(req);
    const before = req.cursor ? seqCursor(req.cursor) : Number.MAX_SAFE_INTEGER;
    const rows = await this.x.all(
      "SELECT * FROM deliveries WHERE workspace_id = ? AND webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
      [ws, webhookId, before, limit + 1],
    );
    return page(
      rows.map((r) => this.toDelivery(r)),
      limit,
      (d) => String(d.id),
    );
  }

  // ---------------------------------------------------------------- imports

  protected toImport(r: Row): ImportJob {
    return {
      id: String(r.id),
      kind: r.kind as ImportKind,
      status: r.status as ImportStatus,
      options: this.parse<JsonObject>(r.options),
      total: num(r.total),
      processed: Number(r.processed),
      accepted: Number(r.accepted),
      rejected: Number(r.rejected),
      errors: this.parse<ImportRowError[]>(r.errors),
      errors_dropped: Number(r.errors_dropped),
      failure: str(r.failure),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
      finished_at: num(r.finished_at),
    };
  }

  async createImport(ws: string, job: NewImport): Promise<ImportJob> {
    this.check(ws);
    const now = this.clock.now();
    const rec: ImportJob = {
      id: newId("imp", now),
      kind: job.kind,
      status: "pending",
      options: job.options ?? {},
      total: job.total ?? null,
      processed: 0,
      accepted: 0,
      rejected: 0,
      errors: [],
      errors_dropped: 0,
      failure: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
    };
    await this.x.run(
      `INSERT INTO imports (workspace_id, id, kind, status, options, total, processed, accepted, rejected, errors,
         errors_dropped, failure, created_at, updated_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?, 0, NULL, ?, ?, NULL)`,
      [ws, rec.id, rec.kind, rec.status, this.json(rec.options), rec.total, this.json([]), now, now],
    );
    return rec;
  }

  async getImport(ws: string, id: string): Promise<ImportJob | null> {
    this.check(ws);
    const rows = await this.x.all("SELECT * FROM imports WHERE workspace_id = ? AND id = ?", [ws, id]);
    return rows.length > 0 ? this.toImport(rows[0]) : null;
  }

  async listImports(ws: string, req: PageRequest = {}): Promise<Page<ImportJob>> {
    this.check(ws);
    const limit = limitOf(req);
    // Newest first; ids sort by creation time, so the id is the cursor.
    const rows = req.cursor
      ? await this.x.all("SELECT * FROM imports WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?", [
          ws,
          req.cursor,
          limit + 1,
        ])
      : await this.x.all("SELECT * FROM imports WHERE workspace_id = ? ORDER BY id DESC LIMIT ?", [
          ws,
          limit + 1,
        ]);
    return page(
      rows.map((r) => this.toImport(r)),
      limit,
      (j) => j.id,
    );
  }

  private async openImport(tx: Executor, ws: string, id: string): Promise<ImportJob> {
    const lock = this.d === "postgres" ? " FOR UPDATE" : "";
    const rows = await tx.all(`SELECT * FROM imports WHERE workspace_id = ? AND id = ?${lock}`, [ws, id]);
    if (rows.length === 0) throw new StoreError("not_found", `import "${id}" not found`);
    const job = this.toImport(rows[0]);
    if (job.status === "done" || job.status === "failed") {
      throw new StoreError("invalid", `import "${id}" is finished (${job.status})`);
    }
    return job;
  }

  async recordImportProgress(ws: string, id: string, p: ImportProgress): Promise<ImportJob> {
    this.check(ws);
    return this.x.atomic(async (tx) => {
      const job = await this.openImport(tx, ws, id);
      const errors = [...job.errors];
      let dropped = job.errors_dropped;
      for (const e of p.errors ?? []) {
        if (errors.length < MAX_IMPORT_ERRORS) errors.push({ row: e.row, error: e.error });
        else dropped++;
      }
      const next: ImportJob = {
        ...job,
        status: "running",
        total: p.total === undefined ? job.total : p.total,
        processed: job.processed + (p.processed ?? 0),
        accepted: job.accepted + (p.accepted ?? 0),
        rejected: job.rejected + (p.rejected ?? 0),
        errors,
        errors_dropped: dropped,
        updated_at: this.clock.now(),
      };
      await tx.run(
        `UPDATE imports SET status = ?, total = ?, processed = ?, accepted = ?, rejected = ?, errors = ?, errors_dropped = ?,
           updated_at = ? WHERE workspace_id = ? AND id = ?`,
        [
          next.status,
          next.total,
          next.processed,
          next.accepted,
          next.rejected,
          this.json(next.errors),
          next.errors_dropped,
          next.updated_at,
          ws,
          id,
        ],
      );
      return next;
    });
  }

  async finishImport(
    ws: string,
    id: string,
    status: "done" | "failed",
    failure: string | null = null,
  ): Promise<ImportJob> {
    this.check(ws);
    if (status !== "done" && status !== "failed")
      throw new StoreError("invalid", `an import ends "done" or "failed"`);
    return this.x.atomic(async (tx) => {
      const job = await this.openImport(tx, ws, id);
      const now = this.clock.now();
      const next: ImportJob = { ...job, status, failure, finished_at: now, updated_at: now };
      await tx.run(
        "UPDATE imports SET status = ?, failure = ?, finished_at = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
        [status, failure, now, now, ws, id],
      );
      return next;
    });
  }
}

function toApiKey(r: Row): ApiKey {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    name: String(r.name),
    prefix: String(r.prefix),
    admin: r.admin === true || r.admin === 1,
    role: String(r.role) as KeyRole,
    created_at: Number(r.created_at),
  };
}

/** The store: the scoped operations plus transactions, workspace administration and authentication. */
export class SqlStore extends SqlOps implements Store {
  readonly dialect: Dialect;
  private closed = false;

  constructor(
    x: Executor,
    clock: Clock,
    private readonly closeFn: () => Promise<void>,
    /** SQLite files: event batches written on a worker thread. */
    private readonly eventWriter: SqliteEventWriter | null = null,
  ) {
    super(x, clock);
    this.dialect = x.dialect;
  }

  /** Applies pending migrations. */
  async init(): Promise<void> {
    await migrate(this.x, this.clock.now(), MIGRATIONS);
  }

  transaction<T>(ws: string, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    this.check(ws);
    return this.x.atomic((tx) => fn(new SqlOps(tx, this.clock, ws)));
  }

  async outboxStats(ws: string): Promise<{ pending: number; oldest_created_at: number | null }> {
    this.check(ws);
    // The partial index of pending deliveries keeps this to the backlog's rows.
    const rows = await this.x.all(
      "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE workspace_id = ? AND status = 'pending'",
      [ws],
    );
    const oldest = rows[0].oldest;
    return { pending: Number(rows[0].n), oldest_created_at: oldest === null ? null : Number(oldest) };
  }

  async insertEventBatches(
    ws: string,
    batches: EventWrite[][],
    opts: { check?: () => void } = {},
  ): Promise<BatchOutcome<EventInsertResult>[]> {
    this.check(ws);
    if (!this.eventWriter) {
      opts.check?.();
      const out: BatchOutcome<EventInsertResult>[] = [];
      await this.transaction(ws, async (tx) => {
        for (const b of batches) {
          try {
            const value =
              batches.length === 1
                ? await tx.insertEvents(ws, b)
                : await tx.savepoint((sp) => sp.insertEvents(ws, b));
            out.push({ ok: true, value });
          } catch (error) {
            out.push({ ok: false, error });
          }
        }
        if (batches.length === 1 && !out[0]!.ok) throw out[0]!.error;
      });
      return out;
    }
    // A batch with a row the store refuses fails alone, before anything is sent.
    const out: (BatchOutcome<EventInsertResult> | null)[] = [];
    const send: EventBatchColumns[] = [];
    for (const b of batches) {
      try {
        send.push(this.eventColumns(ws, b));
        out.push(null);
      } catch (error) {
        if (batches.length === 1) throw error;
        out.push({ ok: false, error });
      }
    }
    if (send.length === 0) opts.check?.();
    const outcomes =
      send.length > 0
        ? await this.eventWriter.insert(ws, send, opts.check).catch((e: unknown) => {
            throw translateError(e);
          })
        : [];
    let k = 0;
    return out.map((o) => {
      if (o) return o;
      const w = outcomes[k++]!;
      if (!w.ok) return { ok: false, error: translateError(workerError(w.error)) };
      const items: InsertStatus[] = new Array(w.inserted.length);
      let accepted = 0;
      for (let i = 0; i < items.length; i++) {
        if (w.inserted[i] === 1) {
          items[i] = "accepted";
          accepted++;
        } else items[i] = "duplicate";
      }
      return { ok: true, value: { accepted, duplicates: items.length - accepted, items } };
    });
  }

  /** A batch as the writer thread takes it (the checks and values of `eventRows`). */
  private eventColumns(ws: string, events: EventWrite[]): EventBatchColumns {
    this.check(ws);
    const now = this.clock.now();
    const n = events.length;
    const cols: EventBatchColumns = {
      idem: new Array(n),
      type: new Array(n),
      contact: new Array(n),
      ts: new Float64Array(n),
      properties: new Array(n),
      received: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      if (!Number.isFinite(e.timestamp))
        throw new StoreError("invalid", `events[${i}].timestamp is not a number`);
      cols.idem[i] = e.id ?? null;
      cols.type[i] = e.type;
      cols.contact[i] = e.contact_id;
      cols.ts[i] = Math.floor(e.timestamp);
      cols.properties[i] = this.json(e.properties ?? {});
      cols.received[i] = e.received_at ?? now;
    }
    return cols;
  }

  private toWorkspace(r: Row): Workspace {
    return {
      id: String(r.id),
      name: String(r.name),
      time_zone: String(r.time_zone),
      settings: this.parse<JsonObject>(r.settings),
      created_at: Number(r.created_at),
    };
  }

  async createWorkspace(w: NewWorkspace): Promise<Workspace> {
    const now = this.clock.now();
    const rec: Workspace = {
      id: w.id ?? newId("ws", now),
      name: w.name,
      time_zone: w.time_zone ?? "UTC",
      settings: w.settings ?? {},
      created_at: now,
    };
    await this.x.run(
      "INSERT INTO workspaces (id, name, time_zone, settings, created_at) VALUES (?, ?, ?, ?, ?)",
      [rec.id, rec.name, rec.time_zone, this.json(rec.settings), now],
    );
    return rec;
  }

  async getWorkspace(id: string): Promise<Workspace | null> {
    const rows = await this.x.all("SELECT * FROM workspaces WHERE id = ?", [id]);
    return rows.length > 0 ? this.toWorkspace(rows[0]) : null;
  }

  serverSecret(name: string): Promise<Buffer> {
    return serverSecret(this.x, name, this.clock.now());
  }

  async listWorkspaces(): Promise<Workspace[]> {
    const rows = await this.x.all("SELECT * FROM workspaces ORDER BY created_at, id");
    return rows.map((r) => this.toWorkspace(r));
  }

  async updateWorkspace(id: string, patch: WorkspacePatch): Promise<Workspace | null> {
    return this.x.atomic(async (tx) => {
      const rows = await tx.all("SELECT * FROM workspaces WHERE id = ?", [id]);
      if (rows.length === 0) return null;
      const cur = this.toWorkspace(rows[0]);
      const next: Workspace = {
        ...cur,
        name: patch.name ?? cur.name,
        time_zone: patch.time_zone ?? cur.time_zone,
        settings: patch.settings ?? cur.settings,
      };
      await tx.run("UPDATE workspaces SET name = ?, time_zone = ?, settings = ? WHERE id = ?", [
        next.name,
        next.time_zone,
        this.json(next.settings),
        id,
      ]);
      return next;
    });
  }

  async findReceiver(id: string): Promise<ReceiverRecord | null> {
    return ingest.getReceiver(this.x, null, id);
  }

  async authenticate(secret: string): Promise<{ workspace: Workspace; key: ApiKey } | null> {
    const keys = await this.x.all(
      "SELECT workspace_id, id, name, prefix, admin, role, created_at FROM api_keys WHERE secret_hash = ?",
      [sha256Hex(secret)],
    );
    if (keys.length === 0) return null;
    const key = toApiKey(keys[0]);
    const workspace = await this.getWorkspace(key.workspace_id);
    return workspace ? { workspace, key } : null;
  }

  /** A SQLite file only: read in worker threads on their own connections (sqlite-bulk-read.ts). */
  startupRead(ws: string): StartupRead | null {
    this.check(ws);
    const file = sqliteFileOf(this.x);
    return file ? readSqliteWorkspace(file.path, file.mutex, ws) : null;
  }

  async migrations(): Promise<{ version: number; name: string; applied_at: number }[]> {
    const rows = await this.x.all("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
    return rows.map((r) => ({
      version: Number(r.version),
      name: String(r.name),
      applied_at: Number(r.applied_at),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeFn();
  }
}
