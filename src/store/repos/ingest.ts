/**
 * Data coming in from other tools: anonymous identities (Segment's `anonymousId` → a
 * contact) and sending-platform receivers.
 */
import { chunks, IN_CHUNK, type SqlDialect } from "../dialect.ts";
import type { Executor, Row } from "../executor.ts";
import { newId } from "../ids.ts";
import type { JsonObject, NewReceiver, ReceiverRecord } from "../types.ts";
import type { Scope } from "./scope.ts";

export class IdentityRepo {
  constructor(private readonly s: Scope) {}

  /** Contact ids of anonymous ids, in input order; null where unknown. */
  async find(anonymousIds: string[]): Promise<(string | null)[]> {
    const found = new Map<string, string>();
    for (const part of chunks(anonymousIds, IN_CHUNK)) {
      const cond = this.s.d.inList("anonymous_id", [...new Set(part)]);
      const rows = await this.s.x.all(
        `SELECT anonymous_id, contact_id FROM identities WHERE workspace_id = ? AND ${cond.sql}`,
        [this.s.ws, ...cond.params],
      );
      for (const r of rows) found.set(String(r.anonymous_id), String(r.contact_id));
    }
    return anonymousIds.map((a) => found.get(a) ?? null);
  }

  async put(pairs: { anonymous_id: string; contact_id: string }[]): Promise<void> {
    if (pairs.length === 0) return;
    const now = this.s.clock.now();
    await this.s.x.atomic(async (tx) => {
      for (const p of pairs) {
        await tx.run(
          `INSERT INTO identities (workspace_id, anonymous_id, contact_id, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, anonymous_id) DO UPDATE SET contact_id = excluded.contact_id`,
          [this.s.ws, p.anonymous_id, p.contact_id, now],
        );
      }
    });
  }

  /** A merge: every event and anonymous identity of `from` moves to `to`. */
  async moveContactData(from: string, to: string): Promise<{ events: number }> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
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
}

function toReceiver(d: SqlDialect, r: Row): ReceiverRecord {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    provider: String(r.provider),
    name: String(r.name),
    config: d.parseJson<JsonObject>(r.config),
    created_at: Number(r.created_at),
  };
}

/** A receiver by id alone: the public `/hooks/{id}` path names no workspace. */
export async function findReceiver(x: Executor, d: SqlDialect, id: string): Promise<ReceiverRecord | null> {
  const rows = await x.all("SELECT * FROM receivers WHERE id = ?", [id]);
  return rows.length > 0 ? toReceiver(d, rows[0]!) : null;
}

export class ReceiverRepo {
  constructor(private readonly s: Scope) {}

  async create(r: NewReceiver): Promise<ReceiverRecord> {
    const now = this.s.clock.now();
    const rec: ReceiverRecord = {
      id: newId("rcv", now),
      workspace_id: this.s.ws,
      provider: r.provider,
      name: r.name,
      config: r.config,
      created_at: now,
    };
    await this.s.x.run(
      "INSERT INTO receivers (workspace_id, id, provider, name, config, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      [this.s.ws, rec.id, rec.provider, rec.name, JSON.stringify(rec.config), now],
    );
    return rec;
  }

  async get(id: string): Promise<ReceiverRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM receivers WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? toReceiver(this.s.d, rows[0]!) : null;
  }

  async list(): Promise<ReceiverRecord[]> {
    const rows = await this.s.x.all(
      "SELECT * FROM receivers WHERE workspace_id = ? ORDER BY created_at, id",
      [this.s.ws],
    );
    return rows.map((r) => toReceiver(this.s.d, r));
  }

  /** Replaces name and config; null when the receiver is unknown. */
  async update(id: string, patch: { name: string; config: JsonObject }): Promise<ReceiverRecord | null> {
    const n = await this.s.x.run(
      "UPDATE receivers SET name = ?, config = ? WHERE workspace_id = ? AND id = ?",
      [patch.name, JSON.stringify(patch.config), this.s.ws, id],
    );
    return n > 0 ? this.get(id) : null;
  }

  async delete(id: string): Promise<boolean> {
    return (
      (await this.s.x.run("DELETE FROM receivers WHERE workspace_id = ? AND id = ?", [this.s.ws, id])) > 0
    );
  }
}
