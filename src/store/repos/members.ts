/** Static memberships and the manual overrides of dynamic segments. */
import { chunks, IN_CHUNK } from "../dialect.ts";
import type { Row } from "../executor.ts";
import { keyCursor, limitOf, page } from "../paging.ts";
import {
  type MemberAction,
  type MemberRecord,
  type MemberWrite,
  type Page,
  type PageRequest,
  StoreError,
  type StreamOptions,
} from "../types.ts";
import { DEFAULT_PAGE, num, type Scope } from "./scope.ts";

function toMember(r: Row): MemberRecord {
  return {
    segment_id: String(r.segment_id),
    contact_id: String(r.contact_id),
    action: r.action as MemberAction,
    expires_at: num(r.expires_at),
    created_at: Number(r.created_at),
  };
}

export class MemberRepo {
  constructor(private readonly s: Scope) {}

  /** Adds or replaces entries; returns how many were written. */
  async put(segmentId: string, members: MemberWrite[]): Promise<number> {
    if (members.length === 0) return 0;
    const now = this.s.clock.now();
    const last = new Map<string, unknown[]>();
    for (const m of members) {
      if (m.action !== "added" && m.action !== "removed") {
        throw new StoreError(
          "invalid",
          `member action must be "added" or "removed", not "${String(m.action)}"`,
        );
      }
      last.set(m.contact_id, [this.s.ws, segmentId, m.contact_id, m.action, m.expires_at ?? null, now]);
    }
    const rows = [...last.values()];
    return this.s.x.atomic((tx) => this.s.d.upsertMembers(tx, rows));
  }

  /** Removes entries (a static member, or a lifted override); returns how many existed. */
  async delete(segmentId: string, contactIds: string[]): Promise<number> {
    let n = 0;
    const unique = [...new Set(contactIds)];
    await this.s.x.atomic(async (tx) => {
      for (const part of chunks(unique, IN_CHUNK)) {
        const inl = this.s.d.inList("contact_id", part);
        n += await tx.run(
          `DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND ${inl.sql}`,
          [this.s.ws, segmentId, ...inl.params],
        );
      }
    });
    return n;
  }

  async list(
    segmentId: string,
    req: PageRequest & { action?: MemberAction } = {},
  ): Promise<Page<MemberRecord>> {
    const limit = limitOf(req);
    const params: unknown[] = [this.s.ws, segmentId, keyCursor(req.cursor)];
    let action = "";
    if (req.action) {
      action = " AND action = ?";
      params.push(req.action);
    }
    const rows = await this.s.x.all(
      `SELECT * FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND contact_id > ?${action} ORDER BY contact_id LIMIT ?`,
      [...params, limit + 1],
    );
    return page(rows.map(toMember), limit, (m) => m.contact_id);
  }

  async *stream(opts: StreamOptions = {}): AsyncIterable<MemberRecord[]> {
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    let seg = "";
    let contact = "";
    for (;;) {
      const rows = await this.s.x.all(
        `SELECT * FROM segment_members WHERE workspace_id = ? AND (segment_id > ? OR (segment_id = ? AND contact_id > ?))
         ORDER BY segment_id, contact_id LIMIT ?`,
        [this.s.ws, seg, seg, contact, size],
      );
      if (rows.length === 0) return;
      const lastRow = rows[rows.length - 1];
      seg = String(lastRow.segment_id);
      contact = String(lastRow.contact_id);
      yield rows.map(toMember);
      if (rows.length < size) return;
    }
  }

  /** Deletes entries whose `expires_at <= now`; returns how many. */
  purgeExpired(now: number): Promise<number> {
    return this.s.x.run(
      "DELETE FROM segment_members WHERE workspace_id = ? AND expires_at IS NOT NULL AND expires_at <= ?",
      [this.s.ws, now],
    );
  }
}
