/**
 * Store tables of data coming in from other tools: anonymous identities (Segment's
 * `anonymousId`) and sending-platform receivers. Functions over an executor, which
 * `SqlOps` binds to its connection and workspace check.
 */
import type { Executor, Row } from "./executor.ts";
import { newId } from "./ids.ts";
import type { Dialect, JsonObject, NewReceiver, ReceiverRecord } from "./types.ts";

function inList(d: Dialect, column: string, values: readonly unknown[]): { sql: string; params: unknown[] } {
  if (d === "postgres") return { sql: `${column} = ANY(?)`, params: [values] };
  return { sql: `${column} IN (${values.map(() => "?").join(", ")})`, params: [...values] };
}

/** SQLite's limit on bound parameters per statement is far above this; PostgreSQL takes an array. */
const CHUNK = 500;

export async function findIdentities(
  x: Executor,
  ws: string,
  anonymousIds: string[],
): Promise<(string | null)[]> {
  const found = new Map<string, string>();
  for (let i = 0; i < anonymousIds.length; i += CHUNK) {
    const part = [...new Set(anonymousIds.slice(i, i + CHUNK))];
    const cond = inList(x.dialect, "anonymous_id", part);
    const rows = await x.all(
      `SELECT anonymous_id, contact_id FROM identities WHERE workspace_id = ? AND ${cond.sql}`,
      [ws, ...cond.params],
    );
    for (const r of rows) found.set(String(r.anonymous_id), String(r.contact_id));
  }
  return anonymousIds.map((a) => found.get(a) ?? null);
}

export async function putIdentities(
  x: Executor,
  ws: string,
  pairs: { anonymous_id: string; contact_id: string }[],
  now: number,
): Promise<void> {
  if (pairs.length === 0) return;
  await x.atomic(async (tx) => {
    for (const p of pairs) {
      await tx.run(
        `INSERT INTO identities (workspace_id, anonymous_id, contact_id, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, anonymous_id) DO UPDATE SET contact_id = excluded.contact_id`,
        [ws, p.anonymous_id, p.contact_id, now],
      );
    }
  });
}

export async function moveContactData(
  x: Executor,
  ws: string,
  from: string,
  to: string,
): Promise<{ events: number }> {
  return x.atomic(async (tx) => {
    const events = await tx.run(
      "UPDATE events SET contact_id = ? WHERE workspace_id = ? AND contact_id = ?",
      [to, ws, from],
    );
    await tx.run("UPDATE identities SET contact_id = ? WHERE workspace_id = ? AND contact_id = ?", [
      to,
      ws,
      from,
    ]);
    return { events };
  });
}

function toReceiver(d: Dialect, r: Row): ReceiverRecord {
  const config = d === "sqlite" && typeof r.config === "string" ? JSON.parse(r.config) : r.config;
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    provider: String(r.provider),
    name: String(r.name),
    config: config as JsonObject,
    created_at: Number(r.created_at),
  };
}

export async function createReceiver(
  x: Executor,
  ws: string,
  r: NewReceiver,
  now: number,
): Promise<ReceiverRecord> {
  const rec: ReceiverRecord = {
    id: newId("rcv", now),
    workspace_id: ws,
    provider: r.provider,
    name: r.name,
    config: r.config,
    created_at: now,
  };
  await x.run(
    "INSERT INTO receivers (workspace_id, id, provider, name, config, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    [ws, rec.id, rec.provider, rec.name, JSON.stringify(rec.config), now],
  );
  return rec;
}

export async function getReceiver(
  x: Executor,
  ws: string | null,
  id: string,
): Promise<ReceiverRecord | null> {
  const rows =
    ws === null
      ? await x.all("SELECT * FROM receivers WHERE id = ?", [id])
      : await x.all("SELECT * FROM receivers WHERE workspace_id = ? AND id = ?", [ws, id]);
  return rows.length > 0 ? toReceiver(x.dialect, rows[0]!) : null;
}

export async function listReceivers(x: Executor, ws: string): Promise<ReceiverRecord[]> {
  const rows = await x.all("SELECT * FROM receivers WHERE workspace_id = ? ORDER BY created_at, id", [ws]);
  return rows.map((r) => toReceiver(x.dialect, r));
}

export async function updateReceiver(
  x: Executor,
  ws: string,
  id: string,
  patch: { name: string; config: JsonObject },
): Promise<ReceiverRecord | null> {
  const n = await x.run("UPDATE receivers SET name = ?, config = ? WHERE workspace_id = ? AND id = ?", [
    patch.name,
    JSON.stringify(patch.config),
    ws,
    id,
  ]);
  return n > 0 ? getReceiver(x, ws, id) : null;
}

export async function deleteReceiver(x: Executor, ws: string, id: string): Promise<boolean> {
  return (await x.run("DELETE FROM receivers WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
}
