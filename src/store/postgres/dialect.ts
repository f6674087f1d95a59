/**
 * PostgreSQL's side of `SqlDialect`: a batch write is one statement over `unnest` of one
 * array parameter per column, whatever the batch's size; JSON columns are JSONB.
 */
import { BUILTIN_CONTACT_FIELDS } from "../../contract/fields.ts";
import { CONTACT_COLUMNS, pgArrayTypes, pgCasts } from "../contact-row.ts";
import {
  CHANGE_INSERT,
  CONTACT_UPSERT,
  columnsOf,
  DELIVERY_QUEUE,
  EVENT_INSERT,
  MEMBER_COLUMNS,
  MEMBER_UPSERT,
  type SqlDialect,
} from "../dialect.ts";
import type { InsertStatus } from "../types.ts";

const CONTACT_PG_TYPES = pgArrayTypes(CONTACT_COLUMNS, BUILTIN_CONTACT_FIELDS);
const CONTACT_CASTS = pgCasts(CONTACT_COLUMNS, BUILTIN_CONTACT_FIELDS);

const CONTACT_INSERT = `INSERT INTO contacts (${CONTACT_COLUMNS.join(", ")})
          SELECT ${CONTACT_CASTS.join(", ")} FROM unnest(${CONTACT_PG_TYPES.map((t) => `?::${t}`).join(", ")})
            AS u(${CONTACT_COLUMNS.join(", ")})
          ${CONTACT_UPSERT}
          RETURNING id, created_at`;

export const postgresDialect: SqlDialect = {
  name: "postgres",

  inList(column, values) {
    return { sql: `${column} = ANY(?)`, params: [values] };
  },

  parseJson<T>(v: unknown): T {
    return v as T;
  },

  forUpdate(opts = {}) {
    return ` FOR UPDATE${opts.of ? ` OF ${opts.of}` : ""}${opts.skipLocked ? " SKIP LOCKED" : ""}`;
  },

  async upsertContacts(tx, _ws, rows) {
    // One statement may not touch a row twice: the last write of an id wins, as it would one by one.
    const last = new Map<string, unknown[]>();
    for (const r of rows) last.set(r[1] as string, r);
    const created = new Map<string, number>();
    const cols = columnsOf([...last.values()], CONTACT_COLUMNS.length);
    for (const r of await tx.all(CONTACT_INSERT, cols)) created.set(String(r.id), Number(r.created_at));
    return created;
  },

  async insertEvents(tx, rows) {
    const items: InsertStatus[] = new Array(rows.length);
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
    const inserted = await tx.all(
      `${EVENT_INSERT}
           SELECT w, k, t, c, ts, p::jsonb, r
           FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::bigint[]) AS u(w, k, t, c, ts, p, r)
           ON CONFLICT DO NOTHING RETURNING idem_key`,
      columnsOf(fresh, 7),
    );
    const accepted = new Set(inserted.map((r) => r.idem_key as string | null));
    rows.forEach((r, i) => {
      if (items[i] !== undefined) return;
      const key = r[1] as string | null;
      items[i] = key === null || accepted.has(key) ? "accepted" : "duplicate";
    });
    return items;
  },

  upsertMembers(tx, rows) {
    return tx.run(
      `INSERT INTO segment_members (${MEMBER_COLUMNS})
         SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) ${MEMBER_UPSERT}`,
      columnsOf(rows, 6),
    );
  },

  async appendChanges(tx, ws, rows) {
    // Sequence numbers are taken at insert, not at commit: holding this lock until
    // commit makes a workspace's log grow in commit order, so a reader that follows
    // it by sequence ("since seq N") never skips an entry committed late.
    await tx.all("SELECT pg_advisory_xact_lock(hashtext(?))", [`slice.changes:${ws}`]);
    const inserted = await tx.all(
      `${CHANGE_INSERT}
           SELECT w, s, c, k, a FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])
             WITH ORDINALITY AS u(w, s, c, k, a, n) ORDER BY n
           RETURNING seq`,
      columnsOf(rows, 5),
    );
    return inserted.map((r) => Number(r.seq)).sort((a, b) => a - b);
  },

  enqueueDeliveries(tx, rows) {
    return tx.run(
      `${DELIVERY_QUEUE} SELECT w, h, s, 'pending', 0, n, c, up
         FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS u(w, h, s, n, c, up)
         ON CONFLICT DO NOTHING`,
      columnsOf(rows, 6),
    );
  },
};
