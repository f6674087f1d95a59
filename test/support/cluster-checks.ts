/**
 * What the cluster tests check at the end of a run against PostgreSQL itself: that every
 * acknowledged event is stored, and what a fresh single process evaluates from it.
 */
import pg from "pg";
import { Slice } from "../../src/service/slice.ts";
import { openStore } from "../../src/store/index.ts";

/** The acknowledged event ids of each workspace that the database lacks (none, when nothing was lost). */
export async function missingAcknowledged(
  databaseUrl: string,
  acked: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<Map<string, string[]>> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const missing = new Map<string, string[]>();
    for (const [ws, ids] of acked) {
      const rows = await db.query<{ idem_key: string }>(
        "SELECT idem_key FROM events WHERE workspace_id = $1",
        [ws],
      );
      const stored = new Set(rows.rows.map((r) => r.idem_key));
      missing.set(
        ws,
        [...ids].filter((id) => !stored.has(id)),
      );
    }
    return missing;
  } finally {
    await db.end();
  }
}

/** Each workspace's segment size as one process evaluates the database afresh (every node stopped first). */
export async function freshSizes(
  databaseUrl: string,
  segments: readonly { ws: string; segment: string }[],
): Promise<Map<string, number>> {
  const fresh = await Slice.start({ store: await openStore({ databaseUrl }), log: () => {} });
  try {
    const sizes = new Map<string, number>();
    for (const { ws, segment } of segments) {
      sizes.set(ws, (await fresh.workspace(ws)).live.engine.members(segment).count);
    }
    return sizes;
  } finally {
    await fresh.stop();
  }
}
