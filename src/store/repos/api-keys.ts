/** A workspace's API keys; the store keeps only each secret's SHA-256. */
import type { Row } from "../executor.ts";
import { newId, newSecret, sha256Hex } from "../ids.ts";
import { type ApiKey, type CreatedApiKey, type KeyRole, type NewApiKey, StoreError } from "../types.ts";
import type { Scope } from "./scope.ts";

export const API_KEY_COLUMNS = "workspace_id, id, name, prefix, admin, role, created_at";

export function toApiKey(r: Row): ApiKey {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    name: String(r.name),
    prefix: String(r.prefix),
    admin: r.admin === true || r.admin === 1,
    role: String(r.role) as KeyRole,
    created_at: Number(r.created_at),
  };
}

export class ApiKeyRepo {
  constructor(private readonly s: Scope) {}

  async create(k: NewApiKey = {}): Promise<CreatedApiKey> {
    const ws = this.s.ws;
    const secret = k.secret ?? newSecret("slk");
    const role: KeyRole = k.admin ? "admin" : (k.role ?? "read_write");
    if (secret.length < 16) throw new StoreError("invalid", "an API key secret has at least 16 characters");
    const now = this.s.clock.now();
    const key: ApiKey = {
      id: newId("key", now),
      workspace_id: ws,
      name: k.name ?? "",
      prefix: secret.slice(0, 10),
      admin: role === "admin",
      role,
      created_at: now,
    };
    await this.s.x.run(
      "INSERT INTO api_keys (workspace_id, id, name, prefix, secret_hash, admin, role, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [ws, key.id, key.name, key.prefix, sha256Hex(secret), key.admin, role, key.created_at],
    );
    return { key, secret };
  }

  async list(): Promise<ApiKey[]> {
    const rows = await this.s.x.all(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id`,
      [this.s.ws],
    );
    return rows.map(toApiKey);
  }

  async delete(id: string): Promise<boolean> {
    return (
      (await this.s.x.run("DELETE FROM api_keys WHERE workspace_id = ? AND id = ?", [this.s.ws, id])) > 0
    );
  }
}
