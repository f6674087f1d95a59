/** A workspace's events: idempotent batch inserts, a contact's history, counts and streams. */
import { chunks } from "../dialect.ts";
import { limitOf, page } from "../paging.ts";
import {
  type EventInsertResult,
  type EventRecord,
  type EventWrite,
  type JsonObject,
  type Page,
  type PageRequest,
  StoreError,
  type StreamOptions,
} from "../types.ts";
import { DEFAULT_PAGE, json, type Scope } from "./scope.ts";

const EVENT_SELECT = "seq, idem_key, type, contact_id, ts, properties, received_at";

/** Contact ids per query of `ofContacts`: under SQLite's 32,766 parameters, and few scans. */
const CONTACTS_PER_SCAN = 10_000;

/** The check every event write makes, before anything is written. */
export function checkTimestamp(e: EventWrite, i: number): void {
  if (!Number.isFinite(e.timestamp))
    throw new StoreError("invalid", `events[${i}].timestamp is not a number`);
}

/** Counts of a batch's statuses. */
export function insertResult(items: EventInsertResult["items"]): EventInsertResult {
  let accepted = 0;
  for (const s of items) if (s === "accepted") accepted++;
  return { accepted, duplicates: items.length - accepted, items };
}

export class EventRepo {
  constructor(private readonly s: Scope) {}

  /** Rows of EVENT_INSERT: [ws, idem_key, type, contact_id, ts, properties, received_at]. */
  private rows(events: EventWrite[]): unknown[][] {
    const now = this.s.clock.now();
    return events.map((e, i) => {
      checkTimestamp(e, i);
      return [
        this.s.ws,
        e.id ?? null,
        e.type,
        e.contact_id,
        Math.floor(e.timestamp),
        json(e.properties ?? {}),
        e.received_at ?? now,
      ];
    });
  }

  async insert(events: EventWrite[]): Promise<EventInsertResult> {
    const rows = this.rows(events);
    let items: EventInsertResult["items"] = [];
    if (rows.length > 0) items = await this.s.x.atomic((tx) => this.s.d.insertEvents(tx, rows));
    return insertResult(items);
  }

  /** A row of EVENT_SELECT, as arrays. */
  private toEvent(a: unknown[]): EventRecord {
    return {
      seq: Number(a[0]),
      id: a[1] as string | null,
      type: a[2] as string,
      contact_id: a[3] as string,
      timestamp: Number(a[4]),
      properties: this.s.d.parseJson<JsonObject>(a[5]),
      received_at: Number(a[6]),
    };
  }

  /** A contact's events, newest first. */
  async listOfContact(contactId: string, req: PageRequest = {}): Promise<Page<EventRecord>> {
    const limit = limitOf(req);
    let where = "";
    const params: unknown[] = [this.s.ws, contactId];
    if (req.cursor) {
      const m = /^(-?\d{1,16})\.(\d{1,16})$/.exec(req.cursor);
      if (!m) throw new StoreError("invalid", `invalid cursor "${req.cursor}"`);
      where = " AND (ts < ? OR (ts = ? AND seq < ?))";
      params.push(Number(m[1]), Number(m[1]), Number(m[2]));
    }
    const rows = await this.s.x.arrays(
      `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? AND contact_id = ?${where} ORDER BY ts DESC, seq DESC LIMIT ?`,
      [...params, limit + 1],
    );
    return page(
      rows.map((r) => this.toEvent(r)),
      limit,
      (e) => `${e.timestamp}.${e.seq}`,
    );
  }

  async count(): Promise<number> {
    const rows = await this.s.x.all("SELECT COUNT(*) AS n FROM events WHERE workspace_id = ?", [this.s.ws]);
    return Number(rows[0].n);
  }

  /** Every event of the workspace, in `seq` order, in pages. */
  stream(opts: StreamOptions = {}): AsyncIterable<EventRecord[]> {
    return this.streamAfter(0, opts);
  }

  /** The workspace's events with `seq` above `seq`, in `seq` order, in pages (keyset queries, or one server-side cursor). */
  async *streamAfter(seq: number, opts: StreamOptions = {}): AsyncIterable<EventRecord[]> {
    const { x, ws } = this.s;
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    if (x.cursor) {
      const sql = `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? AND seq > ? ORDER BY seq`;
      for await (const rows of x.cursor(sql, [ws, seq], size)) yield rows.map((r) => this.toEvent(r));
      return;
    }
    let after = seq;
    for (;;) {
      const rows = await x.arrays(
        `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
        [ws, after, size],
      );
      if (rows.length === 0) return;
      after = Number(rows[rows.length - 1][0]);
      yield rows.map((r) => this.toEvent(r));
      if (rows.length < size) return;
    }
  }

  /**
   * Every event of these contacts, in `seq` order. SQLite has no index on the contact
   * (see the events table), so each query is one scan of the workspace's events for a
   * large chunk of ids rather than one per id.
   */
  async ofContacts(ids: string[]): Promise<EventRecord[]> {
    const out: EventRecord[] = [];
    const unique = [...new Set(ids)];
    for (const part of chunks(unique, CONTACTS_PER_SCAN)) {
      const inl = this.s.d.inList("contact_id", part);
      const rows = await this.s.x.arrays(
        `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? AND ${inl.sql} ORDER BY seq`,
        [this.s.ws, ...inl.params],
      );
      for (const r of rows) out.push(this.toEvent(r));
    }
    if (unique.length > CONTACTS_PER_SCAN) out.sort((a, b) => a.seq - b.seq);
    return out;
  }
}
