/** The change log: who entered or exited which segment when, in append order. */
import type { Row } from "../executor.ts";
import { keyCursor, limitOf, page, seqCursor } from "../paging.ts";
import type {
  ChangeInput,
  ChangeKind,
  ChangeRecord,
  ListChangesRequest,
  Page,
  PageRequest,
  StreamOptions,
} from "../types.ts";
import { DEFAULT_PAGE, type Scope } from "./scope.ts";

function toChange(r: Row): ChangeRecord {
  return {
    seq: Number(r.seq),
    segment_id: String(r.segment_id),
    contact_id: String(r.contact_id),
    change: r.change as ChangeKind,
    at: Number(r.at),
  };
}

const CHANGE_SELECT = "seq, segment_id, contact_id, change, at";

/** A row of CHANGE_SELECT, as an array. */
function changeOfArray(a: unknown[]): ChangeRecord {
  return {
    seq: Number(a[0]),
    segment_id: String(a[1]),
    contact_id: String(a[2]),
    change: a[3] as ChangeKind,
    at: Number(a[4]),
  };
}

/**
 * A contact is in the segment at `at` when its latest change at or before `at`, in
 * (at, seq) order, is `entered`: an `entered` row with no later row for the same
 * contact up to `at`. The (workspace, segment, contact, seq) index serves both the scan
 * in contact order and the probe, which reads the contact's few changes. The unary `+`
 * keeps SQLite, which has no statistics, from probing by the (segment, at) index
 * instead: a walk over the segment's whole log for every row (seconds a page).
 */
const MEMBERS_AT = `
    FROM changes c
    WHERE c.workspace_id = ? AND c.segment_id = ? AND c.at <= ? AND c.change = 'entered' AND c.contact_id > ?
      AND NOT EXISTS (
        SELECT 1 FROM changes l
        WHERE l.workspace_id = c.workspace_id AND l.segment_id = c.segment_id AND l.contact_id = c.contact_id
          AND +l.at <= ? AND (+l.at > c.at OR (+l.at = c.at AND +l.seq > c.seq)))`;

/** Members at an instant: a page after a contact id, and the count. Parameters: ws, segment, at, cursor, at (, limit). */
export const MEMBERS_AT_SQL = {
  page: `SELECT c.contact_id ${MEMBERS_AT} ORDER BY c.contact_id LIMIT ?`,
  count: `SELECT COUNT(*) AS n ${MEMBERS_AT}`,
} as const;

export class ChangeRepo {
  constructor(private readonly s: Scope) {}

  /** Appends in order; returns the entries with their sequence numbers. */
  async append(changes: ChangeInput[]): Promise<ChangeRecord[]> {
    if (changes.length === 0) return [];
    const { ws, d } = this.s;
    const rows = changes.map((c) => [ws, c.segment_id, c.contact_id, c.change, c.at]);
    return this.s.x.atomic(async (tx) => {
      const seqs = await d.appendChanges(tx, ws, rows);
      return changes.map((c, i) => ({
        seq: seqs[i],
        segment_id: c.segment_id,
        contact_id: c.contact_id,
        change: c.change,
        at: c.at,
      }));
    });
  }

  /** Oldest first (by sequence). */
  async list(req: ListChangesRequest = {}): Promise<Page<ChangeRecord>> {
    const limit = limitOf(req);
    let where = "workspace_id = ? AND seq > ?";
    const params: unknown[] = [this.s.ws, seqCursor(req.cursor)];
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
    const rows = await this.s.x.all(`SELECT * FROM changes WHERE ${where} ORDER BY seq LIMIT ?`, [
      ...params,
      limit + 1,
    ]);
    return page(rows.map(toChange), limit, (c) => String(c.seq));
  }

  /**
   * The workspace's changes with `seq` above `seq`, in `seq` order, in pages (keyset
   * queries, or one server-side cursor): what a snapshot taken at `seq` has not seen.
   */
  async *streamAfter(seq: number, opts: StreamOptions = {}): AsyncIterable<ChangeRecord[]> {
    const { x, ws } = this.s;
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    if (x.cursor) {
      const sql = `SELECT ${CHANGE_SELECT} FROM changes WHERE workspace_id = ? AND seq > ? ORDER BY seq`;
      for await (const rows of x.cursor(sql, [ws, seq], size)) yield rows.map(changeOfArray);
      return;
    }
    let after = seq;
    for (;;) {
      const rows = await x.arrays(
        `SELECT ${CHANGE_SELECT} FROM changes WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
        [ws, after, size],
      );
      if (rows.length === 0) return;
      after = Number(rows[rows.length - 1]![0]);
      yield rows.map(changeOfArray);
      if (rows.length < size) return;
    }
  }

  /** The highest sequence number logged in the workspace, 0 when none. */
  async lastSeq(): Promise<number> {
    const rows = await this.s.x.all(
      "SELECT seq FROM changes WHERE workspace_id = ? ORDER BY seq DESC LIMIT 1",
      [this.s.ws],
    );
    return rows.length > 0 ? Number(rows[0].seq) : 0;
  }

  /** Who was in the segment at instant `at` according to the log, by contact id. */
  async membersAt(segmentId: string, at: number, req: PageRequest = {}): Promise<Page<string>> {
    const limit = limitOf(req);
    const rows = await this.s.x.all(MEMBERS_AT_SQL.page, [
      this.s.ws,
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

  async countMembersAt(segmentId: string, at: number): Promise<number> {
    const rows = await this.s.x.all(MEMBERS_AT_SQL.count, [this.s.ws, segmentId, at, "", at]);
    return Number(rows[0].n);
  }

  /** Who is in the segment according to the log now: the last change appended is `entered`. */
  async logged(segmentId: string, req: PageRequest = {}): Promise<Page<string>> {
    const limit = limitOf(req);
    const rows = await this.s.x.all(
      `SELECT c.contact_id FROM changes c
       WHERE c.workspace_id = ? AND c.segment_id = ? AND c.change = 'entered' AND c.contact_id > ?
         AND NOT EXISTS (
           SELECT 1 FROM changes l
           WHERE l.workspace_id = c.workspace_id AND l.segment_id = c.segment_id AND l.contact_id = c.contact_id
             AND l.seq > c.seq)
       ORDER BY c.contact_id LIMIT ?`,
      [this.s.ws, segmentId, keyCursor(req.cursor), limit + 1],
    );
    return page(
      rows.map((r) => String(r.contact_id)),
      limit,
      (id) => id,
    );
  }
}
