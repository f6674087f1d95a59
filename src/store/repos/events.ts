/** A workspace's events: idempotent batch inserts, a contact's history, counts and streams. */
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

  async *stream(opts: StreamOptions = {}): AsyncIterable<EventRecord[]> {
    const { x, ws } = this.s;
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    if (x.cursor) {
      const sql = `SELECT ${EVENT_SELECT} FROM events WHERE workspace_id = ? ORDER BY seq`;
      for await (const rows of x.cursor(sql, [ws], size)) yield rows.map((r) => this.toEvent(r));
      return;
    }
    let after = 0;
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
}
