/**
 * Idempotency keys (SPEC §4, `Idempotency-Key` on POST): per workspace and API key, the
 * hash of the first request and, once it is answered, its answer.
 */
import type { Row } from "../executor.ts";
import type { Scope } from "./scope.ts";

export interface IdempotencyRecord {
  key_id: string;
  idem_key: string;
  /** NULL until a streamed upload has been read to its end. */
  request_hash: string | null;
  /** NULL while the first request runs. */
  status: number | null;
  content_type: string | null;
  body: string | null;
  created_at: number;
}

function toRecord(r: Row): IdempotencyRecord {
  return {
    key_id: String(r.key_id),
    idem_key: String(r.idem_key),
    request_hash: r.request_hash === null ? null : String(r.request_hash),
    status: r.status === null ? null : Number(r.status),
    content_type: r.content_type === null ? null : String(r.content_type),
    body: r.body === null ? null : String(r.body),
    created_at: Number(r.created_at),
  };
}

export class IdempotencyRepo {
  constructor(private readonly s: Scope) {}

  /**
   * Claims `idemKey` for a new request: true when claimed, false when a row younger than
   * `expiredBefore` holds it (a row older than that is replaced).
   */
  async claim(
    keyId: string,
    idemKey: string,
    requestHash: string | null,
    now: number,
    expiredBefore: number,
  ): Promise<boolean> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      await tx.run(
        "DELETE FROM idempotency_keys WHERE workspace_id = ? AND key_id = ? AND idem_key = ? AND created_at < ?",
        [ws, keyId, idemKey, expiredBefore],
      );
      const n = await tx.run(
        `INSERT INTO idempotency_keys (workspace_id, key_id, idem_key, request_hash, status, content_type, body, created_at)
         VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)
         ON CONFLICT (workspace_id, key_id, idem_key) DO NOTHING`,
        [ws, keyId, idemKey, requestHash, now],
      );
      return n > 0;
    });
  }

  async get(keyId: string, idemKey: string): Promise<IdempotencyRecord | null> {
    const rows = await this.s.x.all(
      `SELECT key_id, idem_key, request_hash, status, content_type, body, created_at
         FROM idempotency_keys WHERE workspace_id = ? AND key_id = ? AND idem_key = ?`,
      [this.s.ws, keyId, idemKey],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async setHash(keyId: string, idemKey: string, requestHash: string): Promise<void> {
    await this.s.x.run(
      "UPDATE idempotency_keys SET request_hash = ? WHERE workspace_id = ? AND key_id = ? AND idem_key = ?",
      [requestHash, this.s.ws, keyId, idemKey],
    );
  }

  async complete(
    keyId: string,
    idemKey: string,
    answer: { status: number; content_type: string | null; body: string },
  ): Promise<void> {
    await this.s.x.run(
      `UPDATE idempotency_keys SET status = ?, content_type = ?, body = ?
        WHERE workspace_id = ? AND key_id = ? AND idem_key = ?`,
      [answer.status, answer.content_type, answer.body, this.s.ws, keyId, idemKey],
    );
  }

  /** Gives the key back: the request's answer is not one to replay (a 5xx, a 429…). */
  async release(keyId: string, idemKey: string): Promise<void> {
    await this.s.x.run(
      "DELETE FROM idempotency_keys WHERE workspace_id = ? AND key_id = ? AND idem_key = ?",
      [this.s.ws, keyId, idemKey],
    );
  }

  /** Deletes the keys created before `before`; returns how many. */
  async purge(before: number): Promise<number> {
    return this.s.x.run("DELETE FROM idempotency_keys WHERE workspace_id = ? AND created_at < ?", [
      this.s.ws,
      before,
    ]);
  }
}
