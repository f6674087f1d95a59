/** A workspace's contacts: batch upserts, lookups by id, email or external id, pages and streams. */
import { CONTACT_ROW_COLUMNS, contactFromRow, contactParams } from "../contact-row.ts";
import { chunks, IN_CHUNK } from "../dialect.ts";
import { newId, normalizeEmail } from "../ids.ts";
import { keyCursor, limitOf, page } from "../paging.ts";
import type {
  ContactRecord,
  ContactRef,
  ContactWrite,
  ListContactsRequest,
  Page,
  StreamOptions,
} from "../types.ts";
import { DEFAULT_PAGE, json, type Scope } from "./scope.ts";

const CONTACT_SELECT = CONTACT_ROW_COLUMNS.join(", ");

function normalizeContact(c: ContactWrite, now: number): ContactRecord {
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

export class ContactRepo {
  constructor(private readonly s: Scope) {}

  /** A row of CONTACT_SELECT, as arrays. */
  private toContact(a: unknown[]): ContactRecord {
    return contactFromRow(a, (v) => this.s.d.parseJson(v));
  }

  /** Creates or replaces contacts atomically; the stored records in input order. */
  async put(contacts: ContactWrite[]): Promise<ContactRecord[]> {
    if (contacts.length === 0) return [];
    const { ws, d } = this.s;
    const now = this.s.clock.now();
    const records = contacts.map((c) => normalizeContact(c, now));
    const rows = records.map((r) => contactParams(ws, r, json));
    return this.s.x.atomic(async (tx) => {
      const created = await d.upsertContacts(tx, ws, rows);
      for (const r of records) r.created_at = created.get(r.id) ?? r.created_at;
      return records;
    });
  }

  async get(id: string): Promise<ContactRecord | null> {
    const rows = await this.s.x.arrays(
      `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND id = ?`,
      [this.s.ws, id],
    );
    return rows.length > 0 ? this.toContact(rows[0]) : null;
  }

  private async by(
    column: "id" | "email" | "external_id",
    values: string[],
  ): Promise<Map<string, ContactRecord>> {
    const found = new Map<string, ContactRecord>();
    const unique = [...new Set(values)];
    for (const part of chunks(unique, IN_CHUNK)) {
      const inl = this.s.d.inList(column, part);
      const rows = await this.s.x.arrays(
        `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND ${inl.sql}`,
        [this.s.ws, ...inl.params],
      );
      for (const r of rows) {
        const c = this.toContact(r);
        found.set(String(c[column]), c);
      }
    }
    return found;
  }

  /** Records in input order; null where an id is unknown. */
  async getMany(ids: string[]): Promise<(ContactRecord | null)[]> {
    const found = await this.by("id", ids);
    return ids.map((id) => found.get(id) ?? null);
  }

  /** Resolves references (id, email case-insensitively, external_id); null where none matches. */
  async find(refs: ContactRef[]): Promise<(ContactRecord | null)[]> {
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
    const none = new Map<string, ContactRecord>();
    const byId = ids.length > 0 ? await this.by("id", ids) : none;
    const byEmail = emails.length > 0 ? await this.by("email", emails) : none;
    const byExt = externals.length > 0 ? await this.by("external_id", externals) : none;
    return refs.map((r) => {
      if ("id" in r) return byId.get(r.id) ?? null;
      if ("email" in r) return byEmail.get(normalizeEmail(r.email) ?? "") ?? null;
      return byExt.get(r.external_id) ?? null;
    });
  }

  /** Erasure: the profile, its events and its static memberships and overrides. */
  async delete(id: string): Promise<boolean> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      await tx.run("DELETE FROM events WHERE workspace_id = ? AND contact_id = ?", [ws, id]);
      await tx.run("DELETE FROM segment_members WHERE workspace_id = ? AND contact_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM contacts WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }

  async count(): Promise<number> {
    const rows = await this.s.x.all("SELECT COUNT(*) AS n FROM contacts WHERE workspace_id = ?", [this.s.ws]);
    return Number(rows[0].n);
  }

  async list(req: ListContactsRequest = {}): Promise<Page<ContactRecord>> {
    const limit = limitOf(req);
    const filter = req.segmentMembers;
    let after = keyCursor(req.cursor);
    const out: ContactRecord[] = [];
    // Scan in store order; with a filter, keep scanning until limit + 1 matches (one more
    // tells whether there is a next page) or the table ends.
    const step = filter ? Math.max(1000, limit + 1) : limit + 1;
    for (;;) {
      const rows = await this.s.x.arrays(
        `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?`,
        [this.s.ws, after, step],
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

  /** Every contact, in pages (keyset pagination, or one server-side cursor), for rebuilding the engine. */
  async *stream(opts: StreamOptions = {}): AsyncIterable<ContactRecord[]> {
    const { x, ws } = this.s;
    const size = Math.max(1, opts.pageSize ?? DEFAULT_PAGE);
    if (x.cursor) {
      const sql = `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? ORDER BY id`;
      for await (const rows of x.cursor(sql, [ws], size)) yield rows.map((r) => this.toContact(r));
      return;
    }
    let after = "";
    for (;;) {
      const rows = await x.arrays(
        `SELECT ${CONTACT_SELECT} FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?`,
        [ws, after, size],
      );
      if (rows.length === 0) return;
      after = rows[rows.length - 1][0] as string;
      yield rows.map((r) => this.toContact(r));
      if (rows.length < size) return;
    }
  }
}
