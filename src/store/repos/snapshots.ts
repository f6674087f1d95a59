/**
 * What an engine snapshot needs of the store (docs/storage.md, "The contact journal"):
 * the position to record with it, and at the next start, the contacts written after that
 * position. The journal is filled by triggers (migration 9).
 */
import type { JournaledContacts, StorePosition } from "../types.ts";
import type { Scope } from "./scope.ts";

/** The journal's `kind` column → the field of `JournaledContacts`. */
const FIELD: Record<string, keyof JournaledContacts> = { row: "rows", erased: "erased", events: "events" };

export class SnapshotRepo {
  constructor(private readonly s: Scope) {}

  /**
   * The highest journal seq (of any workspace: the journal's seq is global), this
   * workspace's highest event seq and change seq; 0 when none. One statement, so one
   * snapshot of the database: the three agree. A number may go down when the rows at the
   * top are pruned or erased; reading after it stays right, as no seq is ever given twice.
   */
  async position(): Promise<StorePosition> {
    const ws = this.s.ws;
    const rows = await this.s.x.arrays(
      `SELECT
         (SELECT seq FROM contact_journal ORDER BY seq DESC LIMIT 1),
         (SELECT seq FROM events WHERE workspace_id = ? ORDER BY seq DESC LIMIT 1),
         (SELECT seq FROM changes WHERE workspace_id = ? ORDER BY seq DESC LIMIT 1)`,
      [ws, ws],
    );
    const [journal, events, changes] = rows[0]!.map((v) => (v === null ? 0 : Number(v)));
    return { journal: journal!, events: events!, changes: changes! };
  }

  /** Distinct contact ids journaled for this workspace with seq > after, by kind. A contact may appear under several kinds. */
  async journalAfter(after: number): Promise<JournaledContacts> {
    const out: JournaledContacts = { rows: [], erased: [], events: [] };
    const rows = await this.s.x.arrays(
      `SELECT DISTINCT kind, contact_id FROM contact_journal WHERE workspace_id = ? AND seq > ?
       ORDER BY kind, contact_id`,
      [this.s.ws, after],
    );
    for (const [kind, id] of rows) {
      const field = FIELD[kind as string];
      if (field) out[field].push(id as string);
    }
    return out;
  }

  /**
   * Records that a snapshot at journal position `through` was written, and deletes this
   * workspace's journal rows up to it (one transaction); answers how many were deleted.
   */
  recordSnapshot(through: number): Promise<number> {
    const { x, ws } = this.s;
    return x.atomic(async (tx) => {
      await tx.run(
        `INSERT INTO snapshot_marks (workspace_id, journal, written_at) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET journal = excluded.journal, written_at = excluded.written_at`,
        [ws, through, this.s.clock.now()],
      );
      return tx.run("DELETE FROM contact_journal WHERE workspace_id = ? AND seq <= ?", [ws, through]);
    });
  }

  /**
   * The journal position of the last snapshot recorded, or null: the journal holds no row
   * of this workspace at or below it, so a snapshot of a lower position cannot catch up.
   */
  async lastSnapshot(): Promise<number | null> {
    const rows = await this.s.x.all("SELECT journal FROM snapshot_marks WHERE workspace_id = ?", [this.s.ws]);
    return rows.length === 0 ? null : Number(rows[0]!.journal);
  }
}
