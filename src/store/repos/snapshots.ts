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

  /** Deletes this workspace's journal rows with seq <= through (after a snapshot at that position was written). */
  pruneJournal(through: number): Promise<number> {
    return this.s.x.run("DELETE FROM contact_journal WHERE workspace_id = ? AND seq <= ?", [
      this.s.ws,
      through,
    ]);
  }
}
